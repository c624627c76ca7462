"""One exception tree for every failure: a JSON-RPC error becomes the subclass of its code (with the server's
``code``, ``message`` and ``data``); no node, a non-200 answer or a body that is not JSON is a TransportError;
no answer in time is a SettleTimeout.  Both clients map alike.  The server here is a real HTTP server
answering exactly what each case needs."""
from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import sdk
from sdk.errors import error_from_rpc
from tests.nodeproc import free_port

CODES = [
    (-32000, sdk.TxRejected), (-32001, sdk.NotFound), (-32002, sdk.CommitTimeout), (-32003, sdk.LimitExceeded),
    (-32004, sdk.NotAvailable), (-32601, sdk.MethodNotFound), (-32602, sdk.InvalidParams), (-32603, sdk.RpcError),
    (-1, sdk.RpcError),
]


@pytest.mark.parametrize("code, cls", CODES)
def test_each_error_code_maps_to_its_class_with_code_message_and_data(code, cls):
    err = error_from_rpc({"code": code, "message": "why", "data": {"reason": "r"}})
    assert type(err) is cls and isinstance(err, sdk.RpcError) and isinstance(err, sdk.SettleError)
    assert (err.code, str(err), err.data) == (code, "why", {"reason": "r"})


def test_a_commit_timeout_is_both_an_rpc_error_and_a_timeout():
    assert issubclass(sdk.CommitTimeout, sdk.SettleTimeout) and issubclass(sdk.CommitTimeout, sdk.RpcError)
    assert type(error_from_rpc("not an object")) is sdk.RpcError


class _Peer(BaseHTTPRequestHandler):
    """Answers by the method asked: ``http500``, ``notjson``, ``slow`` (never in time), else a JSON-RPC error."""

    def do_POST(self):
        req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        method = req["method"]
        if method == "slow":
            self.server.release.wait(10)
        if method == "http500":
            self.send_response(500)
            self.end_headers()
            return
        body = b"hello" if method == "notjson" else json.dumps(
            {"jsonrpc": "2.0", "id": req["id"], "error": {"code": -32001, "message": f"no {method}", "data": [1]}}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def peer():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Peer)
    server.release = threading.Event()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.release.set()
    server.shutdown()


CASES = [("http500", sdk.TransportError, "answered HTTP 500"), ("notjson", sdk.TransportError, "not JSON"),
         ("slow", sdk.SettleTimeout, "did not answer"), ("market", sdk.NotFound, "no market")]


@pytest.mark.parametrize("method, cls, says", CASES)
def test_the_sync_client_raises_the_class_of_each_failure(peer, method, cls, says):
    with pytest.raises(cls, match=says) as err:
        sdk.Client(peer, timeout=0.5).call(method)
    if cls is sdk.NotFound:
        assert (err.value.code, err.value.data) == (-32001, [1])


@pytest.mark.parametrize("method, cls, says", CASES)
def test_the_async_client_raises_the_same_classes(peer, method, cls, says):
    async def go():
        async with sdk.AsyncClient(peer, timeout=0.5) as c:
            await c.call(method)

    with pytest.raises(cls, match=says):
        asyncio.run(go())


def test_no_node_at_the_address_is_a_transport_error():
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(sdk.TransportError, match="cannot reach node"):
        sdk.Client(url).status()

    async def go():
        async with sdk.AsyncClient(url) as c:
            await c.status()

    with pytest.raises(sdk.TransportError, match="cannot reach node"):
        asyncio.run(go())
