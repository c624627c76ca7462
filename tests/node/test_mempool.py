"""Mempool: nonce order, future nonces, limits, reaping, eviction after a block; the flood bounds
(nonce window, per-sender caps, ready-beats-future eviction, expiry) and gossip of ready txs only."""
from __future__ import annotations

import pytest
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from ledger.codec import decode
from ledger.commit import CommitCertificate, CommitSig, VoteType, vote_sign_bytes
from ledger.keys import PrivateKey
from ledger.tx import Tx, sign_tx
from ledger.txkinds import Transfer
from node.chain import VerifiedMemo
from node.config import MempoolConfig
from node.mempool import Mempool, MempoolRejection
from tests.settlement.builders import Chain


def _pool(c: Chain, clock=None, **limits) -> Mempool:
    """A mempool over ``c``'s committed state with these MempoolConfig limits."""
    base = c.mempool()
    extra = {"clock": clock} if clock is not None else {}
    return Mempool(MempoolConfig(**limits), check=base._check, is_committed=base._is_committed, **extra)


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
    pool = _pool(c, max_txs=3, max_bytes=1 << 20)
    for n in range(3):
        pool.add(_t(c, "alice", n))
    with pytest.raises(MempoolRejection) as e:
        pool.add(_t(c, "alice", 3))
    assert e.value.code == "mempool_full"
    t = _t(c, "bob", 0)
    small = _pool(c, max_txs=10, max_bytes=len(t.raw) - 1)
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


# ---------------------------------------------------------------------- flood bounds


def _empty_block(c: Chain, pool: Mempool) -> None:
    """Commit an empty block and tell the pool (a commit that includes none of its txs)."""
    block, _ = c.commit_txs([])
    pool.update(block.txs, c.node.nonce_of)


def test_a_nonce_too_far_above_the_next_expected_is_refused_and_the_window_moves():
    c = Chain.fresh()
    pool = _pool(c, nonce_window=4)
    pool.add(_t(c, "alice", 4))  # next expected 0: 4 above is inside the window
    with pytest.raises(MempoolRejection) as e:
        pool.add(_t(c, "alice", 5))
    assert e.value.code == "nonce_too_far" and "more than 4 above the next expected nonce 0" in e.value.reason
    pool.add(_t(c, "alice", 0))
    pool.add(_t(c, "alice", 1))  # ready txs move the next expected nonce to 2
    pool.add(_t(c, "alice", 6))
    with pytest.raises(MempoolRejection, match="nonce_too_far|above"):
        pool.add(_t(c, "alice", 7))
    c.commit_pool(pool)  # commits 0, 1: committed nonce 2, nothing ready
    pool.add(_t(c, "alice", 2))
    pool.add(_t(c, "alice", 7))  # next expected 3 now
    assert pool.next_nonce(c.addr("alice")) == 3 and len(pool) == 4  # 2 ready; 4, 6, 7 wait


def test_per_sender_count_and_byte_caps_refuse_that_sender_only():
    c = Chain.fresh()
    pool = _pool(c, max_txs_per_sender=3)
    for n in range(3):
        pool.add(_t(c, "alice", n))
    with pytest.raises(MempoolRejection) as e:
        pool.add(_t(c, "alice", 3))
    assert e.value.code == "sender_full" and "at most 3" in e.value.reason
    pool.add(_t(c, "bob", 0))
    c.commit_pool(pool)
    pool.add(_t(c, "alice", 3))  # room again once its txs commit

    one = len(_t(c, "alice", 0).raw)
    pool = _pool(c, max_bytes_per_sender=2 * one + one // 2)
    pool.add(_t(c, "bob", 1))
    pool.add(_t(c, "bob", 2))
    with pytest.raises(MempoolRejection) as e:
        pool.add(_t(c, "bob", 3))
    assert e.value.code == "sender_full" and "bytes" in e.value.reason
    assert pool.senders[c.addr("bob")].bytes == pool.bytes == 2 * one


def test_a_ready_tx_of_a_capped_sender_takes_the_place_of_its_own_highest_future_tx():
    c = Chain.fresh()
    pool = _pool(c, max_txs_per_sender=3)
    for n in (1, 2, 3):
        pool.add(_t(c, "alice", n))  # all future: nonce 0 is missing
    with pytest.raises(MempoolRejection, match="sender"):
        pool.add(_t(c, "alice", 4))  # a future tx never displaces anything
    pool.add(_t(c, "alice", 0))  # the gap filler gets in: nonce 3 gives way
    assert [t.nonce for t in pool.reap(10, 1 << 20)] == [0, 1, 2]
    assert len(pool) == 3 and pool.evicted == 1 and not pool._queued


def test_full_pool_a_ready_tx_evicts_future_txs_first_and_a_future_tx_is_refused():
    c = Chain.fresh()
    pool = _pool(c, max_txs=4)
    pool.add(_t(c, "bob", 0))
    for n in (1, 2, 3):
        pool.add(_t(c, "alice", n))  # queued behind the missing nonce 0
    with pytest.raises(MempoolRejection) as e:
        pool.add(_t(c, "carol", 1))  # future: refused, evicts nothing
    assert e.value.code == "mempool_full"
    carol0 = _t(c, "carol", 0)
    pool.add(carol0)  # ready: alice's highest future tx gives way
    assert len(pool) == 4 and carol0.hash in pool.ready
    assert sorted(pool.senders[c.addr("alice")].future) == [1, 2]
    pool.add(_t(c, "bob", 1))
    pool.add(_t(c, "carol", 1))
    assert not pool._queued and c.addr("alice") not in pool.senders  # every future tx made room
    assert pool.evicted == 3 and len(pool) == 4


def test_full_pool_without_future_txs_the_sender_with_the_most_gives_way_newest_first():
    c = Chain.fresh()
    pool = _pool(c, max_txs=5)
    for n in range(4):
        pool.add(_t(c, "alice", n))
    pool.add(_t(c, "bob", 0))
    pool.add(_t(c, "carol", 0))  # alice holds 4 >= 0 + 2: her nonce 3 gives way
    assert pool.next_nonce(c.addr("alice")) == 3
    pool.add(_t(c, "carol", 1))  # alice 3 >= 1 + 2: her nonce 2 gives way
    with pytest.raises(MempoolRejection) as e:
        pool.add(_t(c, "bob", 1))  # alice 2 < 1 + 2: nobody ranks below bob's second tx
    assert e.value.code == "mempool_full"
    got = pool.reap(10, 1 << 20)
    assert sorted((t.sender_address, t.nonce) for t in got) == sorted(
        [(c.addr("alice"), 0), (c.addr("alice"), 1), (c.addr("bob"), 0), (c.addr("carol"), 0), (c.addr("carol"), 1)]
    )
    c.commit_pool(pool)  # what stayed is includable in order
    assert len(pool) == 0 and pool.bytes == 0 and not pool.senders


def test_full_by_bytes_evicts_as_many_as_the_newcomer_needs():
    c = Chain.fresh()
    one = len(_t(c, "alice", 0).raw)
    pool = _pool(c, max_bytes=4 * one)
    for n in range(1, 5):
        pool.add(_t(c, "alice", n))
    big = c.sign("bob", Transfer(c.addr("carol"), "USD", 1, "x" * 250), nonce=0)
    need = -(-len(big.raw) // one)  # alice's txs that must go (ceiling)
    assert need == 3
    pool.add(big)
    assert big.hash in pool.ready and pool.bytes == len(big.raw) + (4 - need) * one
    assert pool.evicted == need and sorted(pool.senders[c.addr("alice")].future) == [1]


def test_ttl_in_blocks_drops_old_txs_and_their_later_ready_txs_wait_again():
    c = Chain.fresh()
    pool = _pool(c, ttl_blocks=1)
    a0 = _t(c, "alice", 0)
    pool.add(a0)
    pool.add(_t(c, "bob", 3))  # future
    _empty_block(c, pool)
    pool.add(_t(c, "alice", 1))
    assert len(pool) == 3  # waited one block: not more than ttl_blocks
    _empty_block(c, pool)  # alice 0 and bob 3 waited two blocks
    assert a0.hash not in pool and c.addr("bob") not in pool.senders and pool.expired == 2
    assert pool.reap(10, 1 << 20) == [] and pool.next_nonce(c.addr("alice")) == 0  # alice 1 waits for 0 again
    pool.add(a0)
    assert [t.nonce for t in pool.reap(10, 1 << 20)] == [0, 1]
    _empty_block(c, pool)
    assert [t.nonce for t in pool.reap(10, 1 << 20)] == [0]  # alice 1 expired; 0 re-entered later


def test_ttl_in_seconds_drops_a_tx_only_after_it_surely_waited_that_long():
    c = Chain.fresh()
    now = [0.0]
    pool = _pool(c, clock=lambda: now[0], ttl_seconds=10)
    tx = _t(c, "alice", 0)
    pool.add(tx)  # at 0
    for t in (5.0, 12.0, 15.0):  # entered before the commit at 5: only known to have waited now - 5
        now[0] = t
        _empty_block(c, pool)
        assert tx.hash in pool, t
    now[0] = 15.5
    _empty_block(c, pool)
    assert tx.hash not in pool and len(pool) == 0 and pool.bytes == 0 and pool.expired == 1


class _Wire:
    """The publishing side of a transport, keeping what this node sends (the real one: test_mempool_flood.py)."""

    def __init__(self):
        self.sent: list[list[bytes]] = []

    def publish(self, topic: str, data: bytes) -> bool:
        self.sent.append(decode(data))
        return True

    def peers(self) -> list[str]:
        return []

    def report_garbage(self, peer_id: str) -> None:
        raise AssertionError("no garbage expected")


def test_only_ready_txs_are_gossiped_and_a_held_one_goes_once_it_is_ready(node_home, node_in_process):
    """A real node (store, chain, mempool) submitting through ClientTxs.submit, as RPC does."""
    from node.gossip import TxGossip
    from node.intake import ClientTxs

    home, node = node_home[0], node_in_process
    wire = _Wire()
    gossip = TxGossip(node.intake, node.mempool, wire, is_validator=node.is_validator)
    client = ClientTxs(node.intake, gossip)
    alice, bob = (PrivateKey.load(home / "keys" / f"{n}.json") for n in ("alice", "bob"))

    def tx(key, nonce):
        return sign_tx(key, node.chain.chain_id, nonce, Transfer(bob.address if key is alice else alice.address, "USD", 1, ""))

    def sent():
        gossip.release()
        gossip.flush()
        out, wire.sent[:] = [raw for batch in wire.sent for raw in batch], []
        return out

    client.submit(tx(alice, 2))
    client.submit(tx(alice, 1))  # both wait for nonce 0
    assert sent() == [] and len(node.mempool) == 2
    client.submit(tx(alice, 0))  # fills the gap: all three are ready, and sent in nonce order
    assert sent() == [tx(alice, n).raw for n in range(3)]

    # bob's nonce 0 reaches a block without this node's mempool (another node's client)
    client.submit(tx(bob, 1))
    assert sent() == []
    prop = node.chain.propose([tx(bob, 0)], node.chain.last_time_ms + 1, node.key.address, max_txs=10, max_bytes=1 << 20)
    block = prop.block
    sig = node.key.sign(vote_sign_bytes(node.chain.chain_id, VoteType.PRECOMMIT, block.height, 0, block.id))
    node.commits.commit(block, prop.result, CommitCertificate(block.height, 0, block.id, (CommitSig(node.key.address, sig),)))
    assert tx(bob, 1).hash in node.mempool.ready
    assert sent() == [tx(bob, 1).raw]  # gossiped once the commit made it ready


class MempoolMachine(RuleBasedStateMachine):
    """Random admissions, commits and expiry under small limits; the structure's invariants after every step."""

    WHO = ("alice", "bob", "carol")

    def __init__(self):
        super().__init__()
        self.c = Chain.fresh()
        self.lim = MempoolConfig(max_txs=8, max_bytes=10 * 160, max_txs_per_sender=4, max_bytes_per_sender=5 * 160,
                                 nonce_window=3, ttl_blocks=3, ttl_seconds=0)
        self.pool = _pool(self.c, **vars(self.lim))

    @rule(who=st.sampled_from(WHO), ahead=st.integers(-1, 5), memo=st.integers(0, 100))
    def add(self, who, ahead, memo):
        pool, c = self.pool, self.c
        base = pool.next_nonce(c.addr(who))
        base = c.node.nonce_of(c.addr(who)) if base is None else base
        tx = c.sign(who, Transfer(c.addr("carol" if who != "carol" else "bob"), "USD", 1, "m" * memo), nonce=max(0, base + ahead))
        before, evicted = len(pool.ready), pool.evicted
        try:
            pool.add(tx, verified=True)
        except MempoolRejection as e:
            event(e.code)
            assert (tx.hash in pool) == (e.code == "duplicate")
            if e.code == "mempool_full":
                assert len(pool.ready) == before
            return
        assert tx.hash in pool
        if pool.evicted > evicted:
            event("evicted")

    @rule(n=st.integers(0, 6))
    def commit(self, n):
        block, _ = self.c.commit_txs(self.pool.reap(n, 1 << 20))
        assert len(block.txs) == min(n, len(self.pool.ready))  # every reaped tx was includable, in order
        expired = self.pool.expired
        self.pool.update(block.txs, self.c.node.nonce_of)
        if self.pool.expired > expired:
            event("expired")

    @invariant()
    def structure(self):
        pool, lim = self.pool, self.lim
        assert len(pool) <= lim.max_txs and pool.bytes <= lim.max_bytes
        assert pool.bytes == sum(len(t.raw) for t in pool.by_hash.values())
        assert set(pool._since) == set(pool.by_hash) and set(pool.ready) <= set(pool.by_hash)
        assert set(pool._queued) == {a for a, s in pool.senders.items() if s.future}
        held = 0
        for addr, s in pool.senders.items():
            assert s.pending and len(s.pending) <= lim.max_txs_per_sender and s.bytes <= lim.max_bytes_per_sender
            assert s.bytes == sum(len(t.raw) for t in s.pending.values())
            committed = self.c.node.nonce_of(addr)
            ready = sorted(n for n, t in s.pending.items() if t.hash in pool.ready)
            assert ready == list(range(committed, s.next_ready))
            assert all(n > s.next_ready for n in s.future) and set(s.future) | set(ready) == set(s.pending)
            held += len(s.pending)
        assert held == len(pool)


TestMempoolMachine = MempoolMachine.TestCase
TestMempoolMachine.settings = settings(max_examples=100, stateful_step_count=40, deadline=None)


def test_a_nonce_the_pool_will_refuse_is_known_before_any_signature_work():
    c = Chain.fresh()
    pool = _pool(c, nonce_window=4)
    hopeless = lambda n, earlier=0: pool.nonce_hopeless(_t(c, "alice", n), c.node.nonce_of, earlier)  # noqa: E731
    assert not hopeless(0) and not hopeless(4) and hopeless(5)
    assert not hopeless(5, earlier=1)  # the batch's earlier tx may move the window
    pool.add(_t(c, "alice", 0))
    assert hopeless(0) and not hopeless(5) and hopeless(6)
    c.commit_pool(pool)
    assert hopeless(0) and not hopeless(1)
    capped = _pool(c, max_txs_per_sender=2)
    capped.add(_t(c, "bob", 0))
    capped.add(_t(c, "bob", 1))
    assert capped.nonce_hopeless(_t(c, "bob", 2), c.node.nonce_of)


def test_mempool_limits_in_the_config_file_are_checked(tmp_path):
    from node.config import ConfigError, NodeConfig, load_config, save_config

    cfg = NodeConfig(home=tmp_path)
    cfg.mempool.nonce_window = 0  # allowed: no future txs at all
    cfg.mempool.ttl_seconds = 0
    save_config(cfg)
    assert load_config(tmp_path).mempool.nonce_window == 0
    for name, bad in (("nonce_window", -1), ("max_txs_per_sender", 0), ("ttl_blocks", -5)):
        cfg = NodeConfig(home=tmp_path)
        setattr(cfg.mempool, name, bad)
        save_config(cfg)
        with pytest.raises(ConfigError, match=f"mempool.{name}"):
            load_config(tmp_path)



def test_a_tx_refused_for_a_full_pool_evicts_nothing():
    """Found by the machine below: bob's small ready txs made room by count, alice's larger tx still
    did not fit by bytes, and the evictions stood although the tx was refused."""
    m = MempoolMachine()
    pool, c = m.pool, m.c

    def add(who, memo):
        nonce = pool.next_nonce(c.addr(who))
        nonce = c.node.nonce_of(c.addr(who)) if nonce is None else nonce
        tx = c.sign(who, Transfer(c.addr("carol" if who != "carol" else "bob"), "USD", 1, "m" * memo), nonce=nonce)
        try:
            pool.add(tx, verified=True)
        except MempoolRejection as e:
            return e.code
        return "ok"

    for who, memo in (("carol", 100), ("alice", 37), ("bob", 46), ("alice", 66), ("carol", 91)):
        assert add(who, memo) == "ok"
    codes = [add("bob", 0) for _ in range(8)]
    assert codes[:3] == ["ok"] * 3 and set(codes[3:]) == {"sender_full"}
    ready, held = dict(pool.ready), dict(pool.by_hash)
    assert add("alice", 47) == "mempool_full"
    assert pool.ready == ready and pool.by_hash == held and pool.evicted == 0
    m.structure()
