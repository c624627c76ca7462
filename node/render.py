"""Turning ledger values into JSON-friendly dicts for RPC, WebSocket and the CLI.

Owns the JSON shape of blocks, headers, certificates, transactions, receipts
and events.  Rules: 20-byte values are addresses (``st`` + hex), other bytes
are lowercase hex, integers stay integers (JSON numbers are exact in Python;
clients in other languages should read amounts as big integers).
"""
from __future__ import annotations

from typing import Any

from ledger.block import Block, Header
from ledger.codec import Record
from ledger.commit import CommitCertificate
from ledger.keys import format_address
from ledger.receipt import Receipt
from ledger.tx import Tx

__all__ = ["jsonable", "render_block", "render_cert", "render_header", "render_receipt", "render_tx"]


def jsonable(v: Any) -> Any:
    if isinstance(v, bytes):
        return format_address(v) if len(v) == 20 else v.hex()
    if isinstance(v, Record):
        return {name: jsonable(getattr(v, name)) for name, _ in v._schema()}
    if isinstance(v, dict):
        return {k: jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    return v


def render_header(h: Header) -> dict:
    out = jsonable(h)
    out["id"] = h.id.hex()
    return out


def render_tx(tx: Tx) -> dict:
    return {
        "hash": tx.hash.hex(),
        "chain_id": tx.chain_id,
        "sender": format_address(tx.sender_address),
        "pubkey": tx.sender.hex(),
        "nonce": tx.nonce,
        "kind": tx.kind,
        "body": jsonable(tx.body),
        "signature": tx.signature.hex(),
    }


def render_receipt(r: Receipt) -> dict:
    return {
        "tx_hash": r.tx_hash.hex(),
        "ok": r.ok,
        "code": r.code,
        "error": r.error,
        "reason": r.reason,
        "events": [jsonable(e.as_dict()) for e in r.events],
    }


def render_block(block: Block, receipts: list[Receipt] | None = None, *, full: bool = True) -> dict:
    out = {"header": render_header(block.header), "num_txs": len(block.txs)}
    if full:
        out["txs"] = [render_tx(t) for t in block.txs]
    if receipts is not None:
        out["receipts"] = [render_receipt(r) for r in receipts]
    return out


def render_cert(cert: CommitCertificate) -> dict:
    return {
        "height": cert.height,
        "round": cert.round,
        "block_id": cert.block_id.hex(),
        "signatures": [{"validator": format_address(s.validator), "signature": s.signature.hex()} for s in cert.signatures],
    }
