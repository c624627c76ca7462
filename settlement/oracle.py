"""Oracle prices and dynamic margin: the ``price`` tx and the per-block price update.

Owns: accepting a report (oracle role, market's oracle set, deviation bound),
each block's price (median of fresh reports from a quorum), staleness, and the
volatility EWMA that scales the margin fractions.  Never touches accounts or
positions; liquidation reads the result from the market state.

Per-block price (end of block, before funding and liquidations)
---------------------------------------------------------------
* fresh report: ``block time - report time <= oracle_fresh_ms``;
* quorum: ``q = floor(2n / 3) + 1`` of the market's ``n`` oracles (> 2/3);
* with at least ``q`` fresh reports the price is their *lower* median
  (sorted, index ``(count - 1) // 2``: an integer, no averaging); otherwise
  the market is **stale**: the last price is kept, risk-increasing trades and
  withdrawals are refused and the market's liquidations pause;
* a report further than ``oracle_deviation_ppm`` from the last accepted price
  is rejected when submitted (receipt ``price_deviation``) -- while the
  market is fresh.  While it is stale the bound is not applied (the real
  price may have moved further during the outage, and a market that could
  never accept a report again would stay frozen); the quorum median is then
  the only guard against a bad report.

Dynamic margin (integer EWMA of squared returns)
------------------------------------------------
On every block with a new report and a quorum, with the previous price
``P0`` and the new ``P1``::

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

from .accounts import MAX_AMOUNT
from .context import BlockContext
from .errors import BadAmount, NotPermitted, PriceDeviation, UnknownMarket
from .risk_state import ONE, MState, OracleReport, Session, report_key
from .state import State
from .transfers import require_role

__all__ = ["median_price", "quorum", "update_prices"]


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
    ms = sess.mstate(body.market)
    dev = market.params.oracle_deviation_ppm
    if ms.price and not ms.stale and abs(body.price - ms.price) * ONE > ms.price * dev:
        raise PriceDeviation(
            f"report {body.price} moves {body.market} by more than {dev} ppm from the last accepted price {ms.price}"
        )
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


def update_prices(sess: Session, ctx: BlockContext) -> list[Event]:
    """Set every market's price for this block (see the module docstring)."""
    events = []
    for mid in sess.market_ids():
        market = sess.market(mid)
        p = market.params
        ms = sess.mstate(mid)
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
            px = median_price(fresh)
            if new_info or was_stale:
                _update_volatility(ms, p, ms.price, px)
                ms.price, ms.price_time_ms, ms.price_height, ms.stale = px, ctx.time_ms, ctx.height, False
                sess.touch_ms(mid)
                events.append(Event("oracle_price", {
                    "market": mid, "price": px, "reports": len(fresh), "vol_ppm": isqrt(ms.var),
                    "scale_ppm": ms.scale_ppm, "imf_ppm": ms.imf_eff, "mmf_ppm": ms.mmf_eff,
                }))
        elif not was_stale:
            ms.stale = True
            sess.touch_ms(mid)
            events.append(Event("oracle_stale", {
                "market": mid, "fresh_reports": len(fresh), "quorum": quorum(len(market.oracles)), "last_price": ms.price,
            }))
    return events


HANDLERS = {"price": price}
