"""Fuzz target: the canonical codec (``ledger.codec.decode``) and the receipts decoder.

Property: any input decodes or raises ``DecodeError``; a decoded value
re-encodes to exactly the input (one accepted encoding per value).
"""
from __future__ import annotations

from .harness import instrumented, main

with instrumented():
    from ledger.codec import DecodeError, decode, encode
    from ledger.receipt import Event, Receipt, decode_receipts, encode_receipts

    from . import seeds


def test_one_input(data: bytes) -> None:
    try:
        value = decode(data)
    except DecodeError:
        pass
    else:
        assert encode(value) == data, "decoded value does not re-encode to its bytes"
    try:
        receipts = decode_receipts(data)
    except DecodeError:
        return
    assert encode_receipts(receipts) == data, "decoded receipts do not re-encode to their bytes"


def corpus() -> list[bytes]:
    tx = seeds.txs()[0]
    receipts = [
        Receipt(tx.hash, 0, "", "", (Event("transfer", {"amount": 5, "to": b"\x01" * 20}),)),
        Receipt(tx.hash, 3, "insufficient_funds", "needs 5", ()),
    ]
    values = [None, True, 0, -1, 2**64 - 1, -(2**63), "é", b"\x00", [1, [2, [3]]], {"a": {"b": [None]}, "c": 1}]
    return [encode(v) for v in values] + [encode_receipts(receipts)] + [t.raw for t in seeds.txs()[:4]]


if __name__ == "__main__":
    main("codec", test_one_input, corpus)
