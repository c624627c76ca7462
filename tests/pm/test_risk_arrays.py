"""Risk arrays (``pm/scenarios.py``): the requirement summed from per-series arrays is the one revaluing every leg.

``reference_requirement`` is the requirement as it was before risk arrays
(every leg revalued with ``bs_value6`` in every scenario, the P&L summed leg
by leg); the property is that ``requirement`` returns exactly the same
requirement, table and binding scenario on random books, degenerate inputs
included (expired legs, a vol shock down to zero, a spot moved to zero).
"""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.txkinds_pm import PmParams
from settlement.risk.options.fixmath import ONE as FIX_ONE
from settlement.risk.options.fixmath import ncdf, ncdf_pdf
from settlement.risk.options.pricing import bs_value6, bs_values6
from settlement.risk.pm.scenarios import GRID, SHORT_MIN, OptionLeg, clear_memos, requirement, risk_array, short_option_min, spot_move

ONE = 10**6
YEAR = 31_536_000_000


def reference_requirement(spot, perp_size, options, params):
    """The requirement before risk arrays: each leg revalued with bs_value6 in each scenario."""
    bases = [leg.n * leg.lots * leg.mark6 // ONE for leg in options]
    table = []
    worst, binding = None, GRID[0].name
    for sc in GRID:
        d = spot_move(spot, sc, params)
        s1 = spot + d if spot + d > 0 else 0
        pnl6 = perp_size * (s1 - spot) * ONE
        for leg, base in zip(options, bases):
            shock = ONE + params.vol_up_ppm if sc.vol_up else ONE - params.vol_down_ppm
            vol = leg.vol_ppm * shock // ONE
            v6 = bs_value6(s1, leg.strike, vol, leg.t_ms, leg.rate_ppm, leg.is_call)
            pnl6 += leg.n * leg.lots * v6 - base * ONE
        pnl = pnl6 * params.extreme_fraction_ppm // (ONE * ONE) if sc.extreme else pnl6 // ONE
        table.append((sc.name, pnl))
        if worst is None or pnl < worst:
            worst, binding = pnl, sc.name
    scan = -worst if worst < 0 else 0
    floor_ = short_option_min(spot, options, params)
    if floor_ > scan:
        return floor_, table, SHORT_MIN
    return scan, table, binding


grids = st.builds(
    PmParams,
    scan_range_ppm=st.integers(1, ONE),
    vol_up_ppm=st.integers(0, 10 * ONE),
    vol_down_ppm=st.integers(0, ONE - 1),
    extreme_multiple=st.integers(1, 10),
    extreme_fraction_ppm=st.integers(0, ONE),
    short_option_min_ppm=st.integers(0, ONE),
    mmr_fraction_ppm=st.integers(1, ONE),
)


@st.composite
def books(draw):
    spot = draw(st.integers(1, 10**7))
    legs = []
    for _ in range(draw(st.integers(0, 6))):
        legs.append(OptionLeg(
            n=draw(st.integers(-100, 100).filter(bool)),
            lots=draw(st.integers(1, 10)),
            is_call=draw(st.booleans()),
            strike=draw(st.integers(max(1, spot // 5), spot * 5)),
            vol_ppm=draw(st.one_of(st.integers(10_000, 5 * ONE), st.integers(0, 3))),
            t_ms=draw(st.one_of(st.integers(3_600_000, 3 * YEAR), st.integers(-1_000, 0))),
            rate_ppm=draw(st.integers(-50_000, 100_000)),
            mark6=draw(st.integers(0, spot * ONE)),
        ))
    return spot, draw(st.integers(-1_000, 1_000)), legs


@settings(max_examples=150, deadline=None)
@given(books(), grids)
def test_requirement_from_risk_arrays_is_the_leg_by_leg_revaluation(book, grid):
    spot, perp, legs = book
    got = requirement(spot, perp, legs, grid)
    assert got == reference_requirement(spot, perp, legs, grid)
    clear_memos()  # the module's memo is invisible: the same integers recomputed
    assert requirement(spot, perp, legs, grid) == got


@settings(max_examples=60, deadline=None)
@given(books(), grids)
def test_a_risk_array_is_the_pricer_in_each_scenario(book, grid):
    spot, _, legs = book
    for leg in legs:
        arr = risk_array(spot, leg, grid)
        assert len(arr) == len(GRID)
        for sc, v in zip(GRID, arr):
            s1 = max(spot + spot_move(spot, sc, grid), 0)
            vol = leg.vol_ppm * (ONE + grid.vol_up_ppm if sc.vol_up else ONE - grid.vol_down_ppm) // ONE
            assert v == bs_value6(s1, leg.strike, vol, leg.t_ms, leg.rate_ppm, leg.is_call)


@given(st.lists(st.tuples(st.integers(-10, 10**8), st.integers(-5, 5 * ONE)), max_size=8), st.integers(-10, 10**8),
       st.integers(-10, 3 * YEAR), st.integers(-50_000, 100_000))
def test_the_pricers_row_is_its_point_values(points, strike, t, r):
    calls, puts = bs_values6(points, strike, t, r)
    assert calls == [bs_value6(s, strike, v, t, r, True) for s, v in points]
    assert puts == [bs_value6(s, strike, v, t, r, False) for s, v in points]


@given(st.integers(-13 * FIX_ONE, 13 * FIX_ONE))
def test_ncdf_alone_is_ncdf_pdf_first_value(x):
    assert ncdf(x) == ncdf_pdf(x)[0]


def test_the_arrays_a_caller_passes_are_the_ones_used():
    from settlement.risk.pm.mode import PM_DEFAULTS
    leg = OptionLeg(-3, 10, True, 110_000, 600_000, 30 * 86_400_000, 0, 1_000_000_000)
    own = requirement(100_000, 0, [leg], PM_DEFAULTS)
    shared = requirement(100_000, 0, [leg], PM_DEFAULTS, [risk_array(100_000, leg, PM_DEFAULTS)])
    assert own == shared
    zero = requirement(100_000, 0, [leg], PM_DEFAULTS, [(0,) * len(GRID)])  # an array of zero values: the short gains its mark
    assert zero[0] == short_option_min(100_000, [leg], PM_DEFAULTS)
