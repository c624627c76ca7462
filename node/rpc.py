"""JSON-RPC 2.0 over HTTP, health, Prometheus metrics and a WebSocket feed.

Owns the node's public API surface (bound to 127.0.0.1 unless configured):

* ``POST /`` — JSON-RPC 2.0, single requests and batches (arrays).
* ``GET /health`` — 200 with height while the node serves.
* ``GET /metrics`` — Prometheus text format (``metrics.py``).
* ``GET /ws`` — WebSocket: ``subscribe`` to ``blocks`` (``"tx_hashes": true``
  adds the block's tx hashes) or to a tx hash; the server pushes ``block`` and
  ``tx_result`` notifications.  Each client has a
  bounded queue; a client that falls that far behind is disconnected.

Every bad request gets a standard JSON-RPC error with a readable message and
the node keeps serving.  Transactions travel as hex of their canonical bytes.
"""
from __future__ import annotations

import asyncio
import json
import logging

from aiohttp import WSMsgType, web

from .methods import INTERNAL_ERROR, INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND, METHODS, PARSE_ERROR, RPCError
from .metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE, exposition
from .render import render_block, render_receipt

__all__ = ["RPCServer"]

log = logging.getLogger("settle.rpc")
WS_QUEUE = 1024


class Subscription:
    """One WebSocket client's subscriptions and its bounded outbound queue."""

    def __init__(self, ws: web.WebSocketResponse):
        self.ws = ws
        self.blocks = False
        self.block_tx_hashes = False  # subscribe {"topic": "blocks", "tx_hashes": true}
        self.txs: set[bytes] = set()
        self.queue: asyncio.Queue = asyncio.Queue(WS_QUEUE)
        self.overflow = False

    def _push(self, msg: dict) -> None:
        try:
            self.queue.put_nowait(msg)
        except asyncio.QueueFull:
            self.overflow = True

    def on_block(self, block, receipts) -> None:
        if self.blocks:
            params = render_block(block, None, full=False)
            if self.block_tx_hashes:
                params["tx_hashes"] = [tx.hash.hex() for tx in block.txs]
            self._push({"jsonrpc": "2.0", "method": "block", "params": params})
        if self.txs:
            for i, tx in enumerate(block.txs):
                if tx.hash in self.txs:
                    self.txs.discard(tx.hash)
                    self._push(
                        {
                            "jsonrpc": "2.0",
                            "method": "tx_result",
                            "params": {"height": block.height, "index": i, "receipt": render_receipt(receipts[i])},
                        }
                    )


class RPCServer:
    def __init__(self, node):
        self.node = node
        cfg = node.cfg.rpc
        self.app = web.Application(client_max_size=cfg.max_body_bytes)
        self.app.router.add_post("/", self.handle_rpc)
        self.app.router.add_get("/health", self.handle_health)
        self.app.router.add_get("/metrics", self.handle_metrics)
        self.app.router.add_get("/ws", self.handle_ws)
        self.runner = web.AppRunner(self.app, access_log=None)
        self.site = None

    async def start(self) -> None:
        cfg = self.node.cfg.rpc
        await self.runner.setup()
        self.site = web.TCPSite(self.runner, cfg.host, cfg.port, reuse_address=True)
        await self.site.start()

    async def stop(self) -> None:
        await self.runner.cleanup()

    # ------------------------------------------------------------------ JSON-RPC

    async def handle_rpc(self, request: web.Request) -> web.Response:
        node = self.node
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _json(_error(None, INVALID_REQUEST, "request body too large"))
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            node.metrics.rpc_errors += 1
            return _json(_error(None, PARSE_ERROR, f"parse error: {exc}"))
        if isinstance(payload, list):
            if not payload:
                return _json(_error(None, INVALID_REQUEST, "empty batch"))
            if len(payload) > node.cfg.rpc.max_batch:
                return _json(_error(None, INVALID_REQUEST, f"batch of {len(payload)} exceeds {node.cfg.rpc.max_batch}"))
            out = [r for r in [await self._one(item) for item in payload] if r is not None]
            return _json(out) if out else web.Response(status=204)
        resp = await self._one(payload)
        return _json(resp) if resp is not None else web.Response(status=204)

    async def _one(self, req) -> dict | None:
        node = self.node
        node.metrics.rpc_requests += 1
        if not isinstance(req, dict):
            node.metrics.rpc_errors += 1
            return _error(None, INVALID_REQUEST, "request must be a JSON object")
        rid = req.get("id")
        if req.get("jsonrpc") != "2.0" or not isinstance(req.get("method"), str):
            node.metrics.rpc_errors += 1
            return _error(rid if _valid_id(rid) else None, INVALID_REQUEST, 'request needs "jsonrpc": "2.0" and a string "method"')
        if not _valid_id(rid):
            return _error(None, INVALID_REQUEST, "id must be a string, a number or null")
        params = req.get("params", {})
        if not isinstance(params, (dict, list)):
            node.metrics.rpc_errors += 1
            return _error(rid, INVALID_PARAMS, "params must be an object or an array")
        method = METHODS.get(req["method"])
        if method is None:
            node.metrics.rpc_errors += 1
            return _error(rid, METHOD_NOT_FOUND, f"method not found: {req['method']}")
        try:
            result = await method(node, params)
        except RPCError as exc:
            node.metrics.rpc_errors += 1
            return _error(rid, exc.code, exc.message, exc.data)
        except Exception as exc:  # a bug: report it, keep serving
            log.exception("internal error in %s", req["method"])
            node.metrics.rpc_errors += 1
            return _error(rid, INTERNAL_ERROR, f"internal error: {type(exc).__name__}: {exc}")
        if "id" not in req:
            return None  # notification
        return {"jsonrpc": "2.0", "id": rid, "result": result}

    # ------------------------------------------------------------------ plain HTTP

    async def handle_health(self, request: web.Request) -> web.Response:
        return _json({"ok": True, "height": self.node.chain.height})

    async def handle_metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=exposition(self.node), headers={"Content-Type": METRICS_CONTENT_TYPE})

    # ------------------------------------------------------------------ WebSocket

    async def handle_ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=30, max_msg_size=1 << 20)
        await ws.prepare(request)
        sub = Subscription(ws)
        self.node.subscribers.add(sub)
        sender = asyncio.ensure_future(self._ws_sender(sub))
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                reply = self._ws_request(sub, msg.data)
                sub._push(reply)
        finally:
            self.node.subscribers.discard(sub)
            sender.cancel()
        return ws

    async def _ws_sender(self, sub: Subscription) -> None:
        while True:
            msg = await sub.queue.get()
            if sub.overflow:
                await sub.ws.close(code=1008, message=b"client too slow: notification queue overflowed")
                return
            await sub.ws.send_str(json.dumps(msg))

    def _ws_request(self, sub: Subscription, text: str) -> dict:
        try:
            req = json.loads(text)
        except ValueError as exc:
            return _error(None, PARSE_ERROR, f"parse error: {exc}")
        if not isinstance(req, dict) or req.get("method") not in ("subscribe", "unsubscribe"):
            return _error(req.get("id") if isinstance(req, dict) else None, METHOD_NOT_FOUND, "methods: subscribe, unsubscribe")
        rid = req.get("id")
        params = req.get("params") or {}
        topic = params.get("topic") if isinstance(params, dict) else None
        on = req["method"] == "subscribe"
        if topic == "blocks":
            sub.blocks = on
            sub.block_tx_hashes = on and params.get("tx_hashes") is True
            return {"jsonrpc": "2.0", "id": rid, "result": {"subscribed" if on else "unsubscribed": "blocks"}}
        if topic == "tx":
            try:
                h = bytes.fromhex(params.get("hash", ""))
                if len(h) != 32:
                    raise ValueError
            except (ValueError, TypeError):
                return _error(rid, INVALID_PARAMS, "tx subscription needs params.hash: 64 hex digits")
            if on:
                found = self.node.tx_result(h)
                if found is not None:
                    height, index, receipt = found
                    sub._push({"jsonrpc": "2.0", "method": "tx_result", "params": {"height": height, "index": index, "receipt": render_receipt(receipt)}})
                else:
                    sub.txs.add(h)
            else:
                sub.txs.discard(h)
            return {"jsonrpc": "2.0", "id": rid, "result": {"subscribed" if on else "unsubscribed": h.hex()}}
        return _error(rid, INVALID_PARAMS, 'params.topic must be "blocks" or "tx"')


def _valid_id(rid) -> bool:
    return rid is None or (isinstance(rid, (str, int, float)) and not isinstance(rid, bool))


def _error(rid, code: int, message: str, data=None) -> dict:
    err = {"code": code, "message": message}
    if data is not None:
        err["data"] = data
    return {"jsonrpc": "2.0", "id": rid, "error": err}


def _json(obj) -> web.Response:
    return web.Response(text=json.dumps(obj), content_type="application/json")
