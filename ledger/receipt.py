"""Receipts and events: what happened to each transaction in a block.

Owns: :class:`Receipt` (tx hash, result code, reason, events) and
:class:`Event` (a kind plus a map of plain values), and the receipts root a
header commits to.  Code 0 means success; any other code names a failure of
the settlement rules and ``reason`` says why in words.  Block-level events
(liquidations, funding, insurance payments) use the zero tx hash.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from .codec import DecodeError, Len, MaxLen, Range, Record, decode, encode_array
from .hashing import merkle_root

__all__ = ["Event", "Receipt", "decode_receipts", "encode_receipts", "receipts_root"]


@dataclass(frozen=True, slots=True)
class Event(Record):
    kind: Annotated[str, MaxLen(64)]
    attrs: Any  # a map of str -> plain value; keys sorted by the codec

    def as_dict(self) -> dict:
        return {"kind": self.kind, **self.attrs}


@dataclass(frozen=True, slots=True)
class Receipt(Record):
    tx_hash: Annotated[bytes, Len(32)]
    code: Annotated[int, Range(0, 65535)]
    error: Annotated[str, MaxLen(64)]  # short machine name of the failure, "" when ok
    reason: Annotated[str, MaxLen(1024)]
    events: list[Event]

    @property
    def ok(self) -> bool:
        return self.code == 0


def encode_receipts(receipts: list[Receipt] | tuple[Receipt, ...], encoded: list[bytes] | None = None) -> bytes:
    """The stored form of a block's receipts (``encoded``: each one's bytes, if known)."""
    return encode_array(encoded if encoded is not None else [r.encode() for r in receipts])


def decode_receipts(data: bytes) -> list[Receipt]:
    obj = decode(data)
    if type(obj) is not list:
        raise DecodeError("receipts: expected a list")
    return [Receipt.from_obj(r) for r in obj]


def receipts_root(receipts: list[Receipt] | tuple[Receipt, ...], encoded: list[bytes] | None = None) -> bytes:
    """Merkle root over the receipts' encodings (``encoded``: those bytes, if known)."""
    return merkle_root(encoded if encoded is not None else [r.encode() for r in receipts])
