"""End to end with a real node process: CLI, JSON-RPC, WebSocket, metrics, restart."""
from __future__ import annotations

import asyncio
import json
import urllib.request

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ledger.keys import PrivateKey, format_address
from ledger.tx import sign_tx
from ledger.txkinds import Transfer
from tests.nodeproc import NodeProcess, assert_promtool_accepts, run_cli


def _balance(node, who_addr: str, sym: str) -> int:
    return node.client.call("account", {"address": who_addr})["balances"].get(sym, 0)


def _addr(home, name) -> str:
    return format_address(PrivateKey.load(home / "keys" / f"{name}.json").address)


def test_cli_transfer_wait_changes_both_balances(node):
    home = node.home
    alice, bob = _addr(home, "alice"), _addr(home, "bob")
    a0, b0 = _balance(node, alice, "USD"), _balance(node, bob, "USD")
    out = run_cli("tx", "transfer", "--from", "alice", "--to", "bob", "--asset", "USD", "--amount", "1234", "--wait", "--json", home=home, check=True)
    res = json.loads(out.stdout)
    assert res["receipt"]["ok"] and res["height"] >= 1
    assert _balance(node, alice, "USD") == a0 - 1234
    assert _balance(node, bob, "USD") == b0 + 1234
    q = run_cli("query", "tx", res["hash"], "--json", home=home, check=True)
    assert json.loads(q.stdout)["receipt"]["events"][0]["amount"] == 1234
    table = run_cli("query", "account", "bob", home=home, check=True).stdout
    assert "USD" in table and f"{b0 + 1234:,}" in table


def test_cli_errors_are_one_line_and_nonzero(node):
    home = node.home
    cases = [
        ("tx", "transfer", "--from", "nobody", "--to", "bob", "--asset", "USD", "--amount", "1"),
        ("tx", "transfer", "--from", "alice", "--to", "bob", "--asset", "USD", "--amount", "ten"),
        ("tx", "transfer", "--from", "alice", "--to", "st1234", "--asset", "USD", "--amount", "1"),
        ("tx", "transfer", "--from", "alice", "--to", "bob", "--asset", "USD", "--amount", str(10**30), "--wait"),
        ("query", "status", "--rpc", "http://127.0.0.1:1"),
        ("query", "block", "999999"),
        ("query", "tx", "zz"),
        ("frobnicate",),
    ]
    for args in cases:
        p = run_cli(*args, home=home)
        assert p.returncode != 0, args
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (args, p.stderr)
    # A failing transaction is committed with a receipt that says why.
    p = run_cli("tx", "transfer", "--from", "alice", "--to", "bob", "--asset", "USD", "--amount", str(10**17), "--wait", home=home)
    assert p.returncode == 1 and "insufficient_balance" in p.stderr


def _post(url: str, body: bytes) -> dict | list:
    req = urllib.request.Request(url + "/", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


BAD_REQUESTS = [
    (b"{not json", -32700),
    (b"[]", -32600),
    (b"42", -32600),
    (b'{"method": "status", "id": 1}', -32600),
    (b'{"jsonrpc": "2.0", "method": 7, "id": 1}', -32600),
    (b'{"jsonrpc": "2.0", "method": "nope", "id": 1}', -32601),
    (b'{"jsonrpc": "2.0", "method": "block", "params": {"height": "x"}, "id": 1}', -32602),
    (b'{"jsonrpc": "2.0", "method": "block", "params": {"height": 10000000}, "id": 1}', -32001),
    (b'{"jsonrpc": "2.0", "method": "status", "params": 5, "id": 1}', -32602),
    (b'{"jsonrpc": "2.0", "method": "tx", "params": {"hash": "abc"}, "id": 1}', -32602),
    (b'{"jsonrpc": "2.0", "method": "tx", "params": {"hash": "' + b"00" * 32 + b'"}, "id": 1}', -32001),
    (b'{"jsonrpc": "2.0", "method": "account", "params": {"address": "xyz"}, "id": 1}', -32602),
    (b'{"jsonrpc": "2.0", "method": "account", "params": {}, "id": 1}', -32602),
    (b'{"jsonrpc": "2.0", "method": "broadcast_tx", "params": {"tx": "zz"}, "id": 1}', -32602),
    (b'{"jsonrpc": "2.0", "method": "broadcast_tx", "params": {"tx": "c0ffee"}, "id": 1}', -32602),
    (b'{"jsonrpc": "2.0", "method": "broadcast_tx", "params": {"tx": "00", "mode": "later"}, "id": 1}', -32602),
    (b'{"jsonrpc": "2.0", "method": "broadcast_tx_batch", "params": {"txs": "nope"}, "id": 1}', -32602),
]


def test_every_bad_rpc_request_gets_a_jsonrpc_error_and_node_keeps_serving(node):
    for body, code in BAD_REQUESTS:
        resp = _post(node.rpc_url, body)
        assert resp["error"]["code"] == code, (body, resp)
        assert resp["error"]["message"]
    batch = _post(node.rpc_url, b'[{"jsonrpc": "2.0", "method": "status", "id": 1}, 5, {"jsonrpc": "2.0", "method": "x", "id": 2}]')
    assert [("result" in r, r.get("error", {}).get("code")) for r in batch] == [(True, None), (False, -32600), (False, -32601)]
    # A rejected transaction: a clear reason, state unchanged.
    key = PrivateKey.from_name("stranger")
    t = sign_tx(key, "settle-local", 0, Transfer(bytes(20), "USD", 1, ""))
    resp = _post(node.rpc_url, json.dumps({"jsonrpc": "2.0", "id": 3, "method": "broadcast_tx", "params": {"tx": t.raw.hex()}}).encode())
    assert resp["error"]["code"] == -32000 and "not a registered account" in resp["error"]["message"]
    assert node.client.call("status")["chain_id"] == "settle-local"
    with urllib.request.urlopen(node.rpc_url + "/health", timeout=5) as r:
        assert json.loads(r.read())["ok"] is True


def _signed_transfers(home, n: int, start_nonce: int, chain_id="settle-local"):
    alice = PrivateKey.load(home / "keys" / "alice.json")
    bob = PrivateKey.load(home / "keys" / "bob.json")
    return [sign_tx(alice, chain_id, start_nonce + i, Transfer(bob.address, "USD", 1 + i, "")) for i in range(n)]


def test_batch_commit_mode_and_websocket_finality(node):
    txs = _signed_transfers(node.home, 50, 0)

    async def scenario():
        async with aiohttp.ClientSession() as s:
            async with s.ws_connect(node.rpc_url + "/ws") as ws:
                await ws.send_json({"jsonrpc": "2.0", "id": 1, "method": "subscribe", "params": {"topic": "blocks"}})
                await ws.send_json({"jsonrpc": "2.0", "id": 2, "method": "subscribe", "params": {"topic": "tx", "hash": txs[-1].hash.hex()}})
                await ws.send_json({"jsonrpc": "2.0", "id": 3, "method": "subscribe", "params": {"topic": "weather"}})
                acks = [await ws.receive_json(timeout=10) for _ in range(3)]
                assert "result" in acks[0] and "result" in acks[1] and acks[2]["error"]["code"] == -32602
                res = await asyncio.to_thread(node.client.call, "broadcast_tx_batch", {"txs": [t.raw.hex() for t in txs], "mode": "commit"})
                assert res["accepted"] == 50 and all(r["receipt"]["ok"] for r in res["results"])
                seen_tx = seen_block = False
                while not (seen_tx and seen_block):
                    msg = await ws.receive_json(timeout=10)
                    if msg.get("method") == "tx_result":
                        assert msg["params"]["receipt"]["tx_hash"] == txs[-1].hash.hex()
                        seen_tx = True
                    elif msg.get("method") == "block":
                        seen_block = True
        return res

    res = asyncio.run(scenario())
    again = node.client.call("broadcast_tx_batch", {"txs": [txs[0].raw.hex()], "mode": "sync"})
    assert again["rejected"] == 1 and again["results"][0]["code"] == "already_committed"
    resp = urllib.request.urlopen(node.rpc_url + "/metrics", timeout=5)
    assert resp.headers["Content-Type"].startswith("text/plain; version=")  # the exposition format version
    metrics = resp.read().decode()
    families = {f.name: f for f in text_string_to_metric_families(metrics)}
    assert families["settle_txs_committed"].samples[0].value == 50
    assert families["settle_txs_committed"].type == "counter" and families["settle_height"].type == "gauge"
    assert_promtool_accepts(metrics)
    assert res["results"][0]["height"] >= 1


def test_restart_resumes_same_height_and_root(node):
    run_cli("tx", "transfer", "--from", "bob", "--to", "carol", "--asset", "EUR", "--amount", "77", "--wait", home=node.home, check=True)
    # Stop cleanly, then read the status back after restart.
    before = node.client.call("status")
    assert node.stop() == 0
    again = NodeProcess(node.home, node.rpc_url)
    again.proc = None
    # Read the store offline first: the same tip and root as the node reported.
    from ledger.chainstore import ChainStore
    from ledger.store_leveldb import LevelDBKV
    from ledger.statetree import StateTree

    kv = LevelDBKV(str(node.home / "data"))
    try:
        store = ChainStore(kv)
        assert store.latest_height() >= before["height"]
        assert StateTree.open(store, store.latest_height()).root == store.root_acc() == store.header(store.latest_height()).state_root
    finally:
        kv.close()
    again.start()
    try:
        st = again.client.call("status")
        assert st["height"] >= before["height"]
        blk = again.client.call("block", {"height": st["height"]})
        assert blk["header"]["state_root"] == st["state_root"]
        assert again.client.call("account", {"address": _addr(node.home, "carol")})["balances"]["EUR"] > 0
    finally:
        assert again.stop() == 0
