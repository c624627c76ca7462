"""Fuzz target: ``consensus.messages.decode_message`` (every message of the consensus topic).

Property: any input decodes or raises ``DecodeError``; ``encode_message``
gives the same bytes back; checking a message's signature only answers.
"""
from __future__ import annotations

from .harness import instrumented, main

with instrumented():
    from consensus.messages import decode_message, encode_message
    from ledger.codec import DecodeError

    from . import seeds


def test_one_input(data: bytes) -> None:
    try:
        msg = decode_message(data)
    except DecodeError:
        return
    assert encode_message(msg) == data, "message re-encodes to other bytes"
    assert msg.verify(seeds.CHAIN_ID, seeds.VSET) in (True, False)


def corpus() -> list[bytes]:
    return [encode_message(m) for m in seeds.consensus_messages()]


if __name__ == "__main__":
    main("consensus", test_one_input, corpus)
