"""The per-block liquidation sweep: find breached accounts through the at-risk index and liquidate them.

Owns the order of liquidations, partial liquidation with buffer and penalty,
and the first step of the default waterfall (the insurance fund takes the
position and pays what it can of the bad debt).  ADL and the socialized
loss, the next steps, are ``adl.py``.  Never reads oracle reports and never
scans all accounts.

Sweep (end of block, after prices and funding)
----------------------------------------------
1. The insurance fund's book is checked first (``rebalance_fund``): it holds
   the positions it took over while its equity is >= 0; with negative equity
   (the price moved through its inventory) everything it holds is
   deleveraged at its bankruptcy price (``adl.deleverage``).  The same check
   runs before every bankruptcy (the fund's capacity decides how much it
   pays) and after each pass.
2. For every market with a fresh price, and each side, pop the index entries
   whose trigger the current coordinate has crossed (``liq_index.py``).
3. Evaluate each candidate account exactly (``margin.evaluate``).  Safe ones
   are re-indexed with fresh triggers.  Breached ones (``equity < MMR``) are
   liquidated **most under-collateralised first** -- ascending
   ``floor(equity x 10^12 / MMR)`` -- ties by address.  An account with a
   position in a stale market is not liquidated (paused) but re-indexed so it
   is looked at again next block.
4. Whoever a pass breached is liquidated in a further pass of the same block
   (same order rule), until a pass breaches nobody: ADL counterparties that
   paid a share of someone's debt, and holders of a market whose social-loss
   index moved (their entries are popped again at the new coordinate).  A
   single-market counterparty that ``adl.deleverage`` re-filed above
   maintenance is not evaluated again: until its trigger fires it cannot be
   breached.

Single-market accounts with ``E > 0`` -- the bulk of a crash -- take a
one-pass path (``_partial_single``) with the same writes and events as the
general one (``tests/settlement/test_stress_roots.py``).

Liquidating one account (all its markets of one collateral asset)
-----------------------------------------------------------------
Funding and social loss are settled first, so ``E`` (equity), ``M`` (MMR)
and ``N`` (notional ``sum |s| x P``) are exact integers.  The insurance fund
is the backstop liquidator: closed lots move to the fund's position at the
oracle price (its takeovers are applied as one fill per market and pass,
``adl.sync_fund``, before anything reads the fund).

* ``E > 0`` -- partial: close the same fraction ``phi`` of every position,
  the smallest that restores ``E - penalty >= (1 - phi) M + buffer x M``::

      phi = (M x 10^6 + buffer_ppm x M - E x 10^6) / (M x 10^6 - penalty_ppm x N)

  ``lots_m = ceil(|s_m| x phi)`` (rounded up: the account ends at or above the
  target); ``phi >= 1`` means close everything.  The penalty
  ``ceil(closed notional x penalty_ppm / 10^6)``, at most ``E``, goes to the
  fund.  (Several markets: the largest buffer and penalty of the group.)  If
  rounding still leaves ``E < MMR``, the rest is closed in a second step.
* ``E <= 0`` -- bankrupt, bad debt ``D = -E``: the fund can pay
  ``A = max(0, its equity)``.  If ``A >= D`` it takes every position at the
  oracle price and pays ``D``.  Otherwise it pays ``A`` (never all or
  nothing) and ``adl.deleverage`` closes the positions at the bankruptcy
  price of the rest ``D - A`` against the ADL queue, socializing what no
  counterparty can take.

The account ends with ``E >= 0``; every step is an event in the block receipt.

Collateral (``collateral_sale.py``)
-----------------------------------
A holder of non-settlement collateral sells what covers its MMR to the fund
first (with what the fund can pay).  One left flat owing the settlement asset
has its collateral taken over at the same discounted price whatever the
fund's equity (``_done``), so no debt stays behind unsold collateral.  An
account without a position is breached when its equity is below zero (its
collateral fell through its debt): the fund takes over what covers the debt
and pays the rest, beyond its equity if it must (``insurance_payment`` with
``beyond_equity``); the fund's own waterfall (``rebalance_fund``: ADL, then
socialized loss) follows.  While that collateral's price is stale such a
liquidation waits (``liquidation_paused``).
"""
from __future__ import annotations

from ledger.receipt import Event

from . import collateral, collateral_bands, collateral_sale
from .adl import deleverage, socialize, sync_fund
from ..context import BlockContext
from .pm import bands as pm_bands, mode as pm_mode
from .margin import (Eval, ceil_div, close_settled, coordinate, evaluate, fill, reindex, reindex_single, settle_funding, unindex,
                     unindex_single)
from .options import optindex
from .options.optliq import close_options, deleverage_options
from .records import FUND, LONG, ONE, SHORT, Session
from .records import pack_int as _n  # event integers beyond 64 bits travel as signed bytes (never in practice)

__all__ = ["fund_available", "liquidate_account", "liquidation_sweep", "rebalance_fund"]


def fund_available(sess: Session, asset: str) -> int:
    """What the insurance fund can pay in ``asset``: max(0, its equity) (it holds inventory while equity >= 0)."""
    sync_fund(sess)
    return max(0, evaluate(sess, FUND, asset).equity)


def _close_to_fund(sess: Session, addr: bytes, asset: str, lots: list[tuple[str, int]]) -> tuple[list[dict], int]:
    """Move ``n`` lots of each ``(mid, n)`` position (in market order) to the fund at the oracle price; returns closes and penalty due."""
    closes, penalty = [], 0
    for mid, n in lots:
        if not n:
            continue
        s = sess.pos(addr, mid).size
        price = sess.mstate(mid).price
        delta = -n if s > 0 else n
        fill(sess, addr, asset, mid, delta, delta * price)
        fund = sess.fund_pending.setdefault((asset, mid), [0, 0])
        fund[0] -= delta
        fund[1] -= delta * price
        penalty += ceil_div(n * price * sess.market(mid).params.liq_penalty_ppm, ONE)
        closes.append({"market": mid, "lots": delta, "price": price})
    return closes, penalty


def _charge_penalty(sess: Session, addr: bytes, asset: str, due: int, equity: int) -> int:
    pen = max(0, min(due, equity))
    if pen:
        sess.macc(addr, asset).cash -= pen
        sess.macc(FUND, asset).cash += pen
        sess.touch_macc(addr, asset)
        sess.touch_macc(FUND, asset)
    return pen


def liquidate_account(sess: Session, addr: bytes, asset: str, events: list[Event], adl_cache: dict, ev=None, m=None) -> None:
    """Liquidate one breached account (see the module docstring); re-indexes it afterwards.

    Args:
        ev: the account's evaluation, if nothing changed it since (settling
            funding does not change equity: ``evaluate`` already counts it
            with the same rounding).
        m: its margin account, if at hand.
    """
    if m is None:
        m = sess.macc(addr, asset)
    if collateral.held(sess, addr, asset) and addr != FUND:  # its non-settlement collateral goes to the fund first (collateral_sale.py)
        flat = not m.markets and not m.series  # a flat debtor's collateral is taken over, else bought with what the fund has
        if collateral_sale.sell_to_fund(sess, addr, asset, events, evaluate(sess, addr, asset, m), None if flat else fund_available) \
                and flat:  # its collateral's price is stale: the fund must not pay a debt the account still holds it for
            ev = evaluate(sess, addr, asset, m)
            events.append(Event("liquidation_paused", {"account": addr, "asset": asset, "equity": _n(ev.equity),
                                                       "mmr": _n(ev.mmr), "collateral_stale": True}))
            reindex(sess, addr, asset, ev)
            return
        ev = None  # evaluated again below (never the single-market path: its figures leave the collateral out)
    if ev is None or (addr, asset) in adl_cache["touched"] or adl_cache.get("socialized"):
        ev = None
        adl_cache.get("safe", set()).discard((addr, asset))  # the sweep evaluates it again
    elif len(m.markets) == 1 and not m.series and ev.equity > 0 and ev.breached and addr != FUND \
            and not pm_mode.portfolio(sess, addr):  # the one-pass partial assumes standard MMR
        _partial_single(sess, addr, asset, m, ev, events)
        return
    unindex(sess, addr, asset)
    for mid in list(m.markets):
        settle_funding(sess, addr, asset, mid)
    if ev is None:
        ev = evaluate(sess, addr, asset)
    if not ev.breached:
        reindex(sess, addr, asset, ev, indexed=False)
        return
    under = None
    if m.series:  # options first, all of them, into the fund at mark (options/optliq.py); then the perpetuals as always
        under = sess.series(m.series[0]).underlying
        ev = _liquidate_options(sess, addr, asset, ev, events)
        if not ev.breached and ev.equity >= 0:
            _done(sess, addr, asset, m, events, ev)
            return
    e, mmr, n = ev.equity, ev.mmr, ev.notional
    base = {"account": addr, "asset": asset, "equity_before": _n(e), "mmr_before": _n(mmr)}
    if e > 0:
        params = [sess.market(mid).params for mid in m.markets]
        buf = max(p.liq_buffer_ppm for p in params)
        pen_ppm = max(p.liq_penalty_ppm for p in params)
        num = mmr * ONE + buf * mmr - e * ONE
        den = mmr * ONE - pen_ppm * n
        full = den <= 0 or num >= den
        sizes = [(mid, abs(sess.pos(addr, mid).size)) for mid in m.markets]
        closes, due = _close_to_fund(sess, addr, asset, sizes if full else [(mid, ceil_div(q * num, den)) for mid, q in sizes])
        pen = _charge_penalty(sess, addr, asset, due, e)
        after = evaluate(sess, addr, asset)
        events.append(Event("liquidation", dict(base, step="full" if full else "partial", closes=closes, penalty=_n(pen),
                                                equity_after=_n(after.equity), mmr_after=_n(after.mmr))))
        if not after.breached:
            _done(sess, addr, asset, m, events, after)
            return
        _close_rest(sess, addr, asset, base, after, events)
    else:
        debt = -e
        rebalance_fund(sess, asset, events, adl_cache)  # the fund's capacity counts only once its own book is sound
        avail = fund_available(sess, asset)
        if debt == 0 or avail >= debt:
            closes, _ = _close_to_fund(sess, addr, asset, [(mid, abs(sess.pos(addr, mid).size)) for mid in m.markets])
            fund = sess.macc(FUND, asset)
            if debt:
                fund.cash -= debt
                m.cash += debt
                sess.touch_macc(FUND, asset)
                sess.touch_macc(addr, asset)
            events.append(Event("liquidation", dict(base, step="bankrupt", closes=closes, penalty=0,
                                                    equity_after=_n(m.cash), mmr_after=0)))
            if debt:
                events.append(Event("insurance_payment", {"account": addr, "asset": asset, "amount": _n(debt),
                                                          "fund_cash": _n(fund.cash)}))
        else:
            events.append(Event("liquidation", dict(base, step="deleverage", closes=[], penalty=0,
                                                    equity_after=0, mmr_after=0, fund_available=_n(avail))))
            if avail:  # the fund pays what it can; ADL and then the market's holders cover the rest
                fund = sess.macc(FUND, asset)
                fund.cash -= avail
                m.cash += avail
                sess.touch_macc(FUND, asset)
                sess.touch_macc(addr, asset)
                events.append(Event("insurance_payment", {"account": addr, "asset": asset, "amount": _n(avail),
                                                          "fund_cash": _n(fund.cash), "partial": True}))
            sync_fund(sess)
            if m.markets:
                deleverage(sess, addr, asset, debt - avail, events, adl_cache)
            elif under is not None:  # it held only options (closed above): the rest is socialized over the underlying's holders
                socialize(sess, under, asset, addr, debt - avail, events, adl_cache)
            else:  # flat, its collateral all taken over: the fund pays the rest; its own inventory then goes through
                _fund_pays(sess, addr, asset, m, debt - avail, events)  # ADL and socialized loss (rebalance_fund)
    _done(sess, addr, asset, m, events)


def _done(sess: Session, addr: bytes, asset: str, m, events: list[Event], ev=None) -> None:
    """Re-index a liquidated account; one left flat owing ``asset`` first has its collateral taken over (collateral_sale.py).

    The waterfall counted the collateral at its haircut value and the fund
    takes it at the discounted price (``liq_discount <= haircut``), so the
    account ends with cash >= 0 -- unless a collateral price is stale: then it
    stays a flat debtor whose bands watch it.
    """
    if not m.markets and not m.series and m.cash < 0 and collateral.held(sess, addr, asset):
        collateral_sale.sell_to_fund(sess, addr, asset, events, evaluate(sess, addr, asset, m))
        ev = None
    reindex(sess, addr, asset, ev, indexed=False)


def _fund_pays(sess: Session, addr: bytes, asset: str, m, amount: int, events: list[Event]) -> None:
    """The fund pays ``amount`` of a flat account's debt beyond its equity (collateral_sale.py, "Bad debt")."""
    fund = sess.macc(FUND, asset)
    fund.cash -= amount
    m.cash += amount
    sess.touch_macc(FUND, asset)
    sess.touch_macc(addr, asset)
    events.append(Event("insurance_payment", {"account": addr, "asset": asset, "amount": _n(amount), "fund_cash": _n(fund.cash),
                                              "beyond_equity": True}))


def _liquidate_options(sess: Session, addr: bytes, asset: str, ev, events: list[Event]):
    """Close every option position of a breached account into the fund at mark, charge the penalty; the account after."""
    closes, due = close_options(sess, addr, asset)
    pen = _charge_penalty(sess, addr, asset, due, ev.equity)
    after = evaluate(sess, addr, asset)
    events.append(Event("liquidation", {"account": addr, "asset": asset, "equity_before": _n(ev.equity), "mmr_before": _n(ev.mmr),
                                        "step": "options", "closes": closes, "penalty": _n(pen),
                                        "equity_after": _n(after.equity), "mmr_after": _n(after.mmr)}))
    return after


def _close_rest(sess: Session, addr: bytes, asset: str, base: dict, after, events: list[Event]) -> None:
    """Rounding left a partially liquidated account breached: close the rest (the caller re-indexes it)."""
    m = sess.macc(addr, asset)
    closes, due = _close_to_fund(sess, addr, asset, [(mid, abs(sess.pos(addr, mid).size)) for mid in m.markets])
    pen = _charge_penalty(sess, addr, asset, due, after.equity)
    final = evaluate(sess, addr, asset)
    events.append(Event("liquidation", dict(base, step="rest", equity_before=_n(after.equity), mmr_before=_n(after.mmr),
                                            closes=closes, penalty=_n(pen), equity_after=_n(final.equity), mmr_after=_n(final.mmr))))


def _partial_single(sess: Session, addr: bytes, asset: str, m, ev, events: list[Event], hot: dict | None = None) -> None:
    """``liquidate_account`` for a single-market account with ``E > 0``, in one pass (the bulk of a crash).

    The same steps, figures, writes and events as the general path
    (``unindex``, ``settle_funding``, ``_close_to_fund``, ``_charge_penalty``,
    ``evaluate``, ``reindex``), computed inline: with one market and funding
    just settled, the account's figures after the close follow from its new
    size and cash alone.

    ``hot``: a per-sweep cache of each (asset, market)'s parameters and the
    fund's margin account (neither object changes during a sweep).
    """
    mid = m.markets[0]
    p = sess.pos(addr, mid)
    ms = sess.mstate(mid)
    unindex_single(sess, addr, asset, m, mid, p, ms)
    s = p.size
    price = ms.price
    e, mmr = ev.equity, ev.mmr
    k = (asset, mid)
    known = hot.get(k) if hot is not None else None
    if known is None:
        known = (sess.market(mid).params, sess.macc(FUND, asset))
        if hot is not None:
            hot[k] = known
    params, fund_m = known
    pen_ppm = params.liq_penalty_ppm
    num = mmr * ONE + params.liq_buffer_ppm * mmr - e * ONE
    den = mmr * ONE - pen_ppm * ev.notional
    size = s if s > 0 else -s
    full = den <= 0 or num >= den
    n = size if full else -(-(size * num) // den)
    # close n lots to the fund at the oracle price
    delta = -n if s > 0 else n
    cost = delta * price
    close_settled(sess, addr, asset, m, mid, p, ms, delta, cost)
    new = p.size
    fund = sess.fund_pending.get(k) or sess.fund_pending.setdefault(k, [0, 0])
    fund[0] -= delta
    fund[1] -= cost
    due = -(-(n * price * pen_ppm) // ONE)
    pen = due if due < e else e
    if pen > 0:
        m.cash -= pen
        fund_m.cash += pen
        sess.touch_macc(FUND, asset)
    else:
        pen = 0
    # the account after the close (margin.evaluate with funding settled)
    cash = m.cash
    nb = (new if new > 0 else -new) * price
    mmf = ms.mmf_eff
    eq_after = cash + new * price
    mmr_after = -(-nb * mmf // ONE)
    events.append(Event("liquidation", {
        "account": addr, "asset": asset, "equity_before": _n(e), "mmr_before": _n(mmr), "step": "full" if full else "partial",
        "closes": [{"market": mid, "lots": delta, "price": price}], "penalty": _n(pen),
        "equity_after": _n(eq_after), "mmr_after": _n(mmr_after)}))
    if new == 0:
        return  # flat: nothing to file (margin.reindex)
    if eq_after < mmr_after:
        after = Eval(eq_after, -(-nb * ms.imf_eff // ONE), mmr_after, nb, cash * ONE + new * price * ONE - nb * mmf, 1, ms.stale)
        base = {"account": addr, "asset": asset, "equity_before": _n(e), "mmr_before": _n(mmr)}
        _close_rest(sess, addr, asset, base, after, events)
        reindex(sess, addr, asset, indexed=False)
        return
    reindex_single(sess, addr, asset, cash, mid, p, ms)


def rebalance_fund(sess: Session, asset: str, events: list[Event], adl_cache: dict) -> None:
    """If the fund's equity is negative, deleverage all its inventory at its bankruptcy price (``adl.py``)."""
    sync_fund(sess)
    ev = evaluate(sess, FUND, asset)
    if ev.equity >= 0 or ev.stale or not ev.market_count:
        return
    m = sess.macc(FUND, asset)
    for mid in list(m.markets):
        settle_funding(sess, FUND, asset, mid)
    ev = evaluate(sess, FUND, asset)
    events.append(Event("fund_deleverage", {"asset": asset, "equity": _n(ev.equity), "mmr": _n(ev.mmr), "imr": _n(ev.imr),
                                            "lots": {mid: abs(sess.pos(FUND, mid).size) for mid in m.markets}}))
    debt = -ev.equity
    if m.series:  # its option inventory first (options/optliq.py); what is left as for perpetuals
        under = sess.series(m.series[0]).underlying
        debt = deleverage_options(sess, asset, debt, events, adl_cache)
        if debt > 0 and not m.markets:
            if 2 * sess.mstate(under).oi > 0:  # someone holds the underlying's perpetual (the fund holds none)
                socialize(sess, under, asset, FUND, debt, events, adl_cache)
            else:  # nobody to charge: the fund keeps its loss (adl.socialize's H = 0 case)
                events.append(Event("adl_uncovered", {"from": FUND, "market": under, "debt_to_fund": _n(debt),
                                                      "fund_cash": _n(m.cash)}))
            return
    if debt > 0:
        deleverage(sess, FUND, asset, debt, events, adl_cache)


def _fired(sess: Session, mids) -> set[tuple[bytes, str]]:
    """Pop the at-risk entries fired in ``mids`` (fresh markets only): (address, collateral asset) candidates."""
    candidates: set[tuple[bytes, str]] = set()
    for mid in mids:
        ms = sess.mstate(mid)
        if ms.stale or not ms.price:
            continue
        quote = sess.market(mid).quote
        for side in (LONG, SHORT):
            for addr, _ in sess.index.pop_fired(mid, side, coordinate(sess, mid, side)):
                sess.pos(addr, mid).trigger_side = 0
                sess.touch_pos(addr, mid)
                candidates.add((addr, quote))
    return candidates


def _triage(sess: Session, candidates, events: list[Event], popped: set) -> list:
    """Evaluate candidates: breached ones in liquidation order; the others re-indexed (``popped``: index entries removed)."""
    breached, rest = [], []
    macc = sess.macc
    for addr, asset in candidates:  # any order: an evaluation reads only its own account; the rest goes in address order
        m = macc(addr, asset)
        ev = evaluate(sess, addr, asset, m)
        if ev.breached and not ev.stale:
            breached.append((ev.equity * 10**12 // ev.mmr if ev.mmr else -2**200, addr, asset, ev, m))  # no MMR: long options only
        elif (addr, asset) in popped:
            rest.append((addr, asset, ev))
    rest.sort()  # by (address, asset): distinct
    for addr, asset, ev in rest:
        if ev.breached:
            events.append(Event("liquidation_paused", {"account": addr, "asset": asset, "equity": _n(ev.equity), "mmr": _n(ev.mmr)}))
        reindex(sess, addr, asset, ev)
    breached.sort()  # by (ratio, address, asset): distinct, so nothing after them is compared
    return breached


def liquidation_sweep(sess: Session, ctx: BlockContext) -> list[Event]:
    """Find and liquidate every breached account of every fresh market (see the module docstring)."""
    events: list[Event] = []
    adl_cache: dict = {"touched": set(), "socialized": set(), "safe": set()}
    hot: dict = {}  # _partial_single's cache
    assets = sorted({sess.market(mid).quote for mid in sess.market_ids() if not sess.mstate(mid).stale})
    for asset in assets:
        rebalance_fund(sess, asset, events, adl_cache)
    popped = _fired(sess, sess.market_ids()) | optindex.candidates(sess) | collateral_bands.candidates(sess) \
        | pm_bands.candidates(sess, adl_cache["socialized"])
    sess.recheck.clear()
    breached = _triage(sess, popped | (adl_cache["touched"] - adl_cache["safe"]), events, popped)
    while breached:
        adl_cache["socialized"] = set()
        adl_cache["touched"] = set()
        adl_cache["safe"] = set()
        for _, addr, asset, ev, m in breached:
            if len(m.markets) == 1 and not m.series and ev.equity > 0 and addr != FUND and not adl_cache["socialized"] \
                    and (addr, asset) not in adl_cache["touched"] and not collateral.held(sess, addr, asset) \
                    and not pm_mode.portfolio(sess, addr):
                _partial_single(sess, addr, asset, m, ev, events, hot)  # liquidate_account's first case, without the call
            else:
                liquidate_account(sess, addr, asset, events, adl_cache, ev, m)
        for asset in sorted({b[2] for b in breached}):
            rebalance_fund(sess, asset, events, adl_cache)
        # ADL counterparties paid part of someone's debt, and a socialized loss moved its market's coordinate:
        # whoever is breached now goes in this block too
        popped = _fired(sess, sorted(adl_cache["socialized"])) | pm_bands.pop_socialized(sess, adl_cache["socialized"])
        breached = _triage(sess, popped | (adl_cache["touched"] - adl_cache["safe"]), events, popped)
    sync_fund(sess)
    return events
