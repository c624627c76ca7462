"""Portfolio margin: the grid, the worked examples of docs/portfolio-margin.md, mode switches and liquidation."""
from __future__ import annotations

from ledger.txkinds_pm import PmParams, SetPmParams
from settlement.risk.pm import mode
from settlement.risk.pm.scenarios import GRID, OptionLeg, requirement

from .pm_harness import DAY, chain, figures, option, perp, series, switch

P = mode.PM_DEFAULTS


def test_grid_is_spans_sixteen_scenarios():
    assert len(GRID) == 16
    assert [s.name for s in GRID[:4]] == ["0 vol up", "0 vol down", "+1/3 vol up", "+1/3 vol down"]
    assert [(s.extreme, s.thirds, s.vol_up) for s in GRID[14:]] == [(True, 1, True), (True, -1, True)]


def test_perpetual_alone_is_linear_and_the_extreme_binds():
    # S = 100,000, R = 15 %: d_1 = 5,000, d_2 = 10,000, d_3 = 15,000, d_x = 45,000; 35 % of 45,000 = 15,750
    req, table, binding = requirement(100_000, 1, [], P)
    assert dict(table)["-1/3 vol up"] == -5_000 and dict(table)["-3/3 vol down"] == -15_000
    assert dict(table)["-extreme vol up"] == -15_750 and dict(table)["+extreme vol up"] == 15_750
    assert (req, binding) == (15_750, "-extreme vol up")
    assert requirement(100_000, -3, [], P)[0] == 3 * 15_750  # a short loses on the way up, same size


def test_extreme_loss_rounds_up():
    # 7 lots at 33,333: d_x = floor(33,333 x 450,000 / 10^6) = 14,999; 35 % of 7 x 14,999 = 36,747.55 -> 36,748
    assert requirement(33_333, 7, [], P)[0] == 36_748


def test_short_option_minimum_floors_a_far_out_of_the_money_short():
    # a 10-day put struck at 20 % of spot is worth ~0 in every scenario: the floor (1 % of S per contract) binds
    leg = OptionLeg(-3, 2, False, 20_000, 500_000, 10 * DAY, 0, 0)
    req, _, binding = requirement(100_000, 0, [leg], P)
    assert (req, binding) == (3 * 2 * 1_000, "short_option_min")


def test_long_options_never_lose_more_than_equity_counts():
    leg = OptionLeg(5, 1, True, 100_000, 500_000, 30 * DAY, 0, 5_713_767_509)
    req, table, _ = requirement(100_000, 0, [leg], P)
    assert req <= 5 * 5_713_767_509 // 10**6  # what equity counts for the long
    assert min(p for _, p in table) >= -(5 * 5_713_767_509 // 10**6)


# ------------------------------------------------------------------ worked examples (docs "Worked examples")
# BTC-PERP at 100,000 (large tier: IM 5 %, MM 3 %), options at 50 % vol, rate 0, one lot per contract.


def example(build):
    h = chain()
    build(h)
    standard = figures(h, "alice")
    r = switch(h, "alice", "portfolio")
    assert r.ok, r.reason
    s = h.session()
    (u, req, table, binding), = mode.underlying_requirements(s, h.addr("alice"), s.macc(h.addr("alice"), "USD"))
    TABLES[build.__name__] = [p for _, p in table]
    return standard, figures(h, "alice"), binding


TABLES: dict = {}


def table_of(build) -> list[int]:
    example(build)
    return TABLES[build.__name__]


def covered_call(h):
    perp(h, "alice", 1)
    option(h, "alice", series(h, "call", 110_000, 30), -1)


def protective_put(h):
    perp(h, "alice", 1)
    option(h, "alice", series(h, "put", 90_000, 30), 1)


def calendar(h):
    option(h, "alice", series(h, "call", 100_000, 30), -1)
    option(h, "alice", series(h, "call", 100_000, 60), 1)


def straddle(h):
    option(h, "alice", series(h, "call", 100_000, 30), -1)
    option(h, "alice", series(h, "put", 100_000, 30), -1)


def test_naked_perpetual_pays_more_in_portfolio_mode():
    assert example(lambda h: perp(h, "alice", 1)) == ((200_000, 5_000, 3_000), (200_000, 15_750, 12_116), "-extreme vol up")


def test_covered_call():
    # long 1 lot + short 1 30-day call struck at 110,000
    std, pm, binding = example(covered_call)
    assert (std, pm, binding) == ((199_999, 17_276, 12_776), (199_999, 14_954, 11_504), "-extreme vol up")


def test_protective_put():
    # long 1 lot + long 1 30-day put struck at 90,000: the put caps the loss below 90,000
    std, pm, binding = example(protective_put)
    assert (std, pm, binding) == ((200_000, 5_000, 3_000), (200_000, 10_274, 7_904), "-3/3 vol down")
    assert pm[1] < 15_750  # less than the perpetual alone in portfolio mode


def test_calendar_spread():
    # short 1 30-day ATM call, long 1 60-day ATM call
    std, pm, binding = example(calendar)
    assert (std, pm, binding) == ((199_999, 20_714, 13_214), (199_999, 1_746, 1_344), "-3/3 vol down")


def test_short_straddle():
    std, pm, binding = example(straddle)
    assert (std, pm, binding) == ((199_998, 41_428, 26_428), (199_998, 11_886, 9_144), "+extreme vol up")


# ------------------------------------------------------------------ switching


def test_switch_refused_when_the_new_mode_is_not_covered_and_back_to_standard():
    h = chain(cash=10_000)
    perp(h, "alice", 1)  # standard IMR 5,000 <= 10,000; portfolio IMR 15,750 > 10,000
    r = switch(h, "alice", "portfolio")
    assert not r.ok and r.error == "insufficient_margin"
    assert not mode.portfolio(h.session(), h.addr("alice"))
    assert figures(h, "alice")[1] == 5_000
    h.deposit("alice", 6_000)
    assert switch(h, "alice", "portfolio").ok
    assert figures(h, "alice")[1] == 15_750
    assert switch(h, "alice", "standard").ok
    assert figures(h, "alice")[1] == 5_000
    assert switch(h, "alice", "nonsense").error == "invalid_parameter"


def test_switch_without_positions_is_always_allowed():
    h = chain(cash=0)
    assert switch(h, "dave", "portfolio").ok
    assert mode.portfolio(h.session(), h.addr("dave"))


def test_admin_grid_replaces_the_default():
    h = chain()
    perp(h, "alice", 1)
    assert switch(h, "alice", "portfolio").ok
    grid = PmParams(80_000, 250_000, 250_000, 3, 350_000, 10_000, 800_000)
    assert h.run("admin", SetPmParams("BTC-PERP", grid)).ok
    assert figures(h, "alice")[1:] == (8_400, 6_720)  # 35 % of 3 x 8,000; MMR 80 %
    assert h.run("alice", SetPmParams("BTC-PERP", grid)).error == "not_permitted"
    bad = PmParams(0, 250_000, 250_000, 3, 350_000, 10_000, 800_000)
    assert h.run("admin", SetPmParams("BTC-PERP", bad)).error == "invalid_parameter"


# ------------------------------------------------------------------ liquidation


def test_portfolio_account_is_liquidated_where_a_standard_trigger_would_not_fire():
    h = chain(cash=16_000)
    perp(h, "alice", 1)
    assert switch(h, "alice", "portfolio").ok  # IMR 15,750 <= 16,000; MMR 12,116
    h.prices("BTC-PERP", 95_000)
    # equity 11,000; requirement 35 % of 42,750 = 14,962.5 -> 14,963, MMR ceil(14,963 x 0.769231) = 11,510 > 11,000
    # (standard MMR would be 2,850: no standard trigger is anywhere near)
    kinds = [e.kind for e in h.block_events()]
    assert "liquidation" in kinds, kinds
    eq, imr, mmr = figures(h, "alice")
    assert eq >= mmr


def test_worked_example_tables():
    """The per-scenario P&L tables of docs/portfolio-margin.md "Worked examples" (scenarios 1-16 in grid order)."""
    assert table_of(covered_call) == [-1_513, 1_312, 1_549, 5_020, -5_063, -3_053, 4_110, 7_874, -9_052, -7_809, 6_188,
                                      9_840, -13_407, -12_740, 4_046, -14_954]
    assert table_of(protective_put) == [1_319, -1_108, 5_242, 3_435, -2_175, -5_102, 9_500, 8_257, -5_146, -8_226, 14_005,
                                        13_197, -7_530, -10_274, 15_122, -4_134]
    assert table_of(calendar) == [700, -704, 701, -799, 544, -888, 567, -1_095, 234, -1_293, 332, -1_457, -201, -1_746,
                                  -498, -800]
    assert table_of(straddle) == [-3_420, 3_425, -4_308, 2_275, -3_592, 2_628, -6_150, -499, -4_865, -12, -8_802, -4_373,
                                  -7_194, -3_983, -11_886, -11_752]


def test_portfolio_only_book_opens_and_its_options_are_liquidated_into_the_fund():
    """A short straddle that standard mode refuses (IMR 41,428 > 15,000) opens in portfolio mode (11,886);
    a 20 % crash breaches it in the price's block (the put's scenarios revalue from its mark at the new price:
    requirement 20,788, MMR 15,991 > equity 14,998) and the sweep closes both legs into the fund at mark."""
    h = chain(cash=15_000)
    assert switch(h, "alice", "portfolio").ok  # no positions yet
    straddle(h)
    assert figures(h, "alice")[1] == 11_886
    h.prices("BTC-PERP", 80_000)
    liq = [e for e in h.block_events() if e.kind == "liquidation"]
    assert liq and liq[0].attrs["mmr_before"] == 15_991, [e.kind for e in h.block_events()]
    assert not h.session().macc(h.addr("alice"), "USD").series  # every option closed
    eq, _, mmr = figures(h, "alice")
    assert eq >= mmr
