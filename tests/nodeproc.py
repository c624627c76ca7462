"""Real node processes for end-to-end tests (no mocks): start, wait, kill, restart.

Nodes run as ``python -P -m cli node start --home H`` child processes bound
to 127.0.0.1 on free ports chosen here; output goes to a log file in the home
so a failing test can show it.
"""
from __future__ import annotations

import json
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from sdk import Client, SettleError
from cli.devnet import node_command, node_env
from cli.testnet import init_testnet
from ledger.keys import format_address
from ledger.tx import sign_tx
from ledger.txkinds import Transfer
from node.config import load_config, save_config

__all__ = ["LyingProxy", "NodeProcess", "TransferLoad", "free_port", "free_port_run", "local_node", "network", "ring_transfers", "run_cli", "tune_fast"]

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_port_run(n: int, start: int = 31000) -> int:
    """A base port at or above ``start`` with ``n`` consecutive free ports from it (a devnet's node i listens on base + i)."""
    for base in range(start, 60000, 97):
        socks = []
        try:
            for p in range(base, base + n):
                s = socket.socket()
                s.bind(("127.0.0.1", p))
                socks.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port range")


def run_cli(*args: str, home: Path | None = None, check: bool = False, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if home is not None:
        env["SETTLE_HOME"] = str(home)
    proc = subprocess.run([sys.executable, "-m", "cli", *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"settle {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def ring_transfers(client: Client, keys: dict, names, chain_id: str, per_account: int) -> list:
    """``per_account`` signed transfers of 1 USD from each of ``names`` to the next (the last to the first),
    numbered from the sender's next nonce as ``client``'s node knows it."""
    txs = []
    for j, name in enumerate(names):
        nonce = client.call("account", {"address": format_address(keys[name].address)})["next_nonce"]
        to = keys[names[(j + 1) % len(names)]].address
        txs += [sign_tx(keys[name], chain_id, nonce + k, Transfer(to, "USD", 1, "")) for k in range(per_account)]
    return txs


class TransferLoad(threading.Thread):
    """Until ``stop`` is set, every 0.2 s: one batch of ``ring_transfers`` to the next of ``nodes`` in turn.

    Keeps the hashes the nodes accepted (``accepted``), the results they
    refused (``refused``) and the count of transfers sent (``sent``); a node
    that does not answer is skipped that round.
    """

    def __init__(self, keys: dict, names, nodes: list, chain_id: str, per_account: int):
        super().__init__(daemon=True)
        self.keys, self.names, self.nodes, self.chain_id, self.per_account = keys, tuple(names), nodes, chain_id, per_account
        self.stop = threading.Event()
        self.accepted: list[str] = []
        self.refused: list[dict] = []
        self.sent = 0

    def run(self):
        i = 0
        while not self.stop.is_set():
            node = self.nodes[i % len(self.nodes)]
            i += 1
            try:
                txs = ring_transfers(node.client, self.keys, self.names, self.chain_id, self.per_account)
                res = node.client.call("broadcast_tx_batch", {"txs": [t.raw.hex() for t in txs], "mode": "sync"})
            except SettleError:
                pass
            else:
                self.sent += len(txs)
                for r in res["results"]:
                    (self.accepted.append(r["hash"]) if r["accepted"] else self.refused.append(r))
            time.sleep(0.2)


def tune_fast(home: Path, empty_interval_ms: int = 1000) -> None:
    """Short blocks and round timeouts for a local test network (an empty block at most every ``empty_interval_ms``)."""
    cfg = load_config(home)
    cfg.block.interval_ms = 100
    cfg.block.empty_interval_ms = empty_interval_ms
    cfg.consensus.timeout_propose_ms = 1000
    cfg.consensus.timeout_delta_ms = 250
    save_config(cfg)


def local_node(home: Path) -> "NodeProcess":
    """One validator (``settle init`` at ``home`` on free 127.0.0.1 ports, tuned fast), started and ready."""
    port = free_port()
    run_cli("init", "--home", str(home), "--rpc-port", str(port), "--p2p-port", str(free_port()), check=True)
    tune_fast(home)
    return NodeProcess(home, f"http://127.0.0.1:{port}").start()


def network(root: Path, validators: int, chain_id: str, *, full_nodes: int = 0, tune=tune_fast) -> list["NodeProcess"]:
    """Homes of ``validators`` (then ``full_nodes``) nodes under ``root`` on free 127.0.0.1 ports, each ``tune``d; not started."""
    n = validators + full_nodes
    ports: set[int] = set()
    while len(ports) < 2 * n:
        ports.add(free_port())
    ordered = sorted(ports)
    meta = init_testnet(root, validators, rpc_ports=ordered[:n], p2p_ports=ordered[n:], chain_id=chain_id, full_nodes=full_nodes)
    procs = []
    for m in meta["nodes"]:
        tune(root / m["home"])
        procs.append(NodeProcess(root / m["home"], m["rpc"]))
    return procs


class NodeProcess:
    def __init__(self, home: Path, rpc_url: str):
        self.home = Path(home)
        self.rpc_url = rpc_url
        self.client = Client(rpc_url, timeout=30)
        self.proc: subprocess.Popen | None = None
        self.log_path = self.home / "node.log"
        self.nofile: int | None = None  # RLIMIT_NOFILE (soft and hard) of the node process, if set
        self.log_level: str | None = None  # ``--log-level`` of the node process, if set

    def _limits(self) -> None:  # in the child, before exec
        if self.nofile is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (self.nofile, self.nofile))

    def start(self, wait: bool = True) -> "NodeProcess":
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            node_command(self.home, self.log_level),  # the devnet's own command line (-P: the cwd shadows nothing)
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.home,
            env=node_env(),
            start_new_session=True,
            preexec_fn=self._limits if self.nofile is not None else None,
        )
        log.close()
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"node exited with {self.proc.returncode}:\n{self.log()}")
            try:
                self.client.call("status", timeout=2)
                return
            except SettleError:
                time.sleep(0.1)
        raise AssertionError(f"node not ready after {timeout}s:\n{self.log()}")

    def wait_height(self, height: int, timeout: float = 30) -> dict:
        return self.wait_status("height", height, timeout)

    def wait_status(self, field: str, at_least: int, timeout: float = 30) -> dict:
        """The node's ``status`` once its ``field`` (``height``, ``latest_block_time_ms``) is at least ``at_least``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = self.client.call("status")
            if st[field] >= at_least:
                return st
            time.sleep(0.05)
        raise AssertionError(f"{field} {at_least} not reached in {timeout}s")

    def log(self) -> str:
        try:
            return self.log_path.read_text()[-5000:]
        except OSError:
            return ""

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self, timeout: float = 15) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def assert_promtool_accepts(metrics_text: str) -> None:
    """``promtool check metrics`` (Debian's prometheus package; .ci/run installs it) finds no problem.

    Without promtool the check is skipped locally and fails under CI.
    """
    import shutil

    import pytest

    tool = shutil.which("promtool")
    if tool is None:
        if os.environ.get("CI"):
            raise AssertionError("promtool is missing (apt-get install prometheus)")
        pytest.skip("promtool not installed")
    res = subprocess.run([tool, "check", "metrics"], input=metrics_text, capture_output=True, text=True, timeout=30)
    assert res.returncode == 0 and not res.stdout.strip() and not res.stderr.strip(), res.stdout + res.stderr


class LyingProxy:
    """An HTTP JSON-RPC proxy in front of a real node; ``lie`` (when set) rewrites the result of every call of ``method``."""

    def __init__(self, upstream: str, lie=None, method: str = "proof"):
        self.upstream, self.lie, self.method = upstream, lie, method
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                req = urllib.request.Request(proxy.upstream, data=body, headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(req, timeout=30) as resp:
                    answer = json.loads(resp.read())
                if proxy.lie is not None and json.loads(body).get("method") == proxy.method and "result" in answer:
                    answer["result"] = proxy.lie(answer["result"])
                out = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = self.rpc_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
