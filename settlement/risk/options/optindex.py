"""The options at-risk index: when an account holding options must be looked at again, without a scan.

Owns the per-account option bands (a safe interval of each underlying's price,
valid until a time and within the current volatility epoch), their entries in
the options index (``r/op/x/``, a ``liq_index.IndexCache``), the volatility
epochs of each underlying and the sweep's option candidates.  It never
evaluates an account exactly (``margin.evaluate``) and never liquidates.

Why a band is safe (docs/options.md, "Liquidation")
---------------------------------------------------
``margin.reindex`` splits the account's trigger budget ``B`` (10^6 x the
margin surplus it may lose before rounding could breach it) over its perpetual
markets and its option underlyings; the options of underlying ``u`` get ``b``.
Let ``V`` be their contribution to 10^6 x (equity - MMR): a long adds
``n c mark6``, a short subtracts ``2 |n| c mark6`` (liability and requirement)
and ``|n| c mm S`` (the put: ``|n| c max(mm S, mm mark)``).  With weight
``W = 10^6`` for a long and ``2 x 10^6 + mm`` for a short, ``V`` falls by at
most ``|n| c W / 10^6`` times the fall of one lot's mark (10^6-scaled), plus
``|n| c mm`` per unit of ``S`` for the MM term.  Black-Scholes bounds one lot's
mark moves (``Y`` = one year, ``phi <= 1/sqrt(2 pi) < 0.4``):

* spot: ``|dV/dS| <= 1`` (|delta| <= 1);
* time, over ``h`` ms: ``integral of |theta| <= S sigma sqrt(h/Y) / sqrt(2 pi) + |r| K h / Y``
  (``|theta| <= S sigma / (2 sqrt(2 pi T)) + |r| K``, integrated; finite down to expiry);
* vol: ``|dV/dsigma| <= S sqrt(T/Y) / sqrt(2 pi)``, and within an epoch each
  series' vol stays within ``(1 +- vol_band) x`` its reference (below);
* the pricer's own error: at most 1 base unit + 10^-9 relative per mark, twice.

Moving time first (at the mark's spot and vol), then vol, then spot, the loss
is at most ``A + slope x |S - P0|`` with ``slope = sum |n| c W`` and ``A`` the
sum of the time, vol and error allowances (every one rounded up, computed
with ``S <= S_b = max(2 P0, spot of the mark)``, ``sigma <= (1 + vol_band) x
ref``, elapsed time ``<= t_until - mark time``).  So the half-width
``w = floor((b - A) / slope)``, capped at ``P0``, gives the band
``[P0 - w, P0 + w]``: while the price stays inside, the time is before
``t_until = now + recheck_ms`` and the epoch has not changed, the options lose
less than ``b`` and, with the perpetual triggers unfired, the account cannot
breach.  ``w <= 0`` (or ``B < 0``) files the sentinel ``lo = +2^200`` /
``hi = -2^200``, which fires at every sweep.  An account holding only long
options, no perpetual and no negative cash files nothing: its equity is at
least its cash, its MMR is 0, and only its own transactions (which re-file it)
or an expiry (``sess.recheck``) change that.

Index layout: under ``u``, side LONG holds ``lo`` (fires when the price is
below it), side SHORT holds ``hi`` (fires above it); under ``"~" + asset``,
side SHORT holds ``t_until`` (fires once the block time reaches it).  The
account's record ``r/op/xb/<addr>/<asset>`` lists ``[u, lo, hi]`` and
``t_until``; when any of its entries fires, all are removed and the account is
a candidate (``margin.reindex`` files it again).

Volatility epochs
-----------------
``r/op/xe/<u>`` holds each live series' reference vol.  Every sweep
(:func:`candidates`) compares each live series' current ``iv_ppm`` with its
reference; if any left ``(1 +- vol_band) x ref`` (or a series has none yet),
every reference is reset to the current vol (a new epoch) and every holder of
a live series of ``u`` is re-evaluated.  A change of the underlying's
``OptionParams`` (``r/op/xe/<u>/p`` keeps the epoch's: margin fractions, rate
and bands enter every band) starts a new epoch too.  Within an epoch the
contract above holds by construction.  The check costs one read per live series per block
(the marks of all of them are recomputed every block anyway).
"""
from __future__ import annotations

from functools import lru_cache

from ledger.codec import decode

from ..bandbook import BandBook
from ..optrecords import UNDERLYINGS, series_list_key
from ..records import FUND, ONE, Session
from ..units import pack, pack_int, unpack_int
from .positions import holders

__all__ = ["ALWAYS", "BAND", "EPOCH", "candidates", "epoch_refs", "file", "lot_allowance6", "underlyings", "unfile"]

ALWAYS = 2**200  # the sentinel: fires at every sweep
BAND = b"r/op/xb/"  # + addr + b"/" + asset: the account's filed bands
EPOCH = b"r/op/xe/"  # + underlying: reference vols of the current epoch
YEAR_MS = 31_536_000_000
BOOK = BandBook(BAND, "oindex", "bands")  # the filed bands: records and index entries (bandbook.py)


def _isqrt_up(x: int) -> int:
    """An integer >= sqrt(x) (x >= 0)."""
    r = _isqrt(x)
    return r if r * r == x else r + 1


def _isqrt(x: int) -> int:
    if x <= 0:
        return 0
    r = 1 << ((x.bit_length() + 1) // 2)
    while True:
        s = (r + x // r) // 2
        if s >= r:
            return r
        r = s


@lru_cache(maxsize=4096)  # pure; the same few horizons and expiries recur across the legs of a sweep
def _sqrt_years6(t_ms: int) -> int:
    """An integer >= 10^6 x sqrt(t_ms / YEAR)."""
    if t_ms <= 0:
        return 0
    return _isqrt_up(-(-t_ms * ONE * ONE // YEAR_MS))


def lot_allowance6(s_b: int, sigma: int, dsig: int, elapsed: int, t_ms: int, rate: int, strike: int) -> int:
    """10^6 x a bound on how far one lot's value (``pricing.bs_value6``) moves besides its spot move (module docstring).

    Time over ``elapsed`` ms at a vol up to ``sigma`` (ppm), the vol by up to
    ``dsig`` (ppm) with at most ``t_ms`` to expiry, and the pricer's error
    twice; spot up to ``s_b``.  Every term rounded up.
    """
    theta6 = -(-4 * s_b * sigma * _sqrt_years6(elapsed) // (10 * ONE))
    r6 = -(-(rate if rate >= 0 else -2 * rate) * strike * elapsed // YEAR_MS)  # r < 0: e^{-rT} <= 2
    vega6 = -(-4 * s_b * _sqrt_years6(t_ms) * dsig // (10 * ONE))
    err6 = 2 * ONE + (s_b + strike) // 500 + 2
    return theta6 + r6 + vega6 + err6


def underlyings(sess: Session, m) -> list[str]:
    """The sorted underlyings of the account's option series."""
    return sorted({sess.series(sid).underlying for sid in m.series})


def epoch_refs(sess: Session, u: str) -> dict[str, int]:
    cache = sess.oext.setdefault("refs", {})
    r = cache.get(u)
    if r is None:
        raw = sess.state.get(EPOCH + u.encode())
        r = cache[u] = {} if raw is None else {sid: unpack_int(v) for sid, v in decode(raw)}
    return r


def _half_width(sess: Session, addr: bytes, sids: list[str], u: str, b: int) -> int:
    """The half-width of the safe band of ``addr``'s options on ``u`` with budget share ``b`` (<= 0: none)."""
    params = sess.oparams(u)
    ms = sess.mstate(u)
    p0 = ms.price
    if params is None or p0 <= 0 or b <= 0 or not 0 <= params.vol_band_ppm < ONE or params.recheck_ms <= 0:
        return 0
    now = sess.ctx.time_ms
    vb, mm, rate = params.vol_band_ppm, params.mm_ppm, params.rate_ppm
    refs = epoch_refs(sess, u)
    slope = allow = 0
    for sid in sids:
        series = sess.series(sid)
        ss = sess.sstate(sid)
        n = sess.opos(addr, sid).size
        q = (n if n > 0 else -n) * series.contract_lots
        w = ONE if n > 0 else 2 * ONE + mm
        spot0 = ss.spot if ss.spot > 0 else p0
        s_b = max(2 * p0, spot0)
        sigma0 = ss.iv_ppm
        ref = refs.get(sid, sigma0)
        sig_hi = -(-ref * (ONE + vb) // ONE)
        dsig = max(sig_hi - sigma0, sigma0 - ref * (ONE - vb) // ONE, 0)
        elapsed = now + params.recheck_ms - min(ss.mark_time_ms or now, now)
        per_lot6 = lot_allowance6(s_b, max(sig_hi, sigma0), dsig, elapsed, series.expiry_ms - min(ss.mark_time_ms or now, now),
                                  rate, series.strike) + ONE * abs(p0 - spot0)
        slope += q * w
        allow += -(-q * w * per_lot6 // ONE)
    if not slope:
        return 0
    return min((b - allow) // slope, p0)


def file(sess: Session, addr: bytes, m, unders: list[str], b: int) -> None:
    """File the bands of every option underlying of ``addr`` (margin account ``m``) with budget share ``b`` each."""
    asset = sess.series(m.series[0]).quote
    by_u: dict[str, list[str]] = {}
    for sid in m.series:
        by_u.setdefault(sess.series(sid).underlying, []).append(sid)
    now = sess.ctx.time_ms
    t_until = now + min(sess.oparams(u).recheck_ms if sess.oparams(u) else 0 for u in unders)
    _unfile(sess, addr, asset)  # a record left behind by an expiry settlement (it closes positions without unfiling)
    if not m.markets and m.cash >= 0 and all(sess.opos(addr, sid).size > 0 for sid in m.series):
        return  # long options only, no debt: equity >= 0 = MMR whatever the marks, nothing can breach it
    rows = []
    for u in unders:
        w = _half_width(sess, addr, by_u[u], u, b)
        if w > 0:
            p0 = sess.mstate(u).price
            rows.append((u, p0 - w, p0 + w))
        else:
            rows.append((u, ALWAYS, -ALWAYS))
    BOOK.put(sess, addr, asset, rows, t_until)


_record = BOOK.record
_unfile = BOOK.remove


def unfile(sess: Session, addr: bytes, asset: str) -> None:
    """Remove every option band of ``addr`` in ``asset`` (nothing if none is filed)."""
    _unfile(sess, addr, asset)


def _epoch_changed(sess: Session, u: str, vb: int) -> list[str]:
    """The live series of ``u`` if its vols left their epoch's band or its option parameters changed (a new epoch), else []."""
    raw = sess.state.get(series_list_key(u))
    live = [] if raw is None else list(decode(raw))
    refs = epoch_refs(sess, u)
    cur = {}
    for sid in live:
        ss = sess.sstate(sid)
        if ss.settled or not ss.mark_time_ms:
            continue
        cur[sid] = ss.iv_ppm
    params = sess.oparams(u).encode()
    pkey = EPOCH + u.encode() + b"/p"
    changed = set(cur) != set(refs) or sess.state.get(pkey) != params
    if not changed:
        for sid, v in cur.items():
            ref = refs[sid]
            if v * ONE > ref * (ONE + vb) or v * ONE < ref * (ONE - vb):
                changed = True
                break
    if not changed:
        return []
    sess.state.put(EPOCH + u.encode(), pack([[sid, pack_int(cur[sid])] for sid in sorted(cur)]) if cur else None)
    sess.state.put(pkey, params)
    sess.oext["refs"][u] = cur
    return live


def candidates(sess: Session) -> set[tuple[bytes, str]]:
    """The sweep's option candidates: (address, collateral asset) to evaluate exactly (module docstring).

    Fired bands (the underlying's price is fresh), passed ``t_until``, every
    holder of an underlying whose vol epoch changed, and ``sess.recheck``.
    Fired entries are removed with the rest of their account's entries.
    """
    out: set[tuple[bytes, str]] = {k for k in sess.recheck if k[0] != FUND}
    raw = sess.state.get(UNDERLYINGS)
    unders = [] if raw is None else list(decode(raw))
    assets = set()
    for u in unders:
        market = sess.market(u)
        params = sess.oparams(u)
        if market is None or params is None:
            continue
        asset = market.quote
        assets.add(asset)
        for sid in _epoch_changed(sess, u, params.vol_band_ppm):
            for a in holders(sess, sid):
                if a != FUND:
                    out.add((a, asset))
        ms = sess.mstate(u)
        if ms.stale or not ms.price:
            continue
        BOOK.pop_moved(sess, u, ms.price, asset, out)
    BOOK.pop_due(sess, assets, out)
    return out
