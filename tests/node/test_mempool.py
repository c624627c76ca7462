"""Mempool: nonce order, future nonces, limits, reaping and eviction after a block."""
from __future__ import annotations

import pytest

from ledger.tx import Tx
from ledger.txkinds import Transfer
from node.chain import VerifiedMemo
from node.mempool import Mempool, MempoolRejection
from tests.settlement.builders import Chain


def _t(c: Chain, who: str, nonce: int, amount: int = 1):
    return c.sign(who, Transfer(c.addr("carol"), "USD", amount, ""), nonce=nonce)


def test_future_nonces_wait_until_the_gap_fills():
    c = Chain.fresh()
    pool = c.mempool()
    pool.add(_t(c, "alice", 2))
    pool.add(_t(c, "alice", 1))
    assert pool.reap(10, 1 << 20) == []  # nonce 0 missing
    pool.add(_t(c, "alice", 0))
    assert [t.nonce for t in pool.reap(10, 1 << 20)] == [0, 1, 2]
    assert pool.next_nonce(c.addr("alice")) == 3


def test_reap_keeps_each_senders_order_and_respects_limits():
    c = Chain.fresh()
    pool = c.mempool()
    for n in range(5):
        pool.add(_t(c, "alice", n))
        pool.add(_t(c, "bob", n))
    got = pool.reap(6, 1 << 20)
    assert len(got) == 6
    for who in ("alice", "bob"):
        nonces = [t.nonce for t in got if t.sender_address == c.addr(who)]
        assert nonces == sorted(nonces) and nonces[0] == 0
    one = pool.reap(100, len(got[0].raw))
    assert len(one) == 1


def test_limits_by_count_and_bytes_refuse_with_a_reason():
    c = Chain.fresh()
    base = c.mempool()
    pool = Mempool(max_txs=3, max_bytes=1 << 20, check=base._check, is_committed=base._is_committed)
    for n in range(3):
        pool.add(_t(c, "alice", n))
    with pytest.raises(MempoolRejection) as e:
        pool.add(_t(c, "alice", 3))
    assert e.value.code == "mempool_full"
    t = _t(c, "bob", 0)
    small = Mempool(max_txs=10, max_bytes=len(t.raw) - 1, check=base._check, is_committed=base._is_committed)
    with pytest.raises(MempoolRejection, match="full"):
        small.add(t)
    assert len(small) == 0 and small.bytes == 0


def test_same_nonce_twice_is_refused():
    c = Chain.fresh()
    pool = c.mempool()
    pool.add(_t(c, "alice", 0, 1))
    with pytest.raises(MempoolRejection) as e:
        pool.add(_t(c, "alice", 0, 2))
    assert e.value.code == "nonce_pending"


def test_commit_evicts_included_and_stale_and_promotes_waiting():
    c = Chain.fresh()
    pool = c.mempool()
    for n in range(3):
        pool.add(_t(c, "alice", n))
    pool.add(_t(c, "bob", 1))  # future: waits for bob's nonce 0
    # A block made elsewhere (another proposer) holds alice 0..1 and bob 0.
    c.commit_txs([_t(c, "alice", 0), _t(c, "alice", 1), _t(c, "bob", 0)])
    pool.update(c.store.block(c.node.height).txs, c.node.nonce_of)
    ready = pool.reap(10, 1 << 20)
    assert sorted((t.sender_address == c.addr("bob"), t.nonce) for t in ready) == [(False, 2), (True, 1)]
    assert len(pool) == 2 and pool.bytes == sum(len(t.raw) for t in ready)


def _forged(tx):
    """The same tx with a signature that does not verify (its own bytes and hash)."""
    obj = tx.to_obj()
    obj[5] = bytes(64)
    return Tx.from_obj(obj)


def test_a_stale_or_duplicate_tx_is_refused_before_its_signature_is_checked():
    c = Chain.fresh()
    pool = c.mempool()
    c.commit_txs([_t(c, "alice", 0)])
    with pytest.raises(MempoolRejection) as e:
        pool.add(_forged(_t(c, "alice", 0, 2)))  # a used nonce: no signature work for spam
    assert e.value.code == "not_includable" and "already used" in e.value.reason
    pool.add(_t(c, "alice", 1))
    with pytest.raises(MempoolRejection) as e:
        pool.add(_forged(_t(c, "alice", 1, 3)))
    assert e.value.code == "nonce_pending"
    with pytest.raises(MempoolRejection) as e:
        pool.add(_forged(_t(c, "alice", 2)))  # a fresh nonce: the signature decides
    assert e.value.code == "bad_signature"
    assert len(pool) == 1


def test_a_verified_hash_is_remembered_past_commit_and_the_memo_is_bounded():
    c = Chain.fresh()
    txs = [_t(c, "alice", n) for n in range(3)]
    follower = Chain.fresh()  # another validator: sees the txs first in the block
    block, _ = c.commit_txs(txs)
    cert = c.store.commit_cert(block.height)
    follower.node.commit(block, follower.node.validate(block), cert)
    assert all(tx.hash in follower.node.verified for tx in txs)  # late gossip of these costs no signature

    memo = VerifiedMemo(max_entries=4)
    hashes = [bytes([i]) * 32 for i in range(7)]
    for h in hashes:
        memo.add(h)
        assert h in memo and len(memo) <= 4
    assert hashes[0] not in memo and all(h in memo for h in hashes[4:])
