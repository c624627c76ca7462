"""Bad input to trades, margin and markets: each gets a clear receipt reason and changes nothing but the nonce."""
from __future__ import annotations

from ledger.keys import PrivateKey
from ledger.txkinds_risk import (
    CancelOrder,
    MarginDeposit,
    MarginWithdraw,
    Order,
    RegisterMarket,
    SignedOrder,
    Trade,
    sign_order,
)
from settlement.risk.markets import default_params

from .harness import Harness, only_nonce_changed, refused

M = "BTC-PERP"


def ready() -> Harness:
    h = Harness(names=("alice", "bob", "carol"))
    h.register_market(M, margin_cap_ppm=1_000_000, oi_cap=1_000)
    h.prices(M, 100_000)
    h.deposit("alice", 1_000_000)
    h.deposit("bob", 1_000_000)
    return h



def test_a_good_trade_then_its_replay():
    h = ready()
    so = h.order("alice", "buy", 10, 100_000)
    assert h.run("bob", Trade(so, 10)).ok
    refused(h, "bob", Trade(so, 1), "replayed", "10 of 10 lots filled")


def test_partial_fills_count_against_the_order():
    h = ready()
    so = h.order("alice", "buy", 10, 100_000)
    assert h.run("bob", Trade(so, 4)).ok
    refused(h, "bob", Trade(so, 7), "replayed", "4 of 10")
    assert h.run("bob", Trade(so, 6)).ok


def test_cancelled_order_never_fills():
    h = ready()
    so = h.order("alice", "buy", 10, 100_000)
    assert h.run("alice", CancelOrder(so.order.nonce)).ok
    refused(h, "bob", Trade(so, 1), "replayed", "cancelled")
    refused(h, "alice", CancelOrder(so.order.nonce), "replayed", "already cancelled")


def test_expired_order():
    h = ready()
    so = h.order("alice", "buy", 10, 100_000, expiry=h.height)  # the next block is past it
    refused(h, "bob", Trade(so, 10), "expired", f"expired at height {h.height}")


def test_malformed_orders():
    h = ready()
    key = h.keys["alice"]
    bad_side = sign_order(key, h.chain_id, Order(M, "long", 10, 100_000, 10**9, 1, bytes(20)))
    refused(h, "bob", Trade(bad_side, 10), "invalid_parameter", "malformed order", "side")
    no_market = sign_order(key, h.chain_id, Order("NOPE-PERP", "buy", 10, 100_000, 10**9, 2, bytes(20)))
    refused(h, "bob", Trade(no_market, 10), "unknown_market", "NOPE-PERP")
    zero = sign_order(key, h.chain_id, Order(M, "buy", 0, 100_000, 10**9, 3, bytes(20)))
    refused(h, "bob", Trade(zero, 0), "bad_amount", "order size")


def test_oversized_numbers():
    h = ready()
    key = h.keys["alice"]
    huge = sign_order(key, h.chain_id, Order(M, "buy", 2**64 - 1, 100_000, 10**9, 1, bytes(20)))
    refused(h, "bob", Trade(huge, 1), "bad_amount", "order size")
    big_price = sign_order(key, h.chain_id, Order(M, "buy", 10, 2**63, 10**9, 2, bytes(20)))
    refused(h, "bob", Trade(big_price, 10), "bad_amount", "order price")
    big_notional = sign_order(key, h.chain_id, Order(M, "buy", 2**62, 100_000, 10**9, 3, bytes(20)))
    refused(h, "bob", Trade(big_notional, 2**62), "bad_amount", "notional")
    refused(h, "alice", MarginDeposit("USD", 2**63), "bad_amount", "exceeds")
    refused(h, "alice", MarginDeposit("USD", -5), "bad_amount", "positive")


def test_wrong_signer():
    h = ready()
    so = h.order("alice", "buy", 10, 100_000)
    forged = SignedOrder(so.order, h.keys["carol"].pubkey, so.signature)  # claims carol made alice's order
    refused(h, "bob", Trade(forged, 10), "bad_signature", "does not verify")
    other_chain = sign_order(h.keys["alice"], "another-chain", so.order)
    refused(h, "bob", Trade(other_chain, 10), "bad_signature", h.chain_id)
    stranger = sign_order(PrivateKey.from_name("stranger"), h.chain_id, so.order)
    refused(h, "bob", Trade(stranger, 10), "not_registered", "maker")


def test_reserved_taker_and_self_trade():
    h = ready()
    so = h.order("alice", "buy", 10, 100_000, taker=h.addr("carol"))
    refused(h, "bob", Trade(so, 10), "not_permitted", "reserved")
    mine = h.order("alice", "buy", 10, 100_000)
    refused(h, "alice", Trade(mine, 10), "invalid_parameter", "same account")


def test_both_sides_must_meet_initial_margin_and_the_receipt_names_who():
    h = ready()  # each has 1,000,000: at most 200 lots at 5 % IMF
    h.deposit("carol", 100_000)
    so = h.order("alice", "buy", 201, 100_000)
    refused(h, "bob", Trade(so, 201), "insufficient_margin", "maker st" + h.addr("alice").hex(), "1005000")
    so = h.order("carol", "sell", 30, 100_000)  # carol could carry 20 lots
    refused(h, "bob", Trade(so, 30), "insufficient_margin", "maker st" + h.addr("carol").hex(), "150000")
    so = h.order("bob", "buy", 30, 100_000)
    refused(h, "carol", Trade(so, 30), "insufficient_margin", "taker st" + h.addr("carol").hex())
    assert h.run("bob", Trade(h.order("alice", "buy", 200, 100_000), 200)).ok  # exactly at IMR


def test_reducing_an_under_margined_position_is_allowed():
    h = ready()
    h.deposit("carol", 1_000_000)
    assert h.trade("bob", "alice", "buy", 150, 100_000).ok
    h.prices(M, 97_500)  # alice: equity 625,000 < IMR 731,250 but > MMR 438,750
    assert h.block_events("liquidation") == []
    refused(h, "carol", Trade(h.order("alice", "buy", 1, 97_500), 1), "insufficient_margin", "maker")
    # selling 10 lots: IMR 682,500 still above equity, but free collateral improves (-106,250 -> -57,500)
    assert h.trade("carol", "alice", "sell", 10, 97_500).ok


def test_open_interest_cap():
    h = ready()
    h.deposit("alice", 100_000_000 - 1_000_000)
    h.deposit("bob", 100_000_000 - 1_000_000)
    refused(h, "bob", Trade(h.order("alice", "buy", 1_001, 100_000), 1_001), "open_interest_cap", "1001", "1000")
    assert h.trade("bob", "alice", "buy", 1_000, 100_000).ok
    assert h.trade("bob", "alice", "sell", 500, 100_000).ok  # reducing is fine at the cap


def test_trade_price_band():
    h = ready()
    refused(h, "bob", Trade(h.order("alice", "buy", 1, 111_000), 1), "price_deviation", "111000")


def test_stale_oracle_refuses_risk_increasing_trades_and_withdrawals():
    h = ready()
    assert h.trade("bob", "alice", "buy", 10, 100_000).ok
    h.block(dt_ms=61_000)  # reports older than 60 s: stale
    assert h.block_events("oracle_stale")
    refused(h, "bob", Trade(h.order("alice", "buy", 1, 100_000), 1), "stale_price", "stale")
    refused(h, "alice", MarginWithdraw("USD", 1), "stale_price", "withdrawal")
    assert h.trade("bob", "alice", "sell", 5, 100_000).ok  # reducing both is allowed
    h.prices(M, 100_000)
    assert h.trade("bob", "alice", "buy", 1, 100_000).ok


def test_withdraw_keeps_equity_above_initial_margin():
    h = ready()
    assert h.trade("bob", "alice", "buy", 100, 100_000).ok  # IMR 500,000 of equity 1,000,000
    refused(h, "alice", MarginWithdraw("USD", 500_001), "insufficient_margin", "499999", "500000")
    assert h.run("alice", MarginWithdraw("USD", 500_000)).ok
    refused(h, "carol", MarginWithdraw("USD", 1), "insufficient_balance")


def test_market_registration_rules():
    h = Harness(names=("alice",))
    oracles = tuple(h.addr(o) for o in h.oracles)
    bad = default_params("large", liq_penalty_ppm=40_000)
    r = only_nonce_changed(h, "admin", RegisterMarket(M, "BTC", "USD", bad, oracles))
    assert r.error == "invalid_parameter" and "liq_penalty_ppm" in r.reason
    r = only_nonce_changed(h, "admin", RegisterMarket(M, "BTC", "USD", default_params(), (h.addr("alice"),)))
    assert r.error == "invalid_parameter" and "oracle role" in r.reason
    r = only_nonce_changed(h, "alice", RegisterMarket(M, "BTC", "USD", default_params(), oracles))
    assert r.error == "not_permitted"
    r = only_nonce_changed(h, "admin", RegisterMarket("btc perp", "BTC", "USD", default_params(), oracles))
    assert r.error == "invalid_parameter"
    assert h.register_market(M).ok
    r = only_nonce_changed(h, "admin", RegisterMarket(M, "BTC", "USD", default_params(), oracles))
    assert r.error == "already_exists"
