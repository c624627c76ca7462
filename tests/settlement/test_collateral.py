"""Multi-asset collateral: listing, value (haircut, cap), deposits and withdrawals, the sale to the fund (only what
covers the MMR), the holders' pages and price bands, and the shock of a portfolio account's collateral.

The worked examples are docs/risk-engine.md, "Multi-asset collateral": EUR backs USD-settled
BTC-PERP positions through the EUR-PERP price market (1,000 EUR base units per lot).
"""
from __future__ import annotations

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from ledger.txkinds_pm import SetCollateral
from ledger.txkinds_risk import InsuranceDeposit, MarginDeposit, MarginWithdraw, PriceReport, RegisterMarket
from settlement.audit import conservation
from settlement.risk import collateral, collateral_bands
from settlement.risk.collateral import default_collateral_params
from settlement.risk.margin import evaluate
from settlement.risk.markets import default_params
from settlement.risk.records import FUND

from .harness import Harness, refused

PERP, EURM, LOT = "BTC-PERP", "EUR-PERP", 1_000


def chain(haircut=50_000, cap=1_000_000, discount=25_000, fund=2_000_000) -> Harness:
    """BTC-PERP at 10,000 and EUR-PERP at 1,100 (1.10 USD per EUR); EUR listed as USD collateral; alice holds
    80,000 EUR and 5,000 USD of margin, dave 300,000 USD."""
    h = Harness(names=("alice", "bob", "dave"))
    oracles = tuple(h.addr(o) for o in h.oracles)
    params = default_params("mid", funding_interval_ms=5_000, funding_cap_ppm=5_000, margin_cap_ppm=1_000_000)
    eur_params = default_params("mid", lot_size=LOT, margin_cap_ppm=1_000_000, oracle_deviation_ppm=950_000)
    h.block(h.tx("admin", RegisterMarket(PERP, "BTC", "USD", params, oracles)),
            h.tx("admin", RegisterMarket(EURM, "EUR", "USD", eur_params, oracles)))
    h.block(*[h.tx(o, PriceReport(m, p)) for o in h.oracles for m, p in ((PERP, 10_000), (EURM, 1_100))])
    r = h.run("admin", SetCollateral("EUR", default_collateral_params("USD", EURM, haircut_ppm=haircut, cap_ppm=cap,
                                                                     liq_discount_ppm=discount)))
    assert r.ok, r.reason
    h.block(h.tx("alice", MarginDeposit("USD", 5_000)), h.tx("alice", MarginDeposit("EUR", 80_000)),
            h.tx("dave", MarginDeposit("USD", 300_000)), *([h.tx("issuer", InsuranceDeposit("USD", fund))] if fund else []))
    return h


def prices(h: Harness, btc: int, eur: int):
    return h.block(*[h.tx(o, PriceReport(m, p)) for o in h.oracles for m, p in ((PERP, btc), (EURM, eur))])


def equity(h: Harness, name: str) -> int:
    return evaluate(h.session(), h.addr(name), "USD").equity


def test_value_is_haircut_and_rounded_down():
    # v = floor(80,000 x 1,100 x (10^6 - 50,000) / (1,000 x 10^6)) = 83,600; equity = 5,000 + 83,600
    h = chain()
    assert collateral.extra_equity(h.session(), h.addr("alice"), "USD") == 83_600
    assert equity(h, "alice") == 88_600
    h = chain(haircut=333_333, discount=0)  # 80,000 x 1,100 x 666,667 / 10^9 = 58,666.696 -> 58,666
    assert equity(h, "alice") == 5_000 + 58_666


def test_shocked_values_fall_the_collateral_price():
    # EUR 30 % down: P = 770, v = floor(80,000 x 770 x 0.95 / 1,000) = 58,520; cap 60 % of 63,520 = 38,112
    h = chain()
    assert collateral.shocked_values(h.session(), h.addr("alice"), "USD", 0) == 83_600
    assert collateral.shocked_values(h.session(), h.addr("alice"), "USD", 300_000) == 58_520
    h = chain(cap=600_000)
    assert collateral.shocked_values(h.session(), h.addr("alice"), "USD", 300_000) == 38_112


def test_cap_bounds_the_share_of_total_collateral_value():
    # T = 5,000 + 83,600 = 88,600; cap 60 %: min(83,600, floor(600,000 x 88,600 / 10^6)) = 53,160
    h = chain(cap=600_000)
    assert equity(h, "alice") == 5_000 + 53_160


def test_collateral_backs_a_position_and_withdrawals_keep_imr():
    h = chain()
    r = h.trade("alice", "dave", "sell", 70, 10_000, market=PERP)  # alice buys 70 lots: IMR 70,000 (10 %)
    assert r.ok, r.reason
    # equity 88,600 - IMR 70,000 = 18,600 of room: 19,000 EUR (19,000 x 1.045 = 19,855 of value) is too much
    refused(h, "alice", MarginWithdraw("EUR", 19_000), "insufficient_margin", "initial margin requirement 70000")
    r = h.run("alice", MarginWithdraw("EUR", 17_000))  # leaves 63,000 EUR = 65,835: equity 70,835 >= 70,000
    assert r.ok, r.reason
    assert equity(h, "alice") == 70_835


def test_withdrawing_settlement_cash_counts_the_cap_it_lowers():
    # cap 20 %; alice sells 10 lots at 10,000: cash 105,000, T = 105,000 + 83,600 = 188,600, extra
    # floor(0.2 x 188,600) = 37,720, equity 105,000 - 100,000 + 37,720 = 42,720, IMR 10,000.
    # Withdrawing 30,000 USD lowers the cap too: 75,000 - 100,000 + floor(0.2 x 158,600) = 6,720 < 10,000
    h = chain(cap=200_000)
    assert h.trade("dave", "alice", "sell", 10, 10_000, market=PERP).ok
    assert equity(h, "alice") == 42_720
    refused(h, "alice", MarginWithdraw("USD", 30_000), "insufficient_margin", "initial margin requirement 10000")
    r = h.run("alice", MarginWithdraw("USD", 25_000))  # 80,000 - 100,000 + floor(0.2 x 163,600) = 12,720
    assert r.ok, r.reason
    assert equity(h, "alice") == 12_720


def test_without_collateral_the_same_trade_is_refused():
    h = chain()
    r = h.trade("bob", "dave", "sell", 70, 10_000, market=PERP)  # bob has no margin at all
    assert not r.ok and r.error == "insufficient_margin"


def test_collateral_fall_sells_it_to_the_fund_then_liquidates():
    """The worked example: alice is long 70 BTC-PERP at 10,000 with 5,000 USD and 80,000 EUR."""
    h = chain()
    assert h.trade("alice", "dave", "sell", 70, 10_000, market=PERP).ok
    seen = []
    for eur in (880, 704, 564, 452):  # -20 % a block: 71,880 / 58,504 / 47,864 / 39,352 >= MMR 35,000
        prices(h, 10_000, eur)
        seen.append(equity(h, "alice"))
        assert not h.block_events("collateral_sale")
    assert seen == [71_880, 58_504, 47_864, 39_352]
    prices(h, 10_000, 362)  # 5,000 + floor(80,000 x 362 x 0.95 / 1,000) = 32,512 < 35,000: breached
    sale, = h.block_events("collateral_sale")
    # the fund pays floor(80,000 x 362 x (10^6 - 25,000) / 10^9) = 28,236 USD for all 80,000 EUR
    assert (sale.attrs["amount"], sale.attrs["price"], sale.attrs["paid"], sale.attrs["left"]) == (80_000, 362, 28_236, 0)
    liq, = h.block_events("liquidation")  # then the perpetual waterfall on 5,000 + 28,236 = 33,236 < 35,000
    assert (liq.attrs["equity_before"], liq.attrs["step"], liq.attrs["closes"][0]["lots"]) == (33_236, "partial", -8)
    assert (liq.attrs["penalty"], liq.attrs["equity_after"], liq.attrs["mmr_after"]) == (1_200, 32_036, 31_000)
    s = h.session()
    assert s.macc(FUND, "EUR").cash == 80_000 and s.macc(h.addr("alice"), "EUR").cash == 0
    assert collateral.held(s, h.addr("alice"), "USD") == [] and collateral.holders(s, "EUR") == []
    for asset, row in conservation(h.view.data.items()).items():
        assert row["ok"], (asset, row)


def test_a_breach_sells_only_the_collateral_that_covers_the_mmr():
    """Cap 20 %: alice's 80,000 EUR count 16,720 USD, but sell for 85,800; a BTC fall breaches her.

    She buys 20 BTC-PERP at 10,000 (cash -195,000 USD, T = 83,600, extra floor(0.2 x 83,600) = 16,720). At 9,300:
    equity -195,000 + 186,000 + 16,720 = 7,720 < MMR 9,300; without its collateral the account has -9,000, so the
    sale must bring 9,300 + 9,000 = 18,300 USD: ceil(18,300 x 1,000 x 10^6 / (1,100 x 975,000)) = 17,063 EUR paid
    floor(17,063 x 1,072.5 / 1,000) = 18,300. The other 62,937 EUR stay with her and no position is closed.
    """
    h = chain(cap=200_000)
    assert h.trade("alice", "dave", "sell", 20, 10_000, market=PERP).ok
    assert equity(h, "alice") == 21_720
    prices(h, 9_300, 1_100)
    sale, = h.block_events("collateral_sale")
    assert (sale.attrs["amount"], sale.attrs["paid"], sale.attrs["left"]) == (17_063, 18_300, 62_937)
    assert not h.block_events("liquidation")
    s = h.session()
    a = h.addr("alice")
    assert s.macc(a, "USD").cash == -176_700 and s.macc(a, "EUR").cash == 62_937 and s.pos(a, PERP).size == 20
    # v = floor(62,937 x 1,100 x 0.95 / 1,000) = 65,769, extra floor(0.2 x 65,769) = 13,153: 22,453 >= 9,300
    ev = evaluate(s, a, "USD")
    assert (ev.equity, ev.mmr) == (22_453, 9_300)
    assert collateral.held(s, a, "USD") == ["EUR"] and s.macc(FUND, "EUR").cash == 17_063
    for asset, row in conservation(h.view.data.items()).items():
        assert row["ok"], (asset, row)


def test_fund_buys_only_what_it_can_pay():
    h = chain(fund=10_000)
    assert h.trade("alice", "dave", "sell", 70, 10_000, market=PERP).ok
    for eur in (880, 704, 564, 452, 362):
        prices(h, 10_000, eur)
    sale, = h.block_events("collateral_sale")
    # the fund has 10,000 USD: floor(10,000 x 1,000 x 10^6 / (362 x 975,000)) = 28,332 EUR for 9,999 USD
    assert (sale.attrs["amount"], sale.attrs["paid"], sale.attrs["left"]) == (28_332, 9_999, 80_000 - 28_332)
    s = h.session()
    assert collateral.held(s, h.addr("alice"), "USD") == ["EUR"]
    for asset, row in conservation(h.view.data.items()).items():
        assert row["ok"], (asset, row)


def no_uncovered_debt(h: Harness, *names: str) -> None:
    """Every named account's settlement cash is >= 0 or covered by its collateral's haircut value, and both assets
    are conserved."""
    s = h.session()
    for n in names:
        a = h.addr(n)
        cash, extra = s.macc(a, "USD").cash, collateral.extra_equity(s, a, "USD")
        assert cash >= 0 or extra >= -cash, (n, cash, extra, s.macc(a, "EUR").cash)
        assert evaluate(s, a, "USD").equity >= 0, n
    for asset, row in conservation(h.view.data.items()).items():
        assert row["ok"], (asset, row)


def test_an_empty_fund_takes_over_the_collateral_of_a_flat_liquidated_account():
    """With nothing in the fund, a breached holder's EUR cannot be bought with the fund's equity: its position is
    closed first, and once it is flat with a USD debt the fund takes over the EUR that covers it at the discounted
    price all the same, so no debt is left that a further fall of EUR would leave uncovered (docs/risk-engine.md
    "Multi-asset collateral", "Bad debt")."""
    h = chain(fund=0)
    assert h.trade("alice", "dave", "sell", 70, 10_000, market=PERP).ok
    prices(h, 9_000, 880)  # equity -695,000 + 630,000 + floor(80,000 x 880 x 0.95 / 1,000) = 1,880 < MMR 31,500
    liq, = h.block_events("liquidation")  # the fund can pay nothing: everything closes, the penalty takes the 1,880
    assert (liq.attrs["equity_before"], liq.attrs["step"], liq.attrs["penalty"], liq.attrs["equity_after"]) == (1_880, "full", 1_880, 0)
    sale, = h.block_events("collateral_sale")  # flat with cash -66,880: ceil(66,880 x 10^9 / (880 x 975,000)) EUR
    assert (sale.attrs["amount"], sale.attrs["paid"], sale.attrs["need"], sale.attrs["takeover"]) == (77_949, 66_880, 66_880, True)
    s = h.session()
    a = h.addr("alice")
    assert (s.macc(a, "USD").cash, s.macc(a, "EUR").cash, s.pos(a, PERP).size) == (0, 2_051, 0)  # the haircut's excess is hers
    # the fund: cash -66,880 + 1,880 - 630,000 (70 lots bought at 9,000), its EUR counted 66,880: equity 1,880
    assert (s.macc(FUND, "USD").cash, collateral.fund_inventory(s, "USD"), evaluate(s, FUND, "USD").equity) == (-695_000, 66_880, 1_880)
    no_uncovered_debt(h, "alice", "dave")
    prices(h, 9_000, 704)  # EUR falls on: the fund's 77,949 EUR are worth floor(77,949 x 704 x 0.975 / 1,000) = 53,504
    dl, = h.block_events("fund_deleverage")  # 1,880 - 66,880 + 53,504 = -11,496: the fund's waterfall (ADL) pays it
    adl, = h.block_events("adl")
    assert (dl.attrs["equity"], adl.attrs["paid"], adl.attrs["counterparty"]) == (-11_496, 11_496, h.addr("dave"))
    assert evaluate(h.session(), FUND, "USD").equity == 0
    no_uncovered_debt(h, "alice", "dave")


def test_a_flat_account_whose_collateral_no_longer_covers_its_debt_is_liquidated():
    """alice closes her long at a loss: flat, USD cash -5,000 backed by 80,000 EUR. EUR then falls to 62 (haircut
    value 4,712): her collateral's band finds her (equity -288 with no position) and the fund takes her EUR."""
    h = chain()
    assert h.trade("alice", "dave", "sell", 20, 10_000, market=PERP).ok
    prices(h, 9_500, 1_100)
    assert h.trade("dave", "alice", "sell", 20, 9_500, market=PERP).ok
    s = h.session()
    assert (s.macc(h.addr("alice"), "USD").cash, s.pos(h.addr("alice"), PERP).size) == (-5_000, 0)
    eur = 1_100
    while eur > 62:  # the price moves at most 20 % a block (move guard)
        eur = eur * 4 // 5
        prices(h, 9_500, eur)
        if h.block_events("liquidation"):
            break
    # at 62 her EUR counts floor(80,000 x 62 x 0.95 / 1,000) = 4,712 < 5,000: the fund takes all of it for
    # floor(80,000 x 62 x 0.975 / 1,000) = 4,836 and pays the 164 left (bad debt, reported)
    sale, = h.block_events("collateral_sale")
    liq, = h.block_events("liquidation")
    pay, = h.block_events("insurance_payment")
    assert (sale.attrs["price"], sale.attrs["amount"], sale.attrs["paid"], sale.attrs["need"]) == (62, 80_000, 4_836, 5_000)
    assert (liq.attrs["equity_before"], liq.attrs["step"], pay.attrs["amount"]) == (-5_000 + 4_836, "bankrupt", 164)
    s = h.session()
    assert (s.macc(h.addr("alice"), "USD").cash, s.macc(h.addr("alice"), "EUR").cash) == (0, 0)
    no_uncovered_debt(h, "alice", "dave")


def test_a_flat_debtor_is_not_paid_for_while_its_collateral_price_is_stale():
    """alice is flat with cash -5,000 and 80,000 EUR; EUR's oracles fall silent and the admin raises its haircut to
    95 % (value 4,400: equity -600). The fund cannot take EUR at no price, and must not pay a debt she still holds
    EUR for: the liquidation waits. Once EUR is priced again (1,100) her band fires and the fund takes
    ceil(5,000 x 10^9 / (1,100 x 975,000)) = 4,663 EUR for floor(4,663 x 1,072.5 / 1,000) = 5,001 USD."""
    h = chain()
    assert h.trade("alice", "dave", "sell", 20, 10_000, market=PERP).ok
    prices(h, 9_500, 1_100)
    assert h.trade("dave", "alice", "sell", 20, 9_500, market=PERP).ok
    h.block(*[h.tx(o, PriceReport(PERP, 9_500)) for o in h.oracles], dt_ms=61_000)  # EUR's reports are now too old
    assert h.session().mstate(EURM).stale
    h.block(h.tx("admin", SetCollateral("EUR", default_collateral_params("USD", EURM, haircut_ppm=950_000, liq_discount_ppm=25_000))),
            *[h.tx(o, PriceReport(PERP, 9_500)) for o in h.oracles])
    paused, = h.block_events("liquidation_paused")
    assert (paused.attrs["equity"], paused.attrs["collateral_stale"]) == (-600, True)
    assert not h.block_events("insurance_payment") and not h.block_events("collateral_sale")
    assert h.session().macc(h.addr("alice"), "EUR").cash == 80_000
    prices(h, 9_500, 1_100)
    sale, = h.block_events("collateral_sale")
    assert (sale.attrs["amount"], sale.attrs["paid"], sale.attrs["takeover"]) == (4_663, 5_001, True)
    s = h.session()
    assert (s.macc(h.addr("alice"), "USD").cash, s.macc(h.addr("alice"), "EUR").cash) == (1, 80_000 - 4_663)
    no_uncovered_debt(h, "alice", "dave")


def test_perps_only_accounts_keep_no_collateral_record():
    h = chain()
    assert h.trade("alice", "dave", "sell", 10, 10_000, market=PERP).ok  # dave: USD only
    keys = [k for k in h.view.data if k.startswith(b"r/col/a/")]
    assert keys == [b"r/col/a/" + h.addr("alice") + b"/USD"]
    assert collateral.held(h.session(), h.addr("dave"), "USD") == []


@pytest.mark.parametrize("body_params, error, words", [
    (dict(haircut_ppm=1_000_000), "invalid_parameter", ["haircut_ppm"]),
    (dict(cap_ppm=0), "invalid_parameter", ["cap_ppm"]),
    (dict(liq_discount_ppm=60_000), "invalid_parameter", ["liq_discount_ppm", "must not lower"]),
    (dict(price_market="BTC-PERP"), "invalid_parameter", ["prices BTC in USD, not EUR in USD"]),
    (dict(price_market="NOPE-PERP"), "unknown_market", ["NOPE-PERP"]),
    (dict(backs="EUR"), "invalid_parameter", ["settlement asset itself"]),
])
def test_set_collateral_refusals(body_params, error, words):
    h = chain()
    p = default_collateral_params("USD", EURM, **{k: v for k, v in body_params.items() if k not in ("backs", "price_market")})
    if "backs" in body_params or "price_market" in body_params:
        p = default_collateral_params(body_params.get("backs", "USD"), body_params.get("price_market", EURM))
    refused(h, "admin", SetCollateral("EUR", p), error, *words)


def test_set_collateral_is_admin_only_and_refuses_a_settlement_asset():
    h = chain()
    refused(h, "alice", SetCollateral("EUR", default_collateral_params("USD", EURM)), "not_permitted")
    # USD settles BTC-PERP: its cash cannot back another asset too
    h = Harness(names=("alice",))
    oracles = tuple(h.addr(o) for o in h.oracles)
    h.block(h.tx("admin", RegisterMarket(PERP, "BTC", "USD", default_params("mid"), oracles)),
            h.tx("admin", RegisterMarket("USD-EUR", "USD", "EUR", default_params("mid"), oracles)))
    refused(h, "admin", SetCollateral("USD", default_collateral_params("EUR", "USD-EUR")), "invalid_parameter", "settles market")


def test_a_listed_collateral_asset_cannot_settle_a_new_market():
    h = chain()  # EUR is listed as USD collateral: its margin cash backs USD positions
    oracles = tuple(h.addr(o) for o in h.oracles)
    refused(h, "admin", RegisterMarket("BTC-EUR", "BTC", "EUR", default_params("mid"), oracles), "invalid_parameter",
            "EUR is listed as collateral")


def test_holders_are_paged_so_a_deposit_writes_one_page():
    h = chain()
    alice, bob = h.addr("alice"), h.addr("bob")
    r = h.run("bob", MarginDeposit("EUR", 1_000))
    assert r.ok, r.reason
    written = sorted(k for k in h.last.writes if k.startswith(b"r/col/h/"))
    assert written == [b"r/col/h/EUR/" + bytes([bob[0] % collateral.PAGES])]  # bob's page only, whoever else holds EUR
    assert collateral.holders(h.session(), "EUR") == sorted([alice, bob])
    assert h.run("bob", MarginWithdraw("EUR", 1_000)).ok
    assert collateral.holders(h.session(), "EUR") == [alice]


def test_portfolio_collateral_is_shocked_by_its_own_scan_range():
    """docs/portfolio-margin.md "Collateral shocks": alice in portfolio mode, long 5 BTC-PERP at 10,000, 80,000 EUR.

    EUR-PERP's grid is the default (R = 15 %, extreme 3 x R, 35 % counted, MMR fraction 769,231): -3/3 takes EUR
    from 1,100 to 935 (v 71,060: -12,540), -extreme to 605 (v 45,980: 35 % of -37,620 = -13,167, rounded up), which
    binds. BTC-PERP's own requirement is 35 % of 45 % of 50,000 = 7,875. IMR = 7,875 + 13,167 = 21,042,
    MMR = ceil(7,875 x 0.769231) + ceil(13,167 x 0.769231) = 6,058 + 10,129 = 16,187. With a 60 % cap the counted
    value is 60 % of the value (the cash is negative): -7,524 and -7,901.
    """
    from cli import pm as cpm
    from ledger.txkinds_pm import SetMarginMode
    from settlement.risk import pm_queries as pq
    for cap, figures, pnls, lo in ((1_000_000, (88_600, 21_042, 16_187), (-12_540, -13_167), 624),
                                   (600_000, (55_160, 15_776, 12_136), (-7_524, -7_901), 818)):
        h = chain(cap=cap)
        a = h.addr("alice")
        assert h.run("alice", SetMarginMode("portfolio")).ok
        view = pq.pm_scenarios(h.view, a, h.time_ms)["accounts"][0]["collateral_shock"]
        assert view["counted"] is False and view["requirement"] == -pnls[1]  # no position yet: not in IMR
        assert evaluate(h.session(), a, "USD").imr == 0
        assert h.trade("alice", "dave", "sell", 5, 10_000, market=PERP).ok
        ev = evaluate(h.session(), a, "USD")
        assert (ev.equity, ev.imr, ev.mmr) == figures
        acc = pq.pm_scenarios(h.view, a, h.time_ms)["accounts"][0]
        c = acc["collateral_shock"]
        assert [(r["scenario"], r["prices"], r["pnl"]) for r in c["scenarios"]] == [
            ("-3/3", {"EUR": 935}, pnls[0]), ("-extreme", {"EUR": 605}, pnls[1])]
        assert (c["binding"], c["requirement"], c["counted"]) == ("-extreme", -pnls[1], True)
        assert acc["imr"] == acc["underlyings"][0]["requirement"] + c["requirement"]
        assert acc["mmr"] == acc["underlyings"][0]["mmr"] + c["mmr"]
        # a portfolio account's collateral band takes its share of 10^6 x (equity - MMR) (pm/bands.py splits the rest):
        # (72,413 or 43,024 less 12 of slack) / 2 over the slope 80,000 x 0.95 per lot of 1,000 EUR
        assert collateral_bands.band(h.session(), a, "USD") == {"EUR": lo}
    assert pq.pm_scenarios(h.view, h.addr("dave"), h.time_ms)["accounts"][0]["collateral_shock"] is None  # standard mode
    cpm._render_scenarios(pq.pm_scenarios(h.view, a, h.time_ms), "alice")


def btc_at_its_trigger(s, addr: bytes) -> None:
    """Move BTC-PERP (scratch session) to the lowest price at which the long's trigger has not fired: its share spent."""
    from settlement.risk.margin import coordinate
    from settlement.risk.records import LONG
    p, ms = s.pos(addr, PERP), s.mstate(PERP)
    assert p.trigger_side == LONG
    lo, hi = 0, ms.price
    while lo < hi:  # the coordinate grows with the price
        ms.price = (lo + hi) // 2
        if coordinate(s, PERP, LONG) >= p.trigger:
            hi = ms.price
        else:
            lo = ms.price + 1
    ms.price = lo


@settings(max_examples=40, deadline=None)
@given(cap=st.sampled_from([1_000_000, 600_000, 200_000]), haircut=st.sampled_from([0, 50_000, 300_000]),
       eur=st.integers(20_000, 200_000), room=st.integers(1, 100), where=st.sampled_from([0, 0, 1, 500, 1_000]))
def test_inside_its_band_a_holder_is_never_breached(cap, haircut, eur, room, where):
    """collateral_bands.py "Price bands": at any EUR price in [lo, P0], with BTC as low as its trigger allows, brute-force
    evaluation finds the account not breached, so the sweep may skip it."""
    h = chain(haircut=haircut, cap=cap, discount=0)
    a = h.addr("bob")
    assert h.run("bob", MarginDeposit("EUR", eur)).ok
    room_usd = evaluate(h.session(), a, "USD").equity
    lots = room_usd * room // 100 // 1_000  # IMR 1,000 a lot (10 % of 10,000)
    assume(lots > 0)
    assert h.trade("bob", "dave", "sell", lots, 10_000, market=PERP).ok
    s = h.session()
    lo = collateral_bands.band(s, a, "USD").get("EUR", 0)
    assume(lo < 1_100)  # else inside the rounding slack: the sentinel, re-checked at every sweep
    s.mstate(EURM).price = max(lo, 0) + (1_100 - max(lo, 0)) * where // 1_000  # scratch: never flushed
    btc_at_its_trigger(s, a)
    ev = evaluate(s, a, "USD")
    assert not ev.breached, (lo, s.mstate(EURM).price, ev.equity, ev.mmr)


def test_a_small_collateral_move_rechecks_only_the_holders_whose_band_it_crossed():
    """Twelve EUR holders (80,000 EUR each, worth 83,600), long 6 to 72 BTC-PERP lots: a 32 % EUR fall re-checks two.

    The most levered (72 lots, MMR 36,000) has the surplus 47,600 split between its perpetual and its EUR:
    the band's half-width is floor(23,800 x 1,000 / (80,000 x 0.95)) = 313, lo = 787; 66 lots give lo = 768.
    (Until now every holder was evaluated at every EUR move.)"""
    names = tuple(f"h{i}" for i in range(12))
    h = Harness(names=(*names, "dave"))
    oracles = tuple(h.addr(o) for o in h.oracles)
    params = default_params("mid", margin_cap_ppm=1_000_000)
    h.block(h.tx("admin", RegisterMarket(PERP, "BTC", "USD", params, oracles)),
            h.tx("admin", RegisterMarket(EURM, "EUR", "USD", default_params("mid", lot_size=LOT, margin_cap_ppm=1_000_000,
                                                                            oracle_deviation_ppm=950_000), oracles)))
    prices(h, 10_000, 1_100)
    assert h.run("admin", SetCollateral("EUR", default_collateral_params("USD", EURM))).ok
    h.block(*[h.tx(n, MarginDeposit("EUR", 80_000)) for n in names], h.tx("dave", MarginDeposit("USD", 10_000_000)))
    h.block(*[h.trade_tx(n, "dave", "sell", 6 * (i + 1), 10_000, market=PERP) for i, n in enumerate(names)])
    s = h.session()
    holders = collateral.holders(s, "EUR")
    assert len(holders) == 12
    los = {a: collateral_bands.band(s, a, "USD")["EUR"] for a in holders}
    assert sorted(los.values())[-2:] == [768, 787]
    s.mstate(EURM).price = 750  # in a scratch session (the sweep's own candidates, never flushed)
    fired = collateral_bands.candidates(s)
    assert fired == {(a, "USD") for a in holders if los[a] > 750}  # exactly the bands it crossed
    assert len(fired) == 2
    for a in holders:  # and the others are safe, checked by brute force
        if (a, "USD") not in fired:
            assert not evaluate(s, a, "USD").breached


def two_assets(caps: tuple[int, int], haircuts: tuple[int, int], eur: int, gbp: int) -> Harness:
    """The collateral chain plus GBP (created and issued to bob), listed through GBP-PERP at 1,300; bob holds both."""
    from ledger.txkinds import CreateAsset, Issue
    h = chain(haircut=haircuts[0], cap=caps[0], discount=0)
    oracles = tuple(h.addr(o) for o in h.oracles)
    h.block(h.tx("admin", CreateAsset("GBP", 6, h.addr("issuer"))),
            h.tx("admin", RegisterMarket("GBP-PERP", "GBP", "USD", default_params("mid", lot_size=LOT, margin_cap_ppm=1_000_000,
                                                                                  oracle_deviation_ppm=950_000), oracles)))
    h.block(h.tx("issuer", Issue("GBP", 10**9, h.addr("bob"))), *[h.tx(o, PriceReport("GBP-PERP", 1_300)) for o in h.oracles])
    r = h.run("admin", SetCollateral("GBP", default_collateral_params("USD", "GBP-PERP", haircut_ppm=haircuts[1], cap_ppm=caps[1],
                                                                     liq_discount_ppm=0)))
    assert r.ok, r.reason
    h.block(h.tx("bob", MarginDeposit("EUR", eur)), h.tx("bob", MarginDeposit("GBP", gbp)))
    return h


@settings(max_examples=30, deadline=None)
@example(caps=(900_000, 1_000_000), haircuts=(0, 0), eur=3_497, gbp=1_000, room=80, where=(0, 0))  # found without lambda's cap term
@given(caps=st.tuples(*[st.sampled_from([1_000_000, 900_000, 500_000, 200_000])] * 2),
       haircuts=st.tuples(*[st.sampled_from([0, 50_000, 300_000])] * 2), eur=st.integers(1_000, 100_000),
       gbp=st.integers(1_000, 100_000), room=st.integers(1, 100), where=st.tuples(*[st.sampled_from([0, 0, 1, 500, 1_000])] * 2))
def test_two_assets_inside_their_bands_are_never_breached(caps, haircuts, eur, gbp, room, where):
    """Both prices anywhere inside their bands at once, BTC as low as its trigger allows: the slope
    lambda_X = 1 + the other's cap covers the caps' coupling (collateral_bands.py "Price bands"), checked by brute force."""
    h = two_assets(caps, haircuts, eur, gbp)
    a = h.addr("bob")
    lots = evaluate(h.session(), a, "USD").equity * room // 100 // 1_000
    assume(lots > 0)
    assert h.trade("bob", "dave", "sell", lots, 10_000, market=PERP).ok
    s = h.session()
    bands = collateral_bands.band(s, a, "USD")
    assert collateral.held(s, a, "USD") == ["EUR", "GBP"]
    for (asset, market, p0), w in zip((("EUR", EURM, 1_100), ("GBP", "GBP-PERP", 1_300)), where):
        lo = max(bands.get(asset, 0), 0)
        assume(lo < p0)
        s.mstate(market).price = lo + (p0 - lo) * w // 1_000
    btc_at_its_trigger(s, a)
    ev = evaluate(s, a, "USD")
    assert not ev.breached, (bands, ev.equity, ev.mmr)


def test_two_assets_are_shocked_together():
    """Portfolio mode, 50,000 EUR (v 52,250) and 40,000 GBP (v 49,400), caps 50 % each, cash -45,000 after 5 lots:
    T = 101,650, extra = 50,825 + 49,400 = 100,225. At -3/3 (935 and 1,105): v 44,412 and 41,990, T 86,402,
    extra 43,201 + 41,990 = 85,191, loss 15,034. At -extreme (605 and 715): v 28,737 and 27,170, T 55,907,
    extra 27,953 + 27,170 = 55,123, 35 % of 45,102 = 15,786 (rounded up), which binds."""
    from ledger.txkinds_pm import SetMarginMode
    h = two_assets((500_000, 500_000), (50_000, 50_000), 50_000, 40_000)
    a = h.addr("bob")
    assert h.run("bob", SetMarginMode("portfolio")).ok
    assert h.trade("bob", "dave", "sell", 5, 10_000, market=PERP).ok
    s = h.session()
    req, mmr, rows, binding = collateral.shock_table(s, a, "USD")
    assert [(r["scenario"], r["prices"], r["value"], r["pnl"]) for r in rows] == [
        ("-3/3", {"EUR": 935, "GBP": 1_105}, 85_191, -15_034), ("-extreme", {"EUR": 605, "GBP": 715}, 55_123, -15_786)]
    assert (req, mmr, binding) == (15_786, 12_144, "-extreme")
    assert evaluate(s, a, "USD").imr == 7_875 + 15_786
