"""``settle devnet up`` / ``down``: create a local network once, then run and supervise its nodes.

Owns the supervisor: each validator runs as its own ``settle node start``
process on 127.0.0.1; their output is streamed with the node name in front;
Ctrl-C (or SIGTERM, or ``settle devnet down``) stops every node cleanly, and
running ``up`` again resumes the same chain from the same home.

* **One supervisor per home.** ``up`` takes an exclusive lock on
  ``HOME/devnet.lock`` before it prints anything; a second ``up`` on a busy
  home fails at once naming the running supervisor's pid.  The lock file
  holds the supervisor's pid and its nodes' pids (JSON) for ``down``.
* **A crash is not an outage.** A node that exits on its own is started again
  after a backoff (1 s, doubling to 30 s; back to 1 s once it has run 60 s),
  and the supervisor says so.  Only a node that fails during the first start
  (a port in use, a broken home) stops the devnet: restarting cannot help.
* **Nodes die with their supervisor.** Each node asks the kernel for SIGTERM
  when its parent dies (Linux ``PR_SET_PDEATHSIG``, :func:`die_with_parent`),
  so ``kill -9`` of the supervisor stops the nodes cleanly instead of
  orphaning them.  ``down`` also stops nodes left behind by a supervisor
  that had none of this.
"""
from __future__ import annotations

import ctypes
import fcntl
import json
import os
import re
import signal
import site
import subprocess
import sys
import threading
import time
from pathlib import Path

from sdk import Client, SettleError
from .testnet import DEMO_ACCOUNTS, P2P_PORT, RPC_PORT, init_testnet, load_devnet

__all__ = ["DevnetBusy", "HomeLock", "die_with_parent", "down", "node_command", "node_env", "up"]

SUPERVISOR_ENV = "SETTLE_SUPERVISOR_PID"  # set for a supervised node: it dies with that process
BACKOFF_FIRST_S, BACKOFF_MAX_S, STABLE_AFTER_S = 1.0, 30.0, 60.0
PR_SET_PDEATHSIG = 1


# The directory that holds this ``node`` package (a source checkout, or site-packages).
_PKG_ROOT = str(Path(__file__).resolve().parent.parent)


def node_command(home: Path, log_level: str | None = None) -> list[str]:
    """The command line that runs one validator of a devnet (shared with ``settle bench``).

    ``-P`` keeps the working directory off ``sys.path``: run from a node home
    (which holds ``consensus/``), ``-m`` would otherwise import that folder as
    the ``consensus`` package.  :func:`node_env` points the child at the code
    this process runs instead.
    """
    return [sys.executable, "-P", "-m", "cli", "node", "start", "--home", str(home)] + (["--log-level", log_level] if log_level else [])


def node_env(*, supervised: bool = False) -> dict[str, str]:
    """The environment of a node child: unbuffered, importing this process's own packages.

    Args:
        supervised: the child dies with this process (:func:`die_with_parent`).  The kernel ties
            that to the *thread* that started the child, so only the supervisor's main thread
            asks for it.
    """
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop(SUPERVISOR_ENV, None)
    if supervised:
        env[SUPERVISOR_ENV] = str(os.getpid())
    if _PKG_ROOT not in site.getsitepackages() + [site.getusersitepackages()]:
        # A source checkout (or an editable install) that ``-P`` would take off the path.
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PKG_ROOT, env.get("PYTHONPATH", "")) if p)
    return env


def die_with_parent(parent_pid: int) -> None:
    """Have the kernel send this process SIGTERM when its parent (the supervisor) dies (Linux; elsewhere a no-op).

    If the parent is already gone (it died between fork and now), exit at once.
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent_pid:
        sys.stderr.write(f"supervisor {parent_pid} is gone; not starting\n")
        sys.exit(1)


class DevnetBusy(Exception):
    def __init__(self, pid: int | None):
        super().__init__(f"supervisor pid {pid}" if pid else "another supervisor")
        self.pid = pid


class HomeLock:
    """The exclusive lock of a devnet home (``HOME/devnet.lock``), holding the supervisor's and its nodes' pids."""

    def __init__(self, home: Path):
        self.path = Path(home) / "devnet.lock"
        self.fd: int | None = None

    def read(self) -> dict:
        try:
            return json.loads(self.path.read_text() or "{}")
        except (OSError, ValueError):
            return {}

    def try_acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self.fd = fd
        return True

    def acquire(self) -> None:
        """Take the lock and record this process as the supervisor; raises DevnetBusy if another holds it."""
        if not self.try_acquire():
            raise DevnetBusy(self.read().get("pid"))
        self.record({})

    def record(self, nodes: dict[str, int]) -> None:
        assert self.fd is not None
        data = json.dumps({"pid": os.getpid(), "nodes": nodes}).encode()
        os.pwrite(self.fd, data, 0)  # overwrite, then cut the tail: a reader never sees an empty file
        os.ftruncate(self.fd, len(data))

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the only descriptor drops the flock
            self.fd = None


_OUT = threading.Lock()  # one writer at a time: node lines never split the summary


def _say(text: str) -> None:
    with _OUT:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()


_COMMITTED = re.compile(r" settle\.node: committed height=(\d+) ")


class _BlockLines:
    """Every node logs each block it commits: the devnet shows that line once, from the first node to report it."""

    def __init__(self):
        self.top = 0
        self.lock = threading.Lock()  # the nodes' output threads ask at once

    def first(self, line: str) -> bool:
        m = _COMMITTED.search(line)
        if m is None:
            return True
        height = int(m.group(1))
        with self.lock:
            if height <= self.top:
                return False
            self.top = height
            return True


def _stream(name: str, proc: subprocess.Popen, blocks: _BlockLines | None) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        if blocks is None or blocks.first(line):
            _say(line if line.startswith(name) else f"{name} | {line}")


class _Node:
    """One supervised validator process and its restart state."""

    def __init__(self, name: str, home: Path, log_level: str | None, blocks: _BlockLines | None):
        self.name, self.home, self.log_level, self.blocks = name, home, log_level, blocks
        self.proc: subprocess.Popen | None = None
        self.started = 0.0
        self.restarts = 0
        self.backoff = BACKOFF_FIRST_S
        self.restart_at: float | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            node_command(self.home, self.log_level),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            start_new_session=True,  # Ctrl-C reaches the supervisor only; it stops the nodes in order
            env=node_env(supervised=True),
        )
        self.started = time.monotonic()
        threading.Thread(target=_stream, args=(self.name, self.proc, self.blocks), daemon=True).start()

    def exited(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    def schedule_restart(self) -> None:
        """Called when the node exited on its own: start it again after the backoff, and say so."""
        assert self.proc is not None
        now = time.monotonic()
        if now - self.started >= STABLE_AFTER_S:
            self.backoff = BACKOFF_FIRST_S
        self.restarts += 1
        _say(f"{self.name} exited with code {self.proc.returncode}; restarting in {self.backoff:g} s (restart {self.restarts})")
        self.restart_at = now + self.backoff
        self.backoff = min(BACKOFF_MAX_S, self.backoff * 2)
        self.proc = None


def up(home: Path, validators: int, *, rpc_port: int = RPC_PORT, p2p_port: int = P2P_PORT, log_level: str | None = None) -> int:
    lock = HomeLock(home)
    try:
        lock.acquire()  # before anything is printed: a busy home fails at once
    except DevnetBusy as exc:
        sys.stderr.write(f"error: the devnet in {home} is already running ({exc}); `settle devnet down --home {home}` stops it\n")
        return 1
    try:
        return _supervise(home, validators, lock, rpc_port=rpc_port, p2p_port=p2p_port, log_level=log_level)
    finally:
        lock.release()


def _supervise(home: Path, validators: int, lock: HomeLock, *, rpc_port: int, p2p_port: int, log_level: str | None) -> int:
    meta = load_devnet(home)
    if meta is None:
        print(f"creating a {validators}-validator devnet in {home} ...", flush=True)
        meta = init_testnet(home, validators, rpc_port=rpc_port, p2p_port=p2p_port)
    elif len(meta["nodes"]) != validators:
        print(f"(resuming the existing {len(meta['nodes'])}-validator devnet in {home})", flush=True)
    blocks = None if log_level == "debug" else _BlockLines()  # at debug level, every node's every line
    nodes = [_Node(n["name"], (home / n["home"]).resolve(), log_level, blocks) for n in meta["nodes"]]
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    def record() -> None:
        lock.record({n.name: n.proc.pid for n in nodes if n.proc is not None})

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        for n in nodes:
            n.start()
        record()
        _wait_ready(meta, [(n.name, n.proc) for n in nodes], stop)
        dead = [n.name for n in nodes if n.exited()]
        if dead:
            _say(f"node(s) {', '.join(dead)} failed to start; stopping the devnet")
            return 1
        if stop.is_set():
            return 0
        summary = [f"devnet {meta['chain_id']} is up ({len(nodes)} node(s)); Ctrl-C or `settle devnet down` stops it"]
        summary += [f"  {n['name']}: RPC {n['rpc']}" for n in meta["nodes"]]
        summary.append(f"  keys: {home / 'keys'} ({', '.join(DEMO_ACCOUNTS)})")
        summary.append(f"  dashboard: {meta['nodes'][0]['rpc']}/dashboard/")
        summary.append("  try:  settle tx transfer --from alice --to bob --asset USD --amount 1000000 --wait")
        _say("\n".join(summary))
        while not stop.is_set():
            for n in nodes:
                if n.exited():
                    n.schedule_restart()
                elif n.proc is None and n.restart_at is not None and time.monotonic() >= n.restart_at:
                    n.restart_at = None
                    n.start()
                    record()  # before saying so: whoever reads the message finds the new pid in the lock
                    _say(f"{n.name} restarted (pid {n.proc.pid})")
            stop.wait(0.2)
    finally:
        procs = [n.proc for n in nodes if n.proc is not None]
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for s, h in old.items():
            signal.signal(s, h)
        _say("devnet stopped")
    return 0 if all(p.returncode in (0, -signal.SIGTERM) for p in procs) else 1


def down(home: Path, timeout: float = 30.0) -> str:
    """Stop the devnet running in ``home``; returns what was done (one line).

    Signals the supervisor (which stops its nodes in order) and waits for its
    lock to be released.  With no supervisor, stops any node it left behind.

    Raises:
        TimeoutError: the supervisor did not stop within ``timeout`` seconds.
    """
    lock = HomeLock(home)
    info = lock.read()
    if not lock.try_acquire():
        pid = info.get("pid")
        if pid:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + timeout
        while not lock.try_acquire():
            if time.monotonic() > deadline:
                raise TimeoutError(f"the devnet supervisor (pid {pid}) did not stop within {timeout:g} s")
            time.sleep(0.2)
        lock.release()
        return f"devnet in {home} stopped (supervisor pid {pid})"
    try:
        left = [pid for pid in info.get("nodes", {}).values() if _is_our_node(pid, home)]
        for pid in left:
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while any(_alive(pid) for pid in left) and time.monotonic() < deadline:
            time.sleep(0.2)
        for pid in left:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
    finally:
        lock.release()
    return f"stopped {len(left)} node(s) left running in {home}" if left else f"the devnet in {home} is not running"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped) is not running
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def _is_our_node(pid: int, home: Path) -> bool:
    """True if ``pid`` is a live ``node start`` of a node under ``home`` (a recorded pid may have been reused)."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    root = str(Path(home).resolve()).encode()
    return b"start" in args and any(a.startswith(root) for a in args)


def _wait_ready(meta: dict, procs, stop: threading.Event, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    for n in meta["nodes"]:
        client = Client(n["rpc"], timeout=2)
        while not stop.is_set() and time.monotonic() < deadline:
            if any(p.poll() is not None for _, p in procs):
                return
            try:
                client.status()
                break
            except SettleError:
                time.sleep(0.2)
