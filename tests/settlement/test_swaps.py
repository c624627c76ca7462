"""DvP swaps (both legs or neither) and HTLCs (lock, claim with preimage, refund after timeout)."""
from __future__ import annotations

import hashlib

from ledger.keys import PrivateKey
from ledger.txkinds_risk import HtlcClaim, HtlcLock, HtlcRefund, Swap, SwapTerms, sign_swap_terms
from settlement.risk import queries as rq
from settlement.accounts import get_balance
from settlement.audit import conservation
from settlement.state import State

from .harness import Harness, only_nonce_changed

E12 = 10**12


def bal(h: Harness, name: str, asset: str) -> int:
    return get_balance(State(h.view), h.addr(name), asset)


def terms(h, maker="alice", taker="bob", give=("USD", 100), get=("EUR", 90), expiry=10**6, nonce=1):
    return SwapTerms(h.addr(maker), h.addr(taker), give[0], give[1], get[0], get[1], expiry, nonce)


def test_dvp_swap_settles_both_legs():
    h = Harness(names=("alice", "bob"))
    r = h.run("bob", sign_swap_terms(h.keys["alice"], h.chain_id, terms(h)))
    assert r.ok, r.reason
    assert (bal(h, "alice", "USD"), bal(h, "alice", "EUR")) == (E12 - 100, E12 + 90)
    assert (bal(h, "bob", "USD"), bal(h, "bob", "EUR")) == (E12 + 100, E12 - 90)
    assert all(row["ok"] for row in conservation(h.view.data.items()).values())


def test_dvp_swap_refusals_change_nothing():
    h = Harness(names=("alice", "bob", "carol"))
    good = sign_swap_terms(h.keys["alice"], h.chain_id, terms(h))
    assert h.run("bob", good).ok
    assert only_nonce_changed(h, "bob", good).error == "replayed"
    expired = sign_swap_terms(h.keys["alice"], h.chain_id, terms(h, expiry=h.height, nonce=2))
    assert only_nonce_changed(h, "bob", expired).error == "expired"
    t = terms(h, nonce=3)
    forged = Swap(t, h.keys["carol"].pubkey, h.keys["carol"].sign(t.sign_bytes(h.chain_id)))
    assert only_nonce_changed(h, "bob", forged).error == "bad_signature"
    wrong_chain = sign_swap_terms(h.keys["alice"], "other-chain", t)
    assert only_nonce_changed(h, "bob", wrong_chain).error == "bad_signature"
    assert only_nonce_changed(h, "carol", sign_swap_terms(h.keys["alice"], h.chain_id, t)).error == "not_permitted"
    too_much = sign_swap_terms(h.keys["alice"], h.chain_id, terms(h, get=("EUR", E12 + 1), nonce=4))
    r = only_nonce_changed(h, "bob", too_much)
    assert r.error == "insufficient_balance" and "taker" in r.reason  # maker's leg would have worked: neither moves
    huge = sign_swap_terms(h.keys["alice"], h.chain_id, terms(h, give=("USD", 2**63), nonce=5))
    assert only_nonce_changed(h, "bob", huge).error == "bad_amount"
    stranger = PrivateKey.from_name("stranger")
    t6 = SwapTerms(stranger.address, h.addr("bob"), "USD", 1, "EUR", 1, 10**6, 6)
    assert only_nonce_changed(h, "bob", sign_swap_terms(stranger, h.chain_id, t6)).error == "not_registered"


def lock(h, amount=1_000, timeout=None, preimage=b"s" * 32):
    timeout = h.height + 5 if timeout is None else timeout
    r = h.run("alice", HtlcLock("USD", amount, h.addr("bob"), hashlib.sha256(preimage).digest(), timeout))
    assert r.ok, r.reason
    return r.events[0].attrs["id"]


def test_htlc_claim_reveals_the_preimage():
    h = Harness(names=("alice", "bob"))
    hid = lock(h)
    assert bal(h, "alice", "USD") == E12 - 1_000 and bal(h, "bob", "USD") == E12  # in no one's balance
    row = conservation(h.view.data.items())["USD"]
    assert row["htlc_locked"] == 1_000 and row["ok"]
    assert only_nonce_changed(h, "bob", HtlcClaim(hid, b"wrong")).error == "htlc_state"
    assert only_nonce_changed(h, "alice", HtlcClaim(hid, b"s" * 32)).error == "not_permitted"
    assert only_nonce_changed(h, "alice", HtlcRefund(hid)).error == "htlc_state"  # not timed out
    r = h.run("bob", HtlcClaim(hid, b"s" * 32))
    assert r.ok and r.events[0].attrs["preimage"] == b"s" * 32
    assert bal(h, "bob", "USD") == E12 + 1_000
    assert rq.htlc_info(h.view, hid)["status"] == "claimed"
    assert only_nonce_changed(h, "bob", HtlcClaim(hid, b"s" * 32)).error == "htlc_state"
    assert conservation(h.view.data.items())["USD"]["htlc_locked"] == 0


def test_htlc_refund_after_timeout_only():
    h = Harness(names=("alice", "bob"))
    hid = lock(h, timeout=h.height + 4)  # locked at height 1, times out at 4
    h.block()  # height 2
    assert only_nonce_changed(h, "alice", HtlcRefund(hid)).error == "htlc_state"
    h.block()  # height 3: the next block is 4 = timeout
    r = only_nonce_changed(h, "bob", HtlcClaim(hid, b"s" * 32))
    assert r.error == "expired"
    assert only_nonce_changed(h, "bob", HtlcRefund(hid)).error == "not_permitted"
    assert h.run("alice", HtlcRefund(hid)).ok
    assert bal(h, "alice", "USD") == E12
    assert only_nonce_changed(h, "alice", HtlcRefund(hid)).error == "htlc_state"


def test_htlc_lock_refusals():
    h = Harness(names=("alice", "bob"))
    h.block()  # height 1: a timeout height of 0 would mean "no height timeout"
    lk = HtlcLock("USD", 5, h.addr("bob"), bytes(32), h.height)
    assert only_nonce_changed(h, "alice", lk).error == "expired"
    assert only_nonce_changed(h, "alice", HtlcLock("USD", E12 + 1, h.addr("bob"), bytes(32), 99)).error == "insufficient_balance"
    assert only_nonce_changed(h, "alice", HtlcLock("XYZ", 1, h.addr("bob"), bytes(32), 99)).error == "unknown_asset"
    assert only_nonce_changed(h, "alice", HtlcLock("USD", 1, bytes(20), bytes(32), 99)).error == "not_registered"
    assert only_nonce_changed(h, "bob", HtlcClaim(bytes(32), b"")).error == "not_found"


def test_htlc_block_time_timeout():
    """A ``timeout_ms`` HTLC: claimable while the block time is before it, refundable from it on (height plays no part)."""
    h = Harness(names=("alice", "bob"))  # each block is 1000 ms after the last
    s = b"t" * 32
    r = h.run("alice", HtlcLock("USD", 700, h.addr("bob"), hashlib.sha256(s).digest(), 0, h.time_ms + 3_500))
    assert r.ok and r.events[0].attrs["timeout_ms"] == h.time_ms + 2_500
    hid = r.events[0].attrs["id"]
    assert rq.htlc_info(h.view, hid)["timeout_ms"] == h.time_ms + 2_500
    assert only_nonce_changed(h, "alice", HtlcRefund(hid)).error == "htlc_state"  # next block: 1500 ms before it
    h.block()
    h.block()  # the next block is 500 ms past the timeout
    assert only_nonce_changed(h, "bob", HtlcClaim(hid, s)).error == "expired"
    assert h.run("alice", HtlcRefund(hid)).ok
    assert bal(h, "alice", "USD") == E12 and rq.htlc_info(h.view, hid)["status"] == "refunded"


def test_htlc_block_time_claim_before_timeout():
    h = Harness(names=("alice", "bob"))
    s = b"u" * 32
    r = h.run("alice", HtlcLock("EUR", 9, h.addr("bob"), hashlib.sha256(s).digest(), 0, h.time_ms + 5_000))
    hid = r.events[0].attrs["id"]
    assert h.run("bob", HtlcClaim(hid, s), dt_ms=3_999).ok  # 1 ms before the timeout
    assert bal(h, "bob", "EUR") == E12 + 9 and rq.htlc_info(h.view, hid)["preimage"] == s.hex()


def test_htlc_lock_time_refusals():
    h = Harness(names=("alice", "bob"))
    h.block()
    assert only_nonce_changed(h, "alice", HtlcLock("USD", 5, h.addr("bob"), bytes(32), 0, 0)).error == "invalid_parameter"
    # the lock's own block is at time_ms + 1000: a timeout there is already reached
    assert only_nonce_changed(h, "alice", HtlcLock("USD", 5, h.addr("bob"), bytes(32), 0, h.time_ms + 1_000)).error == "expired"
    assert only_nonce_changed(h, "alice", HtlcLock("USD", 5, h.addr("bob"), bytes(32), h.height, 10**12)).error == "expired"
