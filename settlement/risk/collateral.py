"""Multi-asset collateral: a listed asset's margin cash backs positions settled in another asset, with a haircut.

Owns ``set_collateral``, the collateral keys below, the lists of who holds
what (:func:`held`, :func:`holders`, :func:`refile`), the value an account's
non-settlement collateral adds to its equity (:func:`extra_equity`, the one
call ``margin.evaluate`` makes for it), that value shocked in a portfolio
account's scenarios (:func:`shock_terms`) and the value of the fund's
collateral inventory (:func:`fund_inventory`).  It never files or sweeps the
collateral price bands (``collateral_bands.py``), never sells collateral
(``collateral_sale.py``), never decides the order of liquidations
(``liquidation.py``) and never computes a position's margin (``margin.py``).

Keys (bytes; the store adds its own versioned prefix):

=========================================  ==========================================
``r/col/l``                                sorted list of the listed collateral assets
``r/col/p/`` + asset                       :class:`~ledger.txkinds_pm.CollateralParams`
``r/col/a/`` + addr(20) + ``/`` + backs    sorted list of the collateral assets the account holds (cash > 0)
``r/col/h/`` + asset + ``/`` + page(1)     sorted list of the accounts holding the asset as collateral whose
                                           address's first byte modulo :data:`PAGES` is ``page``
``r/col/s/`` + asset                       ``[params, grid of its price market]`` the last sweep re-checked the holders at
``r/col/x/`` + asset + ...                 the price bands (``liq_index.IndexCache``, side LONG: fires below ``lo``)
``r/col/b/`` + addr(20) + ``/`` + backs    ``[[asset, lo], ...]``: the account's filed bands
=========================================  ==========================================

``r/col/s``, ``r/col/x`` and ``r/col/b`` are written by ``collateral_bands.py`` only.

Value (docs/risk-engine.md, "Multi-asset collateral")
-----------------------------------------------------
An account's balance of collateral asset ``X`` is its margin cash
``MAcc(addr, X).cash`` (deposited with ``margin_deposit``).  With ``P`` the
price of ``X``'s price market (``backs`` base units per lot) and ``lot`` its
lot size (base units of ``X`` per lot)::

    v_X   = floor(max(0, cash_X) x P x (10^6 - haircut_X) / (lot x 10^6))      (0 if disabled)
    T     = max(0, cash_backs) + sum_Y v_Y                                      total collateral value
    extra = sum_X min(v_X, floor(cap_X x T / 10^6))

``cash_backs`` is the account's cash in ``backs`` (the quote balance: a long's
purchase lowers it), counted when positive, so ``T`` moves with the cash only.
``extra`` is added to the account's equity in ``backs`` (every rounding down,
against the account).  The cap bounds the share of the account's total
collateral value (settlement cash included, before caps) that one asset may
provide.  Accounts holding no listed collateral (``r/col/a`` absent) add 0
after one cached read; with no collateral listed at all, ``evaluate`` pays one
dictionary lookup.

Portfolio-margin scenarios (docs/portfolio-margin.md "Collateral shocks")
-------------------------------------------------------------------------
For an account in portfolio mode with a position settled in ``backs``, its
collateral is shocked in the grid's scenarios by each asset's own scan range:
the ``PmParams`` of ``X``'s price market (``pm/mode.py`` ``params``), moves as
``pm/scenarios.py`` ``spot_move``.  ``extra`` never falls when a price rises
(each ``min(v_X, cap_X x T)`` is non-decreasing in every price), and a larger
fall loses more, so only the grid's two largest falls can bind: ``-3/3``
(every held asset at ``P - d_3``) and ``-extreme`` (at ``P - d_x``), all
assets together (correlations go to one)::

    loss_3 = extra - extra(every X at P_X - d_3,X)
    loss_x = ceil(f x (extra - extra(every X at P_X - d_x,X)) / 10^6)    f = max over X of extreme_fraction
    req_c  = max(0, loss_3, loss_x)      MMR_c = ceil(req_c x max over X of mmr_fraction / 10^6)

``req_c`` is added to the account's IMR and ``MMR_c`` to its MMR
(:func:`shock_terms`, ``margin.evaluate``'s one call) as a term of its own:
no credit against the positions (a long BTC collateral and a short BTC perp
each pay their worst scenario).  Why its own term: the cap makes the counted
value concave in the prices (a minimum of linear functions), so a scenario
grid that adds its change to a position's P&L would have to bound the cap's
curvature per scenario; computing ``extra`` exactly at the shocked prices,
every asset at once, counts the cap, the haircut and every rounding as
``evaluate`` does, and adding the worst of it to the positions' worst is at
least the loss of any joint scenario.  Conservative where grids differ: one
extreme fraction and one MMR fraction, the largest of the held assets'.

Price bands and liquidation
---------------------------
The price bands that find a holder when its collateral falls are
``collateral_bands.py`` ("Price bands"); the sale of a breached account's
collateral to the fund and the takeover of a flat debtor's are
``collateral_sale.py`` ("Liquidation", "Bad debt").
"""
from __future__ import annotations

import dataclasses

from ledger.codec import decode, encode
from ledger.receipt import Event
from ledger.txkinds_pm import CollateralParams, SetCollateral

from ..context import BlockContext
from ..errors import AlreadyExists, InvalidParameter, UnknownMarket
from .pm import mode as pm_mode
from .pm.scenarios import GRID, spot_move
from .records import FUND, ONE, Session
from ..state import State
from ..transfers import require_asset, require_role

__all__ = ["COLLATERAL_DEFAULTS", "HANDLERS", "collateral_value", "default_collateral_params", "extra_equity", "fund_inventory", "has_holders",
           "held", "holders", "listed", "memo", "params", "price_lot", "refile", "set_collateral", "shock_table", "shock_terms",
           "shocked_values", "validate_collateral_params"]

LISTED = b"r/col/l"
PARAMS = b"r/col/p/"
HELD = b"r/col/a/"
HOLDERS = b"r/col/h/"
SEEN = b"r/col/s/"
BANDS = b"r/col/x/"
BAND = b"r/col/b/"
PAGES = 64  # holder pages per asset (as the option holders, options/positions.py)

# Binance Portfolio Margin values BTC and ETH at a collateral rate of 0.95 (a 5 % haircut); assets it
# does not list default to 0.1 (binance.com FAQ "Binance Portfolio Margin Program Supported Collateral
# and Rates").  The liquidation discount stays below the haircut (the sale never lowers equity).
COLLATERAL_DEFAULTS = dict(haircut_ppm=50_000, cap_ppm=ONE, liq_discount_ppm=20_000, enabled=True)


def default_collateral_params(backs: str, price_market: str, **overrides) -> CollateralParams:
    """:data:`COLLATERAL_DEFAULTS` (Binance's BTC rate) for ``price_market`` backing ``backs``, with overrides."""
    return CollateralParams(**dict(COLLATERAL_DEFAULTS, backs=backs, price_market=price_market, **overrides))


def validate_collateral_params(p: CollateralParams) -> None:
    """Raise InvalidParameter naming the first collateral parameter out of its range."""
    rules = [
        ("haircut_ppm", 0 <= p.haircut_ppm < ONE, "0 <= haircut_ppm < 1_000_000"),
        ("cap_ppm", 0 < p.cap_ppm <= ONE, "0 < cap_ppm <= 1_000_000"),
        ("liq_discount_ppm", 0 <= p.liq_discount_ppm <= p.haircut_ppm,
         "0 <= liq_discount_ppm <= haircut_ppm (selling the collateral must not lower the account's equity)"),
    ]
    for name, ok, rule in rules:
        if not ok:
            raise InvalidParameter(f"collateral parameter {name}={getattr(p, name)} breaks the rule {rule}")


# --------------------------------------------------------------------------- cached reads


def memo(sess: Session) -> dict:
    """The session's collateral cache (``sess.oext["col"]``); ``collateral_bands.py`` keeps its band index there."""
    return sess.oext.setdefault("col", {})


def _list(sess: Session, key: bytes) -> list:
    cache = memo(sess)
    v = cache.get(key)
    if v is None:
        raw = sess.state.get(key)
        v = cache[key] = [] if raw is None else list(decode(raw))
    return v


def _put_list(sess: Session, key: bytes, v: list) -> None:
    memo(sess)[key] = v
    if key == LISTED:
        sess.col_listed = v
    sess.state.put(key, encode(v) if v else None)


def listed(sess: Session) -> list[str]:
    """The listed collateral assets, sorted (cached per session: the guard of ``margin.evaluate``, on every evaluation)."""
    v = sess.col_listed
    if v is None:
        v = sess.col_listed = _list(sess, LISTED)
    return v


def params(sess: Session, asset: str) -> CollateralParams | None:
    cache = memo(sess)
    k = ("p", asset)
    if k not in cache:
        raw = sess.state.get(PARAMS + asset.encode())
        cache[k] = None if raw is None else CollateralParams.decode(raw)
    return cache[k]


def held(sess: Session, addr: bytes, backs: str) -> list[str]:
    """The collateral assets ``addr`` holds that back ``backs`` (sorted; [] if none or nothing is listed)."""
    if not listed(sess):
        return []
    return _list(sess, HELD + addr + b"/" + backs.encode())


def _page_key(asset: str, page: int) -> bytes:
    return HOLDERS + asset.encode() + b"/" + bytes([page])


def holders(sess: Session, asset: str) -> list[bytes]:
    """Every account holding ``asset`` as collateral, sorted (reads all :data:`PAGES` pages: a parameter change, a view)."""
    out: list[bytes] = []
    for page in range(PAGES):
        out.extend(_list(sess, _page_key(asset, page)))
    out.sort()
    return out


def has_holders(sess: Session, asset: str) -> bool:
    """True if any account holds ``asset`` (stops at the first non-empty page)."""
    return any(_list(sess, _page_key(asset, page)) for page in range(PAGES))


# --------------------------------------------------------------------------- value


def price_lot(sess: Session, p: CollateralParams) -> tuple[int, int]:
    """(price, lot size) of ``p``'s price market: ``backs`` base units per lot, base units of the asset per lot."""
    return sess.mstate(p.price_market).price, sess.market(p.price_market).params.lot_size


def _value(sess: Session, addr: bytes, asset: str, price: int | None = None) -> int:
    """``v_X`` at ``price`` (None: the price market's), rounded down; 0 if not listed, disabled or no balance."""
    p = params(sess, asset)
    if p is None or not p.enabled:
        return 0
    cash = sess.macc(addr, asset).cash
    if cash <= 0:
        return 0
    mprice, lot = price_lot(sess, p)
    return cash * (mprice if price is None else price) * (ONE - p.haircut_ppm) // (lot * ONE)


def collateral_value(sess: Session, addr: bytes, asset: str, move_ppm: int = 0) -> int:
    """``v_X``: the haircut value of ``addr``'s balance of ``asset`` in its ``backs`` asset, rounded down.

    Args:
        move_ppm: value it at ``floor(P x (10^6 - move_ppm) / 10^6)`` instead of ``P`` (a scenario's fall).
    """
    p = params(sess, asset)
    if p is None or not move_ppm:
        return _value(sess, addr, asset)
    return _value(sess, addr, asset, max(0, sess.mstate(p.price_market).price * (ONE - move_ppm) // ONE))


def _extra(sess: Session, addr: bytes, assets: list[str], cash: int, prices: dict[str, int] | None = None) -> int:
    """``extra`` over ``assets`` with the ``backs`` cash ``cash``, each asset at ``prices[asset]`` (None: its price now)."""
    values = [(_value(sess, addr, x, None if prices is None else prices[x]), params(sess, x).cap_ppm) for x in assets]
    total = max(0, cash) + sum(v for v, _ in values)
    return sum(min(v, cap * total // ONE) for v, cap in values)


def extra_equity(sess: Session, addr: bytes, backs: str, cash: int | None = None) -> int:
    """What ``addr``'s non-settlement collateral adds to its equity in ``backs`` (module docstring: ``extra``).

    Args:
        cash: the account's cash in ``backs``, if at hand.
    """
    if addr == FUND:
        return fund_inventory(sess, backs)
    assets = held(sess, addr, backs)
    if not assets:
        return 0
    return _extra(sess, addr, assets, sess.macc(addr, backs).cash if cash is None else cash)


def fund_inventory(sess: Session, backs: str) -> int:
    """The insurance fund's collateral inventory in ``backs``: each asset at the price it took it over at.

    ``sum_X floor(cash_X x P_X x (10^6 - liq_discount_X) / (lot_X x 10^6))`` over the listed assets backing
    ``backs`` (``collateral_sale.py``, "Bad debt"): a takeover never lowers the fund's equity, a fall of ``X`` does.
    """
    total = 0
    for asset in listed(sess):
        p = params(sess, asset)
        if p.backs != backs:
            continue
        cash = sess.macc(FUND, asset).cash
        if cash > 0:
            price, lot = price_lot(sess, p)
            total += cash * price * (ONE - p.liq_discount_ppm) // (lot * ONE)
    return total


def shocked_values(sess: Session, addr: bytes, backs: str, move_ppm: int, cash: int | None = None) -> int:
    """``extra`` with every collateral price moved down by ``move_ppm`` (the direction that hurts a holder).

    Each price ``P`` becomes ``floor(P x (10^6 - move_ppm) / 10^6)`` (at least
    0), then haircut and cap apply as in ``extra`` (``move_ppm`` = 0: ``extra`` itself).
    """
    assets = held(sess, addr, backs)
    if not assets:
        return 0
    prices = {x: max(0, sess.mstate(params(sess, x).price_market).price * (ONE - move_ppm) // ONE) for x in assets}
    return _extra(sess, addr, assets, sess.macc(addr, backs).cash if cash is None else cash, prices)


# --------------------------------------------------------------------------- portfolio-margin scenarios

SHOCKS = (("-3/3", GRID[12]), ("-extreme", GRID[15]))  # the grid's two largest falls (pm/scenarios.py): the ones that can bind


def shock_table(sess: Session, addr: bytes, backs: str) -> tuple[int, int, list[dict], str | None]:
    """(requirement, MMR, rows, binding) of ``addr``'s collateral backing ``backs`` shocked in the scenarios (module docstring).

    Each row: ``scenario``, ``prices`` (asset -> shocked price), ``value``
    (``extra`` at those prices) and ``pnl`` (its change, the extreme's
    fraction applied; a loss rounded up).  ``binding`` is the first row with
    the worst P&L (None if nothing is held or nothing can be lost).
    """
    assets = held(sess, addr, backs)
    if not assets:
        return 0, 0, [], None
    cash = sess.macc(addr, backs).cash
    now = _extra(sess, addr, assets, cash)
    grids = {x: pm_mode.params(sess, params(sess, x).price_market) for x in assets}
    frac = max(g.extreme_fraction_ppm for g in grids.values())
    rows, worst, binding = [], 0, None
    for name, sc in SHOCKS:
        prices = {}
        for x in assets:
            price = sess.mstate(params(sess, x).price_market).price
            prices[x] = max(0, price + spot_move(price, sc, grids[x]))
        value = _extra(sess, addr, assets, cash, prices)
        pnl = (value - now) * frac // ONE if sc.extreme else value - now  # floor: a loss rounds up
        rows.append({"scenario": name, "prices": prices, "value": value, "pnl": pnl})
        if pnl < worst:
            worst, binding = pnl, name
    req = -worst
    mmf = max(g.mmr_fraction_ppm for g in grids.values())
    return req, -(-req * mmf // ONE), rows, binding


def shock_terms(sess: Session, addr: bytes, backs: str, m, imr: int, mmr: int, surplus: int) -> tuple[int, int, int]:
    """A portfolio account's (IMR, MMR, trigger budget) with its collateral's shock added (``margin.evaluate``'s one call).

    Nothing is added for an account without a position in ``backs`` (nothing to cover).
    """
    if not (m.markets or m.series):
        return imr, mmr, surplus
    req, req_mmr, _, _ = shock_table(sess, addr, backs)
    return imr + req, mmr + req_mmr, surplus - req_mmr * ONE


# --------------------------------------------------------------------------- membership


def _set_member(sess: Session, key: bytes, item, present: bool) -> None:
    v = _list(sess, key)
    if (item in v) == present:
        return
    _put_list(sess, key, sorted([*v, item]) if present else [x for x in v if x != item])


def refile(sess: Session, addr: bytes, asset: str) -> str | None:
    """After ``addr``'s cash of ``asset`` changed: keep the lists (held iff cash > 0); its ``backs`` (None if not listed).

    The caller (``margin.py``'s deposit and withdrawal, ``collateral_sale.sell_to_fund``) then checks and
    re-indexes the ``backs`` account.
    """
    p = params(sess, asset)
    if p is None or addr == FUND:
        return None
    present = sess.macc(addr, asset).cash > 0
    _set_member(sess, HELD + addr + b"/" + p.backs.encode(), asset, present)
    _set_member(sess, _page_key(asset, addr[0] % PAGES), addr, present)  # one page: O(page), not O(holders)
    return p.backs


# --------------------------------------------------------------------------- handler


def set_collateral(state: State, ctx: BlockContext, sender: bytes, body: SetCollateral) -> list[Event]:
    """Admin lists ``asset`` as collateral for ``params.backs`` (or replaces its parameters)."""
    require_role(state, sender, "admin")
    asset, p = body.asset, body.params
    require_asset(state, asset)
    require_asset(state, p.backs)
    if p.backs == asset:
        raise InvalidParameter(f"{asset} is the settlement asset itself: it backs {p.backs} without a haircut")
    sess = Session(state, ctx)
    market = sess.market(p.price_market)
    if market is None:
        raise UnknownMarket(f"unknown price market {p.price_market!r}")
    if market.base != asset or market.quote != p.backs:
        raise InvalidParameter(f"price market {p.price_market} prices {market.base} in {market.quote}, not {asset} in {p.backs}")
    settled_in = [mid for mid in sess.market_ids() if sess.market(mid).quote == asset]
    if settled_in:
        raise InvalidParameter(f"{asset} settles market {settled_in[0]}: its margin cash cannot back {p.backs} too")
    validate_collateral_params(p)
    old = params(sess, asset)
    if old is not None and old.backs != p.backs and has_holders(sess, asset):
        raise AlreadyExists(f"{asset} backs {old.backs} for {len(holders(sess, asset))} accounts: its backs cannot change")
    if asset not in listed(sess):
        _put_list(sess, LISTED, sorted([*listed(sess), asset]))
    state.put(PARAMS + asset.encode(), p.encode())
    attrs = {"asset": asset}
    attrs.update({f.name: getattr(p, f.name) for f in dataclasses.fields(CollateralParams)})
    return [Event("collateral_set", attrs)]


HANDLERS = {"set_collateral": set_collateral}
