"""Multi-asset collateral: a listed asset's margin cash backs positions settled in another asset, with a haircut.

Owns ``set_collateral``, the collateral keys below, the value an account's
non-settlement collateral adds to its equity (:func:`extra_equity`, the one
call ``margin.evaluate`` makes for it), the sweep's re-check of holders when a
collateral price moves (:func:`candidates`) and the sale of what of a breached
account's collateral covers its MMR to the insurance fund (:func:`sell_to_fund`).  It never
decides the order of liquidations (``liquidation.py``) and never computes a
position's margin (``margin.py``).

Keys (bytes; the store adds its own versioned prefix):

=========================================  ==========================================
``r/col/l``                                sorted list of the listed collateral assets
``r/col/p/`` + asset                       :class:`~ledger.txkinds_pm.CollateralParams`
``r/col/a/`` + addr(20) + ``/`` + backs    sorted list of the collateral assets the account holds (cash > 0)
``r/col/h/`` + asset + ``/`` + page(1)     sorted list of the accounts holding the asset as collateral whose
                                           address's first byte modulo :data:`PAGES` is ``page``
``r/col/s/`` + asset                       ``[price, params]`` the last sweep re-checked the holders at
=========================================  ==========================================

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

Soundness of the at-risk index
------------------------------
``extra`` depends on the collateral prices, the parameters and the cash of
the account; not on the perpetual prices.  The cash changes only in
transactions and liquidations, which re-index the account.  So ``margin.reindex``
counts ``extra`` as a constant of the trigger budget, and :func:`candidates`
hands the sweep every holder of ``X`` whenever ``X``'s price (or parameters)
differ from the ones of the last sweep: they are evaluated exactly and
re-indexed.  Cost: ``O(holders of X)`` per block in which ``X``'s price moved
(``r/col/h`` is one list per asset).

Liquidation
-----------
A breached account sells its collateral to the insurance fund first
(``liquidation.liquidate_account`` calls :func:`sell_to_fund` before its
waterfall), in asset order, only as much as brings its equity *without* its
collateral up to its MMR: with ``E`` and ``MMR`` its evaluation, the sale must
bring ``need = MMR - (E - extra)`` of ``backs``.  Of each asset ``X`` in turn the
fund buys::

    rate = P x (10^6 - liq_discount)                       backs per lot, x 10^6
    a    = min(cash_X, ceil(need x lot x 10^6 / rate), floor(avail x lot x 10^6 / rate))
    paid = floor(a x rate / (lot x 10^6))

``a`` is rounded up (against the account: ``paid >= need`` unless its balance
or the fund runs out) and ``paid`` down; ``avail = max(0, the fund's equity in
backs)``.  ``X`` moves from the account's cash to the fund's
(``MAcc(FUND, X).cash``), ``paid`` the other way: conservation per asset is
exact.  ``need`` falls by ``paid`` and the sale stops once it is covered; the
rest of the collateral stays with the account, which is then not breached
whatever that rest is worth (its equity without it covers MMR).  If the
collateral does not cover ``need``, all of it is sold and the perpetual
waterfall runs on what is left.  ``liq_discount <= haircut`` (validated), so
a sale never lowers the account's equity.  The fund's collateral inventory is
not counted in its equity (conservative).
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
from .units import pack_int

__all__ = ["COLLATERAL_DEFAULTS", "HANDLERS", "candidates", "collateral_value", "default_collateral_params",
           "extra_equity", "held", "listed", "refile", "sell_to_fund", "set_collateral", "shock_table", "shock_terms", "shocked_values",
           "validate_collateral_params"]

LISTED = b"r/col/l"
PARAMS = b"r/col/p/"
HELD = b"r/col/a/"
HOLDERS = b"r/col/h/"
SEEN = b"r/col/s/"
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


def _memo(sess: Session) -> dict:
    return sess.oext.setdefault("col", {})


def _list(sess: Session, key: bytes) -> list:
    memo = _memo(sess)
    v = memo.get(key)
    if v is None:
        raw = sess.state.get(key)
        v = memo[key] = [] if raw is None else list(decode(raw))
    return v


def _put_list(sess: Session, key: bytes, v: list) -> None:
    _memo(sess)[key] = v
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
    memo = _memo(sess)
    k = ("p", asset)
    if k not in memo:
        raw = sess.state.get(PARAMS + asset.encode())
        memo[k] = None if raw is None else CollateralParams.decode(raw)
    return memo[k]


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


def _price_lot(sess: Session, p: CollateralParams) -> tuple[int, int]:
    return sess.mstate(p.price_market).price, sess.market(p.price_market).params.lot_size


def _value(sess: Session, addr: bytes, asset: str, price: int | None = None) -> int:
    """``v_X`` at ``price`` (None: the price market's), rounded down; 0 if not listed, disabled or no balance."""
    p = params(sess, asset)
    if p is None or not p.enabled:
        return 0
    cash = sess.macc(addr, asset).cash
    if cash <= 0:
        return 0
    mprice, lot = _price_lot(sess, p)
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
    assets = held(sess, addr, backs)
    if not assets:
        return 0
    return _extra(sess, addr, assets, sess.macc(addr, backs).cash if cash is None else cash)


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


def _refile(sess: Session, addr: bytes, asset: str) -> str | None:
    """Update ``addr``'s membership for ``asset`` (held iff cash > 0); its ``backs`` (None if not listed)."""
    p = params(sess, asset)
    if p is None or addr == FUND:
        return None
    present = sess.macc(addr, asset).cash > 0
    _set_member(sess, HELD + addr + b"/" + p.backs.encode(), asset, present)
    _set_member(sess, _page_key(asset, addr[0] % PAGES), addr, present)  # one page: O(page), not O(holders)
    return p.backs


def refile(sess: Session, addr: bytes, asset: str) -> str | None:
    """After ``addr``'s cash of ``asset`` changed: keep the lists (held iff cash > 0); its ``backs`` (None if not listed).

    The caller (``margin.py``'s deposit and withdrawal) then checks and re-indexes the ``backs`` account.
    """
    return _refile(sess, addr, asset)


# --------------------------------------------------------------------------- sweep and liquidation


def candidates(sess: Session) -> set[tuple[bytes, str]]:
    """Every (holder, backs) of a collateral asset whose price or parameters changed since the last sweep.

    A stale price market is skipped (its price, and so the value, did not
    change); its ``seen`` record is updated once it is fresh again.
    """
    out: set[tuple[bytes, str]] = set()
    for asset in listed(sess):
        p = params(sess, asset)
        ms = sess.mstate(p.price_market)
        if ms.stale:
            continue
        seen = encode([pack_int(ms.price), p.encode()])
        key = SEEN + asset.encode()
        if sess.state.get(key) == seen:
            continue
        sess.state.put(key, seen)
        out.update((a, p.backs) for a in holders(sess, asset))
    return out


def sell_to_fund(sess: Session, addr: bytes, backs: str, events: list[Event], fund_available, ev) -> bool:
    """Sell what of ``addr``'s collateral backing ``backs`` covers its MMR to the insurance fund (module docstring).

    Args:
        fund_available: ``(sess, asset) -> int``, what the fund can pay (``liquidation.fund_available``).
        ev: the account's evaluation now (``margin.evaluate``): its equity and MMR set what the sale must bring.

    Returns True if anything moved.
    """
    need = ev.mmr - (ev.equity - extra_equity(sess, addr, backs))  # MMR - the account's equity without its collateral
    moved = False
    for asset in list(held(sess, addr, backs)):
        if need <= 0:
            break
        p = params(sess, asset)
        ms = sess.mstate(p.price_market)
        if ms.stale or ms.price <= 0:
            continue
        m = sess.macc(addr, asset)
        price, lot = _price_lot(sess, p)
        rate = price * (ONE - p.liq_discount_ppm)  # backs per lot x 10^6, after the discount (> 0)
        avail = fund_available(sess, backs)
        enough = -(-need * lot * ONE // rate)  # the least amount whose price covers the need: rounded up, against the seller
        amount = min(m.cash, enough, avail * lot * ONE // rate)  # ... and the largest one whose price the fund can pay
        pay = amount * rate // (lot * ONE)  # rounded down, against the seller
        if amount <= 0:
            continue
        fund_x, fund_b, mb = sess.macc(FUND, asset), sess.macc(FUND, backs), sess.macc(addr, backs)
        m.cash -= amount
        fund_x.cash += amount
        fund_b.cash -= pay
        mb.cash += pay
        need -= pay
        for a, x in ((addr, asset), (FUND, asset), (FUND, backs), (addr, backs)):
            sess.touch_macc(a, x)
        _refile(sess, addr, asset)
        moved = True
        events.append(Event("collateral_sale", {"account": addr, "asset": asset, "amount": amount, "backs": backs,
                                                "price": price, "paid": pay, "left": m.cash}))
    return moved


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
