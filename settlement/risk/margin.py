"""Cross-margin arithmetic and the margin transactions (deposit, withdraw, insurance deposit).

Owns: equity, initial/maintenance margin requirements, the at-risk triggers
of an account, funding settlement of a position, and :func:`fill` -- the one
function that changes a position and moves its cash.  Never decides the order
of liquidations (``liquidation.py``) and never reads an oracle report
(``oracle.py``); prices come from the market state.

Model (dYdX's subaccount model, per collateral asset Q)
-------------------------------------------------------
An account's margin in Q is ``cash`` plus its positions in every market
settled in Q (cross margin).  Sizes are in lots, prices in Q base units per
lot, so ``size x price`` is exact.  A fill of ``delta`` lots for ``cost``
moves ``cost`` out of the buyer's cash into the seller's (same integer both
sides), so trades conserve Q exactly.

    equity = cash + sum_m ( s_m x P_m - ceil((s_m x (F_m - snap_m) + |s_m| x (L_m - lsnap_m)) / 10^6) )
    IMR    = sum_m ceil(|s_m| x P_m x imf_eff_m / 10^6)
    MMR    = sum_m ceil(|s_m| x P_m x mmf_eff_m / 10^6)

(``L``: the market's social-loss index, ``adl.py``; settled with funding.)
An account holding listed non-settlement collateral adds its haircut value
``extra`` to ``cash`` (``collateral.py``; constant in the perpetual prices, so
it is part of ``K`` below); its collateral's price bands take their shares of
the trigger budget before the positions split the rest (``collateral_bands.file_bands``).
Rounding is always against the account: unsettled funding owed rounds up,
funding received rounds down, requirements round up.  An account breaches
when ``equity < MMR``; one without a position when ``equity < 0`` (a debt its
collateral no longer covers: ``collateral_sale.py`` "Bad debt", whose bands
``reindex`` files for it).

Triggers
--------
Without rounding, ``10^6 x (equity - MMR)`` is ``K + sum_m s_m x X_m`` with
``K = 10^6 x cash + sum_m s_m x snap_m`` and the market-global coordinates
``X_long = P(10^6 - mmf) - F - L``, ``X_short = P(10^6 + mmf) - F + L`` (see
``liq_index.py``).  Rounding shifts the real surplus by less than 2 units per
market, so with ``k`` markets the budget ``B = S6 - 2k x 10^6`` is safe to
spend: each position gets ``b = floor(B / k)`` and its trigger is the
coordinate at which it alone would have lost ``b``:
``T_long = X - floor(b / s)``, ``T_short = X + floor(b / |s|)``.  While no
trigger has fired the account has lost less than ``B`` and cannot breach.
An account with ``B < 0`` (inside the rounding slack, or breached but
paused by a stale market) gets the sentinel trigger ``+-2^200``, which fires
at every sweep -- whichever way prices move -- until an exact re-evaluation
finds it safe again or it is liquidated.
"""
from __future__ import annotations

from bisect import insort

from ledger.keys import format_address
from ledger.receipt import Event
from ledger.txkinds_risk import InsuranceDeposit, MarginDeposit, MarginWithdraw

from . import adl_index, collateral, collateral_bands
from .options import optindex
from .pm import bands as pm_bands, mode as pm_mode
from .options.optmargin import SLACK_SHORT, option_terms
from ..accounts import MAX_AMOUNT, get_balance, set_balance
from ..context import BlockContext
from ..errors import BadAmount, InsufficientBalance, InsufficientMargin, StalePrice
from .records import FUND, LONG, ONE, SHORT, I64_MAX, I64_MIN, Session
from ..state import State
from ..transfers import check_amount, require_asset, require_spendable

__all__ = ["Eval", "evaluate", "fill", "reindex", "settle_all", "settle_funding", "settle_position"]


ALWAYS = 2**200  # the trigger of an account inside the rounding slack: fires at every sweep


def ceil_div(a: int, b: int) -> int:
    """ceil(a / b) for b > 0 (exact for negative a too)."""
    return -(-a // b)


class Eval:
    """An account's margin figures in one collateral asset (all integers, rounded against it)."""

    # scaled_surplus: 10^6 x (equity - MMR) before rounding (the trigger budget, module docstring: S6);
    # market_count: markets of the asset the account holds a position in
    __slots__ = ("equity", "imr", "mmr", "notional", "scaled_surplus", "market_count", "stale")

    def __init__(self, equity, imr, mmr, notional, scaled_surplus, market_count, stale):
        self.equity, self.imr, self.mmr, self.notional = equity, imr, mmr, notional
        self.scaled_surplus, self.market_count, self.stale = scaled_surplus, market_count, stale

    @property
    def breached(self) -> bool:
        """``equity < MMR`` with a position; without one, ``equity < 0`` (a debt its collateral no longer covers)."""
        return self.equity < self.mmr if self.market_count else self.equity < 0


def evaluate(sess: Session, addr: bytes, asset: str, m=None) -> Eval:
    """Equity, IMR, MMR over every market of ``asset`` the account holds a position in (``m``: its margin account, if at hand)."""
    if m is None:
        m = sess.macc(addr, asset)
    cash = m.cash
    if collateral.listed(sess):  # non-settlement collateral backing this asset (collateral.py); constant in the perp prices
        extra = collateral.extra_equity(sess, addr, asset, cash)
        equity, imr, mmr, notional, surplus, stale = cash + extra, 0, 0, 0, (cash + extra) * ONE, False
    else:
        equity, imr, mmr, notional, surplus, stale = cash, 0, 0, 0, cash * ONE, False
    pos, mstate = sess.pos, sess.mstate
    for mid in m.markets:
        p = pos(addr, mid)
        ms = mstate(mid)
        s, price, mmf = p.size, ms.price, ms.mmf_eff
        owed_scaled = s * (ms.findex - p.funding_snap) + (s if s > 0 else -s) * (ms.sloss - p.loss_snap)  # funding + social loss
        n = (s if s > 0 else -s) * price
        equity += s * price + (-owed_scaled // ONE)  # - ceil(owed_scaled / 10^6)
        notional += n
        imr -= -n * ms.imf_eff // ONE  # + ceil
        mmr -= -n * mmf // ONE
        surplus += s * price * ONE - owed_scaled - n * mmf
        stale = stale or ms.stale
    if m.series:  # option positions in the same collateral asset (options/optmargin.py)
        oe, oi, om, os6, ostale = option_terms(sess, addr, m)
        equity, imr, mmr, surplus, stale = equity + oe, imr + oi, mmr + om, surplus + os6, stale or ostale
    if pm_mode.portfolio(sess, addr):  # portfolio margin: the scenario requirement replaces IMR and MMR (pm/mode.py)
        imr, mmr, surplus = pm_mode.requirement_terms(sess, addr, m)
        if collateral.held(sess, addr, asset):  # its collateral shocked by its own scan ranges (collateral.py)
            imr, mmr, surplus = collateral.shock_terms(sess, addr, asset, m, imr, mmr, surplus)
    return Eval(equity, imr, mmr, notional, surplus, len(m.markets) + len(m.series), stale)


def coordinate(sess: Session, mid: str, side: int) -> int:
    """The market-global coordinate X of (mid, side) at the current price, margin fraction and funding index."""
    ms = sess.mstate(mid)
    if side == SHORT:
        return ms.price * (ONE + ms.mmf_eff) - ms.findex + ms.sloss
    return ms.price * (ONE - ms.mmf_eff) - ms.findex - ms.sloss


def unindex(sess: Session, addr: bytes, asset: str) -> None:
    """Remove every index entry of the account's positions in ``asset`` markets."""
    for mid in sess.macc(addr, asset).markets:
        p = sess.pos(addr, mid)
        if p.trigger_side:
            sess.index.remove(mid, p.trigger_side, addr, p.trigger)
            p.trigger_side = 0
            sess.touch_pos(addr, mid)
    if pm_mode.portfolio(sess, addr):  # its re-check bands (pm/bands.py); it files no option band
        pm_bands.unfile(sess, addr, asset)
    elif sess.macc(addr, asset).series:
        optindex.unfile(sess, addr, asset)
    adl_index.unfile(sess, addr, asset)


def reindex(sess: Session, addr: bytes, asset: str, ev: Eval | None = None, *, indexed: bool = True) -> None:
    """Recompute and file the triggers of every position of ``addr`` in ``asset`` markets.

    Args:
        ev: the account's current evaluation, if the caller has it.
        indexed: False when the caller already removed the entries (the sweep's fired set).
    """
    if addr == FUND:
        return
    if indexed:
        unindex(sess, addr, asset)
    m = sess.macc(addr, asset)
    if not m.markets and not m.series:
        if m.cash < 0 and collateral.listed(sess):  # flat, owing what its collateral covers: the bands watch the debt
            collateral_bands.file_bands(sess, addr, asset, m, (ev or evaluate(sess, addr, asset)).scaled_surplus)
        return
    if ev is None:
        ev = evaluate(sess, addr, asset)
    if pm_mode.portfolio(sess, addr):  # portfolio margin: its collateral's bands, then the re-check bands (pm/bands.py)
        budget6 = (ev.equity - ev.mmr) * ONE  # its margin: the scenario requirement's, not the trigger budget (a sentinel)
        if collateral.listed(sess):
            budget6 = collateral_bands.file_bands(sess, addr, asset, m, budget6)
        pm_bands.file(sess, addr, asset, m, ev, budget6)
        adl_index.refile(sess, addr, asset)
        return
    surplus = ev.scaled_surplus
    if collateral.listed(sess):  # its collateral's price bands take their shares first (collateral_bands.py)
        surplus = collateral_bands.file_bands(sess, addr, asset, m, surplus)
    if m.series:  # options: one budget share per underlying (options/optindex.py), rounding slack per series
        unders = optindex.underlyings(sess, m)
        k = len(m.markets) + len(unders)
        budget = surplus - (2 * len(m.markets) + SLACK_SHORT * len(m.series)) * ONE
        b = budget // k
        optindex.file(sess, addr, m, unders, b if budget >= 0 else -1)
    else:
        k = ev.market_count
        budget = surplus - 2 * k * ONE
        b = budget // k
    for mid in m.markets:
        p = sess.pos(addr, mid)
        side = LONG if p.size > 0 else SHORT
        x = coordinate(sess, mid, side)
        if budget < 0:
            t = ALWAYS if side == LONG else -ALWAYS
        elif side == LONG:
            t = x - b // p.size
        else:
            t = x + b // -p.size
        p.trigger, p.trigger_side = t, side
        sess.index.insert(mid, side, addr, t)
        sess.touch_pos(addr, mid)
    adl_index.refile(sess, addr, asset)


def unindex_single(sess: Session, addr: bytes, asset: str, m, mid: str, p, ms) -> None:
    """``unindex`` and ``settle_all`` of an account whose only position in ``asset`` markets is ``p`` (in ``mid``).

    ``m`` is the account's margin account, ``ms`` the market's state (as
    :func:`settle_position`; equity is unchanged).  It marks nothing changed:
    both callers close the position next (:func:`close_settled` touches the
    account and the position).
    """
    if p.trigger_side:
        sess.index.remove(mid, p.trigger_side, addr, p.trigger)
        p.trigger_side = 0
    adl = sess.adl
    adl.memo.pop((addr, asset), None)
    if p.adl_side:
        adl.remove(mid, p.adl_side, addr, p.adl_key)
        p.adl_side = 0
    findex, sloss = ms.findex, ms.sloss
    if p.funding_snap != findex or p.loss_snap != sloss:
        s = p.size
        if s:
            pay = -(-(s * (findex - p.funding_snap) + (s if s > 0 else -s) * (sloss - p.loss_snap)) // ONE)  # payer rounds up
            if pay:
                m.cash -= pay
                sess.pool_add(asset, pay)
        p.funding_snap, p.loss_snap = findex, sloss


def close_settled(sess: Session, addr: bytes, asset: str, m, mid: str, p, ms, delta: int, cost: int) -> None:
    """``fill`` of a reducing ``delta`` (opposite sign to the size, ``|delta| <= |size|``) on a settled position.

    Same figures as :func:`fill` (the whole delta closes: ``cost_closed = cost``).
    """
    old = p.size
    n = -delta if delta < 0 else delta
    size = old if old > 0 else -old
    on = p.open_notional
    on_closed = on * n // size if on >= 0 else -(-on * n // size)
    new = old + delta
    m.realized += -cost - on_closed
    p.open_notional = 0 if new == 0 else on - on_closed
    p.size = new
    m.cash -= cost
    if new == 0:
        m.markets.remove(mid)
    ms.oi += (new if new > 0 else 0) - (old if old > 0 else 0)
    sess.touch_trade(addr, asset, mid)


def reindex_single(sess: Session, addr: bytes, asset: str, cash: int, mid: str, p, ms) -> bool:
    """``reindex(indexed=False)`` of a non-fund account whose only position (``p``, not flat) is settled.

    Returns False if the account is breached (``equity < MMR``), True if not.
    """
    new, price, mmf = p.size, ms.price, ms.mmf_eff
    findex, sloss = ms.findex, ms.sloss
    budget = cash * ONE + new * price * ONE - (new if new > 0 else -new) * price * mmf - 2 * ONE  # scaled_surplus - 2k x 10^6
    e6 = cash * ONE + new * price * ONE
    if new > 0:
        side = LONG
        t = ALWAYS if budget < 0 else price * (ONE - mmf) - findex - sloss - budget // new
        key = price * ONE - findex - sloss + (-e6) // new
    else:
        side = SHORT
        t = -ALWAYS if budget < 0 else price * (ONE + mmf) - findex + sloss + budget // -new
        key = price * ONE - findex + sloss + (-e6) // new
    p.trigger, p.trigger_side = t, side
    sess.index.insert(mid, side, addr, t)
    sess.adl.memo[(addr, asset)] = e6
    adl_index.file_adl(sess, addr, mid, p, side, key)
    return e6 // ONE >= -(-(new if new > 0 else -new) * price * mmf // ONE)  # equity >= MMR


def settle_funding(sess: Session, addr: bytes, asset: str, mid: str) -> int:
    """Move the position's unsettled funding between its cash and the funding pool; returns what it paid."""
    return settle_position(sess, addr, asset, mid, sess.pos(addr, mid), sess.mstate(mid))


def settle_position(sess: Session, addr: bytes, asset: str, mid: str, p, ms) -> int:
    """:func:`settle_funding` of position ``p`` (``addr``'s in ``mid``) given with its market state ``ms``."""
    findex, sloss = ms.findex, ms.sloss
    if p.funding_snap == findex and p.loss_snap == sloss:
        return 0
    pay = 0
    s = p.size
    if s:
        owed_scaled = s * (findex - p.funding_snap) + (s if s > 0 else -s) * (sloss - p.loss_snap)  # funding + social loss (adl.py)
        pay = -(-owed_scaled // ONE)  # payer rounds up, receiver down
        if pay:
            sess.macc(addr, asset).cash -= pay
            sess.pool_add(asset, pay)
            sess.touch_macc(addr, asset)
    p.funding_snap, p.loss_snap = findex, sloss
    sess.touch_pos(addr, mid)
    return pay


def settle_all(sess: Session, addr: bytes, asset: str) -> None:
    """Settle the funding of every position of ``addr`` in ``asset`` markets (equity is unchanged)."""
    for mid in sess.macc(addr, asset).markets:
        settle_funding(sess, addr, asset, mid)


def fill(sess: Session, addr: bytes, asset: str, mid: str, delta: int, cost: int) -> int:
    """Change ``addr``'s position by ``delta`` lots for ``cost`` (cash -= cost); returns realized PnL.

    Settles the position's funding first, keeps open notional and the
    account's market list, and updates the market's open interest.  The
    caller applies the opposite fill to the counterparty and re-indexes both.
    """
    p = sess.pos(addr, mid)
    ms = sess.mstate(mid)
    settle_position(sess, addr, asset, mid, p, ms)
    m = sess.macc(addr, asset)
    old = p.size
    new = old + delta
    realized = 0
    if old == 0 or (old > 0) == (delta > 0):
        p.open_notional += cost
    else:
        closed = min(abs(delta), abs(old))
        on_closed = _trunc_mul_div(p.open_notional, closed, abs(old))
        cost_closed = _trunc_mul_div(cost, closed, abs(delta))
        realized = -cost_closed - on_closed
        p.open_notional += cost - cost_closed - on_closed
    if new == 0:
        p.open_notional = 0
    p.size = new
    m.cash -= cost
    m.realized += realized
    if old == 0 and new != 0:
        insort(m.markets, mid)
    elif new == 0 and old != 0:
        m.markets.remove(mid)
    ms.oi += max(new, 0) - max(old, 0)
    sess.touch_trade(addr, asset, mid)
    return realized


def _trunc_mul_div(a: int, b: int, c: int) -> int:
    q = abs(a) * b // c
    return q if a >= 0 else -q


def check_cash_range(sess: Session, addr: bytes, asset: str) -> None:
    """Raise BadAmount if a stored figure of the account left the 64-bit range (oversized trade)."""
    m = sess.macc(addr, asset)
    if not I64_MIN <= m.cash <= I64_MAX:
        raise BadAmount(f"cash of {format_address(addr)} would be {m.cash}, outside the 64-bit range")


def require_confirmed(sess: Session, mid: str, what: str) -> None:
    """Raise StalePrice unless market ``mid``'s price is fresh and confirmed (not still converging to its median)."""
    ms = sess.mstate(mid)
    if ms.stale:
        raise StalePrice(f"{what} refused: market {mid} price is stale (no fresh oracle quorum)")
    if ms.converging:
        raise StalePrice(f"{what} refused: market {mid} price {ms.price} is still converging to its oracles' median (move guard)")


def require_fresh(sess: Session, addr: bytes, asset: str, what: str) -> None:
    """Raise StalePrice if any market the account holds in ``asset`` is stale or converging: its equity is unconfirmed."""
    for mid in sess.macc(addr, asset).markets:
        require_confirmed(sess, mid, what)


def collateral_changed(sess: Session, addr: bytes, asset: str, *, withdrawal: bool = False) -> None:
    """After a deposit or withdrawal of ``asset``: re-check and re-index the account it is collateral for (collateral.py).

    A withdrawal of a settlement asset the account holds collateral for is
    checked again after the fact: the collateral's cap shrinks with the cash.

    Raises:
        InsufficientMargin: a withdrawal would leave the ``backs`` account (with
            positions) with equity below its initial margin requirement.
        StalePrice: a withdrawal while the collateral's or a position's price is unconfirmed.
    """
    backs = collateral.refile(sess, addr, asset)
    if backs is None:
        if not (withdrawal and collateral.held(sess, addr, asset)):
            return
        backs = asset  # its settlement cash itself left: the caps of its collateral (collateral.py) fell with it
    m = sess.macc(addr, backs)
    if withdrawal and (m.markets or m.series):
        if backs != asset:
            require_confirmed(sess, collateral.params(sess, asset).price_market, "collateral withdrawal")
        require_fresh(sess, addr, backs, "collateral withdrawal")
        ev = evaluate(sess, addr, backs)
        if ev.equity < ev.imr:
            raise InsufficientMargin(f"withdrawing {asset} would leave equity {ev.equity} {backs} (collateral counted) below the "
                                     f"initial margin requirement {ev.imr}")
    if backs != asset:  # the handler re-indexed ``asset`` itself already
        reindex(sess, addr, backs)


# --------------------------------------------------------------------------- handlers


def margin_deposit(state: State, ctx: BlockContext, sender: bytes, body: MarginDeposit) -> list[Event]:
    check_amount(body.amount)
    require_asset(state, body.asset)
    have = require_spendable(state, sender, body.asset, body.amount)
    sess = Session(state, ctx)
    m = sess.macc(sender, body.asset)
    if m.cash + body.amount > MAX_AMOUNT:
        raise BadAmount(f"margin cash would exceed {MAX_AMOUNT}")
    set_balance(state, sender, body.asset, have - body.amount)
    settle_all(sess, sender, body.asset)
    m.cash += body.amount
    sess.touch_macc(sender, body.asset)
    reindex(sess, sender, body.asset)
    collateral_changed(sess, sender, body.asset)
    sess.flush()
    return [Event("margin_deposit", {"account": sender, "asset": body.asset, "amount": body.amount, "cash": m.cash})]


def margin_withdraw(state: State, ctx: BlockContext, sender: bytes, body: MarginWithdraw) -> list[Event]:
    """Withdraw while equity - amount >= IMR (all the account's markets must have fresh prices)."""
    check_amount(body.amount)
    require_asset(state, body.asset)
    sess = Session(state, ctx)
    m = sess.macc(sender, body.asset)
    if m.markets or m.series:  # options count too: a short's requirement must stay covered
        require_fresh(sess, sender, body.asset, "withdrawal")
        ev = evaluate(sess, sender, body.asset)
        if ev.stale:
            raise StalePrice(f"withdrawal refused: an option underlying's price of {format_address(sender)} is stale")
        if ev.equity - body.amount < ev.imr:
            raise InsufficientMargin(
                f"withdrawing {body.amount} would leave equity {ev.equity - body.amount} below the initial margin requirement {ev.imr}"
            )
    elif m.cash < body.amount:
        raise InsufficientBalance(f"margin cash {m.cash} {body.asset} is less than {body.amount}")
    bal = get_balance(state, sender, body.asset)
    if bal + body.amount > MAX_AMOUNT:
        raise BadAmount(f"balance would exceed {MAX_AMOUNT}")
    settle_all(sess, sender, body.asset)
    m.cash -= body.amount
    sess.touch_macc(sender, body.asset)
    set_balance(state, sender, body.asset, bal + body.amount)
    reindex(sess, sender, body.asset)
    collateral_changed(sess, sender, body.asset, withdrawal=True)
    sess.flush()
    return [Event("margin_withdraw", {"account": sender, "asset": body.asset, "amount": body.amount, "cash": m.cash})]


def insurance_deposit(state: State, ctx: BlockContext, sender: bytes, body: InsuranceDeposit) -> list[Event]:
    check_amount(body.amount)
    require_asset(state, body.asset)
    have = require_spendable(state, sender, body.asset, body.amount)
    sess = Session(state, ctx)
    fund = sess.macc(FUND, body.asset)
    if fund.cash + body.amount > MAX_AMOUNT:
        raise BadAmount(f"insurance fund would exceed {MAX_AMOUNT}")
    set_balance(state, sender, body.asset, have - body.amount)
    fund.cash += body.amount
    sess.touch_macc(FUND, body.asset)
    sess.flush()
    return [Event("insurance_deposit", {"from": sender, "asset": body.asset, "amount": body.amount, "fund_cash": fund.cash})]


HANDLERS = {
    "margin_deposit": margin_deposit,
    "margin_withdraw": margin_withdraw,
    "insurance_deposit": insurance_deposit,
}
