"""Auto-deleveraging and socialized loss: the last two steps of the default waterfall.

Owns the closing of a bankrupt account's positions (or the insurance fund's,
when its own equity is negative) at the bankruptcy price against ranked
opposite positions, and the socialization of what ADL cannot cover.  Never
chooses whom to liquidate (``liquidation.py``), never ranks by itself (the
ranking index is ``adl_index.py``) and never touches an account without a
position in the market: a flat account pays for nobody's losses.

Bankruptcy price
----------------
The account has equity ``-D`` (funding settled) after the insurance fund paid
what it could.  ``D`` is split over its markets in proportion to notional,
``D_m = floor(D x |s_m| P_m / N)`` with the remainder on the last market (by
id).  Closing all ``|s_m|`` lots of market ``m`` for ``s_m x P_m + D_m``
instead of ``s_m x P_m`` leaves the account at exactly zero: that is trading
at the bankruptcy price ``P_m + D_m / s_m`` per lot.

Allocation
----------
Counterparties come from ``adl_index.AdlQueue`` (opposite side, not the fund,
profitable, positive equity; highest PnL % x leverage first, ties by
address).  Each closes ``x = min(lots left, its |size|)`` lots and pays
``share = ceil(D_left x x / lots_left)`` (rounded against it; the last one pays
exactly what is left), capped at its equity so ADL never leaves it with
negative equity.

Socialized loss (Drift v2's last step)
--------------------------------------
What the queue cannot take -- no eligible counterparty left, or shares capped
at equity -- is not left in the fund.  The lots left move to the insurance
fund at the oracle price (no loss to it: the fund holds inventory while its
equity is >= 0), and the debt left ``R`` is **socialized across every holder
of the market, both sides, pro rata to size**, as Drift v2's
``resolve_perp_bankruptcy`` does (it bumps the cumulative funding rate of
longs and of shorts by ``loss / (base_long + base_short)``).  The insurance
fund's own position is exempt (it is the party being made whole, or already
paid all it had)::

    H        = 2 x open interest - |fund's size|           lots held by others
    per_lot  = ceil(R x 10^6 / H)                          rounded up: holders pay >= R
    L       += per_lot                                     market social-loss index
    account (or fund) cash += R,  funding pool -= R

A position owes ``|s| x (L - snap) / 10^6``, counted in equity at once (so
the sweep liquidates whoever it breaches, in the same block: the index
coordinate moves by ``L``) and settled lazily together with funding through
the per-asset funding pool: payers round up, the dust stays in the pool.
Until every holder has settled, the pool is negative by at most what they
owe (conservation holds at every step: the pool is one of its components).

If no one but the fund holds the market (``H = 0``), the counterparties the
queue just closed pay ``R`` first, in queue order, each up to its equity
(``_recharge``: the lots the queue could not take -- the fund's own opposite
lots, or shares capped at equity -- carried that part of the debt, and those
counterparties kept the gains it paid for).  Only what they cannot pay does
the fund absorb itself (``adl_uncovered``; the fund's equity may then be
negative, and it stays so until penalties or deposits refill it).

The insurance fund itself
-------------------------
The fund takes over liquidated positions and holds them while its equity is
>= 0 (like Hyperliquid's liquidator vault).  Only when its equity is negative
does ``liquidation.rebalance_fund`` deleverage it: everything at its
bankruptcy price, through the same queue and socialization.
"""
from __future__ import annotations

from ledger.receipt import Event

from .adl_index import AdlQueue
from .pm import mode as pm_mode
from .margin import ceil_div, close_settled, evaluate, fill, reindex, reindex_single, settle_funding, unindex, unindex_single
from .records import FUND, LONG, ONE, SHORT, Session, pack_int

__all__ = ["deleverage", "socialize", "sync_fund"]


def sync_fund(sess: Session) -> None:
    """Apply the insurance fund's pending takeovers (batched per market: one fill instead of one per account)."""
    pending, sess.fund_pending = sess.fund_pending, {}
    for (asset, mid) in sorted(pending):
        lots, cost = pending[(asset, mid)]
        if lots or cost:
            fill(sess, FUND, asset, mid, lots, cost)


def _split(debt: int, weights: list[int]) -> list[int]:
    total = sum(weights)
    parts = [debt * w // total for w in weights]
    parts[-1] += debt - sum(parts)
    return parts


def socialize(sess: Session, mid: str, asset: str, addr: bytes, amount: int, events: list[Event], cache: dict) -> None:
    """Pay ``amount`` to ``addr`` out of the funding pool, charged to the holders of ``mid`` (module docstring)."""
    ms = sess.mstate(mid)
    fund_pos = sess.pos(FUND, mid)
    holders = _holders(sess, mid, addr)
    to = sess.macc(addr, asset)
    if holders <= 0:
        if addr != FUND:
            sess.macc(FUND, asset).cash -= amount
            sess.touch_macc(FUND, asset)
        to.cash += amount
        sess.touch_macc(addr, asset)
        ms.uncovered += amount
        sess.touch_ms(mid)
        events.append(Event("adl_uncovered", {
            "from": addr, "market": mid, "debt_to_fund": pack_int(amount),
            "fund_cash": pack_int(sess.macc(FUND, asset).cash),
        }))
        return
    per_lot = ceil_div(amount * ONE, holders)
    settle_funding(sess, FUND, asset, mid)  # the fund settles at the old index and is exempt from the bump
    ms.sloss += per_lot
    ms.socialized += amount
    sess.adl.memo.clear()  # every holder's exact equity moved (adl_index.score)
    sess.touch_ms(mid)
    if fund_pos.size:
        fund_pos.loss_snap = ms.sloss
        sess.touch_pos(FUND, mid)
    to.cash += amount
    sess.touch_macc(addr, asset)
    sess.pool_add(asset, -amount)
    cache.setdefault("socialized", set()).add(mid)
    events.append(Event("social_loss", {
        "from": addr, "market": mid, "amount": pack_int(amount), "lots": holders, "per_lot": pack_int(per_lot),
        "index": pack_int(ms.sloss),
    }))


def deleverage(sess: Session, addr: bytes, asset: str, debt: int, events: list[Event], cache: dict) -> None:
    """Close all of ``addr``'s positions at its bankruptcy price; the rest to the fund and to the holders.

    ``addr``'s own index entries must already be removed and the fund's pending
    takeovers applied (``liquidation.sync_fund``).
    """
    m = sess.macc(addr, asset)
    mids = list(m.markets)
    if not mids:
        return  # the fund with no position left and negative cash: nothing to deleverage (``adl_uncovered``)
    notionals = [abs(sess.pos(addr, mid).size) * sess.mstate(mid).price for mid in mids]
    touched = cache.setdefault("touched", set())
    safe_set = cache.setdefault("safe", set())  # known not breached now: the sweep need not evaluate them again
    for mid, d_m in zip(mids, _split(debt, notionals)):
        s = sess.pos(addr, mid).size
        ms = sess.mstate(mid)  # prices, funding and the social-loss index do not move until socialize() below
        price = ms.price
        sign = 1 if s > 0 else -1
        lots_left, debt_left = abs(s), d_m
        queue = AdlQueue(sess, mid, SHORT if s > 0 else LONG, asset, {addr})
        fund = None
        paid: list[bytes] = []  # this market's counterparties, in queue order (_recharge)
        while lots_left:
            nxt = queue.pop()
            if nxt is None:
                break
            c, sc = nxt
            cp = sess.pos(c, mid)
            cm = sess.macc(c, asset)
            single = len(cm.markets) == 1 and not cm.series and (cp.size > 0 if s < 0 else cp.size < 0) \
                and not pm_mode.portfolio(sess, c)  # the common case: one pass (below); standard MMR only
            if single:
                unindex_single(sess, c, asset, cm, mid, cp, ms)  # equity unchanged: evaluate counts it with the same rounding
                c_equity = cm.cash + cp.size * price
            else:
                unindex(sess, c, asset)
                c_equity = evaluate(sess, c, asset).equity
            x = min(lots_left, abs(cp.size))
            share = min(ceil_div(debt_left * x, lots_left), max(0, c_equity))
            delta = -sign * x
            cost = delta * price - share
            if addr == FUND:  # the fund's side of its own deleverage is applied once per market (below)
                if fund is None:
                    fund = sess.fund_pending.setdefault((asset, mid), [0, 0])
                fund[0] += delta
                fund[1] += cost
            else:
                fill(sess, addr, asset, mid, delta, cost)
            if single:
                close_settled(sess, c, asset, cm, mid, cp, ms, -delta, -cost)
                safe = not cp.size or reindex_single(sess, c, asset, cm.cash, mid, cp, ms)  # flat: nothing to file
            else:
                fill(sess, c, asset, mid, -delta, -cost)
                reindex(sess, c, asset, indexed=False)
                safe = False
            touched.add((c, asset))
            if safe:
                safe_set.add((c, asset))
            else:
                safe_set.discard((c, asset))
            lots_left -= x
            debt_left -= share
            paid.append(c)
            events.append(Event("adl", {
                "from": addr, "counterparty": c, "market": mid, "lots": x, "oracle_price": price,
                "paid": pack_int(share), "score": pack_int(sc), "counterparty_position": cp.size,
            }))
        if addr == FUND:
            sync_fund(sess)
        if lots_left and addr != FUND:
            delta = -sign * lots_left  # no counterparty left: the fund takes the lots at the oracle price
            fill(sess, addr, asset, mid, delta, delta * price)
            fill(sess, FUND, asset, mid, -delta, -delta * price)
            events.append(Event("adl_to_fund", {"from": addr, "market": mid, "lots": lots_left, "price": price}))
        if debt_left and paid and _holders(sess, mid, addr) <= 0:
            debt_left = _recharge(sess, mid, asset, addr, paid, debt_left, events, cache)
        if debt_left:
            socialize(sess, mid, asset, addr, debt_left, events, cache)


def _recharge(sess: Session, mid: str, asset: str, addr: bytes, paid: list[bytes], debt: int,
              events: list[Event], cache: dict) -> int:
    """Charge the debt nobody is left to share to this market's ADL counterparties, up to their equity.

    Returns the debt still left.  Runs only when, after the queue, no one but
    the fund holds the market: the lots the queue could not take (the fund's
    own opposite lots, or shares capped at equity) carried their part of the
    debt, and socializing it would leave it in the fund.  The counterparties
    just closed at the bankruptcy price are the ones whose gains that debt
    paid for, so each pays more, in queue order, never past zero equity.
    """
    touched, safe_set = cache.setdefault("touched", set()), cache.setdefault("safe", set())
    to = sess.macc(addr, asset)
    for c in paid:
        if not debt:
            break
        cm = sess.macc(c, asset)
        extra = min(debt, max(0, evaluate(sess, c, asset, cm).equity))
        if not extra:
            continue
        unindex(sess, c, asset)
        cm.cash -= extra
        to.cash += extra
        sess.touch_macc(c, asset)
        sess.touch_macc(addr, asset)
        reindex(sess, c, asset, indexed=False)
        touched.add((c, asset))
        safe_set.discard((c, asset))
        debt -= extra
        events.append(Event("adl", {
            "from": addr, "counterparty": c, "market": mid, "lots": 0, "oracle_price": sess.mstate(mid).price,
            "paid": pack_int(extra), "score": 0, "counterparty_position": sess.pos(c, mid).size,
        }))
    return debt


def _holders(sess: Session, mid: str, addr: bytes) -> int:
    """Lots of ``mid`` held by accounts other than the fund and ``addr`` (``socialize``'s ``H``)."""
    own = abs(sess.pos(addr, mid).size) if addr != FUND else 0
    return 2 * sess.mstate(mid).oi - abs(sess.pos(FUND, mid).size) - own
