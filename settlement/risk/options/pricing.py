"""Deterministic fixed-point Black-Scholes-Merton values and greeks of European options.

Owns the option pricing formula, its fixed-point scales and roundings.  It never reads state,
never decides a mark (the vol surface and the marks phase do, ``surface.py`` / ``marks.py``),
never floats and never divides with ``/``: all maths is integer, through ``fixmath.py``
(scale 2**96, documented error bounds).

Inputs (all integers): ``spot`` S and ``strike`` K in quote base units per lot, ``vol_ppm`` the
annual volatility sigma in ppm (1 % = 10_000), ``t_ms`` the time to expiry T in ms (year =
:data:`YEAR_MS` = 365 days), ``rate_ppm`` the continuously compounded annual rate r in ppm.

    d1 = (ln(S/K) + (r + sigma**2/2) T) / (sigma sqrt(T)),   d2 = d1 - sigma sqrt(T),   D = e**(-rT)
    call = S N(d1) - K D N(d2),          put = K D N(-d2) - S N(-d1)

Scales of the results (:class:`Greeks`), every one a floor (rounded toward minus infinity):

- ``value6``: 10**6 x value of one lot, in quote base units (so 10**-6 base unit per unit).
- ``delta``: 10**9 x dV/dS (dimensionless; call in [0, 10**9], put in [-10**9, 0]).
- ``gamma``: 10**18 x d2V/dS2, per quote base unit of spot.
- ``vega``: value6 change per vol point (+1 % absolute vol): 10**6 x dV/dsigma / 100.
- ``theta``: value6 change per calendar day that passes: 10**6 x (-dV/dT) / 365.

Error bound (derived and measured in docs/options.md "Pricing"): for |rT| <= 1 the fixed-point
value c is within (S + K) 2**-96 (24 + 8/(sigma sqrt T)) base units of the exact value V; over
the issue's ranges (S, K in 10**3 .. 10**13, S/K in [0.2, 5], vol 1 % .. 500 %, T 1 hour .. 3
years) that is eps = 2 x 10**-5 value6 units, and ``value6 = floor(10**6 max(c, bound))`` with
bound = max(S - K D, 0) (put: max(K D - S, 0)), so 10**6 V - 1 - eps < value6 <= 10**6 V + eps.
Each greek is the floor of a fixed-point value within 10**-5 of its unit of the exact one.
Put-call parity: value6(call) - value6(put) differs from 10**6 (S - K e**(-rT)) by less than one
value6 unit (+ 2 eps).

Degenerate inputs: ``t_ms <= 0`` gives the intrinsic value max(S - K, 0) (expiry, no
discounting) with delta 10**9 / -10**9 strictly in the money, else 0, and gamma = vega = theta
= 0.  ``vol_ppm <= 0``, ``spot <= 0`` or ``strike <= 0`` (with t_ms > 0) give the deterministic
forward value max(S - K D, 0) (put: max(K D - S, 0)), its delta and theta, gamma = vega = 0.

Sub-results are memoised (``functools.lru_cache``, bounded): ln of each spot and strike, the
time terms of each (t, vol, rate) and the core (N(d1), N(d2), pdf(d1), ...) of each
(S, K, vol, t, rate), shared by the call and the put of a strike.  Memoisation is invisible:
the same inputs give the same integers whether cached or not.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from math import isqrt

from .fixmath import ONE, PREC, exp_fixed, ln_int, ncdf, ncdf_pdf

__all__ = ["YEAR_MS", "DAYS_PER_YEAR", "Greeks", "bs_value6", "bs_values6", "bs_greeks", "clear_memos"]

YEAR_MS = 31_536_000_000
DAYS_PER_YEAR = 365
_PPM = 10**6
_P2 = 2 * PREC


@dataclass(frozen=True, slots=True)
class Greeks:
    """Fixed-point value and greeks of one lot (scales in the module docstring)."""

    value6: int
    delta: int
    gamma: int
    vega: int
    theta: int


@lru_cache(maxsize=8192)
def _ln(n: int) -> int:
    return ln_int(n)


@lru_cache(maxsize=4096)
def _discount(t_ms: int, rate_ppm: int) -> int:
    """e**(-rT) at scale ONE."""
    return exp_fixed(-((rate_ppm * t_ms << PREC) // (_PPM * YEAR_MS)))


@lru_cache(maxsize=4096)
def _time_terms(t_ms: int, vol_ppm: int, rate_ppm: int) -> tuple[int, int, int, int]:
    """(sqrt(T), sigma sqrt(T), (r + sigma**2/2) T, e**(-rT)) at scale ONE, t_ms > 0, vol_ppm > 0."""
    sqrt_t = isqrt((t_ms << _P2) // YEAR_MS)
    sig_sqrt_t = isqrt((vol_ppm * vol_ppm * t_ms << _P2) // (_PPM * _PPM * YEAR_MS))
    drift = ((2 * _PPM * rate_ppm + vol_ppm * vol_ppm) * t_ms << PREC) // (2 * _PPM * _PPM * YEAR_MS)
    return sqrt_t, sig_sqrt_t, drift, _discount(t_ms, rate_ppm)


@lru_cache(maxsize=8192)
def _core(spot: int, strike: int, vol_ppm: int, t_ms: int, rate_ppm: int) -> tuple[int, int, int, int, int, int]:
    """(N(d1), N(d2), pdf(d1), D, sqrt(T), sigma sqrt(T)) at scale ONE for positive inputs."""
    sqrt_t, sig_sqrt_t, drift, disc = _time_terms(t_ms, vol_ppm, rate_ppm)
    d1 = ((_ln(spot) - _ln(strike) + drift) << PREC) // sig_sqrt_t
    n1, pdf1 = ncdf_pdf(d1)
    n2 = ncdf(d1 - sig_sqrt_t)
    return n1, n2, pdf1, disc, sqrt_t, sig_sqrt_t


def _forward(spot: int, strike: int, t_ms: int, rate_ppm: int, is_call: bool) -> Greeks:
    """Zero-vol (or zero spot/strike) case: the discounted forward payoff, t_ms > 0."""
    disc = _discount(t_ms, rate_ppm)
    kd = strike * disc  # scale ONE
    s = spot << PREC
    itm = s > kd if is_call else kd > s
    if not itm:
        return Greeks(0, 0, 0, 0, 0)
    sign = 1 if is_call else -1
    value6 = (sign * (s - kd) * _PPM) >> PREC
    theta = (-sign * rate_ppm * kd) // (DAYS_PER_YEAR << PREC)  # 10**6 x (-dV/dT)/365, dV/dT = +-r K D
    return Greeks(value6, sign * 10**9, 0, 0, theta)


def _expired(spot: int, strike: int, is_call: bool) -> Greeks:
    intrinsic = spot - strike if is_call else strike - spot
    if intrinsic <= 0:
        return Greeks(0, 0, 0, 0, 0)
    return Greeks(intrinsic * _PPM, 10**9 if is_call else -(10**9), 0, 0, 0)


def _value_fixed(spot: int, strike: int, n1: int, n2: int, disc: int, is_call: bool) -> int:
    """Value at scale ONE (base units) from the core, never below max(S - K D, 0) (put: K D - S).

    The floor at the no-arbitrage lower bound keeps deep in-the-money values, whose exact value
    sits a hair above the bound (an integer at rate 0), from rounding one value6 unit below it.
    """
    forward = (spot << PREC) - strike * disc  # S - K D
    if is_call:
        c = spot * n1 - strike * ((disc * n2) >> PREC)
    else:
        c = strike * ((disc * (ONE - n2)) >> PREC) - spot * (ONE - n1)
        forward = -forward
    return max(c, forward, 0)


def bs_value6(spot: int, strike: int, vol_ppm: int, t_ms: int, rate_ppm: int, is_call: bool) -> int:
    """floor(10^6 x Black-Scholes-Merton value of one lot) in quote base units x 10^6; t_ms <= 0: intrinsic.

    Never negative.  Error bound and degenerate cases in the module docstring.
    """
    if t_ms <= 0:
        return _expired(spot, strike, is_call).value6
    if vol_ppm <= 0 or spot <= 0 or strike <= 0:
        return _forward(spot, strike, t_ms, rate_ppm, is_call).value6
    n1, n2, _, disc, _, _ = _core(spot, strike, vol_ppm, t_ms, rate_ppm)
    return (_value_fixed(spot, strike, n1, n2, disc, is_call) * _PPM) >> PREC


def bs_values6(points, strike: int, t_ms: int, rate_ppm: int) -> tuple[list[int], list[int]]:
    """(calls, puts): ``bs_value6(s, strike, v, t_ms, rate_ppm, kind)`` at each ``(s, v)`` of ``points``, the same integers.

    A SPAN risk array (``pm/scenarios.py``) prices a strike at 16 (spot, vol)
    points: ln K, the time terms of each distinct vol and the discount are
    computed once, each ln S' comes from the shared memo, N(d1) and N(d2) are
    computed once for the call and the put and without the pdf
    (``fixmath.ncdf``: exactly ``ncdf_pdf``'s first value).  Degenerate points
    go through :func:`bs_value6` itself.
    """
    if t_ms <= 0 or strike <= 0:
        return ([bs_value6(s, strike, v, t_ms, rate_ppm, True) for s, v in points],
                [bs_value6(s, strike, v, t_ms, rate_ppm, False) for s, v in points])
    ln_k = _ln(strike)
    terms: dict[int, tuple[int, int, int, int]] = {}
    calls, puts = [], []
    for s, v in points:
        if v <= 0 or s <= 0:
            calls.append(bs_value6(s, strike, v, t_ms, rate_ppm, True))
            puts.append(bs_value6(s, strike, v, t_ms, rate_ppm, False))
            continue
        tt = terms.get(v)
        if tt is None:
            tt = terms[v] = _time_terms(t_ms, v, rate_ppm)
        _, sig_sqrt_t, drift, disc = tt
        d1 = ((_ln(s) - ln_k + drift) << PREC) // sig_sqrt_t
        n1, n2 = ncdf(d1), ncdf(d1 - sig_sqrt_t)
        calls.append((_value_fixed(s, strike, n1, n2, disc, True) * _PPM) >> PREC)
        puts.append((_value_fixed(s, strike, n1, n2, disc, False) * _PPM) >> PREC)
    return calls, puts


def bs_greeks(spot: int, strike: int, vol_ppm: int, t_ms: int, rate_ppm: int, is_call: bool) -> Greeks:
    """Value6 and greeks of one lot (scales in the module docstring), each a floor.

    delta = N(d1) (call) or N(d1) - 1 (put); gamma = pdf(d1) / (S sigma sqrt T);
    vega = S pdf(d1) sqrt(T); theta = -S pdf(d1) sigma / (2 sqrt T) -+ r K D N(+-d2).
    """
    if t_ms <= 0:
        return _expired(spot, strike, is_call)
    if vol_ppm <= 0 or spot <= 0 or strike <= 0:
        return _forward(spot, strike, t_ms, rate_ppm, is_call)
    n1, n2, pdf1, disc, sqrt_t, sig_sqrt_t = _core(spot, strike, vol_ppm, t_ms, rate_ppm)
    # theta: 10**6 x [-S pdf sigma/(2 sqrt T) -+ r K D N(+-d2)] / 365, kept at scale ONE until the floor
    decay = (spot * pdf1 * vol_ppm << PREC) // (2 * sqrt_t)  # 10**6 x S pdf sigma / (2 sqrt T), scale ONE
    if is_call:
        delta = (n1 * 10**9) >> PREC
        carry = -rate_ppm * strike * ((disc * n2) >> PREC)
    else:
        delta = (-(ONE - n1) * 10**9) >> PREC
        carry = rate_ppm * strike * ((disc * (ONE - n2)) >> PREC)
    return Greeks(
        value6=(_value_fixed(spot, strike, n1, n2, disc, is_call) * _PPM) >> PREC,
        delta=delta,
        gamma=(pdf1 * 10**18) // (spot * sig_sqrt_t),
        vega=(spot * pdf1 * sqrt_t * 10**4) >> _P2,
        theta=(carry - decay) // (DAYS_PER_YEAR << PREC),
    )


def clear_memos() -> None:
    """Empty every memo (benchmarks and tests; results never depend on it)."""
    for memo in (_ln, _discount, _time_terms, _core):
        memo.cache_clear()
