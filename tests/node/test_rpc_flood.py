"""A flood of half-sent RPC requests must not take the file descriptors a
validator needs to sign and commit (a real node process with a low fd limit)."""
from __future__ import annotations

import http.client
import json
import socket
import time

from ledger.keys import PrivateKey
from ledger.tx import sign_tx
from ledger.txkinds import Transfer
from tests.nodeproc import NodeProcess

FD_LIMIT = 512
FLOOD = 800  # more than the whole fd limit


def _call(conn: http.client.HTTPConnection, method: str, params: dict | None = None):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or {}})
    conn.request("POST", "/", body, {"Content-Type": "application/json"})
    resp = json.loads(conn.getresponse().read())
    assert "result" in resp, resp
    return resp["result"]


def _half_open(port: int, i: int) -> socket.socket | None:
    s = socket.socket()
    s.settimeout(2)
    try:
        s.connect(("127.0.0.1", port))
        if i % 2:  # headers never finished
            s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n")
        else:  # headers done, body never finished
            s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
        return s
    except OSError:
        s.close()
        return None


def _closed_by_peer(s: socket.socket, deadline: float) -> bool:
    s.settimeout(max(0.1, deadline - time.monotonic()))
    try:
        while s.recv(4096):  # an error response, then EOF
            pass
        return True
    except ConnectionResetError:
        return True
    except OSError:
        return False


def test_half_open_flood_under_a_low_fd_limit_does_not_stop_commits(node_home):
    home, url = node_home
    cfg = (home / "config.toml").read_text().replace("header_timeout_ms = 10000", "header_timeout_ms = 3000")
    (home / "config.toml").write_text(cfg.replace("body_timeout_ms = 30000", "body_timeout_ms = 3000"))
    node = NodeProcess(home, url)
    node.nofile = FD_LIMIT
    node.start()
    port = int(url.rsplit(":", 1)[1])
    alice = PrivateKey.load(home / "keys" / "alice.json")
    bob = PrivateKey.load(home / "keys" / "bob.json")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)  # opened before the flood, kept alive
    flood: list[socket.socket] = []
    try:
        h0 = _call(conn, "status")["height"]
        for i in range(FLOOD):
            s = _half_open(port, i)
            if s is not None:
                flood.append(s)
            if i % 100 == 0:
                _call(conn, "status")  # keeps our connection from idling out
        # While the flood is held open the validator still signs and commits.
        for nonce in range(3):
            t = sign_tx(alice, "settle-local", nonce, Transfer(bob.address, "USD", 1, ""))
            res = _call(conn, "broadcast_tx", {"tx": t.raw.hex(), "mode": "commit", "timeout": 60})
            assert res["receipt"]["ok"]
        assert _call(conn, "status")["height"] > h0
        conn.request("GET", "/metrics")
        metrics = dict(line.split() for line in conn.getresponse().read().decode().splitlines() if not line.startswith("#"))
        assert float(metrics["settle_rpc_connections_refused_total"]) > 0  # the cap, below the fd limit, did the refusing
        assert float(metrics["settle_rpc_connections"]) < FD_LIMIT
        # The node drops every half-sent request in time, and serves new clients again.
        deadline = time.monotonic() + 60
        assert all(_closed_by_peer(s, deadline) for s in flood)
        assert node.client.call("status")["height"] > h0
        assert node.proc.poll() is None
        assert "Too many open files" not in node.log_path.read_text()
    finally:
        for s in flood:
            s.close()
        conn.close()
        node.stop()
