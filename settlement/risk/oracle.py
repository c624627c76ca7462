"""Oracle prices and dynamic margin: the ``price`` tx and the per-block price update.

Owns: accepting a report (oracle role, market's oracle set, amount), each
block's price (median of fresh reports from a quorum, clamped by the move
guard), the oracle reference price, staleness, and the volatility EWMA that
scales the margin fractions.  Never touches accounts or positions;
liquidation reads the result from the market state.

Per-block price (end of block, before funding and liquidations)
---------------------------------------------------------------
* fresh report: ``block time - report time <= oracle_fresh_ms``;
* quorum: ``q = floor(2n / 3) + 1`` of the market's ``n`` oracles (> 2/3:
  with ``n = 3f + 1`` oracles, ``f`` may be silent *and* ``f`` of the rest
  may lie, and the median still lies between two honest reports);
* with at least ``q`` fresh reports the raw price ``M`` is their *lower*
  median (sorted, index ``(count - 1) // 2``: an integer, no averaging);
  otherwise the market is **stale**: the last price is kept, risk-increasing
  trades and withdrawals are refused and the market's liquidations pause;
* a price the guard below clamped (``P1 != M``) is **converging**: it is not
  confirmed by the oracles, so risk-increasing actions of accounts holding
  the market are refused as while stale, but liquidations go on -- the clamped
  price lies between the last price and the median, so an account breached at
  it is at least as breached at the median.

Move guard (every block with a quorum, the first after an outage included)
--------------------------------------------------------------------------
The reference ``R`` is a time-weighted average of the price in force, with
window ``W = oracle_twap_window_ms``.  First, ``R`` absorbs the time ``dt``
since its last update, during which the previous price ``P0`` held::

    R := R + sign(P0 - R) x ceil(|P0 - R| x min(dt, W) / W)    (rounded towards P0)

then the block's price is the median clamped twice, the reference band last::

    P1 = clamp(M,  P0 - floor(P0 x m / 10^6), P0 + floor(P0 x m / 10^6))   m = oracle_max_move_ppm
    P1 = clamp(P1, R  - floor(R  x D / 10^6), R  + floor(R  x D / 10^6))   D = oracle_deviation_ppm
    P1 = max(P1, 1)

The first price of a market is ``M`` itself and starts ``R``.  A price only
enters ``R`` as time passes, so repeated moves cannot walk it: once the price
is ``D`` from ``R`` it can move no faster than ``R`` follows, ``D x dt / W``
per block (with the defaults and 1-s blocks: 20 % a block up to +50 % in the
third block, then +0.17 % a block: doubled after 175 blocks, where a bound
against the last price alone would let two +49 % reports double it).  A genuine move is accepted gradually: while the
median stays away from the price, every block moves the price again, without
new reports.  Reports
are never refused for their distance (a refused report could never rebuild a
quorum after an outage); the median is clamped instead.  After an outage
longer than ``W``, ``R`` equals the last price, so the market converges from
there by at most ``m`` a block, and beyond ``D`` as ``R`` follows.

Dynamic margin (integer EWMA of squared returns)
------------------------------------------------
On every block with a quorum and a new report, or a price that moved (a
clamped price converging), with the previous price ``P0`` and the new
``P1``::

    r      = trunc((P1 - P0) x 10^6 / P0)                      (ppm)
    var   := var + floor(alpha x (r^2 - var) / 10^6)           (ppm^2, >= 0)
    sigma  = isqrt(var)                                        (ppm per update)
    scale  = min(margin_cap_ppm, 10^6 + vol_k x max(0, sigma - vol_ref_ppm))
    imf_eff = min(10^6, ceil(imf x scale / 10^6)),  mmf_eff likewise

so the effective fractions equal the configured base in calm markets, rise
with realised volatility and never exceed ``base x cap``.  Both round up
(against the account).
"""
from __future__ import annotations

from math import isqrt

from ledger.keys import format_address
from ledger.receipt import Event
from ledger.txkinds_risk import PriceReport

from ..accounts import MAX_AMOUNT
from ..context import BlockContext
from ..errors import BadAmount, NotPermitted, UnknownMarket
from .records import ONE, MState, OracleReport, Session, report_key
from ..state import State
from ..transfers import require_role

__all__ = ["guarded_price", "median_price", "quorum", "update_prices", "update_reference"]


def quorum(n_oracles: int) -> int:
    """Smallest count strictly above two thirds of ``n_oracles``."""
    return 2 * n_oracles // 3 + 1


def median_price(prices: list[int]) -> int:
    """Lower median of a non-empty list."""
    s = sorted(prices)
    return s[(len(s) - 1) // 2]


def price(state: State, ctx: BlockContext, sender: bytes, body: PriceReport) -> list[Event]:
    require_role(state, sender, "oracle")
    sess = Session(state, ctx)
    market = sess.market(body.market)
    if market is None:
        raise UnknownMarket(f"unknown market {body.market!r}")
    if sender not in market.oracles:
        raise NotPermitted(f"{format_address(sender)} is not an oracle of {body.market}")
    if not 0 < body.price <= MAX_AMOUNT:
        raise BadAmount(f"price must be in [1, {MAX_AMOUNT}], got {body.price}")
    state.put(report_key(body.market, sender), OracleReport(body.price, ctx.time_ms, ctx.height).encode())
    return [Event("price_report", {"market": body.market, "oracle": sender, "price": body.price})]


def _update_volatility(ms: MState, p, old: int, new: int) -> None:
    if old:
        diff = abs(new - old) * ONE // old
        r = diff if new >= old else -diff
        ms.var = max(0, ms.var + p.vol_alpha_ppm * (r * r - ms.var) // ONE)
    sigma = isqrt(ms.var)
    ms.scale_ppm = min(p.margin_cap_ppm, ONE + p.vol_k * max(0, sigma - p.vol_ref_ppm))
    ms.imf_eff = min(ONE, -(-p.imf_ppm * ms.scale_ppm // ONE))
    ms.mmf_eff = min(ONE, -(-p.mmf_ppm * ms.scale_ppm // ONE))


def _clamp(x: int, centre: int, ppm: int) -> int:
    d = centre * ppm // ONE
    return max(centre - d, min(centre + d, x))


def update_reference(ms: MState, p, now: int) -> bool:
    """Let the reference absorb the time since its last update at the price in force; True if it changed."""
    if not ms.price or ms.oracle_twap_ms >= now:
        return False
    if not ms.oracle_twap:
        ms.oracle_twap = ms.price
    gap = ms.price - ms.oracle_twap
    w = p.oracle_twap_window_ms
    step = -(-abs(gap) * min(now - ms.oracle_twap_ms, w) // w)
    ms.oracle_twap += step if gap >= 0 else -step
    ms.oracle_twap_ms = now
    return True


def guarded_price(ms: MState, p, median: int) -> int:
    """The block's price: the median clamped to ``oracle_max_move_ppm`` of the last price, then to
    ``oracle_deviation_ppm`` of the reference (the module docstring); the median itself for the first price."""
    if not ms.price:
        return median
    px = _clamp(median, ms.price, p.oracle_max_move_ppm)
    return max(1, _clamp(px, ms.oracle_twap or ms.price, p.oracle_deviation_ppm))


def update_prices(sess: Session, ctx: BlockContext) -> list[Event]:
    """Set every market's price for this block (see the module docstring)."""
    events = []
    for mid in sess.market_ids():
        market = sess.market(mid)
        p = market.params
        ms = sess.mstate(mid)
        if update_reference(ms, p, ctx.time_ms):
            sess.touch_ms(mid)
        fresh: list[int] = []
        new_info = False
        for o in market.oracles:
            raw = sess.state.get(report_key(mid, o))
            if raw is None:
                continue
            rep = OracleReport.decode(raw)
            if ctx.time_ms - rep.time_ms <= p.oracle_fresh_ms:
                fresh.append(rep.price)
                new_info = new_info or rep.height == ctx.height
        was_stale = ms.stale
        if len(fresh) >= quorum(len(market.oracles)):
            median = median_price(fresh)
            px = guarded_price(ms, p, median)
            if ms.converging != (px != median):
                ms.converging = px != median  # clamped: not confirmed, backs no new risk (margin.require_confirmed)
                sess.touch_ms(mid)
            if new_info or was_stale or px != ms.price:
                if not ms.price:
                    ms.oracle_twap, ms.oracle_twap_ms = px, ctx.time_ms
                _update_volatility(ms, p, ms.price, px)
                ms.price, ms.price_time_ms, ms.price_height, ms.stale = px, ctx.time_ms, ctx.height, False
                sess.touch_ms(mid)
                events.append(Event("oracle_price", {
                    "market": mid, "price": px, "median": median, "converging": ms.converging, "reference": ms.oracle_twap, "reports": len(fresh),
                    "vol_ppm": isqrt(ms.var), "scale_ppm": ms.scale_ppm, "imf_ppm": ms.imf_eff, "mmf_ppm": ms.mmf_eff,
                }))
        elif not was_stale:
            ms.stale = True
            sess.touch_ms(mid)
            events.append(Event("oracle_stale", {
                "market": mid, "fresh_reports": len(fresh), "quorum": quorum(len(market.oracles)), "last_price": ms.price,
            }))
    return events


HANDLERS = {"price": price}
