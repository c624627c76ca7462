"""Fuzz target: the JSON-RPC endpoint and the WebSocket request parser (a real node, no socket).

The first input byte picks the entry point, the rest is the client's bytes:

0. an HTTP ``POST /`` body, through ``RPCServer.handle_rpc`` (aiohttp's
   own ``make_mocked_request`` carries the body; nothing listens);
1. a WebSocket text message, through ``RPCServer._ws_request``;
2. ``[kind, body]``: any body that type-checks, signed by a funded account
   and sent with ``broadcast_tx`` (a client may sign anything, so the
   mempool's and settlement's admission checks meet arbitrary bodies);
   the tx is taken out of the mempool again afterwards.

Property: every body gets HTTP 200 with a JSON-RPC 2.0 response (one, or a
list for a batch) or 204 for notifications only; nothing escapes the
handler (aiohttp would answer 500) and no response is ``-32603 internal
error`` (the server's name for a method that raised: a bug).  A
``broadcast_tx`` in ``commit`` mode waits for its block, which never comes
here: only an input naming ``commit`` may time out.
"""
from __future__ import annotations

import asyncio
import inspect
import json
from unittest import mock

from aiohttp.streams import StreamReader
from aiohttp.test_utils import make_mocked_request

from .harness import instrumented, main

with instrumented():
    from ledger.codec import DecodeError, decode, encode
    from ledger.tx import body_type, sign_tx
    from node.methods import INTERNAL_ERROR
    from node.rpc import Subscription

    from . import seeds
    from .nodehome import make_node

FN = make_node(peers=False)
SERVER = FN.node.rpc
WAIT_S = 0.5
HEADERS = {"Content-Type": "application/json"}


def _subscription() -> Subscription:
    """A WebSocket client's state without a socket (a per-client cap is passed where the server has one)."""
    if len(inspect.signature(Subscription).parameters) > 1:
        return Subscription(None, getattr(FN.node.cfg.rpc, "ws_max_tx_subscriptions", 64))
    return Subscription(None)


def _check(resp: object) -> None:
    assert isinstance(resp, dict) and resp.get("jsonrpc") == "2.0", f"not a JSON-RPC response: {resp!r}"
    assert ("result" in resp) != ("error" in resp), f"needs exactly one of result, error: {resp!r}"
    if "error" in resp:
        assert resp["error"]["code"] != INTERNAL_ERROR, f"internal error: {resp['error']['message']}"


async def _post(body: bytes) -> None:
    payload = StreamReader(mock.Mock(_reading_paused=False), 1 << 16, loop=FN.loop)
    payload.feed_data(body)
    payload.feed_eof()
    request = make_mocked_request("POST", "/", HEADERS, payload=payload, app=SERVER.app, client_max_size=FN.node.cfg.rpc.max_body_bytes)
    response = await SERVER.handle_rpc(request)
    assert response.status in (200, 204), f"HTTP {response.status}"
    if response.status == 200:
        out = json.loads(response.text)
        for item in out if isinstance(out, list) else [out]:
            _check(item)


async def post(body: bytes) -> None:
    try:
        async with asyncio.timeout(WAIT_S):
            await _post(body)
    except TimeoutError:
        assert b"commit" in body, "RPC request hung"


async def websocket(text: bytes) -> None:
    _check(SERVER._ws_request(_subscription(), text.decode("utf-8", "replace")))


async def signed_body(payload: bytes) -> None:
    try:
        obj = decode(payload)
        if type(obj) is not list or len(obj) != 2 or type(obj[0]) is not str:
            return
        body = body_type(obj[0]).from_obj(obj[1])
    except DecodeError:
        return
    node = FN.node
    tx = sign_tx(FN.alice, node.chain.chain_id, node.chain.nonce_of(FN.alice.address), body)
    await post(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "broadcast_tx", "params": [tx.raw.hex(), "sync"]}).encode())
    node.mempool.update([tx], node.chain.nonce_of)


test_one_input = FN.entry_points([post, websocket, signed_body])


def corpus() -> list[bytes]:
    node = FN.node
    tx_hex = [t.raw.hex() for t in FN.txs]
    block_hash = node.chain.last_block_id.hex()
    alice = FN.alice.address.hex()
    calls = [
        ("status", {}), ("block", {"height": 1, "receipts": True}), ("block", [1]), ("commit", {"height": 1}),
        ("tx", {"hash": block_hash}), ("account", {"address": alice}), ("assets", {}), ("validators", []),
        ("genesis", {}), ("evidence", {}), ("mempool", {}), ("markets", {}), ("market", {"market": "BTC-USD"}),
        ("account_margin", {"address": alice}), ("oracle", {"market": "BTC-USD"}), ("insurance_fund", {}),
        ("htlc", {"hash": block_hash}), ("order", {"hash": block_hash}),
        ("broadcast_tx", {"tx": tx_hex[0], "mode": "sync"}), ("broadcast_tx", [tx_hex[1], "async"]),
        ("broadcast_tx", {"tx": tx_hex[2], "mode": "commit", "timeout": 1}),
        ("broadcast_tx_batch", {"txs": tx_hex, "mode": "sync"}), ("no_such_method", {}),
    ]
    bodies = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(calls)]
    out = [b"\x00" + json.dumps(b).encode() for b in bodies]
    out.append(b"\x00" + json.dumps(bodies[:4]).encode())  # a batch
    out.append(b"\x00" + json.dumps({"jsonrpc": "2.0", "method": "status"}).encode())  # a notification
    out += [b"\x00", b"\x00[]", b"\x00{", b'\x00{"jsonrpc": "2.0", "id": "x", "method": 1}']
    nested = "[" * 300 + "]" * 300  # deep, valid JSON: the parser recurses
    out.append(b"\x00" + json.dumps({"jsonrpc": "2.0", "id": 1, "method": "status", "params": {"x": "@"}}).replace('"@"', nested).encode())
    ws = [
        {"id": 1, "method": "subscribe", "params": {"topic": "blocks", "tx_hashes": True}},
        {"id": 2, "method": "subscribe", "params": {"topic": "tx", "hash": block_hash}},
        {"id": 3, "method": "unsubscribe", "params": {"topic": "tx", "hash": block_hash}},
    ]
    out += [b"\x01" + json.dumps(w).encode() for w in ws]
    out += [b"\x02" + encode([type(b).KIND, b.to_obj()]) for b in seeds.bodies() + [t.body for t in FN.txs]]
    return out


if __name__ == "__main__":
    main("rpc", test_one_input, corpus)
