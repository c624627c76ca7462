"""Shared test helpers: fakes and builders used by more than one test module.

Store helpers (names start with ``store_`` / ``Store``) serve the ledger
storage tests and the crash writer ``tests/ledger/store_crash_writer.py``:

* :class:`StoreChain` builds a real chain: signed transfers, headers that
  commit to real roots, certificates with real precommit signatures, and a toy
  settlement state whose invariants survive any crash of a correct store;
* :func:`store_assert_consistent` checks those invariants and the store's own
  cross-references on an opened store;
* :class:`StoreFailingKV` wraps a KVStore and fails its k-th write.

Nothing here sleeps, reads the clock or draws random numbers: blocks depend on
the height only, so a chain rebuilt from a store continues the same way.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from ledger import schema
from ledger.block import Block, Header, tx_root
from ledger.chainstore import ChainStore
from ledger.codec import decode, encode
from ledger.commit import CommitCertificate, CommitSig, VoteType, verify_commit, vote_sign_bytes
from ledger.hashing import ZERO_HASH, sha256
from ledger.interfaces import KVStore, StoreError
from ledger.keys import PrivateKey
from ledger.receipt import Event, Receipt, receipts_root
from ledger.tx import sign_tx
from ledger.txkinds import Transfer
from ledger.validators import Validator, ValidatorSet

STORE_CHAIN_ID = "store-test"
STORE_ACCOUNTS = 4
STORE_START_BALANCE = 1_000
STORE_TOTAL = STORE_ACCOUNTS * STORE_START_BALANCE
STORE_BAL = b"bal/"  # + address -> encode(balance)
STORE_MARK = b"mark/"  # + 8-byte height: exactly one, naming the latest height


def store_mark_key(height: int) -> bytes:
    return STORE_MARK + height.to_bytes(8, "big")


def store_state_root(state: Mapping[bytes, bytes]) -> bytes:
    """The toy state root: sha256 of the sorted (key, value) pairs."""
    return sha256(encode(sorted([k, v] for k, v in state.items())))


@dataclass(frozen=True)
class StoreBlock:
    """Everything :meth:`ChainStore.commit_block` takes, in its argument order."""

    block: Block
    cert: CommitCertificate
    receipts: tuple[Receipt, ...]
    state_writes: dict[bytes, bytes | None]
    root_acc: bytes

    def commit_to(self, store: ChainStore) -> None:
        store.commit_block(self.block, self.cert, self.receipts, self.state_writes, self.root_acc)


class StoreChain:
    """Builds certified blocks of transfers over a conserved-balance toy state.

    Invariants of every state it produces (checked by
    :func:`store_assert_consistent`): the ``bal/`` balances sum to
    :data:`STORE_TOTAL` and none is negative; exactly one ``mark/`` key
    exists and it names the latest height; ``root_acc`` and the header's
    ``state_root`` equal :func:`store_state_root` of the state.
    """

    def __init__(self) -> None:
        self.validator = PrivateKey.from_name("store-validator")
        self.vset = ValidatorSet([Validator(self.validator.pubkey, 1)])
        self.users = [PrivateKey.from_name(f"store-user{i}") for i in range(STORE_ACCOUNTS)]
        self.state: dict[bytes, bytes] = {}
        self.height = 0
        self.prev_id = ZERO_HASH

    def genesis(self) -> tuple[bytes, bytes, dict[bytes, bytes | None], bytes]:
        """``(genesis_hash, genesis_doc, state_writes, root_acc)`` for init_genesis."""
        doc = encode({"chain_id": STORE_CHAIN_ID, "accounts": [u.address for u in self.users]})
        writes: dict[bytes, bytes | None] = {
            STORE_BAL + u.address: encode(STORE_START_BALANCE) for u in self.users
        }
        writes[store_mark_key(0)] = b""
        self.state = {k: v for k, v in writes.items() if v is not None}
        return sha256(doc), doc, writes, store_state_root(self.state)

    def resume(self, store: ChainStore) -> None:
        """Continue from what ``store`` holds (after a restart)."""
        self.state = dict(store.state_iter(b""))
        self.height = store.latest_height()
        header = store.header(self.height)
        self.prev_id = ZERO_HASH if header is None else header.id

    def certify(self, block: Block, round_: int = 0) -> CommitCertificate:
        """A certificate with the validator's real precommit signature."""
        msg = vote_sign_bytes(STORE_CHAIN_ID, VoteType.PRECOMMIT, block.height, round_, block.id)
        sig = CommitSig(self.validator.address, self.validator.sign(msg))
        return CommitCertificate(block.height, round_, block.id, (sig,))

    def next_block(self, n_txs: int = 3) -> StoreBlock:
        """Build the block after the last one built (or resumed)."""
        height = self.height + 1
        writes: dict[bytes, bytes | None] = {}
        txs, receipts = [], []
        for j in range(n_txs):
            sender = self.users[(height + j) % len(self.users)]
            to = self.users[(height + j + 1) % len(self.users)]
            amount = (height * 7 + j * 13) % 300 + 1
            body = Transfer(to.address, "USD", amount, f"h{height}")
            tx = sign_tx(sender, STORE_CHAIN_ID, height * 16 + j, body)
            txs.append(tx)
            src, dst = STORE_BAL + sender.address, STORE_BAL + to.address
            if decode(self.state[src]) < amount:
                receipts.append(Receipt(tx.hash, 1, "insufficient_funds", f"needs {amount}", ()))
                continue
            for key, delta in ((src, -amount), (dst, amount)):
                self.state[key] = writes[key] = encode(decode(self.state[key]) + delta)
            receipts.append(Receipt(tx.hash, 0, "", "", (Event("transfer", {"amount": amount}),)))
        writes[store_mark_key(height - 1)] = None
        writes[store_mark_key(height)] = b""
        del self.state[store_mark_key(height - 1)]
        self.state[store_mark_key(height)] = b""
        root = store_state_root(self.state)
        header = Header(
            chain_id=STORE_CHAIN_ID,
            height=height,
            time_ms=height * 1_000,
            prev_hash=self.prev_id,
            tx_root=tx_root(txs),
            state_root=root,
            receipts_root=receipts_root(receipts),
            proposer=self.validator.address,
            validators_hash=self.vset.hash,
        )
        block = Block.make(header, txs)
        self.height, self.prev_id = height, block.id
        return StoreBlock(block, self.certify(block), tuple(receipts), writes, root)


def _family(kv: KVStore, prefix: bytes) -> list[bytes]:
    return [k[len(prefix):] for k, _ in kv.iterate(prefix)]


def store_assert_consistent(kv: KVStore, store: ChainStore) -> int:
    """Assert everything a crash must not break; return the latest height.

    The latest block, its certificate, receipts and tx index are present and
    agree with each other; no height-keyed entry exists beyond the latest
    height; the toy-state invariants hold and ``root_acc`` matches the state.
    """
    height = store.latest_height()
    chain = StoreChain()
    genesis_hash, genesis_doc, _, _ = chain.genesis()
    assert store.genesis_hash() == genesis_hash and store.genesis_doc() == genesis_doc

    state = dict(store.state_iter(b""))
    balances = [decode(v) for k, v in state.items() if k.startswith(STORE_BAL)]
    assert len(balances) == STORE_ACCOUNTS and min(balances) >= 0
    assert sum(balances) == STORE_TOTAL
    assert [k for k in state if k.startswith(STORE_MARK)] == [store_mark_key(height)]
    assert store.root_acc() == store_state_root(state)

    heights = [schema.encode_height(h) for h in range(1, height + 1)]
    for prefix in (schema.BLOCK, schema.CERT, schema.RECEIPTS):
        assert _family(kv, prefix) == heights, f"family {prefix!r} does not hold exactly 1..{height}"
    assert len(_family(kv, schema.BLOCK_HASH)) == height
    assert store.block_raw(height + 1) is None and store.commit_cert(height + 1) is None
    if height == 0:
        assert _family(kv, schema.TX) == []
        return 0

    block = store.block(height)
    assert block is not None and block.height == height
    assert store.header(height) == block.header
    assert block.header.state_root == store.root_acc()
    assert store.block_by_hash(block.id) == block
    cert = store.commit_cert(height)
    verify_commit(cert, chain.vset, STORE_CHAIN_ID, height=height, block_id=block.id)
    receipts = store.receipts(height)
    assert receipts_root(receipts) == block.header.receipts_root
    for i, tx in enumerate(block.txs):
        assert store.tx_location(tx.hash) == (height, i)
        assert store.receipt(tx.hash) == (height, i, receipts[i])
    return height


class StoreFailingKV:
    """A KVStore that fails its ``fail_at``-th write (1-based) and nothing else.

    The failing write raises :class:`StoreError` before reaching ``inner``,
    as a backend that could not write would; later writes go through.
    """

    def __init__(self, inner: KVStore, fail_at: int) -> None:
        self.inner = inner
        self.fail_at = fail_at
        self.writes = 0

    def get(self, key: bytes) -> bytes | None:
        return self.inner.get(key)

    def write(self, puts: Mapping[bytes, bytes], deletes: Iterable[bytes] = (), *, sync: bool = True) -> None:
        self.writes += 1
        if self.writes == self.fail_at:
            raise StoreError(f"injected failure of write {self.writes}")
        self.inner.write(puts, deletes, sync=sync)

    def iterate(self, prefix: bytes, *, reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        return self.inner.iterate(prefix, reverse=reverse)

    def close(self) -> None:
        self.inner.close()
