"""Fixed-point Black-Scholes-Merton (settlement/risk/options/pricing.py) against an mpmath reference."""
from __future__ import annotations

import mpmath

from settlement.risk.options.pricing import YEAR_MS, bs_greeks, bs_value6

mpmath.mp.dps = 60


def exact_value6(spot, strike, vol_ppm, t_ms, rate_ppm, is_call):
    s, k = mpmath.mpf(spot), mpmath.mpf(strike)
    sig, t, r = mpmath.mpf(vol_ppm) / 10**6, mpmath.mpf(t_ms) / YEAR_MS, mpmath.mpf(rate_ppm) / 10**6
    d1 = (mpmath.log(s / k) + (r + sig**2 / 2) * t) / (sig * mpmath.sqrt(t))
    d2 = d1 - sig * mpmath.sqrt(t)
    disc = mpmath.exp(-r * t)
    if is_call:
        return 10**6 * (s * mpmath.ncdf(d1) - k * disc * mpmath.ncdf(d2))
    return 10**6 * (k * disc * mpmath.ncdf(-d2) - s * mpmath.ncdf(-d1))


def test_value_is_the_floor_of_the_exact_value_on_a_grid():
    for spot in (1_000, 80_000_000_000, 10**13):
        for ratio in (200_000, 1_000_000, 5_000_000):
            strike = spot * 10**6 // ratio
            for vol in (10_000, 800_000, 5_000_000):
                for t in (3_600_000, YEAR_MS, 3 * YEAR_MS):
                    for call in (True, False):
                        v = bs_value6(spot, strike, vol, t, 50_000, call)
                        exact = exact_value6(spot, strike, vol, t, 50_000, call)
                        assert exact - 1 - mpmath.mpf(10)**-3 < v <= exact + mpmath.mpf(10)**-3
                        assert bs_greeks(spot, strike, vol, t, 50_000, call).value6 == v
