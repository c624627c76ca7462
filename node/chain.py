"""The committed chain as one node sees it: store, state cache, propose/validate/commit.

Owns: opening the store at genesis or resuming it, the in-memory read-through
cache of committed state, the memo of verified signatures and the parallel
verifier behind it, and committing a block with its certificate in one
atomic store write.  Proposing and validating call the pure rules of
``settlement/blockrules.py`` with this node's tip, state and caches; this
module never decides itself whether a block is valid.

The state tree (``ledger/statetree``) is read through the store with a
cache of decoded nodes; versions older than :data:`STATE_TREE_HEIGHTS`
blocks are pruned in the commit's own write, so state proofs can be given
at any of the latest :data:`STATE_TREE_HEIGHTS` heights.

Synchronous on purpose: the node calls it from its event loop; consensus
reaches it through the committer port (``node/ports.py``).  It never signs anything.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

from ledger.block import Block, Header
from ledger.chainstore import ChainStore
from ledger.commit import CommitCertificate, verify_commit
from ledger.errors import Halt
from ledger.hashing import ZERO_HASH
from ledger.tx import Tx
from settlement.accounts import get_account
from settlement.blockrules import ChainRules, InvalidProposal, first_bad_signature, propose_block, validate_block
from settlement.errors import NotIncludable
from settlement.genesis import Genesis
from settlement.machine import BlockResult, check_includable
from settlement.state import StateTree

__all__ = ["STATE_TREE_HEIGHTS", "Chain", "ChainError", "InvalidProposal"]

# Heights whose state tree is kept (state proofs are served for them); older
# versions' nodes are deleted as each block commits.  Blocks themselves are
# kept forever; only the tree's history is bounded.
STATE_TREE_HEIGHTS = 1_000


class ChainError(Halt):
    """The store does not match the genesis this node was started with: stop before signing anything."""


class VerifiedMemo:
    """Hashes of transactions whose signatures this node has checked, bounded.

    A tx hash covers the signed bytes and the signature, so "this hash
    verified" is true forever: the memo outlives mempool entry, validation and
    commit, and a tx that reaches the node again (gossip after its block, a
    second client) is never checked twice.  Two generations: when the newer
    holds ``max_entries / 2`` hashes it becomes the older and the old older is
    dropped (a lookup checks both), so the memo never holds more than
    ``max_entries`` and costs O(1) per insert.
    """

    def __init__(self, max_entries: int = 131_072):
        self._half = max(1, max_entries // 2)
        self._new: dict[bytes, None] = {}
        self._old: dict[bytes, None] = {}

    def __contains__(self, tx_hash: bytes) -> bool:
        return tx_hash in self._new or tx_hash in self._old

    def __len__(self) -> int:
        return len(self._new) + len(self._old)

    def add(self, tx_hash: bytes) -> None:
        new = self._new
        if len(new) >= self._half:
            self._old, self._new = new, {}
            new = self._new
        new[tx_hash] = None


class CachedView:
    """Committed settlement state with an in-memory read-through cache."""

    def __init__(self, store: ChainStore, max_entries: int = 2_000_000):
        self._store = store
        self._cache: dict[bytes, bytes | None] = {}
        self._max = max_entries

    def get(self, key: bytes) -> bytes | None:
        try:
            return self._cache[key]
        except KeyError:
            pass
        v = self._store.state_get(key)
        if len(self._cache) >= self._max:
            self._cache.clear()
        self._cache[key] = v
        return v

    def iterate(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        return self._store.state_iter(prefix)

    def apply(self, writes: dict[bytes, bytes | None]) -> None:
        for k, v in writes.items():
            self._cache[k] = v


@dataclass
class Proposal:
    block: Block
    result: BlockResult


class Chain:
    """The local copy of the chain on top of a :class:`ChainStore`."""

    def __init__(self, store: ChainStore, genesis: Genesis, genesis_doc: bytes):
        self.store = store
        self.genesis = genesis
        self.chain_id = genesis.chain_id
        self.vset = genesis.validator_set()
        self.rules = ChainRules(self.chain_id, genesis.genesis_time_ms, self.vset)
        stored = store.genesis_hash()
        if stored is None:
            writes, tree = genesis.initial_state()
            store.init_genesis(genesis.hash, genesis_doc, writes, tree.root, tree=tree.batch)
        elif stored != genesis.hash:
            raise ChainError("the data directory belongs to another genesis (genesis hash differs)")
        self.view = CachedView(store)
        self.height = store.latest_height()
        try:
            self.tree = StateTree.open(store, self.height)
        except KeyError:
            raise ChainError(f"the store holds no state tree at height {self.height} (made by an older version?)") from None
        if self.tree.root != store.root_acc():
            raise ChainError(f"the state tree at height {self.height} does not match the stored state root")
        self.last_header: Header | None = store.header(self.height) if self.height else None
        self.verified = VerifiedMemo()  # tx hashes whose signatures this node checked
        self.verifier = None  # node.verifier.Verifier: checks a proposal's new signatures in parallel

    # ------------------------------------------------------------------ read

    @property
    def last_block_id(self) -> bytes:
        return self.last_header.id if self.last_header else ZERO_HASH

    @property
    def state_root(self) -> bytes:
        return self.tree.root

    def state_tree(self, height: int) -> StateTree:
        """The state tree after the block at ``height`` (0: genesis), for proofs.

        Raises:
            KeyError: ``height`` is above the tip or no longer retained (see :data:`STATE_TREE_HEIGHTS`).
        """
        if not max(0, self.height - STATE_TREE_HEIGHTS + 1) <= height <= self.height:
            raise KeyError(height)  # older versions are pruned (their nodes may linger in the cache)
        return self.tree if height == self.height else self.tree.at(height)

    @property
    def last_time_ms(self) -> int:
        return self.last_header.time_ms if self.last_header else self.genesis.genesis_time_ms

    def nonce_of(self, addr: bytes) -> int:
        acct = get_account(self.view, addr)  # a read needs no overlay: the view answers get()
        return acct.nonce if acct else 0

    def check_tx(self, tx: Tx) -> int:
        """Mempool admission against committed state; returns the committed nonce.

        Raises:
            NotIncludable: wrong chain, unknown sender, used nonce.
        """
        return check_includable(self.view, self.chain_id, tx, allow_future_nonce=True).nonce

    def mark_verified(self, tx: Tx) -> None:
        self.verified.add(tx.hash)

    # ------------------------------------------------------------------ propose

    def propose(self, candidates: Iterable[Tx], time_ms: int, proposer: bytes, *, max_txs: int, max_bytes: int) -> Proposal:
        """Build the next block from ``candidates`` (signatures already verified)."""
        block, result = propose_block(
            self.view, self.tree, self.rules, self.last_header, candidates, time_ms, proposer,
            max_txs=max_txs, max_bytes=max_bytes,
        )
        return Proposal(block, result)

    # ------------------------------------------------------------------ validate

    def validate(self, block: Block) -> BlockResult:
        """Re-execute a proposed block and check every header field.

        Raises:
            InvalidProposal: the subclass naming the first rule the block breaks.
        """
        return validate_block(self.view, self.tree, self.rules, self.last_header, block, self._first_bad_signature)

    def _first_bad_signature(self, txs: tuple[Tx, ...]) -> int | None:
        """Verify the signatures this node has not verified yet (in the pool if it has one)."""
        todo = [(i, tx) for i, tx in enumerate(txs) if tx.hash not in self.verified]
        if not todo:
            return None
        if self.verifier is not None:
            verdicts = self.verifier.verify_blocking([tx for _, tx in todo])
            bad = next((i for (i, _), ok in zip(todo, verdicts) if not ok), None)
        else:
            bad = first_bad_signature([tx for _, tx in todo])
            bad = todo[bad][0] if bad is not None else None
        if bad is None:
            for _, tx in todo:
                self.verified.add(tx.hash)
        return bad

    # ------------------------------------------------------------------ commit

    def commit(self, block: Block, result: BlockResult, cert: CommitCertificate) -> None:
        """Persist ``block`` with its certificate, receipts and state in one write."""
        verify_commit(cert, self.vset, self.chain_id, height=block.height, block_id=block.id)
        if result.tree.version != block.height:
            raise ChainError(f"state tree version {result.tree.version} for the block at height {block.height}")
        self.store.commit_block(
            block, cert, result.receipts, result.writes, result.tree.root, result.encoded_receipts,
            tree=result.tree.batch, tree_prune_through=block.height - STATE_TREE_HEIGHTS + 1,
        )
        self.view.apply(result.writes)
        self.tree = result.tree.settle(self.store)
        self.height = block.height
        self.last_header = block.header


__all__ += ["NotIncludable", "Proposal"]
