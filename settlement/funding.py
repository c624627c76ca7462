"""Funding payments between longs and shorts, computed at the end of each block.

Owns the time-weighted premium accumulator and the funding index.  Never
moves cash itself: each position settles lazily against the index
(``margin.settle_funding``) whenever it is touched, and equity always counts
the unsettled part, so liquidations see it.

Formula (per market, fresh price only)
--------------------------------------
Every block adds a premium sample weighted by the time since the last one::

    ref     = last trade price in this interval (the oracle price if no trade)
    sample  = clamp(trunc((ref - P) x 10^6 / P), -10^6, 10^6)      (ppm)
    prem   += sample x dt;   dt_sum += dt

so ``prem / dt_sum`` is the time-weighted average of ``(trade - oracle) /
oracle`` over the interval.  Once ``funding_interval_ms`` has passed::

    rate_ppm = clamp(floor(prem / dt_sum), -funding_cap_ppm, +funding_cap_ppm)
    F       += rate_ppm x P          (quote base units per lot, x 10^6)

A long of ``s`` lots owes ``s x (F - snap) / 10^6`` (rounded up when paying,
down when receiving; the difference stays in the per-asset funding pool).
Positive rate: longs pay shorts.  While a market is stale no samples are
taken and no funding is charged.
"""
from __future__ import annotations

from ledger.receipt import Event

from .context import BlockContext
from .risk_state import ONE, Session, pack_int

__all__ = ["apply_funding"]


def apply_funding(sess: Session, ctx: BlockContext) -> list[Event]:
    events = []
    now = ctx.time_ms
    for mid in sess.market_ids():
        ms = sess.mstate(mid)
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
            ref = ms.last_trade_price or ms.price
            d = abs(ref - ms.price) * ONE // ms.price
            sample = max(-ONE, min(ONE, d if ref >= ms.price else -d))
            ms.prem_sum += sample * dt
            ms.prem_dt += dt
            ms.twap_last_ms = now
            sess.touch_ms(mid)
        if now - ms.last_funding_ms >= p.funding_interval_ms and ms.prem_dt > 0:
            rate = max(-p.funding_cap_ppm, min(p.funding_cap_ppm, ms.prem_sum // ms.prem_dt))
            ms.findex += rate * ms.price
            ms.last_rate_ppm = rate
            ms.prem_sum = ms.prem_dt = ms.last_trade_price = 0
            ms.last_funding_ms = now
            sess.touch_ms(mid)
            events.append(Event("funding", {
                "market": mid, "rate_ppm": rate, "price": ms.price, "index": pack_int(ms.findex), "open_interest": ms.oi,
            }))
    return events
