"""Funding payments between longs and shorts, computed at the end of each block.

Owns the per-block premium sample (from the block's fills), the interval's
time-weighted premium, the interest component and the funding index.  Never
moves cash itself: each position settles lazily against the index
(``margin.settle_funding``) whenever it is touched, and equity always counts
the unsettled part, so liquidations see it.

Formula (per market, fresh price only)
--------------------------------------
``trade`` records each fill into the market state (:func:`record_fill`):
``n = sum(size)`` lots and ``N = sum(size x price)`` over the block.  At the
end of the block, with the block's oracle price ``P``::

    V       = n x P                                     the block's volume at the oracle price
    sample  = clamp(trunc((N - V) x 10^6 / max(V, I)), -10^6, 10^6)        (ppm)
    prem   += sample x dt;   dt_sum += dt               dt: time since the previous sample

``I`` is ``funding_impact_notional``.  With at least ``I`` of volume the
sample is the premium of the block's volume-weighted average price over the
oracle; a smaller volume counts as if the rest of ``I`` had traded at the
oracle price (dYdX v4 measures the premium at its impact notional), so one
small trade at the edge of the band barely moves it.  A block without fills
samples 0: we have no order book to quote a premium from.  Once
``funding_interval_ms`` has passed::

    premium  = floor(prem / dt_sum)                     time-weighted mean of the samples
    interest = floor(funding_interest_ppm x dt_sum / 28,800,000)     (the rate is per 8 hours)
    rate_ppm = clamp(premium + interest, -funding_cap_ppm, +funding_cap_ppm)
    F       += rate_ppm x P          (quote base units per lot, x 10^6)

A long of ``s`` lots owes ``s x (F - snap) / 10^6`` (rounded up when paying,
down when receiving; the difference stays in the per-asset funding pool).
Positive rate: longs pay shorts.  While a market is stale no samples are
taken (the block's fills are dropped), no interest accrues and no funding is
charged.
"""
from __future__ import annotations

from ledger.receipt import Event

from ..context import BlockContext
from .records import ONE, MState, Session, pack_int

__all__ = ["EIGHT_HOURS_MS", "apply_funding", "premium_sample", "record_fill"]

EIGHT_HOURS_MS = 8 * 3_600_000


def record_fill(ms: MState, size: int, price: int) -> None:
    """Count a fill of ``size`` lots at ``price`` into this block's premium sample."""
    ms.last_trade_price = price
    ms.blk_size += size
    ms.blk_notional += size * price


def premium_sample(lots: int, notional: int, price: int, impact: int) -> int:
    """The block's premium in ppm: ``trunc((N - V) x 10^6 / max(V, I))`` clamped to +-10^6."""
    v = lots * price
    d = abs(notional - v) * ONE // max(v, impact)
    return min(ONE, d) if notional >= v else -min(ONE, d)


def apply_funding(sess: Session, ctx: BlockContext) -> list[Event]:
    events = []
    now = ctx.time_ms
    for mid in sess.market_ids():
        ms = sess.mstate(mid)
        lots, notional = ms.blk_size, ms.blk_notional
        if lots:
            ms.blk_size = ms.blk_notional = 0  # a block's fills count in its own sample only
            sess.touch_ms(mid)
        if ms.stale or not ms.price:
            if ms.twap_last_ms != now and ms.price:
                ms.twap_last_ms = now  # a stale gap is not sampled
                sess.touch_ms(mid)
            continue
        p = sess.market(mid).params
        if ms.last_funding_ms == 0:
            ms.last_funding_ms = ms.twap_last_ms = now
            sess.touch_ms(mid)
            continue
        dt = now - ms.twap_last_ms
        if dt > 0:
            ms.prem_sum += premium_sample(lots, notional, ms.price, p.funding_impact_notional) * dt
            ms.prem_dt += dt
            ms.twap_last_ms = now
            sess.touch_ms(mid)
        if now - ms.last_funding_ms >= p.funding_interval_ms and ms.prem_dt > 0:
            premium = ms.prem_sum // ms.prem_dt
            interest = p.funding_interest_ppm * ms.prem_dt // EIGHT_HOURS_MS
            rate = max(-p.funding_cap_ppm, min(p.funding_cap_ppm, premium + interest))
            ms.findex += rate * ms.price
            ms.last_rate_ppm = rate
            ms.prem_sum = ms.prem_dt = 0
            ms.last_funding_ms = now
            sess.touch_ms(mid)
            events.append(Event("funding", {
                "market": mid, "rate_ppm": rate, "premium_ppm": premium, "interest_ppm": interest, "price": ms.price,
                "index": pack_int(ms.findex), "open_interest": ms.oi,
            }))
    return events
