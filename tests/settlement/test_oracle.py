"""Oracle reports: roles, deviation bound, per-block median of fresh reports from a quorum, staleness."""
from __future__ import annotations

from ledger.txkinds_risk import PriceReport, SetOracles
from settlement import risk_queries as rq
from settlement.oracle import median_price, quorum

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


def test_report_deviation_bound():
    h = Harness(names=("alice",))
    h.register_market(M)
    h.prices(M, 100_000)
    r = only_nonce_changed(h, "oracle0", PriceReport(M, 150_001))
    assert r.error == "price_deviation" and "500000 ppm" in r.reason
    assert only_nonce_changed(h, "oracle0", PriceReport(M, 49_999)).error == "price_deviation"
    assert h.run("oracle0", PriceReport(M, 150_000)).ok


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


def test_deviation_bound_is_lifted_while_stale_so_the_market_can_recover():
    h = Harness(names=("alice",))
    h.register_market(M, oracle_fresh_ms=10_000)
    h.prices(M, 100_000)
    h.block(dt_ms=11_000)
    assert price_of(h) == (100_000, True)
    h.prices(M, 30_000)  # -70 %: accepted because the market is stale
    assert price_of(h) == (30_000, False)
    assert only_nonce_changed(h, "oracle0", PriceReport(M, 100_000)).error == "price_deviation"
