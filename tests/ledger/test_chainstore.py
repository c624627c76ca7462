"""ChainStore: what a commit stores, what reads give back, what is refused.

Blocks are real (signed transfers, certificates with real precommit
signatures) and come from ``tests.helpers.StoreChain``.  Every test runs on
both backends; "reopen" means a fresh ChainStore over the same data (a
closed and reopened directory for LevelDB).
"""
from __future__ import annotations

from dataclasses import replace

import pytest

from ledger import schema
from ledger.block import Block
from ledger.chainstore import (
    CertificateMismatchError,
    ChainStore,
    GenesisMismatchError,
    HeightNotNextError,
    NoSuchBlockError,
    ParentMismatchError,
    ReceiptMismatchError,
    StateCorrupt,
    StoreError,
    UnknownSchemaError,
)
from ledger.commit import verify_commit
from ledger.hashing import ZERO_HASH
from ledger.interfaces import KVStore
from ledger.store_leveldb import LevelDBKV
from ledger.store_memory import MemoryKV
from tests.helpers import (
    STORE_CHAIN_ID,
    StoreBlock,
    StoreChain,
    StoreFailingKV,
    store_assert_consistent,
)


class Home:
    """One backend's data, reopened as a new KVStore + ChainStore on demand."""

    def __init__(self, backend: str, tmp_path) -> None:
        self.backend = backend
        self.path = tmp_path / "db"
        self.memory = MemoryKV()
        self.kv: KVStore | None = None

    def open(self) -> ChainStore:
        self.close()
        self.kv = self.memory if self.backend == "memory" else LevelDBKV(self.path)
        return ChainStore(self.kv)

    def close(self) -> None:
        if self.kv is not None and self.backend == "leveldb":
            self.kv.close()
        self.kv = None


@pytest.fixture(params=["memory", "leveldb"])
def home(request, tmp_path):
    h = Home(request.param, tmp_path)
    yield h
    h.close()


def start(store: ChainStore) -> StoreChain:
    chain = StoreChain()
    store.init_genesis(*chain.genesis())
    return chain


def commit(store: ChainStore, chain: StoreChain, n: int) -> list[StoreBlock]:
    built = [chain.next_block() for _ in range(n)]
    for b in built:
        b.commit_to(store)
    return built


# --------------------------------------------------------------------------- reads


def test_empty_store_reads_nothing(home):
    store = home.open()
    assert store.latest_height() == 0
    assert store.block(1) is None and store.block_raw(1) is None and store.header(1) is None
    assert store.header(0) is None and store.block(0) is None and store.block(-1) is None
    assert store.commit_cert(1) is None and store.receipts(1) == []
    assert store.block_by_hash(ZERO_HASH) is None
    assert store.tx_location(ZERO_HASH) is None and store.receipt(ZERO_HASH) is None
    assert store.root_acc() is None and store.genesis_hash() is None and store.genesis_doc() is None
    assert list(store.state_iter(b"")) == []


def test_committed_blocks_read_back_after_reopen(home):
    store = home.open()
    chain = start(store)
    built = commit(store, chain, 5)
    store = home.open()

    assert store.latest_height() == 5
    assert store_assert_consistent(home.kv, store) == 5
    for b in built:
        h = b.block.height
        assert store.block_raw(h) == b.block.encode()
        assert store.block(h) == b.block and store.block_by_hash(b.block.id) == b.block
        assert store.header(h) == b.block.header
        assert store.commit_cert(h) == b.cert
        verify_commit(store.commit_cert(h), chain.vset, STORE_CHAIN_ID, height=h, block_id=b.block.id)
        assert tuple(store.receipts(h)) == b.receipts
        for i, tx in enumerate(b.block.txs):
            assert store.tx_location(tx.hash) == (h, i)
            assert store.receipt(tx.hash) == (h, i, b.receipts[i])
    assert store.block(6) is None and store.commit_cert(6) is None and store.receipts(6) == []
    assert store.root_acc() == built[-1].root_acc
    assert dict(store.state_iter(b"")) == chain.state


def test_latest_header_is_served_from_memory(home):
    store = home.open()
    chain = start(store)
    commit(store, chain, 2)
    header = store.header(2)
    home.kv.write({}, [schema.block_key(2)])  # behind the store's back
    assert store.header(2) is header
    assert store.header(1) is not None


def test_state_writes_put_delete_and_iterate_without_the_schema_prefix(home):
    store = home.open()
    store.init_genesis(b"g", b"doc", {b"x/1": b"a", b"x/2": b"b", b"y": b"c", b"gone": None}, b"acc0")
    assert store.state_get(b"x/1") == b"a" and store.state_get(b"gone") is None
    assert list(store.state_iter(b"x/")) == [(b"x/1", b"a"), (b"x/2", b"b")]
    assert list(store.state_iter(b"x/", reverse=True)) == [(b"x/2", b"b"), (b"x/1", b"a")]
    assert [k for k, _ in store.state_iter(b"")] == [b"x/1", b"x/2", b"y"]
    assert store.root_acc() == b"acc0"


def test_commit_deletes_state_and_moves_root_acc(home):
    store = home.open()
    chain = start(store)
    first, second = commit(store, chain, 2)
    assert store.root_acc() == second.root_acc != first.root_acc
    gone = [k for k, v in second.state_writes.items() if v is None]
    assert gone and all(store.state_get(k) is None for k in gone)


# --------------------------------------------------------------------------- refusals


def test_block_at_the_wrong_height_is_refused_and_nothing_written(home):
    store = home.open()
    chain = start(store)
    (b1,) = commit(store, chain, 1)
    b2 = chain.next_block()
    b3 = chain.next_block()
    for b, expected_height in ((b3, 3), (b1, 1)):
        with pytest.raises(HeightNotNextError) as info:
            b.commit_to(store)
        assert (info.value.height, info.value.expected) == (expected_height, 2)
    assert store.latest_height() == 1 and store.block(3) is None
    b2.commit_to(store)
    b3.commit_to(store)
    assert home.open().latest_height() == 3


def test_first_block_must_be_height_one(home):
    store = home.open()
    chain = start(store)
    chain.next_block()
    with pytest.raises(HeightNotNextError) as info:
        chain.next_block().commit_to(store)
    assert (info.value.height, info.value.expected) == (2, 1)
    assert store.latest_height() == 0 and home.kv.get(schema.LATEST_HEIGHT) is None


def test_block_not_linked_to_the_latest_is_refused(home):
    store = home.open()
    chain = start(store)
    commit(store, chain, 1)
    chain.prev_id = b"\x07" * 32
    with pytest.raises(ParentMismatchError):
        chain.next_block().commit_to(store)
    assert store.latest_height() == 1


def test_certificate_of_another_block_is_refused(home):
    store = home.open()
    chain = start(store)
    b1 = chain.next_block()
    other = Block.make(replace(b1.block.header, time_ms=5), b1.block.txs)
    with pytest.raises(CertificateMismatchError):
        store.commit_block(b1.block, chain.certify(other), b1.receipts, b1.state_writes, b1.root_acc)
    wrong_height = replace(b1.cert, height=2)
    with pytest.raises(CertificateMismatchError):
        store.commit_block(b1.block, wrong_height, b1.receipts, b1.state_writes, b1.root_acc)
    assert store.latest_height() == 0 and store.block(1) is None


def test_receipts_must_start_with_one_per_tx_in_order(home):
    store = home.open()
    chain = start(store)
    b = chain.next_block(n_txs=3)
    r = b.receipts
    for bad, index in (((r[1], r[0], r[2]), 0), (r[:2], 2), ((), 0)):
        with pytest.raises(ReceiptMismatchError) as info:
            store.commit_block(b.block, b.cert, bad, b.state_writes, b.root_acc)
        assert info.value.index == index
    assert store.latest_height() == 0
    extra = replace(r[0], tx_hash=ZERO_HASH, events=())  # a block-level receipt after the txs
    store.commit_block(b.block, b.cert, r + (extra,), b.state_writes, b.root_acc)
    assert store.receipts(1)[-1] == extra and store.receipt(b.block.txs[0].hash)[2] == r[0]


def test_failed_write_leaves_store_and_cache_unchanged(home):
    store = home.open()
    chain = start(store)
    commit(store, chain, 1)
    failing = ChainStore(StoreFailingKV(home.kv, fail_at=1))
    b2 = chain.next_block()
    with pytest.raises(StoreError, match="injected"):
        b2.commit_to(failing)
    assert failing.latest_height() == 1 and failing.header(1) == store.header(1)
    assert failing.block(2) is None and failing.root_acc() == store.root_acc()
    b2.commit_to(failing)  # the same block goes through on the retry
    assert home.open().latest_height() == 2


# --------------------------------------------------------------------------- genesis


def test_genesis_is_stored_once_and_repeating_it_is_a_no_op(home):
    store = home.open()
    g_hash, g_doc, writes, acc = StoreChain().genesis()
    store.init_genesis(g_hash, g_doc, writes, acc)
    commit(store, _resumed(store), 1)
    store = home.open()
    store.init_genesis(g_hash, g_doc, writes, acc)  # e.g. on every node start
    assert store.genesis_hash() == g_hash and store.genesis_doc() == g_doc
    assert store.root_acc() != acc  # the no-op did not reset the state
    assert store_assert_consistent(home.kv, store) == 1


def test_another_genesis_is_refused(home):
    store = home.open()
    g_hash, g_doc, writes, acc = StoreChain().genesis()
    store.init_genesis(g_hash, g_doc, writes, acc)
    with pytest.raises(GenesisMismatchError) as info:
        store.init_genesis(b"\x01" * 32, g_doc, writes, acc)
    assert info.value.stored == g_hash
    with pytest.raises(GenesisMismatchError, match="another document"):
        store.init_genesis(g_hash, g_doc + b" ", writes, acc)
    assert home.open().genesis_doc() == g_doc


def test_genesis_after_blocks_without_one_is_refused(home):
    store = home.open()
    chain = StoreChain()
    chain.genesis()  # the toy state, not stored
    commit(store, chain, 1)
    with pytest.raises(GenesisMismatchError, match="without a genesis"):
        store.init_genesis(*StoreChain().genesis())


def _resumed(store: ChainStore) -> StoreChain:
    chain = StoreChain()
    chain.resume(store)
    return chain


# --------------------------------------------------------------------------- certificates


def test_a_later_certificate_replaces_the_stored_one(home):
    store = home.open()
    chain = start(store)
    b1, _ = commit(store, chain, 2)
    later = chain.certify(b1.block, round_=3)
    store.replace_commit_cert(1, later)
    assert home.open().commit_cert(1) == later


def test_replacing_a_certificate_checks_height_and_block(home):
    store = home.open()
    chain = start(store)
    b1, b2 = commit(store, chain, 2)
    with pytest.raises(CertificateMismatchError):
        store.replace_commit_cert(1, b2.cert)
    with pytest.raises(NoSuchBlockError) as info:
        store.replace_commit_cert(3, replace(b2.cert, height=3))
    assert (info.value.height, info.value.latest) == (3, 2)
    with pytest.raises(NoSuchBlockError):
        store.replace_commit_cert(0, b1.cert)
    assert store.commit_cert(1) == b1.cert


# --------------------------------------------------------------------------- schema


def test_every_key_family_is_versioned_and_none_overlaps():
    prefixes = [f.prefix for f in schema.LAYOUT]
    assert len(set(prefixes)) == len(prefixes)
    for p in prefixes:
        assert p.startswith(schema.PREFIX)
        assert not any(q != p and q.startswith(p) for q in prefixes), f"{p!r} is a prefix of another family"
    constants = {getattr(schema, n) for n in dir(schema) if n.isupper() and isinstance(getattr(schema, n), bytes)}
    assert constants - {schema.PREFIX, schema.META} == set(prefixes), "a key constant is missing from LAYOUT"


def test_store_of_another_schema_is_refused(home):
    store = home.open()
    start(store)
    home.kv.write({b"v2/m/latest_height": b"\x00" * 8})
    with pytest.raises(UnknownSchemaError, match="v2/"):
        home.open()
    home.kv.write({schema.SCHEMA_VERSION: schema.encode_schema_version(2)}, [b"v2/m/latest_height"])
    with pytest.raises(UnknownSchemaError, match="version 2"):
        home.open()


def test_undecodable_value_is_reported_as_corruption(home):
    store = home.open()
    chain = start(store)
    b1, _ = commit(store, chain, 2)
    home.kv.write({schema.block_key(1): b"\xc1", schema.tx_key(b1.block.txs[0].hash): b"junk"})
    with pytest.raises(StateCorrupt) as info:
        store.block(1)
    assert info.value.key == schema.block_key(1)
    with pytest.raises(StateCorrupt):
        store.receipt(b1.block.txs[0].hash)
    home.kv.write({schema.LATEST_HEIGHT: b"\x01"})
    with pytest.raises(StateCorrupt):
        home.open()
