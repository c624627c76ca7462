"""JSON-RPC method ``proof``: what a client needs to check a committed fact without trusting this node.

Owns the dispatcher over proof kinds and the kinds of committed blocks:

* ``header``  (``height``, default latest): the header, its commit certificate
  and the validator set: what a light client follows;
* ``tx``      (``hash``): the tx's canonical bytes and its path to ``tx_root``;
* ``receipt`` (``hash`` of the tx): the receipt's canonical bytes and its path
  to ``receipts_root``.

Every answer has one shape: ``kind``, ``height``, ``chain_id``, ``value`` (hex
of the proven bytes, None for a header), ``proof`` (``{index, size, path}``,
None for a header), ``header``, ``certificate`` and ``validators`` (hex of
their canonical bytes: a client decodes and checks them itself with
``ledger.proofs`` and ``ledger.lightclient``) and ``header_id``.

The kinds are one table, :data:`PROOF_KINDS`, built here in name order.
``state`` is listed in :data:`PENDING_KINDS` and answers a clear error until
the authenticated state tree lands: its module then adds one entry
``"state": <its function>`` to :data:`PROOF_KINDS` and drops the pending one.
A kind function takes ``(api, params)`` and returns ``(height, value, proof)``
with ``proof`` already JSON-shaped.  Reads committed data only; never writes.
"""
from __future__ import annotations

from typing import Any, Callable

from ledger.lightclient import validator_set_bytes
from ledger.proofs import inclusion_proof, proof_json

from .methods import INVALID_PARAMS, NOT_FOUND, Method, RPCError, RpcApi, _hash, _height, _param

__all__ = ["NOT_AVAILABLE", "PENDING_KINDS", "PROOF_KINDS", "PROOF_METHODS"]

NOT_AVAILABLE = -32004  # a kind this node cannot prove yet

ProofKind = Callable[[RpcApi, Any], tuple[int, "bytes | None", "dict | None"]]


def _committed(api: RpcApi, params) -> tuple[int, int]:
    """``(height, index)`` of the committed tx named by ``hash``; NOT_FOUND otherwise."""
    h = _hash(params)
    found = api.blocks.receipt(h)
    if found is None:
        raise RPCError(NOT_FOUND, f"transaction {h.hex()} is not committed")
    height, index, _ = found
    return height, index


def _header_kind(api: RpcApi, params) -> tuple[int, None, None]:
    return _height(api.chain, params, pos=None), None, None


def _tx_kind(api: RpcApi, params) -> tuple[int, bytes, dict]:
    height, index = _committed(api, params)
    txs = api.blocks.block(height).txs
    return height, txs[index].raw, proof_json(inclusion_proof([t.hash for t in txs], index))


def _receipt_kind(api: RpcApi, params) -> tuple[int, bytes, dict]:
    height, index = _committed(api, params)
    encoded = [r.encode() for r in api.blocks.receipts(height)]
    return height, encoded[index], proof_json(inclusion_proof(encoded, index))


PROOF_KINDS: dict[str, ProofKind] = dict(sorted({
    "header": _header_kind,
    "receipt": _receipt_kind,
    "tx": _tx_kind,
}.items()))

PENDING_KINDS: dict[str, str] = {
    "state": "state proofs need the authenticated state tree, which this node's chain does not have yet",
}


async def proof(api: RpcApi, params) -> dict:
    """A value, its Merkle path, and the header, commit certificate and validator set that anchor it.

    Params: ``kind`` (``header``, ``tx``, ``receipt``; ``state`` later), then
    ``hash`` (tx, receipt) or ``height`` (header).
    """
    kind = _param(params, "kind", str, pos=None)
    fn = PROOF_KINDS.get(kind)
    if fn is None:
        if kind in PENDING_KINDS:
            raise RPCError(NOT_AVAILABLE, f"proof kind {kind!r} is not available: {PENDING_KINDS[kind]}")
        raise RPCError(INVALID_PARAMS, f"kind must be one of {', '.join(PROOF_KINDS)}")
    height, value, path = fn(api, params)
    header = api.blocks.header(height)
    cert = api.blocks.commit_cert(height)
    return {
        "kind": kind,
        "height": height,
        "chain_id": api.chain.chain_id,
        "value": None if value is None else value.hex(),
        "proof": path,
        "header": header.encode().hex(),
        "header_id": header.id.hex(),
        "certificate": cert.encode().hex(),
        "validators": validator_set_bytes(api.chain.vset).hex(),
    }


PROOF_METHODS: tuple[Method, ...] = (proof,)
