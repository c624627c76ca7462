"""Expiry settlement: the window's time-weighted price, exact payouts from shorts to longs, closed positions and series."""
from __future__ import annotations

from ledger.txkinds_options import RegisterOptionSeries
from settlement.context import BlockContext
from settlement.risk.engine import options_phase
from settlement.risk.records import Session
from settlement.state import State
from settlement.risk.optrecords import series_id
from settlement.risk.options.expiry import Twap
from settlement.risk.options.positions import holders
from settlement.risk.options.series import live_series
from settlement.risk.optrecords import twap_key

from tests.settlement.harness import refused

from .series_harness import BTC, OptHarness

E = 10_000_000  # expiry (block time, ms); window 30 min: [8_200_000, 10_000_000]


def twap_example():
    """docs/options.md "Expiry settlement": uneven blocks through the window."""
    h = OptHarness(price=10_000)
    call = h.list_series("call", 10_000, E, lots=2)
    put = h.list_series("put", 10_500, E, lots=2)
    far = h.list_series("call", 10_000, E + 1_000_000)  # window [9_200_000, 11_000_000]
    h.open("alice", "bob", call, 3, 700)
    h.open("bob", "carol", put, 1, 900)
    h.open("dave", "carol", call, 1, 650)
    h.at(8_000_000, *h.price_txs(10_000))  # before the window
    h.at(8_500_000, *h.price_txs(10_600))  # first block in the window: start 8_200_000 recorded
    h.at(9_100_000, *h.price_txs(9_701))
    h.at(9_400_000, *h.price_txs(10_300))
    return h, call, put, far


def test_twap_worked_example_with_uneven_blocks():
    h, call, put, far = twap_example()
    tw = Twap.unpack(h.view.get(twap_key(BTC)), b"")
    assert tw.starts[E][0] == 8_200_000
    cash = {n: h.cash(n) for n in ("alice", "bob", "carol", "dave")}
    h.at(10_300_000, *h.price_txs(12_000))  # first block at or after the expiry; its own price is after E
    # 10_000 x 300_000 + 10_600 x 600_000 + 9_701 x 300_000 + 10_300 x 600_000 = 18_450_300_000
    # / 1_800_000 = 10_250.17 -> floor 10_250
    expired = {e.attrs["series"]: e.attrs for e in h.block_events("option_expired")}
    assert set(expired) == {call, put}
    assert expired[call]["settle_price"] == expired[put]["settle_price"] == 10_250
    assert expired[call]["window_start_ms"] == 8_200_000
    assert (expired[call]["intrinsic"], expired[call]["long_contracts"], expired[call]["short_contracts"]) == (250, 4, 4)
    assert expired[call]["paid"] == 4 * 2 * 250
    assert (expired[put]["intrinsic"], expired[put]["paid"]) == (250, 500)
    # call: alice +3 x 2 x 250, dave +1 x 2 x 250, bob -1500; put: bob +500, carol -500 (calls) -500 (put)
    after = {n: h.cash(n) for n in cash}
    assert {n: after[n] - cash[n] for n in cash} == {"alice": 1500, "bob": -1000, "carol": -500 - 500, "dave": 500}
    settled = [(e.attrs["series"], e.attrs["account"], e.attrs["size"], e.attrs["payout"]) for e in h.block_events("option_settled")]
    assert sorted(settled) == sorted([
        (call, h.addr("alice"), 3, 1500), (call, h.addr("carol"), -1, -500), (call, h.addr("dave"), 1, 500),
        (call, h.addr("bob"), -3, -1500), (put, h.addr("bob"), 1, 500), (put, h.addr("carol"), -1, -500),
    ])
    sess = h.session()
    for sid in (call, put):
        ss = sess.sstate(sid)
        assert (ss.settled, ss.settle_price, ss.oi, ss.mark_state) == (1, 10_250, 0, 0)
        assert holders(sess, sid) == []
    assert live_series(sess, BTC) == [far]
    for n in ("alice", "bob", "carol", "dave"):
        assert sess.opos(h.addr(n), call).size == 0
        assert call not in sess.macc(h.addr(n), "USD").series
    assert h.conserved()
    assert E not in Twap.unpack(h.view.get(twap_key(BTC)), b"").starts
    # the later expiry: 9_701 x 200_000 + 10_300 x 900_000 + 12_000 x 700_000 = 19_610_200_000 -> 10_894
    h.at(11_100_000)
    assert [(e.attrs["series"], e.attrs["settle_price"]) for e in h.block_events("option_expired")] == [(far, 10_894)]
    assert live_series(h.session(), BTC) == []


def test_expired_series_cannot_be_listed_again():
    h, call, put, far = twap_example()
    h.at(10_300_000)
    refused(h, "admin", RegisterOptionSeries(BTC, "call", 10_000, E, 2), "invalid_parameter", "after the block time")


def test_settlement_at_a_block_exactly_at_expiry_and_out_of_the_money():
    h = OptHarness(price=10_000, settlement_window_ms=4_000)
    e = h.time_ms + 10_000
    call = h.list_series("call", 12_000, e)
    put = h.list_series("put", 12_000, e)
    h.open("alice", "bob", call, 5, 10)
    h.open("alice", "bob", put, 2, 10)
    h.at(e - 4_000, *h.price_txs(11_000))  # window starts exactly at this block
    h.at(e - 1_000, *h.price_txs(12_600))
    cash = h.cash("alice"), h.cash("bob")
    h.at(e)
    # [e-4000, e-1000): 11_000; [e-1000, e): 12_600 -> (33_000_000 + 12_600_000) / 4000 = 11_400
    expired = {x.attrs["series"]: x.attrs for x in h.block_events("option_expired")}
    assert expired[call]["settle_price"] == 11_400 and expired[call]["intrinsic"] == 0 and expired[call]["paid"] == 0
    assert expired[put]["intrinsic"] == 600 and expired[put]["paid"] == 1_200
    # bob has 70 of cash: the 1,130 he cannot pay is bad debt, which the sweep finds (flat, equity < 0) and the
    # waterfall covers (the empty fund pays it beyond its equity: docs/risk-engine.md "Multi-asset collateral", "Bad debt")
    assert (h.cash("alice") - cash[0], h.cash("bob") - cash[1], cash[1]) == (1_200, -70, 70)
    liq, = h.block_events("liquidation")
    pay, = h.block_events("insurance_payment")
    assert (liq.attrs["equity_before"], pay.attrs["amount"], pay.attrs["beyond_equity"]) == (-1_130, 1_130, True)
    assert h.conserved()


def test_series_listed_inside_the_window_averages_from_the_previous_block():
    h = OptHarness(price=10_000, settlement_window_ms=60_000)
    t = h.time_ms
    e = t + 20_000  # the window started before the listing
    h.at(t + 5_000, *h.price_txs(10_500))
    sid = h.list_series("call", 10_000, e, dt_ms=5_000)  # listed at t + 10_000; previous block at t + 5_000
    h.open("alice", "bob", sid, 1, 100)
    tw = Twap.unpack(h.view.get(twap_key(BTC)), b"")
    assert tw.starts[e][0] == t + 5_000
    h.at(e + 3_000, *h.price_txs(20_000))
    # [t+5000, e): 10_500 throughout -> 10_500
    assert h.block_events("option_expired")[0].attrs["settle_price"] == 10_500


def test_every_short_that_paid_is_rechecked():
    h, call, put, far = twap_example()
    ctx = BlockContext(h.chain_id, h.height + 1, E)
    sess = Session(State(h.view), ctx)
    events = options_phase(sess, ctx)
    assert {e.attrs["series"] for e in events if e.kind == "option_expired"} == {call, put}
    assert sess.recheck == {(h.addr("bob"), "USD"), (h.addr("carol"), "USD")}  # bob is long the put but paid on calls
