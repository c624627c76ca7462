"""The default waterfall with hand-computed numbers (docs/risk-engine.md, "Default waterfall"):
partial insurance payment, ADL of the rest, socialized loss, the fund's inventory rule, ADL ranking.

Dynamic margin is off (``margin_cap_ppm = 1_000_000``): fractions are the base 5 % / 3 %.
"""
from __future__ import annotations

from ledger.txkinds_risk import MarginDeposit, PriceReport

from settlement.risk import queries as rq
from settlement.risk.margin import evaluate
from settlement.risk.records import FUND

from .harness import USD, Harness

BTC, ETH = "BTC-PERP", "ETH-PERP"
NAMES = ("alice", "bob", "carol", "dave", "erin")


def setup(fund: int = 0, markets=(BTC,), deposits=None) -> Harness:
    h = Harness(names=NAMES)
    for m in markets:
        assert h.register_market(m, margin_cap_ppm=1_000_000).ok
    h.block(*[h.tx(o, PriceReport(m, 100_000)) for o in h.oracles for m in markets])
    deposits = deposits or {}
    h.block(*[h.tx(n, MarginDeposit(USD, deposits.get(n, 1_000_000))) for n in NAMES])
    if fund:
        assert h.fund(fund).ok
    return h


def prices(h: Harness, **by_market) -> None:
    h.block(*[h.tx(o, PriceReport(m.replace("_", "-"), p)) for o in h.oracles for m, p in by_market.items()])


def cash(h: Harness, name) -> int:
    addr = FUND if name is FUND else h.addr(name)
    return h.session().macc(addr, USD).cash


# --------------------------------------------------------------------------- the fund pays what it can


def test_fund_pays_what_it_can_and_adl_takes_the_rest():
    h = setup(fund=99_999)
    assert h.trade("bob", "alice", "buy", 100, 100_000).ok  # alice long 100 (10x), bob short 100
    h.prices(BTC, 89_000)  # alice: E = -9,000,000 + 8,900,000 = -100,000 -> D = 100,000
    [pay] = h.block_events("insurance_payment")
    assert pay.attrs["amount"] == 99_999 and pay.attrs["fund_cash"] == 0
    [adl] = h.block_events("adl")  # the remaining 1 at the bankruptcy price 89,000 + 1/100
    assert (adl.attrs["counterparty"], adl.attrs["lots"], adl.attrs["paid"]) == (h.addr("bob"), 100, 1)
    assert cash(h, "alice") == 0 and not h.session().macc(h.addr("alice"), USD).markets
    assert cash(h, FUND) == 0 and h.session().pos(FUND, BTC).size == 0
    # bob: 1,000,000 + 10,000,000 (short) - 8,900,000 (buy back) - 1
    assert cash(h, "bob") == 2_099_999
    assert h.block_events("social_loss") == []


def cross_setup() -> Harness:
    """alice long 100 BTC and 50 ETH (cross margin); bob short 100 BTC; carol short 50 ETH;
    dave short 30 ETH to erin (long 30 ETH). Everything at 100,000."""
    h = setup(markets=(BTC, ETH))
    assert h.trade("bob", "alice", "buy", 100, 100_000, market=BTC).ok
    assert h.trade("carol", "alice", "buy", 50, 100_000, market=ETH).ok
    assert h.trade("dave", "erin", "buy", 30, 100_000, market=ETH).ok
    return h


def test_socialized_remainder_when_no_adl_counterparty_exists():
    h = cross_setup()
    prices(h, BTC_PERP=84_000, ETH_PERP=110_000)
    # alice: 1,000,000 - 1,600,000 + 500,000 = -100,000 -> D = 100,000; empty fund.
    # split by notional: BTC 8,400,000, ETH 5,500,000 of 13,900,000 ->
    # D_BTC = floor(100,000 x 8.4e6 / 13.9e6) = 60,431; D_ETH = 39,569
    adl = h.block_events("adl")
    assert [(e.attrs["market"], e.attrs["counterparty"], e.attrs["lots"], e.attrs["paid"]) for e in adl] == [
        (BTC, h.addr("bob"), 100, 60_431)]
    # ETH: carol and dave are short at a loss -> no counterparty: the fund takes the 50 lots at the oracle
    # price and 39,569 is socialized over the other holders: carol 50 + dave 30 + erin 30 = 110 lots
    [sl] = h.block_events("social_loss")
    assert sl.attrs["market"] == ETH and sl.attrs["amount"] == 39_569 and sl.attrs["lots"] == 110
    assert sl.attrs["per_lot"] == 359_718_182  # ceil(39,569e6 / 110), x 10^6
    s = h.session()
    assert s.pos(FUND, ETH).size == 50 and cash(h, FUND) == -5_500_000
    assert evaluate(s, FUND, USD).equity == 0
    assert cash(h, "alice") == 0 and not s.macc(h.addr("alice"), USD).markets
    # holders owe ceil(|s| x 359,718,182 / 10^6): carol 17,986, dave 10,792, erin 10,792 (39,570: 1 of dust)
    owed = {n: -rq.margin_info(h.view, h.addr(n))["accounts"][0]["positions"][0]["unsettled_social_loss"]
            for n in ("carol", "dave", "erin")}
    assert owed == {"carol": 17_986, "dave": 10_792, "erin": 10_792}
    assert margin_equity(h, "carol") == 1_000_000 - 500_000 - 17_986
    pool_before = pool(h)
    assert pool_before == -39_569  # alice was paid out of the pool; the holders owe it
    for n in ("carol", "dave", "erin"):
        assert h.deposit(n, 1).ok  # touching the account settles it into the pool
    assert pool(h) == pool_before + 39_570 == 1
    assert cash(h, "carol") == 1_000_000 + 5_000_000 - 17_986 + 1
    assert rq.market_info(h.view, ETH)["socialized_loss"] == 39_569
    [fund] = rq.insurance_fund(h.view)
    assert (fund["cash"], fund["equity"], fund["available"], fund["socialized_loss"], fund["uncovered_bad_debt"]) == (
        -5_500_000, 0, 0, 39_569, 0)


def margin_equity(h: Harness, name: str) -> int:
    return rq.margin_info(h.view, h.addr(name))["accounts"][0]["equity"]


def pool(h: Harness) -> int:
    from settlement.risk.records import pool_key, unpack_int
    from ledger.codec import decode

    raw = h.view.get(pool_key(USD))
    return 0 if raw is None else unpack_int(decode(raw))


# --------------------------------------------------------------------------- no ADL without bad debt


def test_no_adl_after_partial_liquidations_with_an_empty_fund():
    h = setup(fund=0)
    assert h.trade("bob", "alice", "buy", 100, 100_000).ok
    h.prices(BTC, 92_000)  # the partial liquidation of the worked example: the fund takes 60 lots
    [liq] = h.block_events("liquidation")
    assert liq.attrs["step"] == "partial" and liq.attrs["penalty"] == 82_800
    assert h.block_events("adl") == [] and h.block_events("fund_deleverage") == []
    s = h.session()
    ev = evaluate(s, FUND, USD)
    # fund: 60 lots, cash -5,520,000 + 82,800; equity 82,800 < MMR 165,600: it keeps the inventory
    assert s.pos(FUND, BTC).size == 60 and ev.equity == 82_800 and ev.mmr == 165_600
    assert s.pos(h.addr("bob"), BTC).size == -100


def test_fund_deleverages_at_its_bankruptcy_price_only_when_its_equity_is_negative():
    h = setup(fund=0)
    assert h.trade("bob", "alice", "buy", 100, 100_000).ok
    h.prices(BTC, 92_000)  # fund: 60 lots, equity 82,800
    assert h.deposit("alice", 1_000_000).ok  # alice (40 lots left) is safe from here on
    h.prices(BTC, 90_700)  # fund equity 82,800 - 60 x 1,300 = 4,800 >= 0: no ADL
    assert h.block_events("adl") == [] and h.block_events("fund_deleverage") == []
    h.prices(BTC, 90_500)  # fund equity 82,800 - 60 x 1,500 = -7,200 < 0
    [fd] = h.block_events("fund_deleverage")
    assert fd.attrs["equity"] == -7_200
    adl = [e for e in h.block_events("adl") if e.attrs["from"] == FUND]
    # bob is the only short: he takes the fund's 60 lots at its bankruptcy price 90,500 + 7,200 / 60 = 90,620
    assert [(e.attrs["counterparty"], e.attrs["lots"], e.attrs["paid"]) for e in adl] == [(h.addr("bob"), 60, 7_200)]
    s = h.session()
    assert s.pos(FUND, BTC).size == 0 and evaluate(s, FUND, USD).equity == 0 and cash(h, FUND) == 0


# --------------------------------------------------------------------------- ADL ranking


def test_adl_ranks_by_pnl_percent_times_leverage_not_size():
    h = setup(deposits={"bob": 5_000_000, "dave": 100_000})
    assert h.trade("bob", "alice", "buy", 90, 100_000).ok  # bob short 90, low leverage
    assert h.trade("dave", "alice", "buy", 10, 100_000).ok  # dave short 10, high leverage
    h.prices(BTC, 89_000)  # alice (long 100, 1,000,000): D = 100,000; empty fund
    # both are 11 % in profit (1,100 / 10,000 per lot); leverage = notional / equity:
    # bob 8,010,000 / 5,990,000 = 1.34x, dave 890,000 / 210,000 = 4.24x -> dave first
    # (by profit x leverage bob would go first: 990,000 x 1.34 > 110,000 x 4.24)
    adl = h.block_events("adl")
    assert [(e.attrs["counterparty"], e.attrs["lots"], e.attrs["paid"]) for e in adl] == [
        (h.addr("dave"), 10, 10_000), (h.addr("bob"), 90, 90_000)]
    # score = floor(upnl x notional x 10^18 / (|open notional| x 10^6 x equity)) = PnL % x leverage x 10^12
    # dave: 110,000 x 890,000 x 10^18 / (1,000,000 x 210,000e6); bob: 990,000 x 8,010,000 x 10^18 / (9,000,000 x 5,990,000e6)
    assert [e.attrs["score"] for e in adl] == [466_190_476_190, 147_095_158_597]
    q = rq.adl_queue(h.view, BTC, "short")
    assert q == []  # both flat now


def test_two_pair_gap_example_scores():
    h = setup()
    assert h.trade("bob", "alice", "buy", 100, 100_000).ok
    assert h.trade("dave", "carol", "buy", 50, 100_000).ok
    # before the gap nobody is in profit: the queue of shorts is empty
    assert rq.adl_queue(h.view, BTC, "short") == []
    h.prices(BTC, 89_000)
    [adl] = h.block_events("adl")
    assert (adl.attrs["counterparty"], adl.attrs["score"], adl.attrs["paid"]) == (h.addr("bob"), 466_190_476_190, 100_000)
    # dave: 550,000 x 4,450,000 x 10^18 / (5,000,000 x 1,550,000e6)
    assert rq.adl_queue(h.view, BTC, "short") == [
        {"account": rq.format_address(h.addr("dave")), "size": -50, "score": 315_806_451_612}]
