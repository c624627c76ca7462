"""Multi-asset collateral: a listed asset's margin cash backs positions settled in another asset, with a haircut.

Owns ``set_collateral``, the collateral keys below, the value an account's
non-settlement collateral adds to its equity (:func:`extra_equity`, the one
call ``margin.evaluate`` makes for it), the holders' collateral price bands
(:func:`file_bands`, ``margin.reindex``'s one call, and the sweep's
:func:`candidates`), the sale of what of a breached
account's collateral covers its MMR to the insurance fund (:func:`sell_to_fund`)
and the value of the fund's collateral inventory (:func:`fund_inventory`).  It never
decides the order of liquidations (``liquidation.py``) and never computes a
position's margin (``margin.py``).

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

Price bands (the at-risk index of the collateral)
-------------------------------------------------
``margin.reindex`` hands :func:`file_bands` the account's trigger budget
``S6`` (10^6 x its margin surplus) first.  With ``n`` held assets, the account's
``k = n + markets + series`` and the rounding slack ``s_n = (4n(n+1) + 4) x 10^6``,
each asset gets ``b = floor((S6 - s_n) / k)`` and the positions split what is
left, ``S6 - s_n - n x b``, as before.  Asset ``X`` (``cash_X`` held, price
``P0`` at this evaluation) gets the band ``[lo, +inf)``::

    lambda_X = 10^6 + sum_{Y held, Y != X} cap_Y
    lo       = P0 - floor(b x lot x 10^6 / (lambda_X x cash_X x (10^6 - haircut_X)))

filed in ``r/col/x/`` (side LONG of ``liq_index``: it fires when the price is
below ``lo``).  Nothing is filed for a disabled asset (worth 0 at every price)
or when ``lo <= 0``; ``S6 < s_n`` files the sentinel ``lo = 2^200``, which
fires at every sweep whose price is fresh.

Why it is safe.  Let ``extra*`` be ``extra`` without its floors.  (1) It never
falls when a price rises: each ``min(v_X, cap_X x T)`` is non-decreasing in
every ``v``.  So only falls matter.  (2) It is a continuous, piecewise linear
function of the ``v``'s whose partial derivative in ``v_X`` is at most
``lambda_X / 10^6``: ``v_X`` enters ``X``'s own term with slope 1 or ``cap_X``
and every other ``Y``'s through ``T`` with slope ``cap_Y`` at most.  ``v_X``
falls by ``cash_X x (10^6 - haircut_X) / (lot x 10^6)`` per unit of price, so
while every price stays at or above its ``lo``, 10^6 x ``extra*`` has lost at
most ``n x b`` (the half-width is rounded down).  (3) The floors:
``extra* - n(n+1) <= extra <= extra*`` (each ``v`` is floored once, ``T``
carries ``n`` of those, each cap one more).  For a portfolio account the
shock term (above) subtracts ``MMR_c``: ``extra - MMR_c`` is, without
roundings, ``(1 - w) x extra*(P) + w x extra*(P')`` with ``w <= 1`` and the
shocked prices ``P'`` non-decreasing and 1-Lipschitz in ``P``, so (1) and (2)
hold for it too, and its roundings (floors at ``P`` and ``P'``, two ceilings)
stay within ``2n(n+1) + 2`` either way: ``s_n`` covers them.  So the
collateral loses less than ``n x b + s_n`` of the budget, the positions less
than their part (their own triggers), and the account cannot breach before a
band or a trigger fires.  ``extra`` also depends on the account's cash in
``X`` and ``backs`` (changed only by transactions and liquidations, which
re-index it; an ADL counterparty's one-pass re-index counts no ``extra`` at all,
which is conservative) and on the parameters: :func:`candidates` re-checks every holder of ``X`` in the
sweep after ``X``'s ``CollateralParams`` or its price market's ``PmParams``
changed (``r/col/s/X``).  Cost: a block in which ``X``'s price moves reads the
band index's watermark and the buckets it crossed, and evaluates only the
holders whose band it crossed, not every holder.

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
whatever that rest is worth (its equity without it covers MMR; in portfolio
mode the shock term of the rest is at most the rest's value).  If the
collateral does not cover ``need``, all of it is sold and the perpetual
waterfall runs on what is left.  ``liq_discount <= haircut`` (validated), so
a sale never lowers the account's equity.  A collateral price that is stale
cannot be sold at: an account with a position is liquidated all the same
(its collateral counted at the last price; if it ends flat in debt it is a
flat debtor, below, whose bands fire once the price is fresh), while the
liquidation of an account without one is paused (``liquidation_paused`` with
``collateral_stale``: the fund must not pay a debt the account still holds
collateral for) and re-indexed, as for a stale market.

Bad debt (no debt is left behind unsold collateral)
---------------------------------------------------
Buying only with its equity, the fund could leave an account at the end of
its liquidation flat, with negative ``backs`` cash and unsold collateral,
which nobody looked at again: a further fall of the collateral left a debt
outside every waterfall.  The rule, after Drift v2's
``liquidate_perp_pnl_for_deposit`` (the liquidator takes the user's deposit at
the oracle price less a liquidation fee against its negative P&L; a user left
with a debt and no deposit is bankrupt: ``resolve_perp_bankruptcy``, the
insurance fund, then the loss socialized) and Binance Portfolio Margin, whose
liquidation engine "will take over the assets on the account and sell them to
cover the liabilities", its insurance fund taking over what is left and ADL
beyond its coverage (binance.com FAQ "How Does Liquidation Work in the Binance
Portfolio Margin Account"):

* Takeover.  An account left flat (no position in ``backs``) with negative
  ``backs`` cash at the end of its liquidation (``liquidation._done``) has its
  collateral taken by the fund at the same price, ``need = -cash``, **whatever
  the fund's equity** (``sell_to_fund`` without ``fund_available``; event
  ``takeover``).  The waterfall counted the collateral at its haircut value
  and ``liq_discount <= haircut``, so the account ends with cash >= 0.
* The fund's inventory counts in the fund's equity in ``backs``
  (:func:`fund_inventory`, through :func:`extra_equity`) at the takeover price,
  rounded down (against the fund)::

      inv = sum_X floor(cash_FUND,X x P_X x (10^6 - liq_discount_X) / (lot_X x 10^6))

  so a sale or takeover never lowers the fund's equity (``floor(a + b) >=
  floor(a) + floor(b)``: the inventory gains at least ``paid``); its cash may
  go below zero, backed by the inventory (as a long perpetual inventory makes
  it).  A fall of ``X`` lowers the fund's equity; once negative
  ``liquidation.rebalance_fund`` deleverages the fund's positions at its
  bankruptcy price (ADL, then socialized loss).  With no position the fund
  keeps the loss (its equity below zero, as after an ``adl_uncovered``).  The
  disabled switch does not change the inventory's value: it governs what
  accounts may count, not what the asset fetches.
* Flat debtors.  An account without a position may still owe ``backs`` (it
  closed a position at a loss, paid an option's settlement, or its
  collateral's price was stale at its liquidation).  ``margin.Eval.breached``
  is then ``equity < 0`` (its MMR is 0) and ``margin.reindex`` files its
  collateral price bands out of its budget ``10^6 x (cash + extra)``
  (:func:`file_bands` with no position: ``k = n``; nothing is filed once its
  cash is >= 0), so the sweep finds it when its collateral falls through the
  debt.  Its liquidation takes over what covers ``-cash``; if all of it does
  not, the account is bankrupt and the fund pays the rest, beyond its equity
  if it must (``insurance_payment`` with ``beyond_equity``: a flat account has
  no position to deleverage), its own waterfall following.  Every other way
  an account changes (trades, deposits, withdrawals, ADL, option expiries
  through ``sess.recheck``) re-indexes it; a one-pass ADL counterparty
  (``adl.py``) pays at most its equity *without* its collateral, so it never
  ends flat in debt.
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
from .liq_index import IndexCache
from .records import FUND, LONG, ONE, Session
from ..state import State
from ..transfers import require_asset, require_role
from .units import pack_int, unpack_int

__all__ = ["COLLATERAL_DEFAULTS", "HANDLERS", "band", "band_slack", "candidates", "file_bands", "collateral_value", "default_collateral_params",
           "extra_equity", "fund_inventory", "held", "listed", "refile", "sell_to_fund", "set_collateral", "shock_table", "shock_terms", "shocked_values",
           "validate_collateral_params"]

LISTED = b"r/col/l"
PARAMS = b"r/col/p/"
HELD = b"r/col/a/"
HOLDERS = b"r/col/h/"
SEEN = b"r/col/s/"
BANDS = b"r/col/x/"
BAND = b"r/col/b/"
ALWAYS = 2**200  # the sentinel band: fires at every sweep whose price is fresh
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
    if addr == FUND:
        return fund_inventory(sess, backs)
    assets = held(sess, addr, backs)
    if not assets:
        return 0
    return _extra(sess, addr, assets, sess.macc(addr, backs).cash if cash is None else cash)


def fund_inventory(sess: Session, backs: str) -> int:
    """The insurance fund's collateral inventory in ``backs``: each asset at the price it took it over at.

    ``sum_X floor(cash_X x P_X x (10^6 - liq_discount_X) / (lot_X x 10^6))`` over the listed assets backing
    ``backs`` (module docstring, "Bad debt"): a takeover never lowers the fund's equity, a fall of ``X`` does.
    """
    total = 0
    for asset in listed(sess):
        p = params(sess, asset)
        if p.backs != backs:
            continue
        cash = sess.macc(FUND, asset).cash
        if cash > 0:
            price, lot = _price_lot(sess, p)
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


def _bands(sess: Session) -> IndexCache:
    idx = _memo(sess).get("x")
    if idx is None:
        idx = _memo(sess)["x"] = IndexCache(sess.state, BANDS)
    return idx


def _band_key(addr: bytes, backs: str) -> bytes:
    return BAND + addr + b"/" + backs.encode()


def _unfile(sess: Session, addr: bytes, backs: str, popped: str | None = None) -> None:
    """Remove ``addr``'s filed bands for ``backs`` (``popped``: the asset whose entry the sweep already removed)."""
    key = _band_key(addr, backs)
    raw = sess.state.get(key)
    if raw is None:
        return
    idx = _bands(sess)
    for asset, lo in decode(raw):
        if asset != popped:
            idx.remove(asset, LONG, addr, unpack_int(lo))
    sess.state.put(key, None)


def band_slack(n: int) -> int:
    """The rounding slack (x 10^6) of an account's ``n`` collateral assets (module docstring, "Price bands")."""
    return (4 * n * (n + 1) + 4) * ONE


def file_bands(sess: Session, addr: bytes, backs: str, m, surplus: int) -> int:
    """File ``addr``'s collateral price bands out of its trigger budget ``surplus``; what is left for its positions.

    ``margin.reindex``'s one call (module docstring, "Price bands"): each held
    asset takes the share ``b = floor((surplus - slack) / k)`` (``k``: the held
    assets plus the account's markets and series), the positions split the
    rest.  A negative budget files the sentinel (fires at every fresh sweep).
    """
    assets = held(sess, addr, backs)
    if not assets:  # no read on the perps-only path; a band left from collateral held before only fires a re-check
        return surplus
    _unfile(sess, addr, backs)
    if not (m.markets or m.series) and m.cash >= 0:
        return surplus  # flat and owing nothing: no fall of its collateral can breach it
    budget = surplus - band_slack(len(assets))
    share = budget // (len(assets) + len(m.markets) + len(m.series))
    caps = sum(params(sess, x).cap_ppm for x in assets)
    idx, rows = _bands(sess), []
    for x in assets:
        p = params(sess, x)
        cash = sess.macc(addr, x).cash
        if not p.enabled or cash <= 0:
            continue  # worth 0 at any price; a parameter change re-checks every holder, a deposit re-files the account
        price, lot = _price_lot(sess, p)
        if budget < 0:
            lo = ALWAYS
        else:
            slope = (ONE + caps - p.cap_ppm) * cash * (ONE - p.haircut_ppm)  # lambda x cash x (1 - h), x 10^12
            lo = price - share * lot * ONE // slope  # the half-width rounded down: against the account
            if lo <= 0:
                continue  # even a fall to 0 stays within the share
        idx.insert(x, LONG, addr, lo)
        rows.append([x, pack_int(lo)])
    idx.flush()
    if rows:
        sess.state.put(_band_key(addr, backs), encode(rows))
    return budget - len(assets) * share if budget >= 0 else budget


def band(sess: Session, addr: bytes, backs: str) -> dict[str, int]:
    """``addr``'s filed bands for ``backs``: asset -> the price below which it is re-checked ({} if none)."""
    raw = sess.state.get(_band_key(addr, backs))
    return {} if raw is None else {x: unpack_int(lo) for x, lo in decode(raw)}


def candidates(sess: Session) -> set[tuple[bytes, str]]:
    """The (holder, backs) the sweep must evaluate: bands the collateral price fell through, and every holder of an
    asset whose parameters (or its price market's grid) changed since the last sweep.

    A stale price market fires no band (its price, and so the value, did not
    change); they fire once it is fresh again.  Fired entries are removed with
    the rest of their account's bands (``margin.reindex`` files them again).
    """
    out: set[tuple[bytes, str]] = set()
    idx = _bands(sess)
    for asset in listed(sess):
        p = params(sess, asset)
        seen = encode([p.encode(), pm_mode.params(sess, p.price_market).encode()])
        key = SEEN + asset.encode()
        if sess.state.get(key) != seen:
            sess.state.put(key, seen)
            out.update((a, p.backs) for a in holders(sess, asset))
        ms = sess.mstate(p.price_market)
        if ms.stale or not ms.price:
            continue
        for addr, _ in idx.pop_fired(asset, LONG, ms.price):
            _unfile(sess, addr, p.backs, asset)
            out.add((addr, p.backs))
    idx.flush()
    return out


def sell_to_fund(sess: Session, addr: bytes, backs: str, events: list[Event], ev, fund_available=None) -> bool:
    """Sell what of ``addr``'s collateral backing ``backs`` covers its MMR to the insurance fund (module docstring).

    Args:
        ev: the account's evaluation now (``margin.evaluate``): its equity and MMR set what the sale must bring.
        fund_available: ``(sess, asset) -> int``, what the fund can pay (``liquidation.fund_available``): the sale
            of an account with a position buys no more.  None: the takeover of a flat account's collateral, at
            the same price whatever the fund's equity ("Bad debt").

    Returns True if the need is left uncovered while collateral whose price is stale could not be sold (the
    caller pauses a flat account's liquidation until the price is fresh).
    """
    need = ev.mmr - (ev.equity - extra_equity(sess, addr, backs))  # MMR - the account's equity without its collateral
    blocked = False
    for asset in list(held(sess, addr, backs)):
        if need <= 0:
            break
        p = params(sess, asset)
        ms = sess.mstate(p.price_market)
        if ms.stale or ms.price <= 0:
            blocked = True
            continue
        m = sess.macc(addr, asset)
        price, lot = _price_lot(sess, p)
        rate = price * (ONE - p.liq_discount_ppm)  # backs per lot x 10^6, after the discount (> 0)
        enough = -(-need * lot * ONE // rate)  # the least amount whose price covers the need: rounded up, against the seller
        amount = min(m.cash, enough)
        if fund_available is not None:  # ... and the largest one whose price the fund can pay
            amount = min(amount, fund_available(sess, backs) * lot * ONE // rate)
            if amount <= 0:
                continue
        pay = amount * rate // (lot * ONE)  # rounded down, against the seller
        fund_x, fund_b, mb = sess.macc(FUND, asset), sess.macc(FUND, backs), sess.macc(addr, backs)
        m.cash -= amount
        fund_x.cash += amount
        fund_b.cash -= pay
        mb.cash += pay
        for a, x in ((addr, asset), (FUND, asset), (FUND, backs), (addr, backs)):
            sess.touch_macc(a, x)
        _refile(sess, addr, asset)
        events.append(Event("collateral_sale", {"account": addr, "asset": asset, "amount": amount, "backs": backs,
                                                "price": price, "paid": pay, "left": m.cash, "need": need,
                                                "takeover": fund_available is None}))
        need -= pay
    return blocked and need > 0


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
