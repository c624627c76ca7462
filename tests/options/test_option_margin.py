"""Standard margin of options inside cross margin, the option bands and liquidation: the worked examples of docs/options.md."""
from __future__ import annotations

import pytest

from settlement.risk.margin import evaluate
from settlement.risk.optrecords import PUT, Series, SState
from settlement.risk.options import optindex
from settlement.risk.options.optmargin import position_terms
from settlement.risk.records import FUND

from .trade_harness import OptHarness, oparams

EXPIRY = 10**10


@pytest.fixture
def h():
    h = OptHarness(names=("alice", "bob", "carol", "dave"))
    h.register_market()
    h.prices("BTC-PERP", 100_000)
    h.enable_options()
    for n in ("alice", "bob", "carol"):
        h.deposit(n, 200_000)
    return h


def figures(h, name):
    ev = evaluate(h.session(), h.addr(name), "USD")
    return ev.equity, ev.imr, ev.mmr


def short(h, kind, strike, mark6, n, price, maker="alice"):
    sid = h.list_series(kind, strike, EXPIRY)
    h.set_mark(sid, mark6)
    r = h.option_trade("bob", maker, sid, "sell", n, price)
    assert r.ok, r.reason
    return sid


def test_short_call_out_of_the_money_and_the_long(h):
    short(h, "call", 110_000, 2_000_500_000, 10, 2_000)
    # OTM 10,000: max(0.15 x 100,000 - 10,000, 0.10 x 100,000) = 10,000 per contract; liability ceil(20,005.0) = 20,005
    assert figures(h, "alice") == (199_995, 120_005, 95_005)
    # the long: equity 200,000 - 20,000 + floor(20,005.0), no requirement
    assert figures(h, "bob") == (200_005, 0, 0)


def test_short_call_in_the_money(h):
    short(h, "call", 90_000, 12_345_678_901, 2, 12_345)
    # OTM 0: 0.15 x 100,000 = 15,000 per contract; liability ceil(24,691.357802) = 24,692
    assert figures(h, "alice") == (224_690 - 24_692, 30_000 + 24_692, 15_000 + 24_692)


def test_short_put(h):
    short(h, "put", 95_000, 1_500_000_000, 4, 1_500)
    # OTM 5,000: max(15,000 - 5,000, 10,000) = 10,000; MM max(7,500, 0.075 x 1,500) = 7,500 per contract
    assert figures(h, "alice") == (200_000, 46_000, 36_000)


def test_deep_in_the_money_put_needs_its_maintenance_margin():
    s = Series("x", "BTC-PERP", PUT, 350_000, EXPIRY, 1, "USD")
    ss = SState.fresh()
    ss.mark6 = 250_000 * 10**6
    # MM = max(0.075 x 100,000, 0.075 x 250,000) + 250,000 = 268,750 > IM 15,000 + 250,000: IM = MM
    assert position_terms(s, ss, oparams(), -1, 100_000)[:3] == (-250_000, 268_750, 268_750)


def test_mixed_with_a_perpetual(h):
    short(h, "call", 110_000, 2_000_500_000, 10, 2_000)
    assert h.trade("carol", "alice", "buy", 10, 100_000).ok  # alice long 10 BTC-PERP (large: 5 % / 3 %)
    assert figures(h, "alice") == (199_995, 120_005 + 50_000, 95_005 + 30_000)


def test_band_and_liquidation_into_the_fund(h):
    sid = short(h, "call", 110_000, 2_000_500_000, 10, 2_000)
    rows, t_until = optindex._record(h.session(), h.addr("alice"), "USD")
    (u, lo, hi), = rows
    assert (u, lo, hi, t_until) == ("BTC-PERP", 97_257, 102_743, h.time_ms + 60_000)
    # the price stays in the band: nobody is looked at
    h.set_mark(sid, 2_000_500_000)
    h.prices("BTC-PERP", 101_000)
    assert not h.block_events("liquidation")
    # S 119,000 and the call's mark 15,000: equity 220,000 - 150,000 = 70,000 < MMR 89,250 + 150,000
    h.prices("BTC-PERP", 119_000)
    h.set_mark(sid, 15_000_000_000)
    h.block()
    (liq,) = h.block_events("liquidation")
    a = liq.attrs
    assert (a["step"], a["equity_before"], a["mmr_before"], a["penalty"], a["equity_after"]) == ("options", 70_000, 239_250, 11_900, 58_100)
    assert a["closes"] == [{"series": sid, "contracts": 10, "value": -150_000}]
    s = h.session()
    assert s.opos(FUND, sid).size == -10 and s.macc(FUND, "USD").cash == 161_900
    assert evaluate(s, FUND, "USD").equity == 11_900
    assert not s.macc(h.addr("alice"), "USD").series


def test_bankrupt_option_account_fund_pays(h):
    h.fund(1_000_000)
    sid = short(h, "call", 110_000, 2_000_500_000, 10, 2_000)
    h.prices("BTC-PERP", 119_000)
    h.set_mark(sid, 25_000_000_000)  # liability 250,000 > cash 220,000
    h.block()
    liq, bankrupt = h.block_events("liquidation")
    assert (liq.attrs["step"], liq.attrs["equity_before"], liq.attrs["penalty"], liq.attrs["equity_after"]) == ("options", -30_000, 0, -30_000)
    assert (bankrupt.attrs["step"], bankrupt.attrs["closes"], bankrupt.attrs["equity_after"]) == ("bankrupt", [], 0)
    assert [e.attrs["amount"] for e in h.block_events("insurance_payment")] == [30_000]
    s = h.session()
    assert s.macc(h.addr("alice"), "USD").cash == 0


def test_bankrupt_option_account_without_fund_socializes_over_the_underlying(h):
    sid = short(h, "call", 110_000, 2_000_500_000, 10, 2_000)
    assert h.trade("carol", "bob", "buy", 5, 100_000).ok  # bob long 5 BTC-PERP, carol short 5: 10 lots held
    h.prices("BTC-PERP", 119_000)
    h.set_mark(sid, 25_000_000_000)
    h.block()
    kinds = [(e.kind, e.attrs.get("step")) for e in h.block_events() if e.kind not in ("oracle_price", "option_mark_state")]
    assert kinds[:3] == [("liquidation", "options"), ("liquidation", "deleverage"), ("social_loss", None)]
    loss = h.block_events("social_loss")[0].attrs
    assert (loss["amount"], loss["lots"], loss["market"]) == (30_000, 10, "BTC-PERP")
    s = h.session()
    assert s.macc(h.addr("alice"), "USD").cash == 0
    assert evaluate(s, FUND, "USD").equity == 0  # it holds the 10 calls at mark, paid for them exactly


def test_fund_option_loss_with_nobody_on_the_underlying_stays_with_the_fund():
    """Regression: the fund's option debt left after option ADL, with no perpetual holder to charge, was paid to it from nowhere."""
    from ledger.txkinds_options import RegisterOptionSeries
    from settlement.audit import conservation

    from .series_harness import BTC, OptHarness as SeriesHarness

    h = SeriesHarness(price=10_000, vol_fresh_ms=86_400_000)
    h.block(*h.vol_txs([(h.time_ms + 10**11, 10_000, 800_000)]))
    r = h.run("admin", RegisterOptionSeries(BTC, "call", 8_001, h.time_ms + 2_001, 1))
    sid = r.events[0].attrs["series"]
    h.open("alice", "bob", sid, 1, 0)  # positions without collateral: alice is bankrupt at the next sweep
    h.open("carol", "alice", sid, 1, 1)
    assert h.run("admin", RegisterOptionSeries(BTC, "call", 8_000, h.time_ms + 1_001, 1)).ok  # a new series: holders re-checked
    assert [e.attrs["from"] for e in h.block_events("adl_uncovered")][-1] == FUND
    assert all(row["ok"] for row in conservation(h.view.data.items()).values())


def test_new_option_params_recheck_every_holder(h):
    """Raising the MM fraction breaches alice at an unchanged price and vol: the sweep must look (no band fired)."""
    sid = short(h, "call", 110_000, 2_000_500_000, 10, 2_000)
    h.set_mark(sid, 2_000_500_000)
    h.block()
    h.enable_options(mm_ppm=250_000)  # MMR 10 x 25,000 + 20,005 = 270,005 > equity 199,995
    h.set_mark(sid, 2_000_500_000)
    h.block()
    (liq,) = h.block_events("liquidation")
    assert (liq.attrs["step"], liq.attrs["equity_before"], liq.attrs["mmr_before"]) == ("options", 199_995, 270_005)
