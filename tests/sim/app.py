"""The simulator's application: opaque blocks and a scripted validity verdict.

Owns: how simulated blocks are built and judged.  A block is the canonical
encoding of ``["sim-block", height, author, valid, nonce]``; its id is its
sha256.  ``valid`` is the script: honest authors write True, the
invalid-block proposer writes False, and validation checks it together with
the height, as the real node checks signatures, nonces and the settlement
result.  Never: reads the clock or draws its own random numbers (the nonce
comes from the world's seeded rng).
"""
from __future__ import annotations

from ledger.codec import DecodeError, decode, encode

from .fakes import block_id_of


def make_block(height: int, author: int, valid: bool, nonce: int) -> tuple[bytes, bytes]:
    """(block_id, block) of a simulated block."""
    block = encode(["sim-block", height, author, valid, nonce])
    return block_id_of(block), block


def judge(block: bytes, block_id: bytes, height: int) -> bool:
    """The verdict the node sends back as ``BlockValidity``."""
    if block_id_of(block) != block_id:
        return False
    try:
        obj = decode(block)
    except DecodeError:
        return False
    return (type(obj) is list and len(obj) == 5 and obj[0] == "sim-block" and obj[1] == height
            and obj[3] is True)
