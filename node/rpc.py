"""JSON-RPC 2.0 over HTTP, health, Prometheus metrics and a WebSocket feed.

Owns the node's public API surface (bound to 127.0.0.1 unless configured):

* ``POST /`` — JSON-RPC 2.0, single requests and batches (arrays), with
  ``Content-Type: application/json`` only (anything else is 415: a web page
  can POST text/plain or a form cross-site without asking, but not JSON).
* ``GET /health`` — 200 with height while the node serves; 503 with the
  cause once a failed write halted it.
* ``GET /metrics`` — Prometheus text format (``metrics.py``).
* ``GET /ws`` — WebSocket: ``subscribe`` to ``blocks`` (``"tx_hashes": true``
  adds the block's tx hashes) or to a tx hash; the server pushes ``block`` and
  ``tx_result`` notifications.  Each client has a
  bounded queue; a client that falls that far behind is disconnected, and at
  most ``rpc.ws_max_tx_subscriptions`` tx subscriptions.  A browser (a request
  with an ``Origin`` header) may connect only from ``rpc.ws_allowed_origins``,
  or from the node's own dashboard page (``node.dashboard.same_origin``).
* ``GET /dashboard/`` — the web dashboard (``node/dashboard/``) when
  ``rpc.dashboard`` is on; ``GET /`` redirects there.

Connections are bounded: at most ``rpc.max_connections`` open at once (fitted
under the fd limit at start, see :func:`connection_cap`), headers due within
``rpc.header_timeout_ms`` and a body within ``rpc.body_timeout_ms``, so idle or
half-sent requests cannot take the descriptors the store, the WAL and the
safety module need.

Every bad request gets a standard JSON-RPC error with a readable message and
the node keeps serving: JSON nested deeper than :data:`MAX_JSON_DEPTH` and ids
that are not a string, an integer or null are invalid requests, and no error
message echoes more than :data:`MAX_ECHO` characters of what it was sent.
Transactions travel as hex of their canonical bytes.
"""
from __future__ import annotations

import asyncio
import json
import logging
import resource
from collections.abc import Mapping

from aiohttp import WSMsgType, web

from ledger.errors import Halt

from . import dashboard
from .config import RPCConfig
from .methods import INTERNAL_ERROR, INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND, PARSE_ERROR, Method, RPCError, RpcApi
from .metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE, MetricsSources, exposition
from .ports import Halter, MetricsSink
from .render import render_block, render_receipt

__all__ = ["RPCServer"]

log = logging.getLogger("settle.rpc")
WS_QUEUE = 1024
MAX_JSON_DEPTH = 32  # nesting of arrays/objects in a request (a batch of requests with params is 4)
MAX_ECHO = 200  # characters of an error message (which may quote the input) sent back
LIMIT_EXCEEDED = -32003  # a per-connection limit (tx subscriptions) is reached
FD_RESERVE = 256  # descriptors kept for everything but RPC connections (store, WAL, peers, workers)
FD_RESERVE_MIN = 64  # ... and at least this many under a small limit (a node alone uses ~30)
LINGER_S = 1.0
_BUSY = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


def connection_cap(configured: int) -> int:
    """How many RPC connections this process can hold, given RLIMIT_NOFILE.

    Raises the soft limit toward the hard one when ``configured`` needs it,
    then leaves :data:`FD_RESERVE` descriptors (a quarter of a small limit,
    :data:`FD_RESERVE_MIN` at least) for the rest of the node.

    Raises:
        OSError: the limit leaves no room for a single connection.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = configured + FD_RESERVE
    if soft != resource.RLIM_INFINITY and soft < want and (hard == resource.RLIM_INFINITY or hard > soft):
        soft = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    if soft == resource.RLIM_INFINITY:
        return configured
    cap = min(configured, soft - min(FD_RESERVE, max(FD_RESERVE_MIN, soft // 4)))
    if cap < 1:
        raise OSError(f"the file descriptor limit ({soft}) leaves no room for RPC connections")
    return cap


class _Busy(asyncio.Protocol):
    """A connection over the cap: told 503 and closed at once (its descriptor is freed)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.write(_BUSY)  # type: ignore[attr-defined]
        transport.close()


class Subscription:
    """One WebSocket client's subscriptions and its bounded outbound queue."""

    def __init__(self, ws: web.WebSocketResponse, max_txs: int):
        self.ws = ws
        self.max_txs = max_txs
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
    """The HTTP and WebSocket server; see the module docstring.

    Args:
        cfg: address, limits and timeouts.
        api: the ports the methods use (``api.chain`` also answers ``/health``,
            ``api.blocks`` a tx subscription whose tx is committed already).
        methods: name -> method (``node.methods.method_table``).
        counters: requests and errors are counted here.
        halt: ``/health`` answers 503 with the reason once the node halted.
        subscribers: WebSocket clients are added here while connected (the
            commit pipeline tells each of every block).
        metrics: what ``/metrics`` reports.
    """

    def __init__(self, *, cfg: RPCConfig, api: RpcApi, methods: Mapping[str, Method], counters: MetricsSink,
                 halt: Halter, subscribers: set, metrics: MetricsSources):
        self.cfg = cfg
        self._api = api
        self._methods = methods
        self._counters = counters
        self._halt = halt
        self._subscribers = subscribers
        self._metrics = metrics
        self.app = web.Application(client_max_size=cfg.max_body_bytes)
        self.app.router.add_post("/", self.handle_rpc)
        self.app.router.add_get("/health", self.handle_health)
        self.app.router.add_get("/metrics", self.handle_metrics)
        self.app.router.add_get("/ws", self.handle_ws)
        if cfg.dashboard:
            dashboard.add_routes(self.app)
        # aiohttp closes a connection that waits this long for a request's
        # headers (from connect, or since its last response): the header timeout.
        # After an error answer to an unfinished body (408), read what else comes
        # for at most LINGER_S before closing (aiohttp's default: 10 s).
        self.runner = web.AppRunner(self.app, access_log=None, keepalive_timeout=cfg.header_timeout_ms / 1000, lingering_time=LINGER_S)
        self.listener: asyncio.Server | None = None
        self.max_connections = 0
        self.refused_connections = 0

    async def start(self) -> None:
        cfg = self.cfg
        self.max_connections = connection_cap(cfg.max_connections)
        if self.max_connections < cfg.max_connections:
            log.warning("rpc: at most %d connections (rpc.max_connections = %d does not fit the fd limit %d)",
                        self.max_connections, cfg.max_connections, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
        await self.runner.setup()
        self.listener = await asyncio.get_running_loop().create_server(self._protocol, cfg.host, cfg.port, reuse_address=True)

    def _protocol(self) -> asyncio.BaseProtocol:
        server = self.runner.server
        assert server is not None
        if len(server.connections) >= self.max_connections:
            self.refused_connections += 1
            return _Busy()
        return server()

    async def stop(self) -> None:
        if self.listener is not None:
            self.listener.close()
        await self.runner.cleanup()

    # ------------------------------------------------------------------ JSON-RPC

    async def handle_rpc(self, request: web.Request) -> web.Response:
        counters, cfg = self._counters, self.cfg
        if request.content_type != "application/json":
            counters.rpc_errors += 1
            return _json(_error(None, INVALID_REQUEST, "Content-Type must be application/json"), status=415)
        try:
            async with asyncio.timeout(cfg.body_timeout_ms / 1000):
                body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _json(_error(None, INVALID_REQUEST, "request body too large"))
        except TimeoutError:
            counters.rpc_errors += 1
            resp = _json(_error(None, INVALID_REQUEST, "request body not received in time"), status=408)
            resp.force_close()
            return resp
        except ConnectionError:  # the client left mid-body
            return web.Response(status=400)
        try:
            payload = json.loads(body)
            deep = not _depth_within(payload, MAX_JSON_DEPTH)
        except (ValueError, UnicodeDecodeError) as exc:
            counters.rpc_errors += 1
            return _json(_error(None, PARSE_ERROR, f"parse error: {exc}"))
        except RecursionError:  # deeper than the parser goes (about 1,000)
            deep = True
        if deep:
            counters.rpc_errors += 1
            return _json(_error(None, INVALID_REQUEST, f"JSON nested deeper than {MAX_JSON_DEPTH} levels"))
        if isinstance(payload, list):
            if not payload:
                return _json(_error(None, INVALID_REQUEST, "empty batch"))
            if len(payload) > cfg.max_batch:
                return _json(_error(None, INVALID_REQUEST, f"batch of {len(payload)} exceeds {cfg.max_batch}"))
            out = [r for r in [await self._one(item) for item in payload] if r is not None]
            return _json(out) if out else web.Response(status=204)
        resp = await self._one(payload)
        return _json(resp) if resp is not None else web.Response(status=204)

    async def _one(self, req) -> dict | None:
        counters = self._counters
        counters.rpc_requests += 1
        if not isinstance(req, dict):
            counters.rpc_errors += 1
            return _error(None, INVALID_REQUEST, "request must be a JSON object")
        rid = req.get("id")
        if req.get("jsonrpc") != "2.0" or not isinstance(req.get("method"), str):
            counters.rpc_errors += 1
            return _error(rid if _valid_id(rid) else None, INVALID_REQUEST, 'request needs "jsonrpc": "2.0" and a string "method"')
        if not _valid_id(rid):
            counters.rpc_errors += 1
            return _error(None, INVALID_REQUEST, "id must be a string, an integer or null")
        params = req.get("params", {})
        if not isinstance(params, (dict, list)):
            counters.rpc_errors += 1
            return _error(rid, INVALID_PARAMS, "params must be an object or an array")
        method = self._methods.get(req["method"])
        if method is None:
            counters.rpc_errors += 1
            return _error(rid, METHOD_NOT_FOUND, f"method not found: {req['method']}")
        try:
            result = await method(self._api, params)
        except RPCError as exc:
            counters.rpc_errors += 1
            return _error(rid, exc.code, exc.message, exc.data)
        except Halt as exc:  # a read found the store or state corrupt: the node halts; this request gets an internal error
            self._halt.halt(f"rpc {req['method']}: {type(exc).__name__}: {exc}")
            counters.rpc_errors += 1
            return _error(rid, INTERNAL_ERROR, f"internal error: {type(exc).__name__}: {exc}")
        except Exception as exc:  # a bug: report it, keep serving (one method's bug must not take the API down)
            log.exception("internal error in %s", req["method"])
            counters.rpc_errors += 1
            return _error(rid, INTERNAL_ERROR, f"internal error: {type(exc).__name__}: {exc}")
        if "id" not in req:
            return None  # notification
        return {"jsonrpc": "2.0", "id": rid, "result": result}

    # ------------------------------------------------------------------ plain HTTP

    async def handle_health(self, request: web.Request) -> web.Response:
        halted, height = self._halt.halted, self._api.chain.height
        if halted is not None:
            return _json({"ok": False, "halted": halted, "height": height}, status=503)
        return _json({"ok": True, "height": height})

    async def handle_metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=exposition(self._metrics, self), headers={"Content-Type": METRICS_CONTENT_TYPE})

    # ------------------------------------------------------------------ WebSocket

    async def handle_ws(self, request: web.Request) -> web.StreamResponse:
        cfg = self.cfg
        origin = request.headers.get("Origin")
        if (origin is not None and origin not in cfg.ws_allowed_origins and "*" not in cfg.ws_allowed_origins
                and not (cfg.dashboard and dashboard.same_origin(request, origin))):
            # A browser page from a site not allowed: it must not drive this node.
            return web.Response(status=403, text=f"origin not allowed: {_clip(origin)}")
        ws = web.WebSocketResponse(heartbeat=30, max_msg_size=1 << 20)
        await ws.prepare(request)
        sub = Subscription(ws, cfg.ws_max_tx_subscriptions)
        self._subscribers.add(sub)
        sender = asyncio.ensure_future(self._ws_sender(sub))
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                reply = self._ws_request(sub, msg.data)
                sub._push(reply)
        finally:
            self._subscribers.discard(sub)
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
            if not _depth_within(req, MAX_JSON_DEPTH):
                raise RecursionError
        except ValueError as exc:
            return _error(None, PARSE_ERROR, f"parse error: {exc}")
        except RecursionError:
            return _error(None, INVALID_REQUEST, f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        rid = req.get("id") if isinstance(req, dict) else None
        if not _valid_id(rid):
            return _error(None, INVALID_REQUEST, "id must be a string, an integer or null")
        if not isinstance(req, dict) or req.get("method") not in ("subscribe", "unsubscribe"):
            return _error(rid, METHOD_NOT_FOUND, "methods: subscribe, unsubscribe")
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
                found = self._api.blocks.receipt(h)
                if found is not None:
                    height, index, receipt = found
                    sub._push({"jsonrpc": "2.0", "method": "tx_result", "params": {"height": height, "index": index, "receipt": render_receipt(receipt)}})
                elif h not in sub.txs and len(sub.txs) >= sub.max_txs:
                    return _error(rid, LIMIT_EXCEEDED, f"this connection holds {len(sub.txs)} tx subscriptions, the most allowed (unsubscribe some first)")
                else:
                    sub.txs.add(h)
            else:
                sub.txs.discard(h)
            return {"jsonrpc": "2.0", "id": rid, "result": {"subscribed" if on else "unsubscribed": h.hex()}}
        return _error(rid, INVALID_PARAMS, 'params.topic must be "blocks" or "tx"')


def _valid_id(rid) -> bool:
    """JSON-RPC 2.0 ids: a string, an integer or null (no fractions, NaN or infinities: 1e400 parses as inf)."""
    return rid is None or type(rid) in (str, int)


def _depth_within(obj, limit: int) -> bool:
    """True if arrays/objects in ``obj`` nest at most ``limit`` deep (iterative: no recursion to exhaust)."""
    stack = [(obj, 1)] if type(obj) in (dict, list) else []
    while stack:
        o, depth = stack.pop()
        if depth > limit:
            return False
        items = o.values() if type(o) is dict else o
        stack.extend((v, depth + 1) for v in items if type(v) in (dict, list))
    return True


def _clip(text: str) -> str:
    """At most :data:`MAX_ECHO` characters of ``text``: error messages quote input, which may be huge."""
    return text if len(text) <= MAX_ECHO else f"{text[:MAX_ECHO]}... ({len(text)} characters)"


def _error(rid, code: int, message: str, data=None) -> dict:
    err = {"code": code, "message": _clip(message)}
    if data is not None:
        err["data"] = data
    return {"jsonrpc": "2.0", "id": rid, "error": err}


def _json(obj, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(obj, allow_nan=False), status=status, content_type="application/json")
