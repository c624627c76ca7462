"""Fixed-point Black-Scholes-Merton (settlement/risk/options/pricing.py) against an mpmath reference.

The bound checked (docs/options.md "Pricing"): the fixed-point value c is within EPS6 value6 units
(10**-6 base unit each) of the exact value, and value6 = floor(10**6 c), so
``exact6 - 1 - EPS6 < value6 <= exact6 + EPS6``; the issue's "relative 1e-9 or 1 base unit" follows.
Monotonicity, put-call parity, greeks, degenerate inputs and a Cox-Ross-Rubinstein cross-check.
"""
from __future__ import annotations

import mpmath
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from settlement.risk.options import pricing
from settlement.risk.options.pricing import YEAR_MS, Greeks, bs_greeks, bs_value6

mpmath.mp.dps = 60
HOUR, DAY = 3_600_000, 86_400_000
EPS6 = 2 * mpmath.mpf(10) ** -5  # computing error bound in value6 units over the issue's ranges
GREEK_EPS = mpmath.mpf(10) ** -5  # same for every greek, in its own unit

# the issue's ranges: S/K in [0.2, 5], vol 1 % .. 500 %, T 1 hour .. 3 years, rate 0 .. 20 %
strikes = st.integers(1_000, 10**13)
ratios_ppm = st.integers(200_000, 5_000_000)
vols = st.integers(10_000, 5_000_000)
times = st.integers(HOUR, 3 * YEAR_MS)
rates = st.one_of(st.just(0), st.integers(0, 200_000))
kinds = st.booleans()


def exact(spot, strike, vol_ppm, t_ms, rate_ppm, is_call):
    """(value, delta, gamma, vega, theta) exactly, in the scales of :class:`Greeks`."""
    s, k = mpmath.mpf(spot), mpmath.mpf(strike)
    sig, t, r = mpmath.mpf(vol_ppm) / 10**6, mpmath.mpf(t_ms) / YEAR_MS, mpmath.mpf(rate_ppm) / 10**6
    sq = mpmath.sqrt(t)
    d1 = (mpmath.log(s / k) + (r + sig**2 / 2) * t) / (sig * sq)
    d2 = d1 - sig * sq
    disc = mpmath.exp(-r * t)
    sign = 1 if is_call else -1
    value = sign * (s * mpmath.ncdf(sign * d1) - k * disc * mpmath.ncdf(sign * d2))
    delta = mpmath.ncdf(d1) - (0 if is_call else 1)
    gamma = mpmath.npdf(d1) / (s * sig * sq)
    vega = s * mpmath.npdf(d1) * sq
    theta = -s * mpmath.npdf(d1) * sig / (2 * sq) - sign * r * k * disc * mpmath.ncdf(sign * d2)
    return 10**6 * value, 10**9 * delta, 10**18 * gamma, 10**4 * vega, 10**6 * theta / 365


def strike_of(spot_ratio_ppm: int, strike: int) -> int:
    return max(1, strike * spot_ratio_ppm // 10**6)


def check_against_exact(spot, strike, vol, t, rate, is_call):
    g = bs_greeks(spot, strike, vol, t, rate, is_call)
    assert g.value6 == bs_value6(spot, strike, vol, t, rate, is_call)
    ref = exact(spot, strike, vol, t, rate, is_call)
    # value6 is the floor of a value within EPS6 of the exact one
    assert ref[0] - 1 - EPS6 < g.value6 <= ref[0] + EPS6, (g.value6, ref[0])
    # the issue's bound: relative 1e-9 or 1 base unit (10**6 value6 units)
    assert abs(g.value6 - ref[0]) <= max(ref[0] * mpmath.mpf(10) ** -9, 10**6)
    for got, want in zip((g.delta, g.gamma, g.vega, g.theta), ref[1:]):
        assert want - 1 - GREEK_EPS < got <= want + GREEK_EPS, (g, ref)


# ---------------------------------------------------------------- against mpmath


def test_value_and_greeks_on_a_grid_of_the_issue_ranges():
    for spot in (1_000, 8_000_000_000, 10**13):
        for ratio in (200_000, 900_000, 1_000_000, 1_100_000, 5_000_000):
            strike = spot * 10**6 // ratio
            for vol in (10_000, 650_000, 5_000_000):
                for t in (HOUR, 30 * DAY, 3 * YEAR_MS):
                    for rate in (0, 200_000):
                        check_against_exact(spot, strike, vol, t, rate, True)
                        check_against_exact(spot, strike, vol, t, rate, False)


@settings(max_examples=300, deadline=None)
@given(strikes, ratios_ppm, vols, times, rates, kinds)
def test_value_and_greeks_within_the_bound(strike, ratio, vol, t, rate, is_call):
    check_against_exact(strike_of(ratio, strike), strike, vol, t, rate, is_call)


@settings(max_examples=150, deadline=None)
@given(strikes, st.integers(970_000, 1_030_000), st.integers(10_000, 100_000), st.integers(HOUR, 3 * DAY), rates, kinds)
def test_near_the_money_short_low_vol_where_the_terms_cancel(strike, ratio, vol, t, rate, is_call):
    """S N(d1) and K D N(d2) agree to 1e-4 relative here: the hardest case for an absolute bound."""
    check_against_exact(strike_of(ratio, strike), strike, vol, t, rate, is_call)


@pytest.mark.slow
@settings(max_examples=20_000, deadline=None)
@given(strikes, ratios_ppm, vols, times, rates, kinds)
def test_value_and_greeks_within_the_bound_sweep(strike, ratio, vol, t, rate, is_call):
    check_against_exact(strike_of(ratio, strike), strike, vol, t, rate, is_call)


def test_worked_example_of_the_docs():
    """docs/options.md "Pricing": S 60,000.00000000, K 65,000.00000000, vol 65 %, 30 days, r 5 %."""
    args = (6_000_000_000_000, 6_500_000_000_000, 650_000, 30 * DAY, 50_000)
    call, put = bs_greeks(*args, True), bs_greeks(*args, False)
    assert call == Greeks(264089768062048086, 376645480, 339609, 6531671431256600, -7349372331402557)
    assert put == Greeks(737432252529376473, -623354520, 339609, 6531671431256600, -6462613086954978)
    assert mpmath.nstr(exact(*args, True)[0], 25) == "264089768062048086.8859167"
    assert mpmath.nstr(exact(*args, False)[0], 25) == "737432252529376473.6008316"
    assert call.value6 - put.value6 == -473342484467328387  # exact: -473342484467328386.7149...


# ---------------------------------------------------------------- put-call parity


def parity_gap(spot, strike, vol, t, rate):
    """value6(call) - value6(put) - 10**6 (S - K e**(-rT)), exactly."""
    forward6 = 10**6 * (spot - strike * mpmath.exp(-mpmath.mpf(rate) * t / (10**6 * YEAR_MS)))
    return bs_value6(spot, strike, vol, t, rate, True) - bs_value6(spot, strike, vol, t, rate, False) - forward6


@settings(max_examples=300, deadline=None)
@given(strikes, ratios_ppm, vols, times, st.integers(-50_000, 200_000))
def test_put_call_parity_within_one_value6_unit(strike, ratio, vol, t, rate):
    """Both values are floors: C6 - P6 is within one unit of value6 (10**-6 base unit) of 10**6 (S - K e**-rT)."""
    assert abs(parity_gap(strike_of(ratio, strike), strike, vol, t, rate)) < 1 + 2 * EPS6


# ---------------------------------------------------------------- monotonicity (no step a trader could arbitrage)


def steps(lo: int, span: int, n: int) -> list[int]:
    return [lo + span * i // n for i in range(n + 1)]


@settings(max_examples=60, deadline=None)
@given(strikes, ratios_ppm, vols, times, rates, st.integers(1, 1_000))
def test_monotone_in_spot(strike, ratio, vol, t, rate, step_ppm):
    spot0 = strike_of(ratio, strike)
    spots = [s for s in steps(spot0, max(20, spot0 * step_ppm // 10**6), 20)]
    calls = [bs_value6(s, strike, vol, t, rate, True) for s in spots]
    puts = [bs_value6(s, strike, vol, t, rate, False) for s in spots]
    assert calls == sorted(calls) and puts == sorted(puts, reverse=True)


@settings(max_examples=60, deadline=None)
@given(strikes, ratios_ppm, st.integers(10_000, 4_900_000), times, rates, st.integers(1, 10_000))
def test_monotone_in_vol(strike, ratio, vol, t, rate, step):
    spot = strike_of(ratio, strike)
    vs = steps(vol, min(step * 20, 5_000_000 - vol), 20)
    for is_call in (True, False):
        values = [bs_value6(spot, strike, v, t, rate, is_call) for v in vs]
        assert values == sorted(values)


@settings(max_examples=60, deadline=None)
@given(strikes, ratios_ppm, vols, st.integers(HOUR, 2 * YEAR_MS), rates, st.integers(1, DAY))
def test_monotone_in_time_to_expiry(strike, ratio, vol, t, rate, step):
    """Calls gain value with time for any rate >= 0; puts too when the rate is 0."""
    spot = strike_of(ratio, strike)
    ts = steps(t, step * 20, 20)
    calls = [bs_value6(spot, strike, vol, u, rate, True) for u in ts]
    assert calls == sorted(calls)
    puts = [bs_value6(spot, strike, vol, u, 0, False) for u in ts]
    assert puts == sorted(puts)


def test_monotone_in_single_base_unit_spot_steps():
    """1-unit spot steps: deep out of the money they move the exact value by far less than a value6 unit;
    at the money with an hour left and 1 % vol by about half a base unit."""
    for strike, spot0, vol, t in ((10**13, 2 * 10**12, 200_000, 30 * DAY), (10**6, 3 * 10**5, 300_000, YEAR_MS),
                                  (10**9, 10**9 - 50_000, 10_000, HOUR)):
        calls = [bs_value6(spot0 + i, strike, vol, t, 30_000, True) for i in range(300)]
        puts = [bs_value6(spot0 + i, strike, vol, t, 30_000, False) for i in range(300)]
        assert calls == sorted(calls) and puts == sorted(puts, reverse=True)


# ---------------------------------------------------------------- greeks against numerical derivatives


def test_reference_greeks_are_the_derivatives_of_the_reference_value():
    """The closed forms the greeks are checked against are the derivatives (mpmath.diff) of the value."""
    spot, strike, vol, t, rate = 6_000, 6_500, 650_000, 30 * DAY, 50_000
    for is_call in (True, False):
        ref = exact(spot, strike, vol, t, rate, is_call)

        def value(s=spot, v=vol, u=t):
            return exact(s, strike, v, u, rate, is_call)[0]

        assert mpmath.almosteq(mpmath.diff(lambda s: value(s=s), spot) * 10**3, ref[1], 1e-20)
        assert mpmath.almosteq(mpmath.diff(lambda s: value(s=s), spot, 2) * 10**12, ref[2], 1e-20)
        assert mpmath.almosteq(mpmath.diff(lambda v: value(v=v), vol) * 10**4, ref[3], 1e-20)
        assert mpmath.almosteq(-mpmath.diff(lambda u: value(u=u), t) * DAY, ref[4], 1e-20)


# ---------------------------------------------------------------- degenerate inputs and memo


def test_expired_is_intrinsic_and_zero_vol_is_the_discounted_forward():
    assert bs_greeks(120, 100, 500_000, 0, 50_000, True) == Greeks(20_000_000, 10**9, 0, 0, 0)
    assert bs_greeks(120, 100, 500_000, -5, 50_000, False) == Greeks(0, 0, 0, 0, 0)
    assert bs_greeks(80, 100, 500_000, 0, 0, False) == Greeks(20_000_000, -(10**9), 0, 0, 0)
    assert bs_value6(100, 100, 500_000, 0, 0, True) == 0
    forward6 = 10**6 * (10**9 - 9 * 10**8 * mpmath.exp(-mpmath.mpf(1) / 10))  # r 10 %, 1 year
    g = bs_greeks(10**9, 9 * 10**8, 0, YEAR_MS, 100_000, True)
    assert g.value6 == int(mpmath.floor(forward6)) and g.delta == 10**9 and g.gamma == g.vega == 0
    assert bs_value6(10**9, 9 * 10**8, 0, YEAR_MS, 100_000, False) == 0
    assert bs_value6(0, 100, 500_000, YEAR_MS, 0, False) == 100 * 10**6
    assert bs_value6(100, 0, 500_000, YEAR_MS, 0, True) == 100 * 10**6


def test_results_do_not_depend_on_the_memo():
    args = [(s, 10**9, v, t, 20_000, c) for s in (9 * 10**8, 10**9) for v in (100_000, 900_000)
            for t in (HOUR, YEAR_MS) for c in (True, False)]
    first = [bs_greeks(*a) for a in args]
    pricing.clear_memos()
    assert [bs_greeks(*a) for a in reversed(args)] == first[::-1]


def test_deep_in_the_money_put_keeps_its_intrinsic_value_as_time_grows():
    """Found by test_monotone_in_time_to_expiry: at rate 0 the exact value sits a hair above the
    integer K - S; the fixed-point value fell a few ulp below it and floored one value6 unit under
    the value of the shorter expiry.  The value is now never below max(K D - S, 0)."""
    values = [bs_value6(469, 1_000, 4_666_103, 4_247_714 + 1_042_240 * i, 0, False) for i in range(21)]
    assert values == sorted(values) and values[0] == 531_000_000


# ---------------------------------------------------------------- Cox-Ross-Rubinstein cross-check


def crr_value6(spot, strike, vol_ppm, t_ms, rate_ppm, is_call, n):
    """10**6 x the n-step Cox-Ross-Rubinstein value (u = e**(sigma sqrt dt), p = (e**(r dt) - 1/u)/(u - 1/u)),
    rolled back in integers at scale 2**128 from mpmath lattice prices; discounted once at the end."""
    bits = 128
    one = 1 << bits
    dt = mpmath.mpf(t_ms) / YEAR_MS / n
    u = mpmath.exp(mpmath.mpf(vol_ppm) / 10**6 * mpmath.sqrt(dt))
    p = (mpmath.exp(mpmath.mpf(rate_ppm) / 10**6 * dt) - 1 / u) / (u - 1 / u)
    p_fix = int(p * one)
    q_fix = one - p_fix
    strike_fix = strike << bits
    prices = [int(spot * u ** (2 * j - n) * one) for j in range(n + 1)]
    values = [max(x - strike_fix if is_call else strike_fix - x, 0) for x in prices]
    for _ in range(n):
        values = [(p_fix * hi + q_fix * lo) >> bits for lo, hi in zip(values, values[1:])]
    return values[0] * mpmath.exp(-mpmath.mpf(rate_ppm) * t_ms / (10**6 * YEAR_MS)) * 10**6 / one


def check_crr(spot, strike, vol, t, rate, is_call, n):
    """The mean of the n- and (n+1)-step trees (which cancels CRR's odd/even oscillation) is within
    S sigma sqrt(T) / (2n) of the closed form: the O(1/n) convergence of CRR, with a constant 3x
    above the worst seen (0.16) over the issue's ranges."""
    tree = (crr_value6(spot, strike, vol, t, rate, is_call, n) + crr_value6(spot, strike, vol, t, rate, is_call, n + 1)) / 2
    sig_sqrt_t = mpmath.mpf(vol) / 10**6 * mpmath.sqrt(mpmath.mpf(t) / YEAR_MS)
    assert abs(tree - bs_value6(spot, strike, vol, t, rate, is_call)) <= 10**6 * spot * sig_sqrt_t / (2 * n) + 1


def test_binomial_tree_agrees_with_the_closed_form():
    for spot, strike, vol, t, rate in ((100_000, 100_000, 650_000, 30 * DAY, 50_000), (10**9, 5 * 10**9, 5_000_000, 3 * YEAR_MS, 200_000),
                                       (10**9, 2 * 10**8, 10_000, HOUR, 0), (6_000, 6_600, 200_000, YEAR_MS, 100_000)):
        for is_call in (True, False):
            check_crr(spot, strike, vol, t, rate, is_call, 150)


@pytest.mark.slow
@settings(max_examples=100, deadline=None)
@given(st.integers(1_000, 10**13), ratios_ppm, vols, times, rates, kinds)
def test_binomial_tree_agrees_with_the_closed_form_sweep(strike, ratio, vol, t, rate, is_call):
    check_crr(strike_of(ratio, strike), strike, vol, t, rate, is_call, 1_000)


@pytest.mark.slow
@settings(max_examples=3_000, deadline=None)
@given(strikes, ratios_ppm, vols, st.integers(HOUR, 2 * YEAR_MS), rates, st.integers(1, 1_000), st.integers(1, DAY))
def test_monotone_sweep(strike, ratio, vol, t, rate, step_ppm, t_step):
    spot = strike_of(ratio, strike)
    spots = steps(spot, max(20, spot * step_ppm // 10**6), 20)
    calls = [bs_value6(s, strike, vol, t, rate, True) for s in spots]
    puts = [bs_value6(s, strike, vol, t, rate, False) for s in spots]
    assert calls == sorted(calls) and puts == sorted(puts, reverse=True)
    vs = steps(min(vol, 4_900_000), 100 * step_ppm, 20)
    for is_call in (True, False):
        values = [bs_value6(spot, strike, v, t, rate, is_call) for v in vs]
        assert values == sorted(values)
    ts = steps(t, t_step * 20, 20)
    calls = [bs_value6(spot, strike, vol, u, rate, True) for u in ts]
    puts = [bs_value6(spot, strike, vol, u, 0, False) for u in ts]
    assert calls == sorted(calls) and puts == sorted(puts)
