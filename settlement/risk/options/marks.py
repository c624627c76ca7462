"""Marks: every block, the Black-Scholes value and greeks of every live series at the surface's vol.

Owns the mark fields of each series' :class:`~settlement.risk.optrecords.SState`
(``mark6``, ``iv_ppm``, ``spot``, ``mark_time_ms``, greeks) and its
``mark_state``.  Never prices by itself (``pricing.bs_greeks``), never builds
the surface (``surface.py``) and never touches accounts.

For each live series of each options underlying, in sorted order, at block
time ``now``::

    vol  = vol_at(surface, expiry_ms, strike, now)                    (surface.py)
    mark = bs_greeks(spot = ms.price, strike, vol, expiry_ms - now, rate_ppm, kind == call)

stored per lot (``mark6`` in 10^-6 quote base units) with ``mark_state =
MARKED``.  A series that cannot be marked keeps its last mark, IV, spot, greeks
and ``mark_time_ms`` and says why in ``mark_state``:

* ``NO_VOL`` -- the surface has no live point (none yet, or every report stale);
* ``STALE_PRICE`` -- the underlying market is stale (no quorum of fresh prices).

``UNMARKED`` (0) is a series never marked yet, or settled.  Trading (and
anything that takes new risk at the mark) needs ``mark_state == MARKED``; the
margin rules and the liquidation sweep use the last mark whatever the state
(as perpetuals keep the last price while stale).  A converging underlying
price (clamped by the move guard) still marks: the trading rules refuse new
risk on it as for perpetuals (``ms.converging``).  Each change of
``mark_state`` gives an ``option_mark_state`` event.
"""
from __future__ import annotations

from ledger.receipt import Event

from ...context import BlockContext
from ..records import Session
from .pricing import bs_greeks
from .series import live_series, series_terms, underlyings
from .surface import surface_grid

__all__ = ["MARKED", "MARK_STATES", "NO_VOL", "STALE_PRICE", "UNMARKED", "update_marks"]

UNMARKED, MARKED, NO_VOL, STALE_PRICE = 0, 1, 2, 3
MARK_STATES = {UNMARKED: "unmarked", MARKED: "marked", NO_VOL: "no_vol", STALE_PRICE: "stale_price"}


def update_marks(sess: Session, ctx: BlockContext) -> list[Event]:
    """Mark every live series of every options underlying at this block's spot and surface."""
    events = []
    now = ctx.time_ms
    for u in underlyings(sess):
        live = live_series(sess, u)
        if not live:
            continue
        ms = sess.mstate(u)
        rate = sess.oparams(u).rate_ppm
        grid = surface_grid(sess, u)
        for sid in live:
            expiry, strike, is_call = series_terms(sid)
            ss = sess.sstate(sid)
            vol = None if grid is None else grid.vol(expiry, strike, now)
            state = STALE_PRICE if ms.stale or not ms.price else NO_VOL if vol is None else MARKED
            if state == MARKED:
                g = bs_greeks(ms.price, strike, vol, expiry - now, rate, is_call)
                ss.mark6, ss.iv_ppm, ss.spot, ss.mark_time_ms = g.value6, vol, ms.price, now
                ss.delta, ss.gamma, ss.vega, ss.theta = g.delta, g.gamma, g.vega, g.theta
            if ss.mark_state != state:
                events.append(Event("option_mark_state", {"series": sid, "state": MARK_STATES[state]}))
                ss.mark_state = state
            elif state != MARKED:
                continue
            sess.touch_ss(sid)
    return events
