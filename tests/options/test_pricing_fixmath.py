"""The integer ln, exp, sqrt and normal CDF/pdf of settlement/risk/options/fixmath.py within their documented
error bounds (mpmath reference), and the fixed-point option value within the bound of docs/options.md."""
from __future__ import annotations

import mpmath
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from settlement.risk.options import fixmath as fm
from settlement.risk.options import pricing
from settlement.risk.options.fixmath import ONE, PREC

mpmath.mp.dps = 80
ULP = mpmath.mpf(2) ** -PREC


def real(x: int):
    return mpmath.mpf(x) / ONE


fixed_reals = st.integers(-13 * ONE, 13 * ONE)


@settings(max_examples=400, deadline=None)
@given(st.integers(1, 10**40), st.integers(0, 300))
def test_ln_within_4_ulp(n, shift):
    assert abs(real(fm.ln_scaled(n, shift)) - mpmath.log(mpmath.mpf(n) / 2**shift)) <= 4 * ULP


def test_ln_at_the_table_points_and_powers_of_two():
    for n in [1, 2, 3, 10**13, 2**96, 2**96 + 1, 2**200 - 1] + [64 + j for j in range(65)]:
        assert abs(real(fm.ln_int(n)) - mpmath.log(n)) <= 4 * ULP
    assert fm.ln_int(1) == 0 and fm.ln_scaled(1 << 77, 77) == 0
    with pytest.raises(ValueError):
        fm.ln_int(0)


@settings(max_examples=400, deadline=None)
@given(st.integers(-80 * ONE, 20 * ONE))
def test_exp_within_2_ulp_plus_2_to_minus_94_relative(x):
    want = mpmath.exp(real(x))
    assert abs(real(fm.exp_fixed(x)) - want) <= 2 * ULP + want * mpmath.mpf(2) ** -94


def test_exp_of_zero_is_one_exactly():
    """Rate 0 discounts by exactly ONE: the deep in-the-money bound K - S stays an integer."""
    assert fm.exp_fixed(0) == ONE


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**300))
def test_sqrt_is_the_floor_of_the_root(x):
    r = fm.sqrt_fixed(x)
    assert r * r <= x * ONE < (r + 1) * (r + 1)


@settings(max_examples=400, deadline=None)
@given(fixed_reals)
def test_normal_cdf_and_pdf_within_4_ulp(x):
    n, pdf = fm.ncdf_pdf(x)
    assert abs(real(n) - mpmath.ncdf(real(x))) <= 4 * ULP
    assert abs(real(pdf) - mpmath.npdf(real(x))) <= 4 * ULP
    assert (n, pdf) == (fm.ncdf(x), fm.npdf(x))


def test_normal_cdf_on_the_grid_its_midpoints_and_the_cut_off():
    for j in range(0, 12 * 64 + 1, 7):
        for x in ((j << PREC) >> 6, ((2 * j + 1) << PREC) >> 7, (((2 * j + 1) << PREC) >> 7) - 1):
            assert abs(real(fm.ncdf(x)) - mpmath.ncdf(real(x))) <= 4 * ULP
            assert fm.ncdf(-x) == ONE - fm.ncdf(x) and fm.npdf(-x) == fm.npdf(x)
    assert fm.ncdf_pdf(12 * ONE) == (ONE, 0) and fm.ncdf_pdf(-12 * ONE) == (0, 0)
    assert mpmath.ncdf(-12) < ULP / 2**12  # what the cut-off drops


def test_the_taylor_rows_are_long_enough():
    """pdf(x0) sum_{n >= 13} |a_n| (1/128)**n (and the CDF row's) < 2**-109 at every grid point x0."""
    h = mpmath.mpf(2) ** -7
    mpmath.mp.dps = 40
    try:
        for j in range(0, 12 * 64 + 1):
            x0 = mpmath.mpf(j) / 64
            a = [mpmath.mpf(1), -x0]
            for n in range(1, 40):
                a.append((-x0 * a[n] - a[n - 1]) / (n + 1))
            tail = mpmath.npdf(x0) * sum(abs(a[n]) * h**n for n in range(fm._N_TERMS, 40))
            assert tail < mpmath.mpf(2) ** -109
    finally:
        mpmath.mp.dps = 80


# ---------------------------------------------------------------- the fixed-point option value


def exact_value(spot, strike, vol_ppm, t_ms, rate_ppm, is_call):
    s, k = mpmath.mpf(spot), mpmath.mpf(strike)
    sig, t, r = mpmath.mpf(vol_ppm) / 10**6, mpmath.mpf(t_ms) / pricing.YEAR_MS, mpmath.mpf(rate_ppm) / 10**6
    d1 = (mpmath.log(s / k) + (r + sig**2 / 2) * t) / (sig * mpmath.sqrt(t))
    d2 = d1 - sig * mpmath.sqrt(t)
    sign = 1 if is_call else -1
    return sign * (s * mpmath.ncdf(sign * d1) - k * mpmath.exp(-r * t) * mpmath.ncdf(sign * d2))


@settings(max_examples=400, deadline=None)
@given(st.integers(1, 10**15), st.integers(1, 10**15), st.integers(1, 10**7), st.integers(1, 10 * pricing.YEAR_MS),
       st.integers(-100_000, 300_000), st.booleans())
def test_fixed_point_value_within_the_documented_bound(spot, strike, vol, t, rate, is_call):
    """|c - V| <= (S + K) 2**-96 (24 + 8/(sigma sqrt T)) base units whenever |rT| <= 1, for any inputs."""
    assume(abs(rate * t) <= 10**6 * pricing.YEAR_MS)
    n1, n2, _, disc, _, _ = pricing._core(spot, strike, vol, t, rate)
    c = real(pricing._value_fixed(spot, strike, n1, n2, disc, is_call))
    sig_sqrt_t = mpmath.mpf(vol) / 10**6 * mpmath.sqrt(mpmath.mpf(t) / pricing.YEAR_MS)
    assert abs(c - exact_value(spot, strike, vol, t, rate, is_call)) <= (spot + strike) * ULP * (24 + 8 / sig_sqrt_t)
