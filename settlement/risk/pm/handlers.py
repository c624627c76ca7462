"""Portfolio margin transactions: the admin's grid (``set_pm_params``) and an account's mode switch (``set_margin_mode``).

Owns the checks of both: the grid's bounds, and that a switch leaves the
account covered.  A switch is allowed when the account holds no position, or
when every collateral asset in which it holds one has fresh prices and
``equity >= IMR`` in the new mode; otherwise it is refused with a receipt
(``InsufficientMargin`` / ``StalePrice``) and nothing changes.  After a switch
every asset's triggers are filed again (the trigger regime differs:
``mode.py``, ``bands.py``); after a new grid, the bands of every account on
its underlying.  Never computes a requirement itself (``mode.py``,
``scenarios.py``).
"""
from __future__ import annotations

import dataclasses

from ledger.receipt import Event
from ledger.txkinds_pm import PmParams, SetMarginMode, SetPmParams

from ...context import BlockContext
from ...errors import InsufficientMargin, InvalidParameter, StalePrice, UnknownMarket
from ...state import State
from ...transfers import require_role
from ..margin import evaluate, reindex, require_fresh, unindex
from ..records import FUND, ONE, Session
from .bands import pop_markets
from .mode import MODES, PORTFOLIO, portfolio, set_mode, set_params

__all__ = ["HANDLERS", "set_margin_mode", "set_pm_params", "validate_pm_params"]

_BOUNDS = (  # field, lowest, highest
    ("scan_range_ppm", 1, ONE),
    ("vol_up_ppm", 0, 10 * ONE),
    ("vol_down_ppm", 0, ONE - 1),
    ("extreme_multiple", 1, 10),
    ("extreme_fraction_ppm", 0, ONE),
    ("short_option_min_ppm", 0, ONE),
    ("mmr_fraction_ppm", 1, ONE),
)


def validate_pm_params(p: PmParams) -> None:
    """Raise InvalidParameter unless every field of the grid is within its bounds."""
    for name, lo, hi in _BOUNDS:
        v = getattr(p, name)
        if not lo <= v <= hi:
            raise InvalidParameter(f"{name} must be in [{lo}, {hi}], got {v}")


def set_pm_params(state: State, ctx: BlockContext, sender: bytes, body: SetPmParams) -> list[Event]:
    require_role(state, sender, "admin")
    sess = Session(state, ctx)
    if sess.market(body.underlying) is None:
        raise UnknownMarket(f"unknown market {body.underlying!r}")
    validate_pm_params(body.params)
    set_params(sess, body.underlying, body.params)
    for addr, asset in sorted(pop_markets(sess, [body.underlying])):  # their bands assumed the old grid (bands.py)
        reindex(sess, addr, asset)
    sess.flush()
    attrs = {"underlying": body.underlying}
    attrs.update({f.name: getattr(body.params, f.name) for f in dataclasses.fields(PmParams)})
    return [Event("pm_params_set", attrs)]


def _assets(sess: Session, addr: bytes) -> list[str]:
    """The collateral assets in which ``addr`` holds a perpetual or option position, sorted."""
    quotes = sorted({sess.market(mid).quote for mid in sess.market_ids()})
    out = []
    for q in quotes:
        m = sess.macc(addr, q)
        if m.markets or m.series:
            out.append(q)
    return out


def set_margin_mode(state: State, ctx: BlockContext, sender: bytes, body: SetMarginMode) -> list[Event]:
    if body.mode not in MODES:
        raise InvalidParameter(f"margin mode must be one of {', '.join(MODES)}, got {body.mode!r}")
    if sender == FUND:
        raise InvalidParameter("the insurance fund stays in standard mode")
    sess = Session(state, ctx)
    if portfolio(sess, sender) == (body.mode == PORTFOLIO):
        return [Event("margin_mode", {"account": sender, "mode": body.mode, "changed": False})]
    assets = _assets(sess, sender)
    for q in assets:
        require_fresh(sess, sender, q, "margin mode switch")
        unindex(sess, sender, q)  # in the mode it leaves: its triggers and bands are that mode's
    set_mode(sess, sender, body.mode)
    figures = []
    for q in assets:
        ev = evaluate(sess, sender, q)
        if ev.stale:
            raise StalePrice(f"margin mode switch refused: a price of an option underlying in {q} is stale")
        if ev.equity < ev.imr:
            raise InsufficientMargin(f"in {body.mode} mode {q} equity {ev.equity} would be below the initial margin requirement {ev.imr}")
        figures.append({"asset": q, "equity": ev.equity, "imr": ev.imr, "mmr": ev.mmr})
    for q in assets:
        reindex(sess, sender, q, indexed=False)
    sess.flush()
    return [Event("margin_mode", {"account": sender, "mode": body.mode, "changed": True, "margin": figures})]


HANDLERS = {"set_pm_params": set_pm_params, "set_margin_mode": set_margin_mode}
