"""The chain store: committed blocks, their certificates, receipts and state.

Owns: what is stored for each committed block and the rule that all of it
lands at once.  :meth:`ChainStore.commit_block` turns a block, its commit
certificate, its receipts and the settlement state writes into ONE synced
:meth:`~ledger.interfaces.KVStore.write`, so after a crash at any moment the
store holds every piece of block ``h`` and nothing of ``h + 1``, or the
reverse.  Reads decode what was written and report anything undecodable as
:class:`StateCorrupt`.

The state tree's new nodes (``ledger/statetree``) go into the same write,
with their stale-index entries, and the nodes no retained version needs are
deleted in it too (``tree_prune_through``), so a kill at any moment leaves
tree and state at the same height.

Never: decide whether a block is valid (signatures, state transition and
quorum are checked by consensus and settlement before a block gets here; the
store only refuses what would make it inconsistent with itself), interpret
settlement state keys, tree keys or the state root (all opaque bytes here), or spell a key (every layout is in ``schema.py``).

A ChainStore must be the only writer of its KVStore: it keeps the latest
height and header in memory and trusts them.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from . import schema
from .block import Block, Header
from .codec import DecodeError, decode, encode
from .commit import CommitCertificate
from .errors import StateCorrupt, StoreError
from .hashing import ZERO_HASH
from .interfaces import KVStore
from .receipt import Receipt, decode_receipts, encode_receipts
from .statetree import TreeBatch

__all__ = [
    "CertificateMismatchError",
    "ChainStore",
    "GenesisMismatchError",
    "HeightNotNextError",
    "NoSuchBlockError",
    "ParentMismatchError",
    "ReceiptMismatchError",
    "StateCorrupt",
    "StoreError",
    "UnknownSchemaError",
]


# --------------------------------------------------------------------------- errors


class UnknownSchemaError(StoreError):
    """The store holds keys or a schema version this code does not know."""


class HeightNotNextError(StoreError):
    """A block offered for commit is not at the height after the latest one."""

    def __init__(self, height: int, expected: int) -> None:
        super().__init__(f"cannot commit block at height {height}: the next height is {expected}")
        self.height = height
        self.expected = expected


class ParentMismatchError(StoreError):
    """A block's ``prev_hash`` is not the id of the latest committed block."""

    def __init__(self, height: int, prev_hash: bytes, parent_id: bytes) -> None:
        super().__init__(
            f"block {height} has prev_hash {prev_hash.hex()}, the committed block "
            f"{height - 1} has id {parent_id.hex()}"
        )
        self.height = height


class CertificateMismatchError(StoreError):
    """A commit certificate is for another height or another block."""

    def __init__(self, height: int, cert: CommitCertificate) -> None:
        super().__init__(
            f"certificate for height {cert.height}, block {cert.block_id.hex()} "
            f"does not certify the block at height {height}"
        )
        self.height = height
        self.cert_height = cert.height


class ReceiptMismatchError(StoreError):
    """The receipts do not start with one receipt per tx, in block order."""

    def __init__(self, height: int, index: int) -> None:
        super().__init__(f"block {height}: receipt {index} is missing or is not for tx {index}")
        self.height = height
        self.index = index


class GenesisMismatchError(StoreError):
    """The store already holds another genesis, or blocks without a genesis."""

    def __init__(self, stored: bytes | None, given: bytes, detail: str) -> None:
        super().__init__(f"genesis {given.hex()} refused: {detail}")
        self.stored = stored
        self.given = given


class NoSuchBlockError(StoreError):
    """An operation names a height that has no committed block."""

    def __init__(self, height: int, latest: int) -> None:
        super().__init__(f"no committed block at height {height} (latest is {latest})")
        self.height = height
        self.latest = latest


# --------------------------------------------------------------------------- the store


def _strip(items: Iterator[tuple[bytes, bytes]], n: int) -> Iterator[tuple[bytes, bytes]]:
    for key, value in items:
        yield key[n:], value


class ChainStore:
    """Committed chain data on top of a :class:`~ledger.interfaces.KVStore`.

    The caller opens and closes ``kv``; the ChainStore only uses it.

    Raises:
        UnknownSchemaError: ``kv`` holds keys outside ``schema.PREFIX`` or
            another schema version.
        StateCorrupt: the latest height or its block does not decode.
    """

    def __init__(self, kv: KVStore) -> None:
        self._kv = kv
        self._check_schema()
        raw = kv.get(schema.LATEST_HEIGHT)
        self._latest_height = 0 if raw is None else self._decode(schema.LATEST_HEIGHT, schema.decode_height, raw)
        self._latest_header: Header | None = None
        self._latest_id = ZERO_HASH  # the id the next block must name as prev_hash
        if self._latest_height:
            block = self.block(self._latest_height)
            if block is None:
                raise StateCorrupt(f"block {self._latest_height} is missing", key=schema.LATEST_HEIGHT)
            self._latest_header = block.header
            self._latest_id = block.id

    def _check_schema(self) -> None:
        for reverse in (False, True):  # the smallest and the largest key
            edge = next(self._kv.iterate(b"", reverse=reverse), None)
            if edge is not None and not edge[0].startswith(schema.PREFIX):
                raise UnknownSchemaError(f"the store holds key {edge[0]!r} outside the {schema.PREFIX!r} schema")
        raw = self._kv.get(schema.SCHEMA_VERSION)
        if raw is not None:
            version = self._decode(schema.SCHEMA_VERSION, schema.decode_schema_version, raw)
            if version != schema.VERSION:
                raise UnknownSchemaError(f"store schema version {version}, this code reads {schema.VERSION}")

    @staticmethod
    def _decode(key: bytes, decoder, raw: bytes):
        try:
            return decoder(raw)
        except DecodeError as exc:
            raise StateCorrupt(str(exc), key=key) from None

    # ------------------------------------------------------------------ blocks

    def latest_height(self) -> int:
        """Height of the latest committed block; 0 when none is committed."""
        return self._latest_height

    def block_raw(self, height: int) -> bytes | None:
        """Canonical bytes of the block at ``height``, or None if not committed."""
        if not 1 <= height <= schema.MAX_HEIGHT:
            return None
        return self._kv.get(schema.block_key(height))

    def block(self, height: int) -> Block | None:
        """The block at ``height``, or None.  Raises StateCorrupt."""
        raw = self.block_raw(height)
        return None if raw is None else self._decode(schema.block_key(height), Block.decode, raw)

    def block_by_hash(self, block_id: bytes) -> Block | None:
        """The committed block whose id is ``block_id``, or None."""
        key = schema.block_hash_key(block_id)
        raw = self._kv.get(key)
        if raw is None:
            return None
        height = self._decode(key, schema.decode_height, raw)
        block = self.block(height)
        if block is None or block.id != block_id:
            raise StateCorrupt(f"points at height {height}, which holds another block", key=key)
        return block

    def header(self, height: int) -> Header | None:
        """The header at ``height``, or None; the latest one is served from memory."""
        if height == self._latest_height:
            return self._latest_header
        raw = self.block_raw(height)
        if raw is None:
            return None
        return self._decode(schema.block_key(height), Block.decode_header, raw)

    def commit_cert(self, height: int) -> CommitCertificate | None:
        """The stored commit certificate of the block at ``height``, or None."""
        if not 1 <= height <= schema.MAX_HEIGHT:
            return None
        key = schema.cert_key(height)
        raw = self._kv.get(key)
        return None if raw is None else self._decode(key, CommitCertificate.decode, raw)

    # ------------------------------------------------------------------ transactions

    def tx_location(self, tx_hash: bytes) -> tuple[int, int] | None:
        """``(height, index)`` of the committed tx with this hash, or None.

        If the same tx bytes were committed more than once, this is the latest.
        """
        key = schema.tx_key(tx_hash)
        raw = self._kv.get(key)
        return None if raw is None else self._decode(key, schema.decode_tx_location, raw)

    def receipts(self, height: int) -> list[Receipt]:
        """Receipts of the block at ``height``: one per tx in order, then any
        block-level ones.  Empty if the block is not committed."""
        if not 1 <= height <= schema.MAX_HEIGHT:
            return []
        key = schema.receipts_key(height)
        raw = self._kv.get(key)
        return [] if raw is None else self._decode(key, decode_receipts, raw)

    def receipt(self, tx_hash: bytes) -> tuple[int, int, Receipt] | None:
        """``(height, index, receipt)`` of the committed tx with this hash, or None."""
        location = self.tx_location(tx_hash)
        if location is None:
            return None
        height, index = location
        receipts = self.receipts(height)
        if index >= len(receipts) or receipts[index].tx_hash != tx_hash:
            raise StateCorrupt(f"no receipt {index} for it at height {height}", key=schema.tx_key(tx_hash))
        return height, index, receipts[index]

    # ------------------------------------------------------------------ settlement state

    def state_get(self, key: bytes) -> bytes | None:
        """The settlement state value under ``key`` (without the schema prefix)."""
        return self._kv.get(schema.state_key(key))

    def state_iter(self, prefix: bytes, *, reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        """Settlement state pairs whose key starts with ``prefix``, in key order.

        Keys come without the schema prefix; the snapshot is taken at this call.
        """
        start = schema.state_key(prefix)
        return _strip(self._kv.iterate(start, reverse=reverse), len(schema.STATE))

    def root_acc(self) -> bytes | None:
        """The settlement state root stored with the latest commit."""
        return self._kv.get(schema.ROOT_ACC)

    def tree_get(self, key: bytes) -> bytes | None:
        """The bytes under a state tree key (a :class:`~ledger.statetree.NodeSource`)."""
        return self._kv.get(schema.tree_key(key))

    def genesis_hash(self) -> bytes | None:
        return self._kv.get(schema.GENESIS_HASH)

    def genesis_doc(self) -> bytes | None:
        return self._kv.get(schema.GENESIS_DOC)

    # ------------------------------------------------------------------ writes

    def init_genesis(
        self,
        genesis_hash: bytes,
        genesis_doc: bytes,
        state_writes: Mapping[bytes, bytes | None],
        root_acc: bytes,
        *,
        tree: TreeBatch | None = None,
    ) -> None:
        """Store the genesis and its initial state in one synced write.

        Calling it again with the same genesis does nothing, so a node may
        call it on every start.

        Args:
            genesis_hash: the chain's genesis hash (opaque here).
            genesis_doc: the genesis document bytes (opaque here).
            state_writes: initial settlement state; a None value deletes.
            root_acc: the state root of that state.
            tree: the state tree's nodes of that state (version 0).

        Raises:
            GenesisMismatchError: another genesis is stored, or blocks were
                committed without a genesis.
        """
        stored = self.genesis_hash()
        if stored is not None:
            if stored == genesis_hash and self.genesis_doc() == genesis_doc:
                return
            detail = "the store holds genesis " + stored.hex()
            if stored == genesis_hash:
                detail += " with another document"
            raise GenesisMismatchError(stored, genesis_hash, detail)
        if self._latest_height:
            raise GenesisMismatchError(
                None, genesis_hash, f"{self._latest_height} blocks are committed without a genesis"
            )
        puts, deletes = self._state_ops(state_writes)
        self._tree_ops(tree, 0, puts, deletes)
        puts[schema.GENESIS_HASH] = genesis_hash
        puts[schema.GENESIS_DOC] = genesis_doc
        puts[schema.ROOT_ACC] = root_acc
        puts[schema.SCHEMA_VERSION] = schema.encode_schema_version()
        self._kv.write(puts, deletes, sync=True)

    def commit_block(
        self,
        block: Block,
        cert: CommitCertificate,
        receipts: Sequence[Receipt],
        state_writes: Mapping[bytes, bytes | None],
        root_acc: bytes,
        encoded_receipts: list[bytes] | None = None,
        *,
        tree: TreeBatch | None = None,
        tree_prune_through: int = 0,
    ) -> None:
        """Store everything about a newly committed block in one synced write.

        Writes the block (by height and by id), its certificate, the location
        of each tx, the receipts, the state writes, ``root_acc`` and the new
        latest height.  Nothing is written if any check fails or the write
        itself fails.

        Args:
            block: the block at ``latest_height() + 1``.
            cert: a commit certificate for exactly this block.
            receipts: one receipt per tx, in block order, optionally followed
                by block-level receipts.
            state_writes: settlement state changes; a None value deletes.
            root_acc: the state root after this block.
            encoded_receipts: each receipt's canonical bytes, when the caller
                has them already (saves encoding them again).
            tree: the state tree's new nodes and values of this block, and
                what they made stale.
            tree_prune_through: delete every tree key stale since this
                version or earlier (no version from it on needs them); 0
                prunes nothing.

        Raises:
            HeightNotNextError: the block is not at ``latest_height() + 1``.
            ParentMismatchError: ``prev_hash`` is not the latest block's id.
            CertificateMismatchError: ``cert`` is for another height or block.
            ReceiptMismatchError: receipt ``i`` is missing or not for tx ``i``.
        """
        height = block.height
        expected = self._latest_height + 1
        if height != expected:
            raise HeightNotNextError(height, expected)
        if block.header.prev_hash != self._latest_id:
            raise ParentMismatchError(height, block.header.prev_hash, self._latest_id)
        block_id = block.id
        self._check_cert(height, block_id, cert)
        if len(receipts) < len(block.txs):
            raise ReceiptMismatchError(height, len(receipts))
        puts, deletes = self._state_ops(state_writes)
        for index, tx in enumerate(block.txs):
            if receipts[index].tx_hash != tx.hash:
                raise ReceiptMismatchError(height, index)
            puts[schema.tx_key(tx.hash)] = schema.encode_tx_location(height, index)
        self._tree_ops(tree, tree_prune_through, puts, deletes)
        height_bytes = schema.encode_height(height)
        puts[schema.block_key(height)] = block.encode()
        puts[schema.block_hash_key(block_id)] = height_bytes
        puts[schema.cert_key(height)] = cert.encode()
        puts[schema.receipts_key(height)] = encode_receipts(tuple(receipts), encoded_receipts)
        puts[schema.ROOT_ACC] = root_acc
        puts[schema.LATEST_HEIGHT] = height_bytes
        if height == 1:
            puts[schema.SCHEMA_VERSION] = schema.encode_schema_version()
        self._kv.write(puts, deletes, sync=True)
        self._latest_height = height
        self._latest_header = block.header
        self._latest_id = block_id

    def replace_commit_cert(self, height: int, cert: CommitCertificate) -> None:
        """Store ``cert`` in place of the certificate of the block at ``height``.

        For a later certificate of the same block (more signatures, another
        round).  The caller verifies it; the store checks only that it names
        this height and block.

        Raises:
            NoSuchBlockError: no block is committed at ``height``.
            CertificateMismatchError: ``cert`` is for another height or block.
        """
        header = self.header(height) if 1 <= height <= self._latest_height else None
        if header is None:
            raise NoSuchBlockError(height, self._latest_height)
        self._check_cert(height, header.id, cert)
        self._kv.write({schema.cert_key(height): cert.encode()}, sync=True)

    @staticmethod
    def _check_cert(height: int, block_id: bytes, cert: CommitCertificate) -> None:
        if cert.height != height or cert.block_id != block_id:
            raise CertificateMismatchError(height, cert)

    def _tree_ops(self, tree: TreeBatch | None, prune_through: int, puts: dict, deletes: list) -> None:
        if tree is not None:
            for key, value in tree.puts.items():
                puts[schema.tree_key(key)] = value
            if tree.stale:  # one list per version: pruning reads one key per height
                puts[schema.tree_stale_key(tree.version)] = encode(list(tree.stale))
        if prune_through <= 0:
            return
        skip = len(schema.TREE_STALE)
        for index, raw in self._kv.iterate(schema.TREE_STALE):
            if self._decode(index, schema.decode_height, index[skip:]) > prune_through:
                break
            stale = self._decode(index, decode, raw)
            if type(stale) is not list or any(type(k) is not bytes for k in stale):
                raise StateCorrupt("expected a list of tree keys", key=index)
            deletes.append(index)
            deletes.extend(schema.tree_key(k) for k in stale)

    @staticmethod
    def _state_ops(state_writes: Mapping[bytes, bytes | None]) -> tuple[dict[bytes, bytes], list[bytes]]:
        puts: dict[bytes, bytes] = {}
        deletes: list[bytes] = []
        for key, value in state_writes.items():
            if value is None:
                deletes.append(schema.state_key(key))
            else:
                puts[schema.state_key(key)] = value
        return puts, deletes
