"""Block header, block, and the block id.

Owns: :class:`Header` and :class:`Block` and how they are hashed.  A block's
id is ``sha256(header bytes)``; the header commits to the transactions
(``tx_root``, a Merkle root of tx hashes), to the settlement state *after*
this block (``state_root``), to the receipts (``receipts_root``) and to the
validator set that certifies it (``validators_hash``).  ``time_ms`` is chosen
by the proposer from its clock.

Never decides whether a block is valid: every validity rule (parent link,
time, validator set, roots) lives in ``settlement/blockrules.py``; that the
time is close to the validators' own clocks is checked by consensus when they
vote (``consensus/timeliness.py``).

Transactions are carried as their raw canonical bytes so that a block decodes
in one pass and a tx hash is a hash of bytes already in hand.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Mapping

from .codec import DecodeError, MaxLen, Range, Record, decode, encode
from .fields import BlockHeight
from .hashing import merkle_root, sha256
from .tx import Address, Hash32, Tx

__all__ = ["Block", "Header", "tx_root"]

MAX_BLOCK_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Header(Record):
    chain_id: Annotated[str, MaxLen(64)]
    height: BlockHeight
    time_ms: Annotated[int, Range(0, 2**63 - 1)]
    prev_hash: Hash32
    tx_root: Hash32
    state_root: Hash32
    receipts_root: Hash32
    proposer: Address
    validators_hash: Hash32

    @property
    def id(self) -> bytes:
        return sha256(self.encode())


def tx_root(txs: list[Tx] | tuple[Tx, ...]) -> bytes:
    return merkle_root([t.hash for t in txs])


@dataclass(frozen=True, slots=True)
class Block:
    """A header plus its transactions (decoded, each keeping its raw bytes)."""

    header: Header
    txs: tuple[Tx, ...]
    raw: bytes = field(default=b"", compare=False, repr=False)

    @property
    def id(self) -> bytes:
        return self.header.id

    @property
    def height(self) -> int:
        return self.header.height

    def encode(self) -> bytes:
        if self.raw:
            return self.raw
        return encode([self.header.to_obj(), [t.raw for t in self.txs]])

    @classmethod
    def make(cls, header: Header, txs: list[Tx] | tuple[Tx, ...]) -> "Block":
        txs = tuple(txs)
        raw = encode([header.to_obj(), [t.raw for t in txs]])
        return cls(header, txs, raw)

    @staticmethod
    def decode_header(data: bytes) -> Header:
        """Only the header of an encoded block (transactions are not decoded)."""
        obj = decode(data, max_bytes=MAX_BLOCK_BYTES)
        if type(obj) is not list or len(obj) != 2:
            raise DecodeError("Block: expected [header, [tx bytes...]]")
        return Header.from_obj(obj[0])

    @classmethod
    def decode(cls, data: bytes, *, known: Mapping[bytes, Tx] | None = None) -> "Block":
        """Strictly decode a block; raises DecodeError only.

        Args:
            known: decoded transactions by hash (a mempool); a tx whose bytes
                are exactly those of a known one is taken from it, not decoded
                again.
        """
        obj = decode(data, max_bytes=MAX_BLOCK_BYTES)
        if type(obj) is not list or len(obj) != 2 or type(obj[1]) is not list:
            raise DecodeError("Block: expected [header, [tx bytes...]]")
        header = Header.from_obj(obj[0])
        txs = []
        for i, raw in enumerate(obj[1]):
            if type(raw) is not bytes:
                raise DecodeError(f"Block.txs[{i}]: expected bytes")
            if known is not None:
                tx = known.get(sha256(raw))
                if tx is not None and tx.raw == raw:
                    txs.append(tx)
                    continue
            try:
                txs.append(Tx.decode(raw))
            except DecodeError as exc:
                raise DecodeError(f"Block.txs[{i}]: {exc}") from None
        block = cls(header, tuple(txs), bytes(data))
        return block

