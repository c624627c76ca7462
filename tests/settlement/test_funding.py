"""Funding: per-block premium samples from the block's fills (impact-notional floor), their time-weighted
mean, the interest component and the cap (docs/risk-engine.md, Funding).

Dynamic margin is off (``margin_cap_ppm = 1_000_000``); the harness advances block time by 1 s.
"""
from __future__ import annotations

from ledger.txkinds_risk import Trade
from settlement.risk import queries as rq
from settlement.risk.funding import premium_sample

from .harness import USD, Harness

M = "BTC-PERP"


def margin(h: Harness, name: str) -> dict:
    return rq.margin_info(h.view, h.addr(name))["accounts"][0]


def funded(deposit: int = 1_000_000, **params) -> Harness:
    """Market registered at t=1000, first price 100,000 at t=2000 (the funding clock starts), alice and
    bob deposit at t=3000 and t=4000 (blocks without fills: samples 0)."""
    h = Harness(names=("alice", "bob"))
    params = {"margin_cap_ppm": 1_000_000, "funding_interval_ms": 5_000, "funding_cap_ppm": 10_000, **params}
    assert h.register_market(M, **params).ok
    h.prices(M, 100_000)
    assert h.deposit("alice", deposit).ok
    assert h.deposit("bob", deposit).ok
    return h


def rate_after(h: Harness, *trade) -> int:
    """Trade at t=5000, two empty blocks, funding at t=7000: the interval's rate."""
    assert h.trade("bob", "alice", "buy", *trade).ok
    h.block()
    assert h.block_events("funding") == []
    h.block()
    [ev] = h.block_events("funding")
    return ev.attrs["rate_ppm"]


def test_premium_sample_formula():
    # no fill: 0; volume at least the impact notional: the VWAP premium; less: diluted by the impact notional
    assert premium_sample(0, 0, 100_000, 20_000_000) == 0
    assert premium_sample(300, 300 * 101_000, 100_000, 20_000_000) == 10_000
    assert premium_sample(100, 100 * 101_000, 100_000, 20_000_000) == 5_000
    # 1 lot at 110,000 and 299 at 100,000 in one block: (30,010,000 - 30,000,000) x 1e6 / 30,000,000 = 333.3
    assert premium_sample(300, 110_000 + 299 * 100_000, 100_000, 20_000_000) == 333
    # truncated towards zero on both sides; clamped to +-100 %
    assert premium_sample(300, 300 * 100_000 - 10_000, 100_000, 1) == -333
    assert premium_sample(1, 300_000, 100_000, 1) == 1_000_000


def test_funding_worked_example():
    h = funded(funding_impact_notional=20_000_000, funding_interest_ppm=57_600)
    # t=5000: 100 lots at 101,000: N - V = 100,000 over max(V = 10,000,000, I = 20,000,000): 5,000 ppm x 1000 ms
    # t=6000, t=7000: no fills, samples 0 (a trade counts in its own block only)
    rate = rate_after(h, 100, 101_000)
    # premium = 5,000,000 / 5,000 = 1,000; interest = 57,600 x 5,000 / 28,800,000 = 10
    assert rate == 1_010
    [ev] = h.block_events("funding")
    assert (ev.attrs["premium_ppm"], ev.attrs["interest_ppm"]) == (1_000, 10)
    # F = 1,010 x 100,000 = 101,000,000; the long of 100 lots owes 100 x 1.01e8 / 1e6 = 10,100
    a, b = margin(h, "alice"), margin(h, "bob")
    assert a["positions"][0]["unsettled_funding"] == -10_100
    assert b["positions"][0]["unsettled_funding"] == 10_100
    # alice: cash 1,000,000 - 10,100,000; equity = -9,100,000 + 10,000,000 - 10,100
    assert a["equity"] == 889_900 and b["equity"] == 1_000_000 + 100_000 + 10_100
    h.deposit("alice", 1)  # touching the account settles its funding into the pool
    assert h.session().macc(h.addr("alice"), USD).cash == 1_000_000 - 10_100_000 - 10_100 + 1
    assert margin(h, "alice")["positions"][0]["unsettled_funding"] == 0


def test_volume_above_the_impact_notional_counts_in_full():
    h = funded(deposit=10**7, funding_impact_notional=20_000_000, funding_interest_ppm=57_600)
    # 300 lots: V = 30,000,000 >= I: the sample is the 1 % premium, 10,000 ppm: premium 2,000 + interest 10
    assert rate_after(h, 300, 101_000) == 2_010


def test_funding_rate_is_capped():
    h = funded(funding_impact_notional=20_000_000, funding_interest_ppm=57_600, funding_cap_ppm=1_000)
    assert rate_after(h, 100, 101_000) == 1_000  # 1,010 capped at 1,000
    assert margin(h, "alice")["positions"][0]["unsettled_funding"] == -10_000


def test_one_lot_at_the_band_edge_cannot_move_funding():
    # default impact notional of the large tier: 500 USD / 5 % = 10,000 USD = 1e10 base units
    h = funded()
    assert h.session().market(M).params.funding_impact_notional == 10**10
    # 1 lot at 110,000 (+10 %, the edge of the trade band): 10,000 x 1e6 / 1e10 = 1 ppm for one block;
    # premium floor(1,000 / 5,000) = 0, interest floor(100 x 5,000 / 28,800,000) = 0.
    # (The last-trade-price rule made this 10 % for 3 of 5 s: 60,000 ppm, capped at 10,000.)
    assert rate_after(h, 1, 110_000) == 0


def test_a_large_trade_moves_funding():
    h = funded(deposit=10**9)
    # 100,000 lots at 101,000: V = 1e10 = I, sample 1e8 x 1e6 / 1e10 = 10,000 ppm for 1 of 5 s
    assert rate_after(h, 100_000, 101_000) == 2_000


def test_fills_of_one_block_are_volume_weighted():
    h = funded(deposit=10**7, funding_impact_notional=20_000_000)
    o1, o2 = h.order("alice", "buy", 1, 110_000), h.order("alice", "buy", 299, 100_000)
    r = h.block(h.tx("bob", Trade(o1, 1)), h.tx("bob", Trade(o2, 299)))
    assert all(x.ok for x in r)
    h.block()
    h.block()
    [ev] = h.block_events("funding")
    # sample 333 ppm (test_premium_sample_formula) for 1,000 of 5,000 ms: 66; interest 0
    assert (ev.attrs["premium_ppm"], ev.attrs["rate_ppm"]) == (66, 66)
    assert h.session().mstate(M).blk_size == 0


def test_funding_parameters_are_checked():
    from ledger.txkinds_risk import RegisterMarket
    from settlement.risk.markets import default_params

    from .harness import only_nonce_changed

    h = Harness(names=("alice",))
    oracles = tuple(h.addr(o) for o in h.oracles)
    assert default_params("mid").funding_impact_notional == 5 * 10**9  # 500 USD / 10 %
    for bad in ({"funding_impact_notional": 0}, {"funding_interest_ppm": 1_000_001}):
        r = only_nonce_changed(h, "admin", RegisterMarket(M, "BTC", "USD", default_params(**bad), oracles))
        assert r.error == "invalid_parameter" and next(iter(bad)) in r.reason
