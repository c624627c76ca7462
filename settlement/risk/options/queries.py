"""Read-only views of options state for RPC and the CLI: series, chains, the vol surface, an account's option positions.

Owns the JSON shape of these answers (addresses as ``st...``, integers as
integers, per-lot figures of the records turned into per-contract figures).
Takes any view with ``get``; never writes (the session it opens over the
view is never flushed) and never prices: marks, IVs and greeks are the ones
the end-of-block "options" phase stored in the series state.

Per contract (``n = contract_lots``):

* ``mark`` = ``floor(n x mark6 / 10^6)`` quote base units (``mark6`` is the
  value of one lot in 10^-6 base units);
* greeks are the stored per-lot greeks times ``n``, at the scales of
  ``settlement/risk/options/pricing.py``.

A position of ``size`` contracts is worth ``floor(size x n x mark6 / 10^6)``
when long and ``-ceil(|size| x n x mark6 / 10^6)`` when short: the rounding
of the margin rules, against the account.
"""
from __future__ import annotations

import dataclasses

from ledger.keys import format_address

from ...context import BlockContext
from ...state import State
from ..margin import evaluate
from ..optrecords import VolReportRec, vol_report_key
from ..oracle import quorum
from ..records import ONE, Session
from .marks import MARK_STATES
from .series import live_series, underlyings
from .surface import load_surface

__all__ = ["option_positions", "series_info", "series_list", "surface_info"]


def _session(view, time_ms: int = 0) -> Session:
    return Session(State(view), BlockContext("", 0, time_ms))


def _value(size: int, lots: int, mark6: int) -> int:
    """Mark value of ``size`` contracts: floor when long, -ceil when short (both a floor: against the holder)."""
    return size * lots * mark6 // ONE


def _series_row(sess: Session, sid: str, time_ms: int) -> dict | None:
    s = sess.series(sid)
    if s is None:
        return None
    ss = sess.sstate(sid)
    n = s.contract_lots
    return {
        "series": sid, "underlying": s.underlying, "kind": s.kind, "strike": s.strike, "expiry_ms": s.expiry_ms,
        "contract_lots": n, "settlement_asset": s.quote,
        "time_to_expiry_ms": max(s.expiry_ms - time_ms, 0), "expired": time_ms >= s.expiry_ms,
        "settled": bool(ss.settled), "settle_price": ss.settle_price if ss.settled else None,
        "spot": ss.spot, "mark": n * ss.mark6 // ONE, "mark6_per_lot": ss.mark6, "iv_ppm": ss.iv_ppm,
        "mark_time_ms": ss.mark_time_ms, "mark_state": MARK_STATES.get(ss.mark_state, str(ss.mark_state)),
        "greeks": {"delta": ss.delta * n, "gamma": ss.gamma * n, "vega": ss.vega * n, "theta": ss.theta * n},
        "open_interest": ss.oi,
    }


def series_info(view, sid: str, time_ms: int) -> dict | None:
    """Terms, mark, IV, greeks (per contract), open interest and time to expiry of one series (None if never listed)."""
    return _series_row(_session(view, time_ms), sid, time_ms)


def series_list(view, time_ms: int, underlying: str | None = None) -> list[dict]:
    """:func:`series_info` of every listed live series (of ``underlying`` only, if given), by underlying then id."""
    sess = _session(view, time_ms)
    out = []
    for u in underlyings(sess) if underlying is None else [underlying]:
        for sid in live_series(sess, u):
            row = _series_row(sess, sid, time_ms)
            if row is not None:
                out.append(row)
    return out


def _points(points) -> list[dict]:
    return [{"expiry_ms": p.expiry_ms, "strike": p.strike, "vol_ppm": p.vol_ppm} for p in points]


def surface_info(view, underlying: str, time_ms: int) -> dict | None:
    """The option parameters of ``underlying``, its oracles' vol points with their freshness, the surface (the lower
    medians of the fresh points, with its epoch) and the IV of each live series.

    None if options are not enabled on ``underlying``.
    """
    sess = _session(view, time_ms)
    params = sess.oparams(underlying)
    market = sess.market(underlying)
    if params is None or market is None:
        return None
    reports = []
    fresh = 0
    for o in market.oracles:
        raw = view.get(vol_report_key(underlying, o))
        row = {"oracle": format_address(o), "points": None}
        if raw is not None:
            rep = VolReportRec.decode(raw)
            age = time_ms - rep.time_ms
            ok = age <= params.vol_fresh_ms
            fresh += ok
            row.update(time_ms=rep.time_ms, height=rep.height, age_ms=age, fresh=ok,
                       points=_points(rep.points))
        reports.append(row)
    series = series_list(view, time_ms, underlying)
    sf = load_surface(sess, underlying)
    return {
        "underlying": underlying, "quote": market.quote, "spot": sess.mstate(underlying).price,
        "params": {f.name: getattr(params, f.name) for f in dataclasses.fields(params)},
        "quorum": quorum(len(market.oracles)), "fresh_reports": fresh, "reports": reports,
        "surface": None if sf is None else {
            "epoch": sf.epoch, "time_ms": sf.time_ms,
            "points": _points(sf.points)},
        "series": [{"series": r["series"], "expiry_ms": r["expiry_ms"], "strike": r["strike"], "kind": r["kind"],
                    "iv_ppm": r["iv_ppm"]} for r in series],
    }


def option_positions(view, addr: bytes, time_ms: int) -> dict:
    """Every option position of ``addr`` (size, premium basis, mark value, greeks x size) and its margin per collateral asset."""
    sess = _session(view, time_ms)
    out = {"address": format_address(addr), "accounts": []}
    assets = sorted({sess.market(mid).quote for mid in sess.market_ids()})
    for asset in assets:
        m = sess.macc(addr, asset)
        if not m.series:
            continue
        positions = []
        for sid in m.series:
            s = sess.series(sid)
            ss = sess.sstate(sid)
            p = sess.opos(addr, sid)
            n = s.contract_lots
            positions.append({
                "series": sid, "underlying": s.underlying, "kind": s.kind, "strike": s.strike, "expiry_ms": s.expiry_ms,
                "size": p.size, "premium_paid": p.cost, "mark": n * ss.mark6 // ONE,
                "mark_value": _value(p.size, n, ss.mark6), "unrealized_pnl": _value(p.size, n, ss.mark6) - p.cost,
                "iv_ppm": ss.iv_ppm,
                "greeks": {g: getattr(ss, g) * n * p.size for g in ("delta", "gamma", "vega", "theta")},
            })
        ev = evaluate(sess, addr, asset)
        out["accounts"].append({
            "asset": asset, "cash": m.cash, "equity": ev.equity, "imr": ev.imr, "mmr": ev.mmr,
            "free_collateral": ev.equity - ev.imr, "liquidation_distance": ev.equity - ev.mmr, "breached": ev.breached,
            "greeks": {g: sum(p["greeks"][g] for p in positions) for g in ("delta", "gamma", "vega", "theta")},
            "positions": positions,
        })
    return out
