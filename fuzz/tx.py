"""Fuzz target: ``ledger.tx.Tx.decode`` (what the mempool, gossip and RPC run on client bytes).

Property: any input decodes or raises ``DecodeError``.  A decoded Tx
re-encodes from its fields to the same bytes, its hash is their sha256, the
sign-bytes cut out of the raw bytes equal the re-encoded ones, and checking
its signature answers (``SignatureError``) rather than failing.
"""
from __future__ import annotations

from .harness import instrumented, main

with instrumented():
    from ledger.codec import DecodeError
    from ledger.hashing import sha256
    from ledger.tx import SignatureError, Tx, tx_sign_bytes

    from . import seeds


def test_one_input(data: bytes) -> None:
    try:
        tx = Tx.decode(data)
    except DecodeError:
        return
    assert tx.encode() == data
    assert Tx.from_obj(tx.to_obj()).raw == data, "fields re-encode to other bytes"
    assert tx.hash == sha256(data)
    assert tx.sign_bytes() == tx_sign_bytes(tx.chain_id, tx.sender, tx.nonce, tx.kind, tx.body), "sign-bytes shortcut disagrees"
    try:
        tx.verify_signature()
    except SignatureError:
        pass


def corpus() -> list[bytes]:
    return [t.raw for t in seeds.txs()]


if __name__ == "__main__":
    main("tx", test_one_input, corpus)
