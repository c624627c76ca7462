"""JSON-RPC method implementations: one async function per method.

Owns parameter checking (each bad parameter becomes ``-32602 Invalid params``
naming it), the mapping from node/store answers to JSON, and the
``broadcast_tx`` modes: ``async`` (queued after decoding), ``sync`` (after the
mempool check), ``commit`` (after the block holding it is committed).
Methods never raise anything but :class:`RPCError` on bad input; other
exceptions are bugs and are reported as internal errors by the server.
"""
from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable

from ledger.codec import DecodeError
from ledger.errors import InvalidInput
from ledger.keys import format_address, parse_address
from ledger.tx import Tx
from settlement.queries import account_info, asset_list

from .mempool import MempoolRejection
from .render import render_block, render_cert, render_header, render_receipt, render_tx

__all__ = ["METHODS", "RPCError"]

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
TX_REJECTED = -32000
NOT_FOUND = -32001
TIMEOUT = -32002

MODES = ("async", "sync", "commit")


class RPCError(InvalidInput):
    """A request answered with a JSON-RPC error ``code`` (bad params, not found, refused, timed out)."""

    def __init__(self, code: int, message: str, data: Any = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


METHODS: dict[str, Callable[[Any, dict], Awaitable[Any]]] = {}


def method(fn):
    METHODS[fn.__name__] = fn
    return fn


def _param(params, name: str, typ: type, default: Any = ..., pos: int | None = None):
    if isinstance(params, list):
        if pos is not None and pos < len(params):
            value = params[pos]
        elif default is not ...:
            return default
        else:
            raise RPCError(INVALID_PARAMS, f"missing parameter {name!r}")
    elif name in params:
        value = params[name]
    elif default is not ...:
        return default
    else:
        raise RPCError(INVALID_PARAMS, f"missing parameter {name!r}")
    if typ is int and (type(value) is not int):
        raise RPCError(INVALID_PARAMS, f"parameter {name!r} must be an integer")
    if typ is not int and not isinstance(value, typ):
        raise RPCError(INVALID_PARAMS, f"parameter {name!r} must be {typ.__name__}")
    return value


def _height(node, params, pos=0) -> int:
    h = _param(params, "height", int, node.chain.height, pos)
    if h < 1 or h > node.chain.height:
        raise RPCError(NOT_FOUND, f"no block at height {h} (latest is {node.chain.height})")
    return h


def _hash(params, name="hash") -> bytes:
    text = _param(params, name, str, pos=0)
    try:
        h = bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        raise RPCError(INVALID_PARAMS, f"parameter {name!r} must be hex") from None
    if len(h) != 32:
        raise RPCError(INVALID_PARAMS, f"parameter {name!r} must be 32 bytes (64 hex digits)")
    return h


def _decode_tx(text: Any, where: str) -> Tx:
    if not isinstance(text, str):
        raise RPCError(INVALID_PARAMS, f"{where} must be a hex string of the signed transaction")
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise RPCError(INVALID_PARAMS, f"{where} is not hex") from None
    try:
        return Tx.decode(raw)
    except DecodeError as exc:
        raise RPCError(INVALID_PARAMS, f"{where}: malformed transaction: {exc}") from None


@method
async def status(node, params) -> dict:
    c = node.chain
    return {
        "chain_id": c.chain_id,
        "moniker": node.cfg.moniker,
        "height": c.height,
        "latest_block_hash": c.last_block_id.hex(),
        "latest_block_time_ms": c.last_time_ms,
        "state_root": c.state_root.hex(),
        "validator": format_address(node.key.address) if node.is_validator else None,
        "validators": len(c.vset),
        "mempool_size": len(node.mempool),
        "peers": len(node.net.peers()) if node.net is not None else 0,
        "genesis_hash": c.genesis.hash.hex(),
    }


@method
async def block(node, params) -> dict:
    h = _height(node, params)
    blk = node.store.block(h)
    receipts = node.store.receipts(h) if _param(params, "receipts", bool, False, 1) else None
    return render_block(blk, receipts)


@method
async def commit(node, params) -> dict:
    h = _height(node, params)
    cert = node.store.commit_cert(h)
    return {"header": render_header(node.store.header(h)), "certificate": render_cert(cert)}


@method
async def tx(node, params) -> dict:
    h = _hash(params)
    found = node.store.receipt(h)
    if found is None:
        if h in node.mempool:
            return {"hash": h.hex(), "status": "pending"}
        raise RPCError(NOT_FOUND, f"transaction {h.hex()} not found")
    height, index, receipt = found
    blk = node.store.block(height)
    return {
        "hash": h.hex(),
        "status": "committed",
        "height": height,
        "index": index,
        "tx": render_tx(blk.txs[index]),
        "receipt": render_receipt(receipt),
    }


@method
async def account(node, params) -> dict:
    text = _param(params, "address", str, pos=0)
    try:
        addr = parse_address(text)
    except ValueError as exc:
        raise RPCError(INVALID_PARAMS, str(exc)) from None
    info = account_info(node.chain.view, addr)
    if info is None:
        raise RPCError(NOT_FOUND, f"account {text} is not registered")
    pending = node.mempool.next_nonce(addr)
    info["next_nonce"] = max(info["nonce"], pending) if pending is not None else info["nonce"]
    return info


@method
async def assets(node, params) -> list:
    return asset_list(node.chain.view)


@method
async def validators(node, params) -> list:
    return [{"address": format_address(v.address), "pubkey": v.pubkey.hex(), "power": v.power} for v in node.chain.vset.validators]


@method
async def genesis(node, params) -> dict:
    return node.genesis.doc


@method
async def evidence(node, params) -> list:
    """Equivocation evidence this node has seen: two signed, conflicting votes of one validator."""
    out = []
    for ev in (node.consensus.evidence if node.consensus is not None else []):
        a, b = ev.vote_a, ev.vote_b
        out.append({
            "validator": format_address(a.validator),
            "height": a.height,
            "round": a.round,
            "type": "prevote" if a.type == 1 else "precommit",
            "block_ids": [a.block_id.hex(), b.block_id.hex()],
            "signatures": [a.signature.hex(), b.signature.hex()],
            "evidence": ev.encode().hex(),
        })
    return out


@method
async def mempool(node, params) -> dict:
    return {"size": len(node.mempool), "bytes": node.mempool.bytes, "ready": len(node.mempool.ready)}


def _mode(params) -> str:
    mode = _param(params, "mode", str, "sync", 1)
    if mode not in MODES:
        raise RPCError(INVALID_PARAMS, f"mode must be one of {', '.join(MODES)}")
    return mode


def _timeout(params) -> float:
    t = _param(params, "timeout", int, 30, 2)
    if not 1 <= t <= 300:
        raise RPCError(INVALID_PARAMS, "timeout must be 1..300 seconds")
    return float(t)


def _admit(node, tx: Tx, verified: bool = False) -> dict | None:
    try:
        node.submit(tx, verified=verified)
    except MempoolRejection as exc:
        return {"hash": tx.hash.hex(), "accepted": False, "code": exc.code, "reason": exc.reason}
    return None


@method
async def broadcast_tx(node, params) -> dict:
    tx_ = _decode_tx(_param(params, "tx", str, pos=0), "tx")
    mode = _mode(params)
    timeout = _timeout(params)
    if mode == "async":
        asyncio.get_running_loop().call_soon(_admit, node, tx_)
        return {"hash": tx_.hash.hex(), "accepted": None}
    rejected = _admit(node, tx_)
    if rejected is not None:
        raise RPCError(TX_REJECTED, f"transaction rejected: {rejected['reason']}", rejected)
    if mode == "sync":
        return {"hash": tx_.hash.hex(), "accepted": True}
    return await _await_commit(node, tx_.hash, timeout)


async def _await_commit(node, h: bytes, timeout: float) -> dict:
    found = await node.wait_commit(h, timeout)
    if found is None:
        raise RPCError(TIMEOUT, f"transaction {h.hex()} not committed within {timeout:.0f}s (it may still commit)")
    height, index, receipt = found
    return {"hash": h.hex(), "accepted": True, "height": height, "index": index, "receipt": render_receipt(receipt)}


@method
async def broadcast_tx_batch(node, params) -> dict:
    """Many transactions in one call; each gets its own verdict, in its place.

    An entry that is not a decodable transaction is refused alone
    (``code: "malformed"``, ``hash: null``); the others are admitted or
    refused as :func:`broadcast_tx` would.
    """
    txs = _param(params, "txs", list, pos=0)
    if len(txs) > node.cfg.rpc.max_batch:
        raise RPCError(INVALID_PARAMS, f"batch of {len(txs)} exceeds {node.cfg.rpc.max_batch}")
    mode = _mode(params)
    timeout = _timeout(params)
    decoded: list[Tx | None] = []
    results: list[dict | None] = []
    for i, text in enumerate(txs):  # an undecodable entry is refused alone, in its place
        try:
            decoded.append(_decode_tx(text, f"txs[{i}]"))
            results.append(None)
        except RPCError as exc:
            decoded.append(None)
            results.append({"hash": None, "accepted": False, "code": "malformed", "reason": exc.message})
    good = await node.verify_batch([t for t in decoded if t is not None])
    for i, t in enumerate(decoded):
        if t is not None:
            results[i] = _admit(node, t, t.hash in good) or {"hash": t.hash.hex(), "accepted": True}
    if mode == "commit":
        waits = [_await_commit(node, t.hash, timeout) if r["accepted"] else None for t, r in zip(decoded, results)]
        done = await asyncio.gather(*[w for w in waits if w is not None], return_exceptions=True)
        it = iter(done)
        for i, w in enumerate(waits):
            if w is not None:
                r = next(it)
                results[i] = r if isinstance(r, dict) else {"hash": decoded[i].hash.hex(), "accepted": True, "error": str(r)}
    return {"accepted": sum(1 for r in results if r.get("accepted")), "rejected": sum(1 for r in results if not r.get("accepted")), "results": results}

from . import methods_risk  # noqa: E402,F401  (risk-engine methods register themselves)
