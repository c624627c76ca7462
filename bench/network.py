"""A local network of validator processes, started the way ``settle devnet up`` starts them.

Owns a devnet in a directory: keys, genesis with K funded ``load-i`` accounts
and node homes (``init_testnet``), on free 127.0.0.1 ports; one
:func:`cli.devnet.node_command` process per validator with its output in
``HOME/node.log``; readiness; agreement between nodes; and stopping (SIGTERM,
then SIGKILL after a timeout).  Each node also gets SIGTERM if the process
that started it dies (``PR_SET_PDEATHSIG``), so a killed harness leaves no
node behind.
"""
from __future__ import annotations

import random
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

from sdk import Client, SettleError
from node.config import load_config, save_config
from cli.devnet import node_command, node_env
from cli.testnet import init_testnet

__all__ = ["BenchError", "LocalNetwork", "check_agreement", "free_port_range"]

ROOT = Path(__file__).resolve().parents[1]  # the checkout: bench/ sits at its top


class BenchError(RuntimeError):
    """The benchmark could not run (a node died, never became ready, the load generator failed)."""


def _ports_free(ports: list[int]) -> bool:
    socks = []
    try:
        for p in ports:
            s = socket.socket()
            socks.append(s)
            s.bind(("127.0.0.1", p))
        return True
    except OSError:
        return False
    finally:
        for s in socks:
            s.close()


def free_port_range(count: int, attempts: int = 200) -> int:
    """A base port such that ``base .. base+count-1`` are all free on 127.0.0.1."""
    rng = random.Random()
    for _ in range(attempts):
        base = rng.randrange(20_000, 60_000 - count)
        if _ports_free(list(range(base, base + count))):
            return base
    raise BenchError(f"no {count} consecutive free ports on 127.0.0.1")


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM it if the harness dies (even by SIGKILL); Linux only."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class LocalNetwork:
    """N validator processes on 127.0.0.1 in ``root``; :meth:`stop` always cleans up."""

    def __init__(
        self,
        root: Path,
        validators: int,
        accounts: int,
        *,
        chain_id: str = "settle-bench",
        block_interval_ms: int | None = None,
        empty_interval_ms: int | None = None,
    ):
        self.root = Path(root)
        self.chain_id = chain_id
        self.validators = validators
        self.accounts = accounts
        self.block_interval_ms = block_interval_ms
        self.empty_interval_ms = empty_interval_ms
        self.meta: dict = {}
        self.procs: list[subprocess.Popen] = []
        self.homes: list[Path] = []

    @property
    def rpc_urls(self) -> list[str]:
        return [n["rpc"] for n in self.meta["nodes"]]

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def create(self) -> None:
        base = free_port_range(2 * self.validators)
        self.meta = init_testnet(
            self.root, self.validators, chain_id=self.chain_id, rpc_port=base, p2p_port=base + self.validators, extra_accounts=self.accounts
        )
        self.homes = [(self.root / n["home"]).resolve() for n in self.meta["nodes"]]
        for home in self.homes:
            cfg = load_config(home)
            if self.block_interval_ms is not None:
                cfg.block.interval_ms = self.block_interval_ms
            if self.empty_interval_ms is not None:
                cfg.block.empty_interval_ms = self.empty_interval_ms
            save_config(cfg)

    def start(self) -> None:
        for i in range(len(self.homes)):
            self.procs.append(self.spawn(i))

    def spawn(self, i: int, env: dict[str, str] | None = None) -> subprocess.Popen:
        """Start validator ``i`` (output appended to its ``node.log``); ``env`` adds to its environment.

        Call it from a thread that outlives the node: ``PR_SET_PDEATHSIG``
        fires when the *thread* that forked the child exits.
        """
        home = self.homes[i]
        log = open(home / "node.log", "ab")
        try:
            return subprocess.Popen(
                node_command(home),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=ROOT,
                env={**node_env(), **(env or {})},
                preexec_fn=_die_with_parent,
            )
        finally:
            log.close()

    def check_alive(self) -> None:
        for i, p in enumerate(self.procs):
            if p.poll() is not None:
                raise BenchError(f"node{i} exited with code {p.returncode}: {self.last_log_line(i)}")

    def last_log_line(self, i: int) -> str:
        """The node's last words (an exception's last line, or ``error: ...``)."""
        lines = [ln.strip(" |+-") for ln in self.log_tail(i).splitlines()]
        lines = [ln for ln in lines if ln]
        return lines[-1] if lines else "(no output)"

    def wait_ready(self, timeout: float, stop: threading.Event | None = None) -> None:
        """Every node answers ``status``; with several validators, every node has height >= 1."""
        deadline = time.monotonic() + timeout
        clients = [Client(u, timeout=2) for u in self.rpc_urls]
        pending = set(range(len(clients)))
        need = 1 if self.validators > 1 else 0
        while pending:
            self.check_alive()
            if stop is not None and stop.is_set():
                raise BenchError("stopped")
            if time.monotonic() > deadline:
                names = ", ".join(f"node{i}" for i in sorted(pending))
                raise BenchError(f"{names} not ready after {timeout:.0f}s: {self.last_log_line(min(pending))}")
            for i in sorted(pending):
                try:
                    if clients[i].call("status")["height"] >= need:
                        pending.discard(i)
                except SettleError:
                    pass
            time.sleep(0.1)

    def log_tail(self, i: int, chars: int = 3000) -> str:
        try:
            return (self.homes[i] / "node.log").read_text(errors="replace")[-chars:]
        except (OSError, IndexError):
            return ""

    def stop(self, timeout: float = 15.0) -> list[int | None]:
        for p in self.procs:
            if p.poll() is None:
                try:
                    p.send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + timeout
        for p in self.procs:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        return [p.returncode for p in self.procs]


def check_agreement(urls: list[str]) -> dict:
    """Block id and state root of every node at the highest height they all have."""
    clients = [Client(u, timeout=30) for u in urls]
    heights = [c.call("status")["height"] for c in clients]
    h = min(heights)
    views = []
    for c in clients:
        try:
            hdr = c.call("commit", {"height": h})["header"]
        except SettleError:
            hdr = c.call("block", {"height": h})["header"]
        views.append({"block_id": hdr["id"], "state_root": hdr["state_root"]})
    agree = h >= 1 and all(v == views[0] for v in views)
    return {"all_nodes_agree": agree, "common_height": h, "heights": heights, "block_id": views[0]["block_id"], "state_root": views[0]["state_root"], "views": views}
