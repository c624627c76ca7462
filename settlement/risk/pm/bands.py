"""Re-check bands of portfolio-margin accounts: when the sweep must evaluate a portfolio account again, without a scan.

Owns, for an account in portfolio mode (``mode.py``), a safe interval of the
price of each of its underlyings, valid until a time ``t_until`` and within the
underlyings' volatility epochs (``options/optindex.py``); their entries in the
portfolio index (``r/pm/x/``, a ``liq_index.IndexCache``: ``sess.pmindex``) and
the sweep's portfolio candidates.  ``margin.reindex`` files the bands
(:func:`file`), ``margin.unindex`` removes them (:func:`unfile`).  Never
evaluates an account exactly (``margin.evaluate``) and never liquidates.

Keys (bytes; the store adds its own versioned prefix):

=================================================  ===============================================
``r/pm/x/`` + underlying + ``/`` ...               side LONG: ``lo`` (fires when the price is below
                                                   it), side SHORT: ``hi`` (fires above it)
``r/pm/x/~`` + asset + ``/`` ...                   side SHORT: ``t_until`` (fires once the block
                                                   time reaches it)
``r/pm/xb/`` + addr(20) + ``/`` + asset            the account's filed ``[[u, lo, hi], ...]`` and ``t_until``
=================================================  ===============================================

When any entry of an account fires, all are removed and the account is a
candidate of the sweep (which evaluates it exactly and files it again).

Why a band is safe (docs/portfolio-margin.md, "Re-check bands")
----------------------------------------------------------------
Let ``M = equity - MMR`` be the account's margin at the evaluation (integers,
rounded against it).  Its underlyings ``u`` (perpetual markets, option
underlyings) each get ``b = floor(B6 / k)`` of ``k``, ``B6 = 10^6 x M`` less
what its collateral's bands took (below).  For one ``u``,
with its price ``P0``, perpetual size ``s`` (lots), option legs of ``q = |n| x c``
lots, its grid's ``f = mmr_fraction``, ``R = scan_range``, ``kx = extreme_multiple
x R`` (the largest spot move of any scenario, ppm), ``frac = extreme_fraction``
and ``smin = short_option_min``,
let the price move by ``x = |P - P0|``, every vol stay in its epoch and the time
stay before ``t_until``.  What changes, 10^6-scaled:

* equity: the perpetual ``|s| x 10^6 x`` plus its funding (at most
  ``|s| x funding_cap x 2 P0`` per funding interval that can end before
  ``t_until``: ``1 + h // funding_interval_ms`` of them, ``h = t_until - now``)
  plus ``10^6`` for its rounding; each option's base (what equity counts for
  it, ``floor(n c mark6 / 10^6)``) by ``q x (10^6 x + a_m) + 10^6``;
* every scenario loss ``-P&L_s`` (``scenarios.py``) is ``B + alpha_s`` with
  ``B = sum base`` (the extreme ones: ``ceil(frac x (B + beta_s))``, ``frac
  <= 1``) and ``alpha_s = ceil(-X_s / 10^6)``, ``X_s`` the scenario's value
  change without the bases: the perpetual's ``s x d_s x 10^6`` moves by
  ``|s| x (k x + 10^6)`` (``d_s`` by at most ``k x / 10^6`` plus 1 of
  rounding; ``k = R`` in scenarios 1-14, ``kx`` in the extreme ones), each
  option's ``n c V(S + d_s)`` by ``q x ((10^6 + k) x + a_s)`` (its spot
  moves by ``(1 + k) x`` plus 1), ``alpha_s`` by that over 10^6 plus 1 (its
  ceiling), an extreme one by ``frac`` of it; the short-option floor by
  ``q x smin x + 10^6`` per short leg.  With ``D`` the larger scenario bound
  plus the floor's, every term of the requirement's max moves by at most
  ``dB`` times 1, ``frac`` or 0, plus ``D``, so ``req`` by at most
  ``max(dB, 0) + D``.  Equity counts ``+B`` and the MMR
  ``ceil(f x req / 10^6)`` with ``f <= 10^6``: if ``B`` rose, ``dB - f x dB /
  10^6 >= 0``; if it fell, the requirement's terms move by ``D`` at most.
  Either way ``equity_u - MMR_u`` loses at most ``|dB| + f x D / 10^6 + 1``:
  the base counts once, not once more per scenario.

``a_m`` and ``a_s`` are the per-lot allowances of ``optindex.lot_allowance6``
(Black-Scholes: ``|delta| <= 1``, theta integrated over ``t_until - mark
time``, vega times the vol's move in its epoch, the pricer's error twice),
computed at a spot up to ``S_b = max(2 P0, mark spot) x (1 + kx)`` -- moving
time first, then vol, both at the old (scenario) spot, then the spot -- with
``a_m`` at the mark's vol plus ``10^6 |P0 - mark spot|``, ``a_s`` at the vol
shocked up, the vol's move scaled by ``(1 + vol_up)`` plus 1 (the shock's
floor) and ``10^6`` for ``d_s``'s rounding.  So ``u`` loses at most
``slope x x + allow`` with::

    slope = 10^6 (|s| + sum q)
          + ceil(f (max(|s| R + sum q (10^6 + R), ceil(frac (|s| kx + sum q (10^6 + kx)) / 10^6)) + sum_short q smin) / 10^6)
    allow = funding + 10^6 + sum (q a_m + 10^6) + ceil(f (|s| 10^6 + sum q a_s + 10^6 + 10^6 x shorts) / 10^6) + 10^6

(every term rounded up), and the half-width ``w = min(floor((b - allow) /
slope), P0)`` gives the band ``[P0 - w, P0 + w]``: while every price of the
account stays inside its band, the time is before ``t_until`` and no vol
epoch of its underlyings changed, it loses less than ``10^6 x M`` in all
and cannot breach.  ``t_until = now + H``, ``H`` the least ``recheck_ms`` of
its option underlyings (``PERP_HORIZON_MS`` without options), at most
``FUNDING_INTERVALS`` funding intervals of its perpetual markets (a short
interval would make the funding allowance eat the budget), never past the
earliest expiry of its live series (settlement changes the book).  Slack
for the few events that move the margin otherwise:

* a vol epoch change or an expiry settlement: the options index makes every
  holder a candidate (``optindex.candidates``, ``sess.recheck``), its
  ``t_until`` ends at the expiry anyway;
* a socialized loss (``adl.socialize`` moves the social-loss index of a
  perpetual market): every account holding a position in it is popped
  (:func:`pop_socialized`; the bands of the others on that underlying are
  filed back unchanged) and evaluated again; a new grid (``set_pm_params``):
  every account with a band on that underlying (:func:`pop_markets`);
* non-settlement collateral: its value and its shock term move with the
  collateral's prices only; its own price bands (``collateral_bands.file_bands``)
  take their shares of ``10^6 x M`` first and the bands here split what they
  leave (``budget6``), so the two bounds add up.  The account's trigger budget
  (``Eval.scaled_surplus``) stays the sentinel: nothing else spends ``M``.

``M < 0`` (breached but paused by a stale price) or any ``w < 1`` files the
sentinel ``lo = +2^200`` / ``hi = -2^200`` on every underlying of the
account, which fires at every sweep whose price is fresh (the behaviour
before bands).  An account holding only long options, no perpetual and no
negative cash files nothing: its equity is at least the options' value,
which no scenario loss exceeds (``scenarios.py``), so ``MMR <= equity``.
"""
from __future__ import annotations

from ..bandbook import BandBook
from ..options.optindex import epoch_refs, lot_allowance6
from ..records import FUND, ONE, Session
from .mode import count, params

__all__ = ["ALWAYS", "BAND", "FUNDING_INTERVALS", "PERP_HORIZON_MS", "Band", "band_terms", "candidates", "file", "horizon",
           "pop_markets", "pop_socialized", "unfile"]

ALWAYS = 2**200  # the sentinel: fires at every sweep
BAND = b"r/pm/xb/"  # + addr + b"/" + asset: the account's filed bands
PERP_HORIZON_MS = 3_600_000  # the horizon of an account without options: one hour (one funding interval by default)
FUNDING_INTERVALS = 4  # t_until is at most this many funding intervals of its perpetual markets ahead
BOOK = BandBook(BAND, "pmindex", "pmbands")  # the filed bands: records and index entries (bandbook.py)


class Band:
    """The loss bound of one underlying of an account: it loses at most ``slope x |P - P0| + allow`` (10^6-scaled)."""

    __slots__ = ("u", "p0", "slope", "allow")

    def __init__(self, u: str, p0: int, slope: int, allow: int):
        self.u, self.p0, self.slope, self.allow = u, p0, slope, allow

    def half_width(self, b: int) -> int:
        """The half-width of the band with budget share ``b`` (<= 0: none)."""
        if self.p0 <= 0:
            return 0
        if not self.slope:
            return self.p0
        return min((b - self.allow) // self.slope, self.p0)


def _live(sess: Session, m) -> list[str]:
    return [sid for sid in m.series if not sess.sstate(sid).settled]


def horizon(sess: Session, m, live: list[str]) -> int:
    """``t_until`` of an account's bands (module docstring)."""
    now = sess.ctx.time_ms
    h = t = None
    for sid in live:
        series = sess.series(sid)
        op = sess.oparams(series.underlying)
        if op is not None:
            h = op.recheck_ms if h is None else min(h, op.recheck_ms)
        t = series.expiry_ms if t is None else min(t, series.expiry_ms)
    if h is None:
        h = PERP_HORIZON_MS
    for mid in m.markets:  # at most FUNDING_INTERVALS + 1 funding payments before t_until
        h = min(h, FUNDING_INTERVALS * sess.market(mid).params.funding_interval_ms)
    return now + h if t is None else min(now + h, t)


def _lot_allowances(sess: Session, memo: dict, sid: str, series, op, pp, p0: int, t_until: int) -> tuple[int, int]:
    """(a_m, a_s) of one lot of ``sid`` (module docstring), memoised per session on everything they are computed from."""
    ss = sess.sstate(sid)
    now = sess.ctx.time_ms
    sigma0 = ss.iv_ppm
    ref = epoch_refs(sess, series.underlying).get(sid, sigma0)
    key = (sid, p0, t_until, now, ss.spot, sigma0, ss.mark_time_ms, ref, op, pp)
    got = memo.get(key)
    if got is not None:
        return got
    vb, rate, up, kx = op.vol_band_ppm, op.rate_ppm, pp.vol_up_ppm, pp.extreme_multiple * pp.scan_range_ppm
    spot0 = ss.spot if ss.spot > 0 else p0
    s_b = -(-max(2 * p0, spot0) * (ONE + kx) // ONE)
    sig_hi = -(-ref * (ONE + vb) // ONE)
    dsig = max(sig_hi - sigma0, sigma0 - ref * (ONE - vb) // ONE, 0)
    sig_top = max(sig_hi, sigma0)
    since = min(ss.mark_time_ms or now, now)
    elapsed, t_exp = t_until - since, series.expiry_ms - since
    a_m = lot_allowance6(s_b, sig_top, dsig, elapsed, t_exp, rate, series.strike) + ONE * abs(p0 - spot0)
    a_s = lot_allowance6(s_b, -(-sig_top * (ONE + up) // ONE), -(-dsig * (ONE + up) // ONE) + 1, elapsed, t_exp,
                         rate, series.strike) + ONE
    memo[key] = got = (a_m, a_s)
    return got


def band_terms(sess: Session, addr: bytes, m, t_until: int) -> list[Band] | None:
    """The :class:`Band` of each underlying of the account in sorted order (None: no sound bound, the sentinel)."""
    now = sess.ctx.time_ms
    h = t_until - now
    by_u: dict[str, list[str]] = {mid: [] for mid in m.markets}
    for sid in _live(sess, m):
        by_u.setdefault(sess.series(sid).underlying, []).append(sid)
    out = []
    for u in sorted(by_u):
        pp = params(sess, u)
        f, kx, smin = pp.mmr_fraction_ppm, pp.extreme_multiple * pp.scan_range_ppm, pp.short_option_min_ppm
        p0 = sess.mstate(u).price
        if p0 <= 0:
            return None
        r, frac = pp.scan_range_ppm, pp.extreme_fraction_ppm
        s = abs(sess.pos(addr, u).size) if u in m.markets else 0
        slope_e, allow_e = s * ONE, 0
        slope_n, slope_x = s * r, s * kx  # the perpetual's d_s: at most R (scenarios 1-14), kx (the extreme ones)
        slope_f, allow_f = 0, s * ONE + ONE  # d_s's rounding; the table's floor
        if s:
            mp = sess.market(u).params
            allow_e += s * mp.funding_cap_ppm * 2 * p0 * (1 + h // mp.funding_interval_ms) + ONE
        sids = by_u[u]
        if sids:
            op = sess.oparams(u)
            if op is None or not 0 <= op.vol_band_ppm < ONE or op.recheck_ms <= 0:
                return None
            memo = sess.oext.setdefault("pmlots", {})
            for sid in sids:
                series = sess.series(sid)
                n = sess.opos(addr, sid).size
                q = abs(n) * series.contract_lots
                a_m, a_s = _lot_allowances(sess, memo, sid, series, op, pp, p0, t_until)
                slope_e += q * ONE
                allow_e += q * a_m + ONE
                slope_n += q * (ONE + r)  # the scenario value only: the base is counted once, in equity (docstring)
                slope_x += q * (ONE + kx)
                allow_f += q * a_s
                if n < 0:
                    slope_f += q * smin
                    allow_f += ONE
        slope_f += max(slope_n, -(-frac * slope_x // ONE))  # an extreme scenario counts frac of its loss
        out.append(Band(u, p0, slope_e - (-f * slope_f // ONE), allow_e - (-f * allow_f // ONE) + ONE))
    return out


def file(sess: Session, addr: bytes, asset: str, m, ev, budget6: int | None = None) -> None:
    """File the bands of portfolio account ``addr`` in ``asset`` (margin account ``m``, evaluation ``ev``): module docstring.

    ``budget6``: what the bands may spend, 10^6-scaled; by default all of
    ``10^6 x (equity - MMR)`` (a caller that files other bands out of the same
    margin first passes what they left).
    """
    _unfile(sess, addr, asset)
    live = _live(sess, m)
    if not m.markets and m.cash >= 0 and all(sess.opos(addr, sid).size > 0 for sid in live):
        return  # long options only, no debt: MMR <= equity whatever the marks
    t_until = horizon(sess, m, live)
    if budget6 is None:
        budget6 = (ev.equity - ev.mmr) * ONE
    bands = band_terms(sess, addr, m, t_until) if budget6 >= 0 else None
    rows = []
    if bands:
        b = budget6 // len(bands)
        for band in bands:
            w = band.half_width(b)
            if w < 1:
                rows = []
                break
            rows.append((band.u, band.p0 - w, band.p0 + w))
    if not rows:  # the sentinel (module docstring)
        unders = sorted(set(m.markets) | {sess.series(sid).underlying for sid in live})
        rows = [(u, ALWAYS, -ALWAYS) for u in unders]
    BOOK.put(sess, addr, asset, rows, t_until)


_record = BOOK.record
_unfile = BOOK.remove


def unfile(sess: Session, addr: bytes, asset: str) -> None:
    """Remove every band of ``addr`` in ``asset`` (nothing if none is filed)."""
    _unfile(sess, addr, asset)


def pop_markets(sess: Session, mids) -> set[tuple[bytes, str]]:
    """Remove the bands of every account with one on a market of ``mids``: they are candidates (a new grid)."""
    out: set[tuple[bytes, str]] = set()
    if not count(sess):
        return out
    for mid in sorted(mids):
        asset = sess.market(mid).quote
        out.update((addr, asset) for addr, _ in BOOK.pop_all(sess, mid, asset))
    return out


def pop_socialized(sess: Session, mids) -> set[tuple[bytes, str]]:
    """The candidates of a socialized loss in ``mids``: every account with a band there that holds the perpetual.

    The others (options on the underlying only: the social-loss index does
    not touch them) get their bands back as they were.
    """
    out: set[tuple[bytes, str]] = set()
    if not count(sess):
        return out
    for mid in sorted(mids):
        asset = sess.market(mid).quote
        for addr, rec in BOOK.pop_all(sess, mid, asset):
            if sess.pos(addr, mid).size:
                out.add((addr, asset))
            else:
                BOOK.refile(sess, addr, asset, rec)
    return out


def candidates(sess: Session, socialized=()) -> set[tuple[bytes, str]]:
    """The sweep's portfolio candidates: fired bands (fresh prices only), passed ``t_until``, bands on a ``socialized`` market."""
    out: set[tuple[bytes, str]] = set()
    if not count(sess):
        return out
    out |= pop_socialized(sess, socialized)
    assets = set()
    for mid in sess.market_ids():
        ms = sess.mstate(mid)
        asset = sess.market(mid).quote
        assets.add(asset)
        if ms.stale or not ms.price:
            continue
        BOOK.pop_moved(sess, mid, ms.price, asset, out)
    BOOK.pop_due(sess, assets, out)
    return {k for k in out if k[0] != FUND}
