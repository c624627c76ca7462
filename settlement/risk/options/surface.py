"""Implied-volatility oracles and the vol surface: the ``vol_report`` tx, each block's surface, interpolation, epochs.

Owns accepting a vol report, the per-underlying :class:`Surface` record
(``r/op/sf/<underlying>``), the interpolation :func:`vol_at` and the surface
*epoch*.  Never prices (``pricing.py``) and never touches accounts.

Reports
-------
An oracle of the underlying's market (oracle role, in the market's oracle
list) reports points ``(expiry_ms, strike, vol_ppm)``, sorted by expiry then
strike with no point twice, each expiry after the block time and
``10_000 <= vol_ppm <= 10_000_000`` (1 % to 1000 %).  A report replaces the
oracle's previous one.

Surface (end of block, options phase)
-------------------------------------
Recomputed for an underlying when one of its oracles reported in this block,
its oracle set changed, a report counted last time turned stale or a point's
expiry passed (``Surface.next_ms``).  A report is fresh while
``report time + vol_fresh_ms >= block time``; a point ``(expiry, strike)``
with ``expiry > block time`` reported by at least ``quorum(n)`` fresh reports
of the ``n`` oracles (``oracle.quorum``, > 2/3) gets the *lower median* of
their vols (``oracle.median_price``); other points are absent.

Interpolation (:func:`vol_at`, integers, every step floored)
------------------------------------------------------------
At each surface expiry ``E_i`` (``T_i = E_i - now`` ms) the variance ``v^2``
(ppm^2) is linear in strike between the two neighbouring strikes -- within one
expiry that is linear in total variance ``w = v^2 x T`` -- and flat (the end
point's vol) beyond the lowest and highest strike::

    var_i(K) = floor((v_a^2 x (K_b - K) + v_b^2 x (K - K_a)) / (K_b - K_a))

Across expiries the total variance is linear in ``T`` between the two
neighbouring expiries, and the vol flat beyond the first and last::

    vol(T, K) = isqrt(floor((var_a x T_a x (T_b - T) + var_b x T_b x (T - T_a)) / (T x (T_b - T_a))))

Exact at the points (``isqrt(v^2) = v``).  Between two points the vol is
monotone (in ``K``: ``v^2`` is linear; in ``T``: ``w(T)/T`` has a derivative of
constant sign), so it lies between the neighbours' vols; the floors make it at
most 1 ppm below the exact value.

Epoch (the contract the liquidation sweep relies on)
----------------------------------------------------
``Surface.epoch`` counts the surface's *regimes*; ``Surface.reference`` holds
every point's vol at the start of the current epoch.  A recomputation starts a
new epoch (epoch + 1, reference := the new points) when a point appears or
disappears, or when any point's vol ``v`` moved past the band from its
reference ``r``: ``|v - r| x 10^6 > vol_band_ppm x r``.  Hence, **within one
epoch every surface vol stays within (1 +- vol_band) x its reference**
(``|v - r| x 10^6 <= vol_band_ppm x r``, same point set), and so does any
interpolated vol relative to the same interpolation of the reference
(:func:`reference_grid`) at the same ``(expiry, strike, now)``, up to 2 ppm
of the floors -- both are monotone in each point's variance with positive
weights.  Read it with :func:`surface_epoch`; an option account evaluated at
epoch ``e`` needs no re-evaluation for vol reasons while the epoch is ``e``.
"""
from __future__ import annotations

import dataclasses
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from math import isqrt
from typing import Annotated, Sequence

from ledger.codec import MaxLen, Range, Record
from ledger.keys import format_address
from ledger.receipt import Event
from ledger.rowcodec import I64_MAX
from ledger.tx import Address
from ledger.txkinds_options import VolReport

from ...context import BlockContext
from ...errors import InvalidParameter, NotPermitted
from ...state import State
from ...transfers import require_role
from ..optrecords import VolPointRec, VolReportRec, surface_key, vol_report_key
from ..oracle import median_price, quorum
from ..records import ONE, Session
from .series import options_market, underlyings

__all__ = [
    "HANDLERS", "MAX_VOL_PPM", "MIN_VOL_PPM", "Surface", "VolGrid", "load_surface", "reference_grid",
    "surface_epoch", "surface_grid", "update_surfaces", "vol_at",
]

MIN_VOL_PPM = 10_000  # 1 %
MAX_VOL_PPM = 10_000_000  # 1000 %


@dataclass(frozen=True, slots=True)
class Surface(Record):
    """The vol surface of one underlying (points sorted by expiry, then strike)."""

    points: Annotated[list[VolPointRec], MaxLen(4096)]
    reference: Annotated[list[VolPointRec], MaxLen(4096)]  # the points at the start of the epoch
    epoch: Annotated[int, Range(0, I64_MAX)]
    time_ms: Annotated[int, Range(0, I64_MAX)]  # block time at which the points last changed
    next_ms: Annotated[int, Range(0, I64_MAX)]  # recompute at this block time at the latest (0: nothing pending)
    oracles: Annotated[list[Address], MaxLen(32)]  # the oracle set the points were computed from


# --------------------------------------------------------------------------- the vol_report tx


def vol_report(state: State, ctx: BlockContext, sender: bytes, body: VolReport) -> list[Event]:
    require_role(state, sender, "oracle")
    market = options_market(Session(state, ctx), body.underlying)
    if sender not in market.oracles:
        raise NotPermitted(f"{format_address(sender)} is not an oracle of {body.underlying}")
    last = None
    for p in body.points:
        key = (p.expiry_ms, p.strike)
        if last is not None and key <= last:
            raise InvalidParameter(f"vol points must be sorted by (expiry, strike) without repeats: {key} after {last}")
        last = key
        if p.expiry_ms <= ctx.time_ms:
            raise InvalidParameter(f"vol point expiry {p.expiry_ms} must be after the block time {ctx.time_ms}")
        if p.strike <= 0:
            raise InvalidParameter(f"vol point strike must be positive, got {p.strike}")
        if not MIN_VOL_PPM <= p.vol_ppm <= MAX_VOL_PPM:
            raise InvalidParameter(f"vol {p.vol_ppm} ppm outside [{MIN_VOL_PPM}, {MAX_VOL_PPM}] (1 % to 1000 %)")
    points = [VolPointRec(p.expiry_ms, p.strike, p.vol_ppm) for p in body.points]
    state.put(vol_report_key(body.underlying, sender), VolReportRec(points, ctx.time_ms, ctx.height).encode())
    return [Event("vol_report", {"underlying": body.underlying, "oracle": sender, "points": len(points)})]


HANDLERS = {"vol_report": vol_report}


# --------------------------------------------------------------------------- interpolation


class VolGrid:
    """A surface's points arranged for :meth:`vol` (built once per underlying and block)."""

    __slots__ = ("expiries", "strikes", "variances")

    def __init__(self, points: Sequence[VolPointRec]):
        self.expiries: list[int] = []
        self.strikes: list[list[int]] = []
        self.variances: list[list[int]] = []  # vol^2, ppm^2
        for p in sorted(points, key=lambda p: (p.expiry_ms, p.strike)):
            if not self.expiries or self.expiries[-1] != p.expiry_ms:
                self.expiries.append(p.expiry_ms)
                self.strikes.append([])
                self.variances.append([])
            self.strikes[-1].append(p.strike)
            self.variances[-1].append(p.vol_ppm * p.vol_ppm)

    def _variance(self, i: int, strike: int) -> int:
        ks, vs = self.strikes[i], self.variances[i]
        j = bisect_left(ks, strike)
        if j < len(ks) and ks[j] == strike:
            return vs[j]
        if j == 0:
            return vs[0]
        if j == len(ks):
            return vs[-1]
        ka, kb = ks[j - 1], ks[j]
        return (vs[j - 1] * (kb - strike) + vs[j] * (strike - ka)) // (kb - ka)

    def vol(self, expiry_ms: int, strike: int, now_ms: int) -> int | None:
        """The interpolated vol (ppm) at ``(expiry_ms, strike)`` seen at ``now_ms``; None without a live expiry."""
        first = bisect_right(self.expiries, now_ms)  # expiries still ahead
        n = len(self.expiries)
        if first == n:
            return None
        if expiry_ms <= self.expiries[first]:
            return isqrt(self._variance(first, strike))
        if expiry_ms >= self.expiries[-1]:
            return isqrt(self._variance(n - 1, strike))
        b = bisect_left(self.expiries, expiry_ms)
        if self.expiries[b] == expiry_ms:
            return isqrt(self._variance(b, strike))
        a = b - 1
        t, ta, tb = expiry_ms - now_ms, self.expiries[a] - now_ms, self.expiries[b] - now_ms
        num = self._variance(a, strike) * ta * (tb - t) + self._variance(b, strike) * tb * (t - ta)
        return isqrt(num // (t * (tb - ta)))


def vol_at(surface: Sequence[VolPointRec], expiry_ms: int, strike: int, now_ms: int) -> int | None:
    """The vol (ppm) of ``surface``'s points at ``(expiry_ms, strike)`` at block time ``now_ms`` (module docstring).

    None if no point of the surface expires after ``now_ms``.  Build a
    :class:`VolGrid` once to interpolate many series of one surface.
    """
    return VolGrid(surface).vol(expiry_ms, strike, now_ms)


def load_surface(sess: Session, underlying: str) -> Surface | None:
    raw = sess.state.get(surface_key(underlying))
    return None if raw is None else Surface.decode(raw)


def surface_grid(sess: Session, underlying: str) -> VolGrid | None:
    """The grid of the current surface of ``underlying`` (None before its first surface)."""
    s = load_surface(sess, underlying)
    return None if s is None else VolGrid(s.points)


def reference_grid(sess: Session, underlying: str) -> VolGrid | None:
    """The grid of the epoch's reference points of ``underlying`` (None before its first surface)."""
    s = load_surface(sess, underlying)
    return None if s is None else VolGrid(s.reference)


def surface_epoch(sess: Session, underlying: str) -> int:
    """The epoch of ``underlying``'s surface (0 before any point); see the module docstring for the contract."""
    s = load_surface(sess, underlying)
    return 0 if s is None else s.epoch


# --------------------------------------------------------------------------- the per-block surface


def _moved(points: Sequence[VolPointRec], reference: Sequence[VolPointRec], band_ppm: int) -> bool:
    """True if the point set differs from the reference's, or a vol moved past the band from its reference."""
    if [(p.expiry_ms, p.strike) for p in points] != [(r.expiry_ms, r.strike) for r in reference]:
        return True
    return any(abs(p.vol_ppm - r.vol_ppm) * ONE > band_ppm * r.vol_ppm for p, r in zip(points, reference))


def _compute(reports: list[VolReportRec], n_oracles: int, fresh_ms: int, now: int) -> tuple[tuple[VolPointRec, ...], int]:
    """The surface points of ``reports`` and the block time by which they must be recomputed (0: none)."""
    by_point: dict[tuple[int, int], list[int]] = {}
    next_ms = 0
    for rep in reports:
        if rep.time_ms + fresh_ms < now:
            continue
        stale_at = rep.time_ms + fresh_ms + 1
        next_ms = stale_at if not next_ms else min(next_ms, stale_at)
        for p in rep.points:
            if p.expiry_ms > now:
                by_point.setdefault((p.expiry_ms, p.strike), []).append(p.vol_ppm)
    q = quorum(n_oracles)
    points = tuple(VolPointRec(e, k, median_price(vs)) for (e, k), vs in sorted(by_point.items()) if len(vs) >= q)
    if points:
        first_expiry = points[0].expiry_ms  # the earliest point drops out then
        next_ms = min(next_ms, first_expiry) if next_ms else first_expiry
    return points, next_ms


def update_surfaces(sess: Session, ctx: BlockContext) -> list[Event]:
    """Recompute the surface of every options underlying whose inputs changed (module docstring)."""
    events = []
    now = ctx.time_ms
    for u in underlyings(sess):
        market = sess.market(u)
        params = sess.oparams(u)
        old = load_surface(sess, u)
        reports = []
        for o in market.oracles:
            raw = sess.state.get(vol_report_key(u, o))
            if raw is not None:
                reports.append(VolReportRec.decode(raw))
        due = (any(r.height == ctx.height for r in reports)
               or (old is not None and (old.oracles != tuple(market.oracles) or 0 < old.next_ms <= now)))
        if not due:
            continue
        points, next_ms = _compute(reports, len(market.oracles), params.vol_fresh_ms, now)
        if old is None:
            old = Surface((), (), 0, 0, 0, ())
        new = dataclasses.replace(old, next_ms=next_ms, oracles=tuple(market.oracles))
        if points != old.points:
            new = dataclasses.replace(new, points=points, time_ms=now)
            if _moved(points, old.reference, params.vol_band_ppm):
                new = dataclasses.replace(new, reference=points, epoch=old.epoch + 1)
            events.append(Event("vol_surface", {
                "underlying": u, "points": len(points), "epoch": new.epoch, "new_epoch": new.epoch != old.epoch,
            }))
        if new != old:
            sess.state.put(surface_key(u), new.encode())
    return events
