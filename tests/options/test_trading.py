"""``option_trade``: every refusal names its rule and writes nothing; a fill moves the premium exactly (docs/options.md, Trading)."""
from __future__ import annotations

import pytest

from ledger.keys import PrivateKey
from ledger.txkinds_options import OptionOrder, OptionTrade, sign_option_order
from ledger.txkinds_risk import CancelOrder, Trade
from settlement.risk.margin import evaluate

from tests.settlement.harness import refused

from .trade_harness import OptHarness

EXPIRY = 10**10  # ms (~116 days)
MARK6 = 2_000_500_000  # 2,000.5 per lot


@pytest.fixture
def h():
    h = OptHarness(names=("alice", "bob", "carol", "dave"))
    h.register_market()
    h.prices("BTC-PERP", 100_000)
    h.enable_options()
    h.sid = h.list_series("call", 110_000, EXPIRY)
    h.set_mark(h.sid, MARK6)
    for n in ("alice", "bob"):
        h.deposit(n, 200_000)
    h.set_mark(h.sid, MARK6)
    return h


def body(h, maker="alice", side="sell", size=10, price=2_000, fill=None, **kw):
    return OptionTrade(h.option_order(maker, h.sid, side, size, price, **kw), size if fill is None else fill)


def cash(h, name):
    return h.session().macc(h.addr(name), "USD").cash


def test_fill_moves_the_premium_exactly(h):
    before = {n: cash(h, n) for n in ("alice", "bob")}
    r = h.option_trade("bob", "alice", h.sid, "sell", 10, 2_000)
    assert r.ok, r.reason
    (e,) = r.events
    assert e.kind == "option_trade"
    assert (e.attrs["premium"], e.attrs["maker_position"], e.attrs["taker_position"], e.attrs["open_interest"]) == (20_000, -10, 10, 10)
    assert cash(h, "alice") - before["alice"] == 20_000
    assert cash(h, "bob") - before["bob"] == -20_000
    s = h.session()
    assert s.opos(h.addr("alice"), h.sid).size + s.opos(h.addr("bob"), h.sid).size == 0
    assert s.sstate(h.sid).oi == 10
    assert s.macc(h.addr("alice"), "USD").series == [h.sid]
    # closing both sides again: flat, the premium back at the new price, open interest 0
    h.set_mark(h.sid, MARK6)
    r = h.option_trade("bob", "alice", h.sid, "buy", 10, 1_500)
    assert r.ok, r.reason
    assert cash(h, "alice") - before["alice"] == 5_000 and cash(h, "bob") - before["bob"] == -5_000
    s = h.session()
    assert s.sstate(h.sid).oi == 0 and not s.macc(h.addr("alice"), "USD").series


def test_malformed_orders(h):
    o = OptionOrder(h.sid, "hold", 10, 2_000, 10**9, 77, bytes(20))
    refused(h, "bob", OptionTrade(sign_option_order(h.keys["alice"], h.chain_id, o), 10), "invalid_parameter", "side")
    refused(h, "bob", body(h, fill=0), "bad_amount", "fill size")
    refused(h, "bob", body(h, price=0), "bad_amount", "order price")
    o = OptionOrder("BTC-PERP-1-1-C", "sell", 10, 2_000, 10**9, 78, bytes(20))
    refused(h, "bob", OptionTrade(sign_option_order(h.keys["alice"], h.chain_id, o), 10), "unknown_market", "unknown option series")


def test_signature_maker_taker(h):
    o = OptionOrder(h.sid, "sell", 10, 2_000, 10**9, 5, bytes(20))
    refused(h, "bob", OptionTrade(sign_option_order(h.keys["alice"], "other-chain", o), 10), "bad_signature", "does not verify")
    eve = PrivateKey.from_name("eve", h.chain_id)
    refused(h, "bob", OptionTrade(sign_option_order(eve, h.chain_id, o), 10), "not_registered", "maker")
    refused(h, "alice", body(h), "invalid_parameter", "same account")
    refused(h, "bob", body(h, taker=h.addr("carol")), "not_permitted", "reserved for taker")
    refused(h, "bob", body(h, expiry=h.height), "expired", "order expired")


def test_fills_share_the_perpetual_nonce_space(h):
    so = h.option_order("alice", h.sid, "sell", 10, 2_000, nonce=9)
    assert h.run("bob", OptionTrade(so, 4)).ok
    h.set_mark(h.sid, MARK6)
    refused(h, "bob", OptionTrade(so, 7), "replayed", "4 of 10 contracts filled")
    assert h.run("alice", CancelOrder(9)).ok  # the perpetual cancel voids an option order
    refused(h, "bob", OptionTrade(so, 1), "replayed", "cancelled")
    # a perpetual order's nonce is spent for option orders too
    h.trade("bob", "alice", "buy", 1, 100_000, nonce=11)
    h.set_mark(h.sid, MARK6)
    refused(h, "bob", body(h, nonce=11), "replayed", "1 of 10 contracts filled")
    refused(h, "bob", Trade(h.order("alice", "buy", 1, 100_000, nonce=9), 1), "replayed", "cancelled")


def test_series_state_and_time(h):
    late = h.list_series("put", 90_000, h.time_ms + 500)
    h.set_mark(late, 1_000_000)
    refused(h, "bob", OptionTrade(h.option_order("alice", late, "sell", 1, 1), 1), "expired", "expired at")

    def settle(sess):
        sess.sstate(h.sid).settled = 1
        sess.touch_ss(h.sid)
    h.write(settle)
    refused(h, "bob", body(h), "expired", "is settled")


def test_stale_mark_and_band(h):
    refused(h, "bob", body(h, price=12_001), "price_deviation", "more than 100000 ppm")
    assert h.run("bob", body(h, price=12_000, size=1)).ok  # |12,000 - 2,000.5| <= 10 % x 100,000 x 1
    h.block(dt_ms=61_000)  # the mark is now 61 s old (vol_fresh_ms 60 s)
    refused(h, "bob", body(h), "stale_price", "no fresh mark")


def test_both_sides_pass_the_collateral_check(h):
    h.deposit("carol", 10_000)
    h.set_mark(h.sid, MARK6)
    # carol writes 10 calls: IMR 120,005 > equity 10,000 + 20,000 - 20,005
    refused(h, "bob", body(h, maker="carol"), "insufficient_margin", "initial margin requirement 120005")
    assert h.option_trade("bob", "alice", h.sid, "sell", 10, 2_000).ok
    # the mark rises: alice (short 10) is below IMR but above MMR; she may buy back, not sell more
    h.set_mark(h.sid, 12_000_000_000)  # 12,000 per lot
    ev = evaluate(h.session(), h.addr("alice"), "USD")
    assert (ev.equity, ev.imr, ev.mmr) == (100_000, 220_000, 195_000)
    refused(h, "bob", body(h, size=1, price=12_000), "insufficient_margin", "maker")
    assert h.run("bob", body(h, side="buy", size=5, price=12_000)).ok
