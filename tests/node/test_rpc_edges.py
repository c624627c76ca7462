"""The RPC door under abuse, against a real node process: deep JSON, odd ids,
huge echoes, cross-site requests, WebSocket origins and subscription floods,
a batch with one bad transaction."""
from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request

import aiohttp
import pytest

from ledger.keys import PrivateKey
from ledger.tx import sign_tx
from ledger.txkinds import Transfer
from tests.nodeproc import NodeProcess, free_port, run_cli


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    home = tmp_path_factory.mktemp("rpc") / "home"
    port = free_port()
    run_cli("init", "--home", str(home), "--rpc-port", str(port), "--p2p-port", str(free_port()), check=True)
    cfg = (home / "config.toml").read_text()
    cfg = cfg.replace("empty_interval_ms = 5000", "empty_interval_ms = 1000")
    cfg = cfg.replace("ws_allowed_origins = []", 'ws_allowed_origins = ["https://ok.example"]')
    cfg = cfg.replace("ws_max_tx_subscriptions = 1000", "ws_max_tx_subscriptions = 5")
    (home / "config.toml").write_text(cfg)
    proc = NodeProcess(home, f"http://127.0.0.1:{port}").start()
    yield proc
    proc.stop()


def _post(url: str, body: bytes, content_type: str = "application/json") -> tuple[int, bytes]:
    req = urllib.request.Request(url + "/", data=body, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _rpc(url: str, body: bytes, content_type: str = "application/json") -> dict:
    status, raw = _post(url, body, content_type)
    resp = json.loads(raw)  # strict JSON: NaN/Infinity would not be valid
    json.dumps(resp, allow_nan=False)
    return resp


def test_json_nested_1000_deep_is_an_invalid_request(node):
    for body in (b"[" * 1000 + b"]" * 1000, b'{"jsonrpc": "2.0", "method": "status", "id": 1, "params": ' + b'{"a": ' * 1000 + b"1" + b"}" * 1001):
        status, raw = _post(node.rpc_url, body)
        assert status == 200, raw[:300]
        assert json.loads(raw)["error"]["code"] == -32600
    assert node.client.call("status")["height"] >= 0


@pytest.mark.parametrize("rid", [b"NaN", b"Infinity", b"-Infinity", b"1e400", b"1.5", b"true", b"[1]", b"{}"])
def test_an_id_that_is_not_a_string_integer_or_null_is_refused(node, rid):
    resp = _rpc(node.rpc_url, b'{"jsonrpc": "2.0", "method": "status", "id": ' + rid + b"}")
    assert resp["error"]["code"] == -32600 and resp["id"] is None, resp


def test_string_integer_and_null_ids_are_echoed(node):
    for rid in ("abc", 12345678901234567890, None):
        resp = _rpc(node.rpc_url, json.dumps({"jsonrpc": "2.0", "method": "status", "id": rid}).encode())
        assert resp["id"] == rid and "result" in resp


def test_a_huge_bad_input_is_not_echoed_whole(node):
    big = "st" + "z" * 1_000_000
    status, raw = _post(node.rpc_url, json.dumps({"jsonrpc": "2.0", "method": "account", "params": {"address": big}, "id": 1}).encode())
    assert json.loads(raw)["error"]["code"] == -32602
    assert len(raw) < 2_000
    status, raw = _post(node.rpc_url, json.dumps({"jsonrpc": "2.0", "method": "x" * 1_000_000, "id": 1}).encode())
    assert json.loads(raw)["error"]["code"] == -32601 and len(raw) < 2_000


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""])
def test_a_post_that_is_not_application_json_is_not_executed(node, ctype):
    """A web page can send these without a CORS preflight: the node must not act on them."""
    alice = PrivateKey.load(node.home / "keys" / "alice.json")
    bob = PrivateKey.load(node.home / "keys" / "bob.json")
    nonce = node.client.call("account", {"address": _fmt(alice)})["next_nonce"]
    t = sign_tx(alice, "settle-local", nonce, Transfer(bob.address, "USD", 1, ""))
    body = json.dumps({"jsonrpc": "2.0", "method": "broadcast_tx", "params": {"tx": t.raw.hex()}, "id": 1}).encode()
    status, raw = _post(node.rpc_url, body, ctype)
    assert status == 415, (status, raw[:200])
    assert json.loads(raw)["error"]["code"] == -32600
    with pytest.raises(Exception, match="not found"):
        node.client.call("tx", {"hash": t.hash.hex()})
    # application/json with a charset parameter is fine
    status, raw = _post(node.rpc_url, body, "application/json; charset=utf-8")
    assert status == 200 and json.loads(raw)["result"]["accepted"] is True


def test_websocket_origin_must_be_allowed(node):
    url = node.rpc_url + "/ws"

    async def attempt(headers):
        async with aiohttp.ClientSession() as s:
            try:
                async with s.ws_connect(url, headers=headers) as ws:
                    await ws.send_json({"jsonrpc": "2.0", "id": 1, "method": "subscribe", "params": {"topic": "blocks"}})
                    return "result" in await ws.receive_json(timeout=10)
            except aiohttp.WSServerHandshakeError as exc:
                return exc.status

    assert asyncio.run(attempt({})) is True  # no Origin: not a browser
    assert asyncio.run(attempt({"Origin": "https://ok.example"})) is True
    assert asyncio.run(attempt({"Origin": "https://evil.example"})) == 403
    assert asyncio.run(attempt({"Origin": "null"})) == 403


def test_tx_subscriptions_per_socket_are_capped(node):
    async def scenario():
        async with aiohttp.ClientSession() as s:
            async with s.ws_connect(node.rpc_url + "/ws") as ws:
                replies = []
                for i in range(7):
                    h = bytes([i + 1]) * 32
                    await ws.send_json({"jsonrpc": "2.0", "id": i, "method": "subscribe", "params": {"topic": "tx", "hash": h.hex()}})
                    replies.append(await ws.receive_json(timeout=10))
                # one unsubscribed makes room for one more
                await ws.send_json({"jsonrpc": "2.0", "id": 99, "method": "unsubscribe", "params": {"topic": "tx", "hash": (b"\x01" * 32).hex()}})
                await ws.receive_json(timeout=10)
                await ws.send_json({"jsonrpc": "2.0", "id": 100, "method": "subscribe", "params": {"topic": "tx", "hash": (b"\x09" * 32).hex()}})
                replies.append(await ws.receive_json(timeout=10))
                return replies

    replies = asyncio.run(scenario())
    assert ["result" in r for r in replies] == [True] * 5 + [False, False, True]
    assert replies[5]["error"]["code"] == -32003 and "5" in replies[5]["error"]["message"]


def test_one_bad_tx_in_a_batch_gets_its_own_error_and_the_rest_are_admitted(node):
    alice = PrivateKey.load(node.home / "keys" / "alice.json")
    bob = PrivateKey.load(node.home / "keys" / "bob.json")
    start = node.client.call("account", {"address": _fmt(alice)})["next_nonce"]
    good = [sign_tx(alice, "settle-local", start + i, Transfer(bob.address, "USD", 1, "")) for i in range(2)]
    txs = [good[0].raw.hex(), "zz", 5, "c0ffee", good[1].raw.hex()]
    res = node.client.call("broadcast_tx_batch", {"txs": txs, "mode": "commit"})
    assert res["accepted"] == 2 and res["rejected"] == 3
    r = res["results"]
    assert r[0]["accepted"] and r[0]["receipt"]["ok"] and r[4]["accepted"] and r[4]["receipt"]["ok"]
    for i in (1, 2, 3):
        assert r[i]["accepted"] is False and r[i]["hash"] is None and r[i]["code"] == "malformed" and f"txs[{i}]" in r[i]["reason"]


def _fmt(key) -> str:
    from ledger.keys import format_address

    return format_address(key.address)
