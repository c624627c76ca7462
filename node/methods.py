"""JSON-RPC method implementations: one async function per method.

Owns parameter checking (each bad parameter becomes ``-32602 Invalid params``
naming it), the mapping from node/store answers to JSON, and the
``broadcast_tx`` modes: ``async`` (queued after decoding), ``sync`` (after the
mempool check), ``commit`` (after the block holding it is committed).
Methods never raise anything but :class:`RPCError` on bad input; other
exceptions are bugs and are reported as internal errors by the server.

Each method takes an :class:`RpcApi` (the ports it may use: never the node)
and the request's params.  The table of methods is built in one place,
:func:`method_table`, from this module's :data:`CORE_METHODS`,
``methods_risk.RISK_METHODS``, ``methods_options.OPTION_METHODS``,
``methods_pm.PM_METHODS``, ``methods_proof.PROOF_METHODS``, ``methods_bridge.BRIDGE_METHODS`` and
``methods_discover.DISCOVER_METHODS`` (``rpc.discover``: the OpenRPC document, ``node/openrpc.json``);
importing a module registers nothing.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Iterable

from ledger.codec import DecodeError
from ledger.errors import InvalidInput
from ledger.keys import format_address, parse_address
from ledger.tx import Tx
from settlement.queries import account_info, asset_list

from .mempool import MempoolRejection
from .ports import BlockReader, ChainReader, CommitWaiter, PendingTxs, StatusView, TxSink
from .render import render_block, render_cert, render_header, render_receipt, render_tx

__all__ = ["CORE_METHODS", "Method", "RPCError", "RpcApi", "method_table"]

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


@dataclass(frozen=True, slots=True)
class RpcApi:
    """What the RPC methods may use: one port each, provided by the node's assembly (``node/app.py``).

    Attributes:
        chain: the committed tip and state (reads).
        blocks: committed blocks, certificates, receipts.
        pool: the mempool's sizes and pending nonces.
        txs: where a client's transactions go.
        commits: waits for a transaction's block.
        status: moniker, validator address, peers, evidence, genesis document.
        max_batch: the most transactions ``broadcast_tx_batch`` takes.
    """

    chain: ChainReader
    blocks: BlockReader
    pool: PendingTxs
    txs: TxSink
    commits: CommitWaiter
    status: StatusView
    max_batch: int


Method = Callable[[RpcApi, Any], Awaitable[Any]]


def method_table(*groups: Iterable[Method]) -> dict[str, Method]:
    """Name -> method for every method in ``groups``, in name order.

    Raises:
        ValueError: two methods share a name.
    """
    table: dict[str, Method] = {}
    for fn in sorted((fn for group in groups for fn in group), key=lambda f: f.__name__):
        if fn.__name__ in table:
            raise ValueError(f"two RPC methods named {fn.__name__!r}")
        table[fn.__name__] = fn
    return table


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


def _height(chain: ChainReader, params, pos=0) -> int:
    h = _param(params, "height", int, chain.height, pos)
    if h < 1 or h > chain.height:
        raise RPCError(NOT_FOUND, f"no block at height {h} (latest is {chain.height})")
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


async def status(api: RpcApi, params) -> dict:
    c, me = api.chain, api.status
    return {
        "chain_id": c.chain_id,
        "moniker": me.moniker,
        "height": c.height,
        "latest_block_hash": c.last_block_id.hex(),
        "latest_block_time_ms": c.last_time_ms,
        "state_root": c.state_root.hex(),
        "validator": format_address(me.validator) if me.validator is not None else None,
        "validators": len(c.vset),
        "mempool_size": len(api.pool),
        "peers": me.peer_count(),
        "genesis_hash": c.genesis.hash.hex(),
    }


async def block(api: RpcApi, params) -> dict:
    h = _height(api.chain, params)
    blk = api.blocks.block(h)
    receipts = api.blocks.receipts(h) if _param(params, "receipts", bool, False, 1) else None
    return render_block(blk, receipts)


async def commit(api: RpcApi, params) -> dict:
    h = _height(api.chain, params)
    cert = api.blocks.commit_cert(h)
    return {"header": render_header(api.blocks.header(h)), "certificate": render_cert(cert)}


async def tx(api: RpcApi, params) -> dict:
    h = _hash(params)
    found = api.blocks.receipt(h)
    if found is None:
        if h in api.pool:
            return {"hash": h.hex(), "status": "pending"}
        raise RPCError(NOT_FOUND, f"transaction {h.hex()} not found")
    height, index, receipt = found
    blk = api.blocks.block(height)
    return {
        "hash": h.hex(),
        "status": "committed",
        "height": height,
        "index": index,
        "tx": render_tx(blk.txs[index]),
        "receipt": render_receipt(receipt),
    }


async def account(api: RpcApi, params) -> dict:
    text = _param(params, "address", str, pos=0)
    try:
        addr = parse_address(text)
    except ValueError as exc:
        raise RPCError(INVALID_PARAMS, str(exc)) from None
    info = account_info(api.chain.view, addr)
    if info is None:
        raise RPCError(NOT_FOUND, f"account {text} is not registered")
    pending = api.pool.next_nonce(addr)
    info["next_nonce"] = max(info["nonce"], pending) if pending is not None else info["nonce"]
    return info


async def assets(api: RpcApi, params) -> list:
    return asset_list(api.chain.view)


async def validators(api: RpcApi, params) -> list:
    return [{"address": format_address(v.address), "pubkey": v.pubkey.hex(), "power": v.power} for v in api.chain.vset.validators]


async def genesis(api: RpcApi, params) -> dict:
    return api.status.genesis_doc


async def peers(api: RpcApi, params) -> list:
    """The ids of the peers this node is connected to, sorted (``status`` has their count)."""
    return [{"id": pid} for pid in api.status.peer_ids()]


async def evidence(api: RpcApi, params) -> list:
    """Equivocation evidence this node has seen: two signed, conflicting votes of one validator."""
    out = []
    for ev in api.status.evidence():
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


async def mempool(api: RpcApi, params) -> dict:
    pool = api.pool
    return {"size": len(pool), "bytes": pool.bytes, "ready": len(pool.ready)}


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


def _admit(txs: TxSink, tx: Tx, verified: bool = False) -> dict | None:
    try:
        txs.submit(tx, verified=verified)
    except MempoolRejection as exc:
        return {"hash": tx.hash.hex(), "accepted": False, "code": exc.code, "reason": exc.reason}
    return None


async def broadcast_tx(api: RpcApi, params) -> dict:
    tx_ = _decode_tx(_param(params, "tx", str, pos=0), "tx")
    mode = _mode(params)
    timeout = _timeout(params)
    if mode == "async":
        asyncio.get_running_loop().call_soon(_admit, api.txs, tx_)
        return {"hash": tx_.hash.hex(), "accepted": None}
    rejected = _admit(api.txs, tx_)
    if rejected is not None:
        raise RPCError(TX_REJECTED, f"transaction rejected: {rejected['reason']}", rejected)
    if mode == "sync":
        return {"hash": tx_.hash.hex(), "accepted": True}
    return await _await_commit(api.commits, tx_.hash, timeout)


async def _await_commit(commits: CommitWaiter, h: bytes, timeout: float) -> dict:
    found = await commits.wait_commit(h, timeout)
    if found is None:
        raise RPCError(TIMEOUT, f"transaction {h.hex()} not committed within {timeout:.0f}s (it may still commit)")
    height, index, receipt = found
    return {"hash": h.hex(), "accepted": True, "height": height, "index": index, "receipt": render_receipt(receipt)}


async def broadcast_tx_batch(api: RpcApi, params) -> dict:
    """Many transactions in one call; each gets its own verdict, in its place.

    An entry that is not a decodable transaction is refused alone
    (``code: "malformed"``, ``hash: null``); the others are admitted or
    refused as :func:`broadcast_tx` would.
    """
    txs = _param(params, "txs", list, pos=0)
    if len(txs) > api.max_batch:
        raise RPCError(INVALID_PARAMS, f"batch of {len(txs)} exceeds {api.max_batch}")
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
    good = await api.txs.verify_batch([t for t in decoded if t is not None])
    for i, t in enumerate(decoded):
        if t is not None:
            results[i] = _admit(api.txs, t, t.hash in good) or {"hash": t.hash.hex(), "accepted": True}
    if mode == "commit":
        waits = [_await_commit(api.commits, t.hash, timeout) if r["accepted"] else None for t, r in zip(decoded, results)]
        done = await asyncio.gather(*[w for w in waits if w is not None], return_exceptions=True)
        it = iter(done)
        for i, w in enumerate(waits):
            if w is not None:
                r = next(it)
                results[i] = r if isinstance(r, dict) else {"hash": decoded[i].hash.hex(), "accepted": True, "error": str(r)}
    return {"accepted": sum(1 for r in results if r.get("accepted")), "rejected": sum(1 for r in results if not r.get("accepted")), "results": results}


CORE_METHODS: tuple[Method, ...] = (
    account, assets, block, broadcast_tx, broadcast_tx_batch, commit, evidence, genesis, mempool, peers, status, tx, validators,
)
