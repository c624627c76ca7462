"""The simulator's application: opaque blocks and a scripted validity verdict.

Owns: how simulated blocks are built and judged.  A block is the canonical
encoding of ``["sim-block", height, author, valid, nonce, time_ms]``; its id
is its sha256.  ``valid`` is the script: honest authors write True, the
invalid-block proposer writes False, and validation checks it together with
the height and that the time does not go back from the parent's, as the real
node checks signatures, nonces, the settlement result and the parent link
(``settlement/blockrules.py``).
``time_ms`` is the proposer's clock (its timeliness is the core's business).  Never: reads the clock or draws its own random numbers (the nonce
comes from the world's seeded rng).
"""
from __future__ import annotations

from ledger.codec import DecodeError, decode, encode

from .fakes import block_id_of


def make_block(height: int, author: int, valid: bool, nonce: int, time_ms: int) -> tuple[bytes, bytes]:
    """(block_id, block) of a simulated block."""
    block = encode(["sim-block", height, author, valid, nonce, time_ms])
    return block_id_of(block), block


def author_of(block: bytes) -> int:
    """The validator index that built a simulated block."""
    return decode(block)[2]


def judge(block: bytes, block_id: bytes, height: int, parent_time_ms: int | None) -> bool:
    """The verdict the node sends back as ``BlockValidity`` (``parent_time_ms`` None: not known)."""
    if block_id_of(block) != block_id:
        return False
    try:
        obj = decode(block)
    except DecodeError:
        return False
    return (type(obj) is list and len(obj) == 6 and obj[0] == "sim-block" and obj[1] == height
            and obj[3] is True and type(obj[5]) is int
            and (parent_time_ms is None or obj[5] >= parent_time_ms))
