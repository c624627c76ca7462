"""Reusable annotated field types of records (addresses, hashes, symbols, amounts, heights and rounds).

Owns only the type aliases the codec checks on decode; shared by the tx
envelope, the tx body kinds and the records of other layers.  No behaviour.
"""
from __future__ import annotations

from typing import Annotated

from .codec import MAX_INT, Len, MaxLen, Range

__all__ = ["Address", "Amount", "BlockHeight", "Hash32", "PolRound", "Round", "Symbol"]

Address = Annotated[bytes, Len(20)]
Hash32 = Annotated[bytes, Len(32)]
Symbol = Annotated[str, MaxLen(16)]
Amount = Annotated[int, Range(-(2**63), MAX_INT)]  # range checked again by settlement
BlockHeight = Annotated[int, Range(1, 2**63 - 1)]  # a block's height: the first block is 1
Round = Annotated[int, Range(0, 2**31)]  # a consensus round within a height
PolRound = Annotated[int, Range(-1, 2**31)]  # a proposal's proof-of-lock round, -1 for none
