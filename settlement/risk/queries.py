"""Read-only views of risk state for RPC and the CLI: margin, markets, oracles, insurance fund, HTLCs, orders.

Owns the JSON shape of these answers (addresses as ``st...``, bytes as hex,
integers as integers).  Takes any view with ``get``; never writes (the
session it opens over the view is never flushed).

Liquidation price (shown per position) is the price of *that* market at which
the account would reach ``equity == MMR`` with every other market and the
current dynamic margin fraction unchanged, rounded towards the current price
(the conservative side): for a long ``P - (E - M) x 10^6 / (s x (10^6 - mmf))``,
for a short ``P - (E - M) x 10^6 / (s x (10^6 + mmf))``.
"""
from __future__ import annotations

import dataclasses
from math import isqrt

from ledger.keys import format_address

from .adl_index import AdlQueue
from .adl_index import score as adl_score
from ..context import BlockContext
from .liquidation import fund_available
from .margin import ceil_div, evaluate
from .oracle import median_price, quorum
from .perps import order_filled
from .records import CANCELLED, FUND, LONG, ONE, SHORT, Htlc, OracleReport, Session, htlc_key, report_key
from ..state import State
from ..swaps import htlc_locked

__all__ = ["adl_queue", "htlc_info", "insurance_fund", "margin_info", "market_info", "market_list", "oracle_info", "order_info"]


def _session(view, time_ms: int = 0) -> Session:
    return Session(State(view), BlockContext("", 0, time_ms))


def _assets(sess: Session) -> list[str]:
    return sorted({sess.market(mid).quote for mid in sess.market_ids()})


def _liq_price(price: int, size: int, surplus: int, mmf: int) -> int | None:
    if size > 0:
        p = price - surplus * ONE // (size * (ONE - mmf)) if mmf < ONE else 0
        return p if p > 0 else None
    return price + surplus * ONE // (-size * (ONE + mmf))


def margin_info(view, addr: bytes) -> dict:
    """Every collateral asset the account uses: cash, positions, equity, IMR, MMR, liquidation distance."""
    sess = _session(view)
    out = {"address": format_address(addr), "accounts": []}
    for asset in _assets(sess):
        m = sess.macc(addr, asset)
        if not m.cash and not m.markets and not m.series:
            continue
        ev = evaluate(sess, addr, asset)
        positions = []
        for mid in m.markets:
            p = sess.pos(addr, mid)
            ms = sess.mstate(mid)
            owed = ceil_div(p.size * (ms.findex - p.funding_snap), ONE)
            social = ceil_div(abs(p.size) * (ms.sloss - p.loss_snap), ONE)
            positions.append({
                "market": mid, "size": p.size, "entry_price": p.open_notional // p.size if p.size else 0, "oracle_price": ms.price,
                "notional": abs(p.size) * ms.price, "unrealized_pnl": p.size * ms.price - p.open_notional, "unsettled_funding": -owed,
                "unsettled_social_loss": -social, "adl_score": adl_score(sess, addr, asset, mid),
                "liquidation_price": _liq_price(ms.price, p.size, ev.equity - ev.mmr, ms.mmf_eff), "stale": ms.stale,
            })
        collateral = m.cash + sum(sess.pos(addr, mid).open_notional for mid in m.markets)
        out["accounts"].append({
            "asset": asset, "cash": m.cash, "collateral": collateral, "realized_pnl": m.realized,
            "equity": ev.equity, "imr": ev.imr, "mmr": ev.mmr, "free_collateral": ev.equity - ev.imr,
            "liquidation_distance": ev.equity - ev.mmr,
            "margin_ratio_ppm": ev.equity * ONE // ev.mmr if ev.mmr else None,
            "breached": ev.breached, "positions": positions,
            "option_series": list(m.series),  # their positions: option_positions (options/queries.py)
        })
    return out


def market_info(view, mid: str) -> dict | None:
    sess = _session(view)
    market = sess.market(mid)
    if market is None:
        return None
    ms = sess.mstate(mid)
    return {
        "market": mid, "base": market.base, "quote": market.quote,
        "params": {f.name: getattr(market.params, f.name) for f in dataclasses.fields(market.params)},
        "oracles": [format_address(o) for o in market.oracles],
        "price": ms.price, "price_height": ms.price_height, "price_time_ms": ms.price_time_ms, "stale": ms.stale,
        "volatility_ppm": isqrt(ms.var), "margin_scale_ppm": ms.scale_ppm, "imf_ppm": ms.imf_eff, "mmf_ppm": ms.mmf_eff,
        "open_interest": ms.oi, "funding_index": ms.findex, "last_funding_rate_ppm": ms.last_rate_ppm,
        "last_funding_ms": ms.last_funding_ms, "last_trade_price": ms.last_trade_price, "uncovered_bad_debt": ms.uncovered,
        "social_loss_index": ms.sloss, "socialized_loss": ms.socialized,
    }



def market_list(view) -> list[dict]:
    sess = _session(view)
    return [market_info(view, mid) for mid in sess.market_ids()]


def oracle_info(view, mid: str, time_ms: int) -> dict | None:
    """Reports of the market's oracles with their age at ``time_ms`` and what the median would be."""
    sess = _session(view, time_ms)
    market = sess.market(mid)
    if market is None:
        return None
    reports, fresh = [], []
    for o in market.oracles:
        raw = view.get(report_key(mid, o))
        row = {"oracle": format_address(o), "price": None}
        if raw is not None:
            rep = OracleReport.decode(raw)
            age = time_ms - rep.time_ms
            ok = age <= market.params.oracle_fresh_ms
            row.update(price=rep.price, time_ms=rep.time_ms, height=rep.height, age_ms=age, fresh=ok)
            if ok:
                fresh.append(rep.price)
        reports.append(row)
    q = quorum(len(market.oracles))
    ms = sess.mstate(mid)
    return {
        "market": mid, "quorum": q, "fresh_reports": len(fresh), "reports": reports,
        "median_of_fresh": median_price(fresh) if len(fresh) >= q else None,
        "price": ms.price, "stale": ms.stale, "fresh_ms": market.params.oracle_fresh_ms,
        "deviation_ppm": market.params.oracle_deviation_ppm, "reference_price": ms.oracle_twap,
        "max_move_ppm": market.params.oracle_max_move_ppm, "twap_window_ms": market.params.oracle_twap_window_ms,
    }


def insurance_fund(view) -> list[dict]:
    sess = _session(view)
    out = []
    for asset in _assets(sess):
        m = sess.macc(FUND, asset)
        ev = evaluate(sess, FUND, asset)
        mids = [mid for mid in sess.market_ids() if sess.market(mid).quote == asset]
        out.append({
            "asset": asset, "address": format_address(FUND), "cash": m.cash, "equity": ev.equity, "imr": ev.imr,
            "mmr": ev.mmr, "available": fund_available(sess, asset),
            "socialized_loss": sum(sess.mstate(mid).socialized for mid in mids),
            "uncovered_bad_debt": sum(sess.mstate(mid).uncovered for mid in mids),
            "positions": [{"market": mid, "size": sess.pos(FUND, mid).size, "entry_notional": sess.pos(FUND, mid).open_notional} for mid in m.markets],
            "htlc_locked": htlc_locked(State(view), asset),
        })
    return out


def adl_queue(view, mid: str, side: str, limit: int = 20) -> list[dict]:
    """The first ``limit`` ADL counterparties on ``side`` ("long" / "short") of ``mid``, in the order ADL takes them."""
    sess = _session(view)
    market = sess.market(mid)
    if market is None:
        return []
    q = AdlQueue(sess, mid, LONG if side == "long" else SHORT, market.quote, set())
    out = []
    while len(out) < limit:
        nxt = q.pop()
        if nxt is None:
            break
        addr, sc = nxt
        out.append({"account": format_address(addr), "size": sess.pos(addr, mid).size, "score": sc})
    return out


def htlc_info(view, hid: bytes) -> dict | None:
    raw = view.get(htlc_key(hid))
    if raw is None:
        return None
    h = Htlc.decode(raw)
    return {
        "id": hid.hex(), "sender": format_address(h.sender), "receiver": format_address(h.receiver), "asset": h.asset,
        "amount": h.amount, "hashlock": h.hashlock.hex(), "timeout_height": h.timeout_height,
        "timeout_ms": h.timeout_ms, "status": h.status,
        "preimage": h.preimage.hex() if h.preimage else None,
    }


def order_info(view, maker: bytes, nonce: int) -> dict:
    done = order_filled(State(view), maker, nonce)
    return {"maker": format_address(maker), "nonce": nonce, "cancelled": done == CANCELLED, "filled": 0 if done == CANCELLED else done}
