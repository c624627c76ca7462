"""Fast path of the canonical codec for flat rows, written by the ten thousand in one block.

Owns the encoding of *rows*: lists (or tuples) of ints, bytes, str, bools and
lists of those -- the shape of the risk engine's positions, margin accounts
and index pages -- and the stored form of an integer that may outgrow 64
bits.  The bytes are exactly :func:`ledger.codec.encode`'s for the same
value (rows hold no maps, so there is nothing to sort, and msgpack's packer
already writes the shortest headers); only the recursive canonicalisation
pass is skipped.  Never decodes untrusted input: wire and block data go
through :func:`ledger.codec.decode`.

Integers of any size
--------------------
A row's integer that fits in 64 bits signed is stored as an msgpack int;
anything larger (in magnitude) as its signed big-endian bytes, shortest
form (:func:`wide_int`, :func:`int_of`).  A row of figures that never leave
64 bits in practice (cash, sizes, indices) thus stays exact for any value.
"""
from __future__ import annotations

import threading

import msgpack

from .codec import DecodeError

__all__ = ["I64_MAX", "I64_MIN", "decode_row", "encode_row", "int_of", "row_packer", "wide_int"]

I64_MIN, I64_MAX = -(2**63), 2**63 - 1

_local = threading.local()


def row_packer():
    """This thread's :func:`encode_row` itself, for a loop that encodes thousands of rows (one lookup, not one per row).

    A reusable packer, as ``codec._pack``: a Packer is not shared between threads.
    """
    p = getattr(_local, "pack", None)
    if p is None:
        p = _local.pack = msgpack.Packer(use_bin_type=True, strict_types=True).pack
    return p


def wide_int(n: int) -> int | bytes:
    """Stored form of an int that may outgrow 64 bits: the int if it fits, else signed big-endian bytes."""
    if I64_MIN <= n <= I64_MAX:
        return n
    return n.to_bytes((n.bit_length() + 8) // 8, "big", signed=True)


def int_of(v: int | bytes) -> int:
    """The int of a :func:`wide_int` value.

    Raises:
        DecodeError: ``v`` is neither an int nor bytes.
    """
    if type(v) is int:
        return v
    if type(v) is bytes:
        return int.from_bytes(v, "big", signed=True)
    raise DecodeError(f"expected an integer, got {type(v).__name__}")


def encode_row(row: list) -> bytes:
    """Canonical bytes of one row (a list of ints within 64 bits, bytes, str, bools and such lists).

    Same bytes as ``codec.encode(row)``; integers are not widened (use
    :func:`wide_int` on those that may need it).
    """
    return row_packer()(row)


def decode_row(data: bytes) -> list:
    """The row stored as ``data`` (trusted state written by :func:`encode_rows` / :func:`encode_row`).

    Raises:
        DecodeError: not msgpack, or not an array.
    """
    try:
        obj = msgpack.unpackb(data, raw=False)
    except Exception as exc:  # noqa: BLE001 - anything unreadable is a decode error
        raise DecodeError(str(exc)) from None
    if type(obj) is not list:
        raise DecodeError("expected a list")
    return obj
