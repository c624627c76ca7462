"""Worked examples with hand-computed numbers: margin, liquidation price, partial liquidation
and penalty, insurance-fund payment, ADL, dynamic margin (docs/risk-engine.md; the funding example is in
``test_funding.py``).

Dynamic margin is switched off (``margin_cap_ppm = 1_000_000``) except in its own example, so
the fractions are the base 5 % / 3 %.  Prices are quote base units per lot.
"""
from __future__ import annotations

from settlement.risk import queries as rq
from settlement.risk.margin import evaluate
from settlement.risk.records import FUND

from .harness import USD, Harness

M = "BTC-PERP"


def setup(fund: int = 0, **params) -> Harness:
    h = Harness(names=("alice", "bob", "carol", "dave", "erin"))
    params.setdefault("margin_cap_ppm", 1_000_000)
    assert h.register_market(M, **params).ok
    h.prices(M, 100_000)
    for n in ("alice", "bob", "carol", "dave", "erin"):
        assert h.deposit(n, 1_000_000).ok
    if fund:
        assert h.fund(fund).ok
    return h


def margin(h: Harness, name: str) -> dict:
    return rq.margin_info(h.view, h.addr(name))["accounts"][0]


def test_margin_of_a_10x_long():
    h = setup()
    assert h.trade("bob", "alice", "buy", 100, 100_000).ok  # alice long 100 lots, bob short 100
    a = margin(h, "alice")
    # notional 100 x 100,000 = 10,000,000; IMR = 5 % = 500,000; MMR = 3 % = 300,000
    assert (a["cash"], a["collateral"], a["equity"]) == (-9_000_000, 1_000_000, 1_000_000)
    assert (a["imr"], a["mmr"], a["free_collateral"], a["liquidation_distance"]) == (500_000, 300_000, 500_000, 700_000)
    assert a["margin_ratio_ppm"] == 3_333_333
    # liquidation price: 100,000 - floor(700,000 x 10^6 / (100 x 970,000)) = 100,000 - 7,216 = 92,784
    assert a["positions"][0]["liquidation_price"] == 92_784
    b = margin(h, "bob")
    # short: 100,000 + floor(700,000 x 10^6 / (100 x 1,030,000)) = 100,000 + 6,796 = 106,796
    assert b["positions"][0]["liquidation_price"] == 106_796


def test_liquidation_starts_exactly_at_the_liquidation_price():
    h = setup(fund=10_000_000)
    h.trade("bob", "alice", "buy", 100, 100_000)
    h.prices(M, 92_784)  # equity 278,400 >= MMR ceil(278,352) = 278,352: safe
    assert h.block_events("liquidation") == []
    h.prices(M, 92_783)  # equity 278,300 < MMR 278,349: breached
    [liq] = h.block_events("liquidation")
    assert liq.attrs["account"] == h.addr("alice")
    assert (liq.attrs["equity_before"], liq.attrs["mmr_before"]) == (278_300, 278_349)


def test_partial_liquidation_buffer_and_penalty():
    h = setup(fund=10_000_000)
    h.trade("bob", "alice", "buy", 100, 100_000)
    h.prices(M, 92_000)
    # E = -9,000,000 + 9,200,000 = 200,000; M = 276,000; N = 9,200,000
    # phi = (276,000e6 + 20,000 x 276,000 - 200,000e6) / (276,000e6 - 15,000 x 9,200,000) = 81.52e9 / 138e9
    # lots = ceil(100 x 0.5907...) = 60; penalty = ceil(60 x 92,000 x 1.5 %) = 82,800
    [liq] = h.block_events("liquidation")
    assert liq.attrs["step"] == "partial"
    assert liq.attrs["closes"] == [{"market": M, "lots": -60, "price": 92_000}]
    assert liq.attrs["penalty"] == 82_800
    # after: 40 lots, cash -9,000,000 + 5,520,000 - 82,800 = -3,562,800; equity 117,200; MMR 110,400
    assert (liq.attrs["equity_after"], liq.attrs["mmr_after"]) == (117_200, 110_400)
    assert 117_200 >= 110_400 + 20_000 * 276_000 // 1_000_000  # at least MMR + buffer
    s = h.session()
    assert s.pos(h.addr("alice"), M).size == 40
    assert s.pos(FUND, M).size == 60  # the fund took the closed lots at the oracle price
    assert s.macc(FUND, USD).cash == 10_000_000 - 5_520_000 + 82_800


def test_no_premium_no_funding():
    h = setup(funding_interval_ms=5_000, funding_cap_ppm=10_000)
    # clock starts at t=2000 (first price); deposits at t=3000..7000 sample a premium of 0;
    # at t=7000 the interval has passed: funding with rate 0
    s = h.session().mstate(M)
    assert s.last_funding_ms == 7_000 and s.findex == 0 and s.last_rate_ppm == 0


def gap_setup(fund: int) -> Harness:
    h = setup(fund=fund)
    h.trade("bob", "alice", "buy", 100, 100_000)  # alice long 100 (10x), bob short 100
    h.trade("dave", "carol", "buy", 50, 100_000)  # carol long 50, dave short 50
    h.prices(M, 89_000)  # a gap: alice's equity -9,000,000 + 8,900,000 = -100,000
    return h


def test_insurance_fund_pays_bad_debt():
    h = gap_setup(fund=1_000_000)
    liq = h.block_events("liquidation")
    assert [e.attrs["step"] for e in liq] == ["bankrupt"]
    [pay] = h.block_events("insurance_payment")
    assert pay.attrs["amount"] == 100_000
    s = h.session()
    # the fund bought 100 lots at 89,000 and paid 100,000: cash 1,000,000 - 8,900,000 - 100,000
    assert s.macc(FUND, USD).cash == -8_000_000 and s.pos(FUND, M).size == 100
    assert evaluate(s, FUND, USD).equity == 900_000
    assert s.macc(h.addr("alice"), USD).cash == 0 and not s.macc(h.addr("alice"), USD).markets
    assert h.block_events("adl") == []


def test_adl_ranked_by_profit_times_leverage_at_the_bankruptcy_price():
    h = gap_setup(fund=0)
    [liq] = h.block_events("liquidation")
    assert liq.attrs["step"] == "deleverage"
    # bob: profit 1,100,000, notional 8,900,000, equity 2,100,000 -> score 4.66e12
    # dave: profit 550,000, notional 4,450,000, equity 1,550,000 -> score 1.58e12: bob first
    [adl] = h.block_events("adl")
    assert adl.attrs["counterparty"] == h.addr("bob") and adl.attrs["lots"] == 100 and adl.attrs["paid"] == 100_000
    # bankruptcy price 89,000 + 100,000 / 100 = 90,000: bob closes his short at 90,000
    s = h.session()
    assert s.macc(h.addr("bob"), USD).cash == 1_000_000 + 10_000_000 - 9_000_000
    assert s.pos(h.addr("bob"), M).size == 0 and s.pos(h.addr("dave"), M).size == -50
    assert s.macc(h.addr("alice"), USD).cash == 0
    # erin never traded: a flat account pays nothing
    assert s.macc(h.addr("erin"), USD).cash == 1_000_000


def test_most_under_collateralised_first():
    h = setup(fund=100_000_000)
    h.trade("bob", "carol", "buy", 90, 100_000)  # carol long 90 (9x)
    h.trade("dave", "alice", "buy", 100, 100_000)  # alice long 100 (10x)
    h.prices(M, 91_500)
    # alice: E = -9,000,000 + 9,150,000 = 150,000, MMR 274,500 -> ratio 0.546
    # carol: E = -8,000,000 + 8,235,000 = 235,000, MMR 247,050 -> ratio 0.951
    order = [(e.attrs["account"], e.attrs["equity_before"]) for e in h.block_events("liquidation")]
    assert order == [(h.addr("alice"), 150_000), (h.addr("carol"), 235_000)]


def test_ties_go_by_address():
    h = setup(fund=100_000_000)
    h.trade("bob", "carol", "buy", 100, 100_000)
    h.trade("dave", "alice", "buy", 100, 100_000)
    h.prices(M, 91_500)
    order = [e.attrs["account"] for e in h.block_events("liquidation")]
    assert order == sorted([h.addr("alice"), h.addr("carol")])


def test_dynamic_margin_formula():
    h = Harness(names=("alice",))
    h.register_market(M)  # default: alpha 60,000, ref 5,000, k 20, cap 3x
    h.prices(M, 100_000)
    h.prices(M, 95_000)
    m = rq.market_info(h.view, M)
    # r = -50,000 ppm; var = 60,000 x 2.5e9 / 1e6 = 150,000,000; sigma = isqrt = 12,247
    # scale = 1e6 + 20 x (12,247 - 5,000) = 1,144,940; imf = ceil(50,000 x 1.14494) = 57,247;
    # mmf = ceil(30,000 x 1.14494) = ceil(34,348.2) = 34,349
    assert (m["volatility_ppm"], m["margin_scale_ppm"], m["imf_ppm"], m["mmf_ppm"]) == (12_247, 1_144_940, 57_247, 34_349)
    h.prices(M, 95_000)  # a calm update decays the variance: var = 1.5e8 - 0.06 x 1.5e8 = 141,000,000
    m = rq.market_info(h.view, M)
    assert m["volatility_ppm"] == 11_874 and m["margin_scale_ppm"] == 1_000_000 + 20 * (11_874 - 5_000)
