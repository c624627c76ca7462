"""Oracle reports: roles, per-block median of fresh reports from a quorum, the move guard, staleness."""
from __future__ import annotations

from ledger.txkinds_risk import PriceReport, SetOracles
from settlement.risk import queries as rq
from settlement.risk.oracle import median_price, quorum

from .harness import Harness, only_nonce_changed

M = "BTC-PERP"


def test_quorum_is_more_than_two_thirds():
    assert [quorum(n) for n in (1, 2, 3, 4, 5, 6, 7)] == [1, 2, 3, 3, 4, 5, 5]


def test_median_is_the_lower_median():
    assert median_price([5]) == 5
    assert median_price([9, 1, 5]) == 5
    assert median_price([4, 1, 3, 2]) == 2


def price_of(h: Harness) -> tuple[int, bool]:
    m = rq.market_info(h.view, M)
    return m["price"], m["stale"]


def test_median_of_fresh_reports_from_a_quorum():
    h = Harness(names=("alice",), oracles=4)  # quorum 3 of 4
    h.register_market(M)
    h.prices(M, 100, oracles=["oracle0", "oracle1"])
    assert price_of(h) == (0, True)  # 2 of 4 is no quorum
    h.prices(M, 104, oracles=["oracle2"])
    assert price_of(h) == (100, False)  # fresh: 100, 100, 104 -> 100
    h.block(*[h.tx(o, PriceReport(M, p)) for o, p in (("oracle0", 110), ("oracle1", 120), ("oracle3", 130))])
    assert price_of(h) == (110, False)  # 110, 120, 104, 130 -> lower median 110


def test_old_reports_go_stale_and_liquidations_pause():
    h = Harness(names=("alice", "bob"))
    h.register_market(M, margin_cap_ppm=1_000_000, oracle_fresh_ms=10_000)
    h.prices(M, 100_000)
    h.deposit("alice", 1_000_000)
    h.deposit("bob", 1_000_000)
    h.fund(10_000_000)
    h.trade("bob", "alice", "buy", 100, 100_000)
    h.block(dt_ms=11_000)
    [ev] = h.block_events("oracle_stale")
    assert ev.attrs["fresh_reports"] == 0 and price_of(h)[1]
    # two of three oracles report a crash: no quorum, still stale, nobody liquidated
    h.prices(M, 80_000, oracles=["oracle0", "oracle1"])
    assert price_of(h) == (100_000, True) and h.block_events("liquidation") == []
    h.prices(M, 80_000, oracles=["oracle2"])  # quorum again: price 80,000, alice liquidated now
    assert price_of(h) == (80_000, False)
    assert [e.attrs["account"] for e in h.block_events("liquidation")] == [h.addr("alice")]


def test_paused_account_with_a_stale_market_is_liquidated_when_it_returns():
    h = Harness(names=("alice", "bob"))
    h.register_market(M, margin_cap_ppm=1_000_000, oracle_fresh_ms=10_000)
    h.register_market("ETH-PERP", margin_cap_ppm=1_000_000, oracle_fresh_ms=10_000)
    h.block(*[h.tx(o, PriceReport(m, 1_000)) for o in h.oracles for m in (M, "ETH-PERP")])
    h.deposit("alice", 10_000)
    h.deposit("bob", 100_000)
    h.fund(1_000_000)
    h.trade("bob", "alice", "buy", 50, 1_000)  # alice long BTC 50
    h.trade("bob", "alice", "buy", 50, 1_000, market="ETH-PERP")  # and ETH 50: cross margin, IMR 5,000
    h.block(dt_ms=11_000)  # both stale
    # BTC fresh at -15 %: equity 10,000 - 7,500 = 2,500 < MMR 1,275 + 1,500; ETH stale: paused
    h.block(*[h.tx(o, PriceReport(M, 850)) for o in h.oracles])
    assert [e.kind for e in h.block_events() if e.kind.startswith("liquidation")] == ["liquidation_paused"]
    h.block(*[h.tx(o, PriceReport(m, p)) for o in h.oracles for m, p in ((M, 850), ("ETH-PERP", 1_000))])
    assert [e.attrs["account"] for e in h.block_events("liquidation")] == [h.addr("alice")]


def test_far_reports_are_accepted_and_the_block_price_is_clamped():
    h = Harness(names=("alice",))
    h.register_market(M)
    h.prices(M, 100_000)
    assert h.run("oracle0", PriceReport(M, 10**12)).ok  # a report is never refused for its distance ...
    assert price_of(h) == (100_000, False)  # ... and one outlier does not move the median (100,000)
    h.prices(M, 150_001)
    [ev] = h.block_events("oracle_price")
    # median 150,001; clamped to 20 % of the last price: 120,000 (the reference 100,000 allows 150,000)
    assert (ev.attrs["median"], ev.attrs["price"], ev.attrs["reference"]) == (150_001, 120_000, 100_000)


def test_two_49_percent_blocks_no_longer_double_the_price():
    h = Harness(names=("alice",))
    h.register_market(M)  # defaults: max move 20 % per block, 50 % from the 5-minute reference
    h.prices(M, 100_000)  # t=2000: the first price starts the reference R = 100,000
    h.prices(M, 149_000)  # +49 %: clamped to 100,000 + 20 % = 120,000
    assert price_of(h) == (120_000, False)
    h.prices(M, 222_010)  # +49 % again: 120,000 + 20 % = 144,000 (R = 100,000 + ceil(20,000 x 1/300) = 100,067)
    assert price_of(h) == (144_000, False)
    assert h.session().mstate(M).oracle_twap == 100_067


def test_the_reference_bounds_the_walk_even_without_the_per_block_limit():
    h = Harness(names=("alice",))
    h.register_market(M, oracle_max_move_ppm=1_000_000)
    h.prices(M, 100_000)
    h.prices(M, 149_000)  # within 50 % of R = 100,000: accepted as is
    assert price_of(h) == (149_000, False)
    # R absorbs 1 s of 149,000: 100,000 + ceil(49,000 x 1,000 / 300,000) = 100,164; the band ends at
    # 100,164 + floor(100,164 x 0.5) = 150,246
    h.prices(M, 222_010)
    assert price_of(h) == (150_246, False)
    assert h.session().mstate(M).oracle_twap == 100_164


def test_a_sustained_push_moves_the_price_no_faster_than_the_reference_follows():
    h = Harness(names=("alice",))
    h.register_market(M)
    h.prices(M, 100_000)
    path = []
    for _ in range(175):
        h.prices(M, 10**9)
        path.append(price_of(h)[0])
    # 20 % a block until the 50 % band of R binds (3rd block), then about +0.17 % a block (D x dt / W)
    assert path[:4] == [120_000, 144_000, 150_321, 150_573]
    assert path[59] == 165_333  # after a minute
    assert path[173] < 200_000 <= path[174]  # doubled after 175 blocks (175 s); it took 2 blocks before


def test_a_stale_market_converges_block_by_block():
    h = Harness(names=("alice",))
    h.register_market(M, oracle_fresh_ms=10_000)
    h.prices(M, 100_000)
    h.block(dt_ms=301_000)  # an outage longer than the 5-minute window
    assert price_of(h) == (100_000, True)
    path = []
    while not path or path[-1] != 30_000:
        h.prices(M, 30_000)  # the real price fell 70 % meanwhile
        path.append(price_of(h)[0])
    # R = 100,000 (the price in force all along); -20 % a block: 80,000, 64,000, 51,200; then the band of R:
    # R = 99,650 after 3 s of lower prices, 99,650 - 49,825 = 49,825; R follows at (P - R) / 300 a second
    assert path[:5] == [80_000, 64_000, 51_200, 49_825, 49_742]
    assert all(a > b for a, b in zip(path, path[1:]))  # a genuine move keeps converging
    assert len(path) == 307  # -70 % takes about the window (R must come within 50 % of 30,000)


def test_a_40_percent_move_during_an_outage_takes_three_blocks():
    h = Harness(names=("alice",))
    h.register_market(M, oracle_fresh_ms=10_000)
    h.prices(M, 100_000)
    h.block(dt_ms=301_000)
    h.prices(M, 60_000)
    assert price_of(h) == (80_000, False)
    h.block()  # no new report: the reports are fresh and the median is still 60,000, so the price moves on
    assert price_of(h) == (64_000, False)
    h.block()
    assert price_of(h) == (60_000, False)
    h.block()
    assert h.block_events("oracle_price") == []  # converged: nothing new


def test_one_silent_oracle_of_four_leaves_the_market_fresh():
    h = Harness(names=("alice",), oracles=4)  # the devnet's oracle count: quorum 3
    h.register_market(M, oracle_fresh_ms=10_000)
    for i in range(30):  # 30 s, three times the freshness window; oracle3 never reports
        h.block(*[h.tx(o, PriceReport(M, 100_000 + i + k)) for k, o in enumerate(["oracle0", "oracle1", "oracle2"])])
        assert price_of(h) == (100_000 + i + 1, False)  # lower median of 3 reports
    assert h.block_events("oracle_stale") == []


def test_devnet_genesis_has_four_oracles():
    from cli.testnet import DEMO_ACCOUNTS, DEMO_ORACLES

    assert len(DEMO_ORACLES) == 4 and all(DEMO_ACCOUNTS[o] == ["oracle"] for o in DEMO_ORACLES)
    assert quorum(len(DEMO_ORACLES)) == 3


def test_who_may_report():
    h = Harness(names=("alice",), oracles=4)
    h.register_market(M)
    assert only_nonce_changed(h, "alice", PriceReport(M, 1)).error == "not_permitted"
    assert only_nonce_changed(h, "oracle0", PriceReport("X-PERP", 1)).error == "unknown_market"
    assert only_nonce_changed(h, "oracle0", PriceReport(M, 0)).error == "bad_amount"
    assert h.run("admin", SetOracles(M, (h.addr("oracle0"), h.addr("oracle1")))).ok
    r = only_nonce_changed(h, "oracle3", PriceReport(M, 5))
    assert r.error == "not_permitted" and "not an oracle of" in r.reason
    h.prices(M, 7, oracles=["oracle0", "oracle1"])  # quorum of 2 is 2
    assert price_of(h) == (7, False)


def test_guard_parameters_are_checked():
    from ledger.txkinds_risk import RegisterMarket
    from settlement.risk.markets import default_params

    h = Harness(names=("alice",))
    oracles = tuple(h.addr(o) for o in h.oracles)
    for bad in ({"oracle_twap_window_ms": 0}, {"oracle_max_move_ppm": 0}, {"oracle_max_move_ppm": 10_000_001}):
        r = only_nonce_changed(h, "admin", RegisterMarket(M, "BTC", "USD", default_params(**bad), oracles))
        assert r.error == "invalid_parameter" and next(iter(bad)) in r.reason
