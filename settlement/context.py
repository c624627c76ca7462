"""The block context: everything the transition may consult besides state.

Owns :class:`BlockContext`.  Height, time and proposer come from the block
header, never from a clock; handlers read them only from here.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BlockContext"]


@dataclass(frozen=True, slots=True)
class BlockContext:
    chain_id: str
    height: int
    time_ms: int
    proposer: bytes = bytes(20)
