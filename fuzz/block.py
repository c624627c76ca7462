"""Fuzz target: ``ledger.block.Block.decode`` and ``Block.decode_header`` (proposals, sync).

Property: any input decodes or raises ``DecodeError``; a decoded block is
rebuilt by ``Block.make(header, txs)`` to the same bytes, decoding with a
mempool of known txs gives the same block, ``decode_header`` agrees with
``decode``, and the parent-link rule ``check_child`` raises only
``InvalidProposal``.
"""
from __future__ import annotations

from .harness import instrumented, main

with instrumented():
    from ledger.block import Block
    from ledger.codec import DecodeError
    from settlement.blockrules import InvalidProposal, check_child

    from . import seeds

KNOWN = {t.hash: t for t in seeds.txs()}


def test_one_input(data: bytes) -> None:
    try:
        header = Block.decode_header(data)
    except DecodeError:
        header = None
    try:
        block = Block.decode(data)
    except DecodeError:
        return
    assert header == block.header, "decode_header disagrees with decode"
    assert Block.make(block.header, block.txs).raw == data, "block re-encodes to other bytes"
    assert Block.decode(data, known=KNOWN) == block, "decoding with a mempool changes the block"
    for parent in (None, block.header):
        try:
            check_child(parent, block.header, seeds.CHAIN_ID)
        except InvalidProposal:
            pass


def corpus() -> list[bytes]:
    return [b.encode() for b in seeds.blocks()]


if __name__ == "__main__":
    main("block", test_one_input, corpus)
