"""``settle devnet up``: create a local network once, then run its nodes.

Owns the supervisor: each validator runs as its own ``settle node start``
process on 127.0.0.1; their output is streamed with the node name in front;
Ctrl-C (or SIGTERM) stops every node cleanly, and running ``up`` again
resumes the same chain from the same home.
"""
from __future__ import annotations

import os
import signal
import site
import subprocess
import sys
import threading
import time
from pathlib import Path

from .client import RPCClient, RPCClientError
from .testnet import init_testnet, load_devnet

__all__ = ["node_command", "node_env", "up"]


# The directory that holds this ``node`` package (a source checkout, or site-packages).
_PKG_ROOT = str(Path(__file__).resolve().parent.parent)


def node_command(home: Path) -> list[str]:
    """The command line that runs one validator of a devnet (shared with ``settle bench``).

    ``-P`` keeps the working directory off ``sys.path``: run from a node home
    (which holds ``consensus/``), ``-m`` would otherwise import that folder as
    the ``consensus`` package.  :func:`node_env` points the child at the code
    this process runs instead.
    """
    return [sys.executable, "-P", "-m", "node.cli", "node", "start", "--home", str(home)]


def node_env() -> dict[str, str]:
    """The environment of a node child: unbuffered, importing this process's own packages."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if _PKG_ROOT not in site.getsitepackages() + [site.getusersitepackages()]:
        # A source checkout (or an editable install) that ``-P`` would take off the path.
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PKG_ROOT, env.get("PYTHONPATH", "")) if p)
    return env


_OUT = threading.Lock()  # one writer at a time: node lines never split the summary


def _say(text: str) -> None:
    with _OUT:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()


def _stream(name: str, proc: subprocess.Popen) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        _say(line if line.startswith(name) else f"{name} | {line}")


def up(home: Path, validators: int, *, rpc_port: int = 26657, p2p_port: int = 26756) -> int:
    meta = load_devnet(home)
    if meta is None:
        print(f"creating a {validators}-validator devnet in {home} ...", flush=True)
        meta = init_testnet(home, validators, rpc_port=rpc_port, p2p_port=p2p_port)
    elif len(meta["nodes"]) != validators:
        print(f"(resuming the existing {len(meta['nodes'])}-validator devnet in {home})", flush=True)
    procs: list[tuple[str, subprocess.Popen]] = []
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        for n in meta["nodes"]:
            nhome = (home / n["home"]).resolve()
            proc = subprocess.Popen(
                node_command(nhome),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                bufsize=1,
                start_new_session=True,
                env=node_env(),
            )
            procs.append((n["name"], proc))
            threading.Thread(target=_stream, args=(n["name"], proc), daemon=True).start()
        _wait_ready(meta, procs, stop)
        dead = [name for name, p in procs if p.poll() is not None]
        if dead:
            _say(f"node(s) {', '.join(dead)} failed to start; stopping the devnet")
            return 1
        if stop.is_set():
            return 0
        summary = [f"devnet {meta['chain_id']} is up ({len(procs)} node(s)); Ctrl-C stops it"]
        summary += [f"  {n['name']}: RPC {n['rpc']}" for n in meta["nodes"]]
        summary.append(f"  keys: {home / 'keys'} (alice, bob, carol, dave, admin, oracle)")
        summary.append("  try:  settle tx transfer --from alice --to bob --asset USD --amount 1000000 --wait")
        _say("\n".join(summary))
        while not stop.is_set():
            for name, proc in procs:
                if proc.poll() is not None:
                    _say(f"{name} exited with code {proc.returncode}; stopping the devnet")
                    stop.set()
            stop.wait(0.5)
    finally:
        for _, proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for _, proc in procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
        for s, h in old.items():
            signal.signal(s, h)
        _say("devnet stopped")
    return 0 if all(p.returncode in (0, -signal.SIGTERM) for _, p in procs) else 1


def _wait_ready(meta: dict, procs, stop: threading.Event, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    for n in meta["nodes"]:
        client = RPCClient(n["rpc"], timeout=2)
        while not stop.is_set() and time.monotonic() < deadline:
            if any(p.poll() is not None for _, p in procs):
                return
            try:
                client.call("status")
                break
            except RPCClientError:
                time.sleep(0.2)
