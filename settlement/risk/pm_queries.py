"""Read-only portfolio-margin views for RPC and the CLI: an account's scenario table and a what-if trade.

Owns the JSON shape of :func:`pm_scenarios` (the risk officer's view: per
underlying, the positions, the scenario P&L table, the binding scenario and
the requirement; the collateral shocked in the scenarios, its own rows; per
settlement asset, equity, IMR and MMR in the account's
mode beside the standard-mode figures) and :func:`pm_whatif` (the same after a
proposed fill).  Never writes: every figure comes from ``margin.evaluate`` on
a :class:`~settlement.risk.records.Session` over a fresh
:class:`~settlement.state.State` overlay of the committed view that is never
flushed or finished, so a proposed fill (``margin.fill`` / ``positions.ofill``,
the functions a real trade calls) changes only that scratch copy.

The standard-mode figures of a portfolio account are ``margin.evaluate`` on a
second scratch copy in which the account's mode record (``r/pm/mode/`` +
addr, absent = standard) is deleted.  The scenario table of a portfolio
account is the engine's (``pm/mode.py`` ``underlying_requirements`` over
``pm/scenarios.py``'s grid): the same numbers ``margin.evaluate`` sums, with
each scenario's price move; a standard account shows its positions only.
"""
from __future__ import annotations

import dataclasses

from ledger.keys import format_address

from ..context import BlockContext
from ..state import State
from . import collateral
from .margin import evaluate, fill
from .options.positions import ofill
from .pm import mode as pm_mode
from .pm.scenarios import GRID
from .pm.scenarios import spot_move as scenario_move
from .records import ONE, Session

__all__ = ["MODE_PREFIX", "collateral_params", "pm_scenarios", "pm_whatif"]

MODE_PREFIX = pm_mode.MODE  # + addr(20): the account's margin mode record; absent = standard
SIDES = ("buy", "sell")


def _session(view, time_ms: int) -> Session:
    return Session(State(view), BlockContext("", 0, time_ms))


def _mode(sess: Session, addr: bytes) -> str:
    return pm_mode.PORTFOLIO if pm_mode.portfolio(sess, addr) else pm_mode.STANDARD


def _assets(sess: Session, addr: bytes) -> list[str]:
    """Settlement assets of the markets, in which the account has cash or a position, sorted."""
    out = []
    for asset in sorted({sess.market(mid).quote for mid in sess.market_ids()}):
        m = sess.macc(addr, asset)
        if m.cash or m.markets or m.series or collateral.held(sess, addr, asset):
            out.append(asset)
    return out


def _positions(sess: Session, addr: bytes, asset: str) -> dict[str, list[dict]]:
    """The account's positions in ``asset``, grouped by underlying (a perp's underlying is its market), sorted."""
    m = sess.macc(addr, asset)
    by: dict[str, list[dict]] = {}
    for mid in m.markets:
        p, ms = sess.pos(addr, mid), sess.mstate(mid)
        by.setdefault(mid, []).append({"instrument": mid, "kind": "perp", "size": p.size, "price": ms.price,
                                       "value": p.size * ms.price})
    for sid in m.series:
        s, ss, p = sess.series(sid), sess.sstate(sid), sess.opos(addr, sid)
        by.setdefault(s.underlying, []).append({
            "instrument": sid, "kind": s.kind, "size": p.size, "strike": s.strike, "expiry_ms": s.expiry_ms,
            "contract_lots": s.contract_lots, "mark": s.contract_lots * ss.mark6 // ONE,
            # floor for a long, ceil for a short: the value against the account (as optmargin.py)
            "value": -(-(p.size * s.contract_lots * ss.mark6) // ONE) if p.size < 0 else p.size * s.contract_lots * ss.mark6 // ONE})
    return {u: by[u] for u in sorted(by)}


def _tables(sess: Session, addr: bytes, asset: str) -> dict[str, dict]:
    """Underlying -> its grid, scenario P&L table, binding scenario and requirement (``pm/mode.py``, ``pm/scenarios.py``)."""
    out = {}
    for u, req, table, binding in pm_mode.underlying_requirements(sess, addr, sess.macc(addr, asset)):
        spot, grid = sess.mstate(u).price, pm_mode.params(sess, u)
        rows = []
        for sc, (name, pnl) in zip(GRID, table):
            d = scenario_move(spot, sc, grid)
            rows.append({"scenario": name, "move": d, "price": max(spot + d, 0), "vol": "up" if sc.vol_up else "down",
                         "extreme": sc.extreme, "pnl": pnl})
        out[u] = {"grid": {f.name: getattr(grid, f.name) for f in dataclasses.fields(grid)}, "scenarios": rows,
                  "binding": binding, "requirement": req,
                  "mmr": -(-req * grid.mmr_fraction_ppm // ONE)}  # as pm/mode.py: rounded up, against the account
    return out


def _shock(sess: Session, addr: bytes, asset: str) -> dict | None:
    """The account's collateral backing ``asset`` in the scenarios (``collateral.shock_table``), its own rows; None if none.

    Its requirement and MMR are in the account's IMR and MMR only while it holds
    a position in ``asset`` (``counted``).
    """
    if not collateral.held(sess, addr, asset):
        return None
    req, mmr, rows, binding = collateral.shock_table(sess, addr, asset)
    m = sess.macc(addr, asset)
    return {"scenarios": rows, "binding": binding, "requirement": req, "mmr": mmr, "counted": bool(m.markets or m.series)}


NO_TABLE = {"grid": None, "scenarios": [], "binding": None, "requirement": None, "mmr": None}


def _figures(ev) -> dict:
    return {"equity": ev.equity, "imr": ev.imr, "mmr": ev.mmr, "free_collateral": ev.equity - ev.imr,
            "liquidation_distance": ev.equity - ev.mmr, "breached": ev.breached, "stale": ev.stale}


def _view(sess: Session, std: Session, addr: bytes) -> dict:
    mode = _mode(sess, addr)
    accounts = []
    for asset in _assets(sess, addr):
        ev, sev = evaluate(sess, addr, asset), evaluate(std, addr, asset)
        tables = _tables(sess, addr, asset) if mode == pm_mode.PORTFOLIO else {}
        unders = [{"underlying": u, "positions": rows, **tables.get(u, NO_TABLE)}
                  for u, rows in _positions(sess, addr, asset).items()]
        accounts.append({"asset": asset, "cash": sess.macc(addr, asset).cash,
                         "collateral_value": collateral.extra_equity(sess, addr, asset) if collateral.listed(sess) else 0,
                         **_figures(ev), "standard": _figures(sev), "underlyings": unders,
                         "collateral_shock": _shock(sess, addr, asset) if mode == pm_mode.PORTFOLIO else None})
    return {"address": format_address(addr), "mode": mode, "accounts": accounts}


def _pair(view, addr: bytes, time_ms: int) -> tuple[Session, Session]:
    """Two scratch sessions over ``view``: as committed, and with the account's mode record deleted (standard)."""
    std = _session(view, time_ms)
    std.state.delete(MODE_PREFIX + addr)
    return _session(view, time_ms), std


def pm_scenarios(view, addr: bytes, time_ms: int = 0) -> dict:
    """Mode, and per collateral asset: equity, IMR, MMR (and standard mode's), per underlying the scenario table."""
    return _view(*_pair(view, addr, time_ms), addr)


def _apply(sess: Session, addr: bytes, proposed: dict) -> str:
    """Apply the proposed fill to the scratch session; returns its settlement asset.

    Raises:
        LookupError: the market or series is unknown (or settled).
        ValueError: side, size or price out of range.
    """
    side, size, price = proposed.get("side"), proposed.get("size"), proposed.get("price")
    if side not in SIDES:
        raise ValueError(f"side must be one of {', '.join(SIDES)}, got {side!r}")
    for name, v in (("size", size), ("price", price)):
        if type(v) is not int or v <= 0:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    d = size if side == "buy" else -size
    market, series = proposed.get("market"), proposed.get("series")
    if (market is None) == (series is None):
        raise ValueError("give exactly one of market (a perpetual) or series (an option)")
    if market is not None:
        mk = sess.market(market)
        if mk is None:
            raise LookupError(f"market {market} is not listed")
        fill(sess, addr, mk.quote, market, d, d * price)  # price per lot: cost exact (margin.py)
        return mk.quote
    s = sess.series(series)
    if s is None or sess.sstate(series).settled:
        raise LookupError(f"option series {series} is not listed or is settled")
    ofill(sess, addr, s.quote, series, d, d * price)  # price: premium per contract
    return s.quote


def pm_whatif(view, addr: bytes, proposed: dict, time_ms: int = 0) -> dict:
    """:func:`pm_scenarios` before and after the proposed fill (``market`` or ``series``, ``side``, ``size``, ``price``).

    The fill is applied to scratch copies only (module docstring); the
    counterparty is not modelled.  ``after`` is the account's view with the
    fill; ``change`` the IMR and MMR differences in the fill's asset, and
    ``accepted`` whether equity would still cover IMR (the check a
    risk-increasing trade must pass).
    """
    before = pm_scenarios(view, addr, time_ms)
    sess, std = _pair(view, addr, time_ms)
    asset = _apply(sess, addr, proposed)
    _apply(std, addr, proposed)
    after = _view(sess, std, addr)
    b = next((a for a in before["accounts"] if a["asset"] == asset), {"imr": 0, "mmr": 0, "standard": {"imr": 0}})
    a = next(x for x in after["accounts"] if x["asset"] == asset)
    return {"address": before["address"], "proposed": dict(proposed), "asset": asset, "before": before, "after": after,
            "change": {"imr": a["imr"] - b["imr"], "mmr": a["mmr"] - b["mmr"],
                       "standard_imr": a["standard"]["imr"] - b["standard"]["imr"]},
            "accepted": a["equity"] >= a["imr"]}


def collateral_params(view) -> list[dict]:
    """Every listed collateral asset and its parameters, sorted by asset."""
    sess = _session(view, 0)
    out = []
    for asset in collateral.listed(sess):
        p = collateral.params(sess, asset)
        out.append({"asset": asset, "backs": p.backs, "price_market": p.price_market, "haircut_ppm": p.haircut_ppm,
                    "cap_ppm": p.cap_ppm, "liq_discount_ppm": p.liq_discount_ppm, "enabled": p.enabled,
                    "price": sess.mstate(p.price_market).price})
    return out
