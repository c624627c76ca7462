"""`settle devnet up`: 4 validators as processes, CLI against it, Ctrl-C, resume."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from cli.devnet import _alive
from tests.nodeproc import ROOT, run_cli
from tests.nodeproc import free_port_run as _free_run


def _up(home, rpc, p2p):
    return subprocess.Popen(
        [sys.executable, "-m", "cli", "devnet", "up", "--home", str(home), "--rpc-port", str(rpc), "--p2p-port", str(p2p)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _wait_line(proc, needle, timeout=90):
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if needle in line:
            return seen
    raise AssertionError(f"{needle!r} not printed:\n{''.join(seen[-40:])}")


def _status(home):
    return json.loads(run_cli("devnet", "status", "--json", home=home, check=True).stdout)


def test_devnet_up_cli_ctrl_c_and_resume(tmp_path):
    home = tmp_path / "devnet"
    rpc, p2p = _free_run(4), _free_run(4) + 200
    proc = _up(home, rpc, p2p)
    try:
        _wait_line(proc, "is up (4 node(s))")
        summary = [proc.stdout.readline() for _ in range(4)]  # printed as one block: no node line in between
        assert f"node3: RPC http://127.0.0.1:{rpc + 3}" in summary[3], summary
        res = run_cli("tx", "transfer", "--from", "alice", "--to", "bob", "--asset", "USD", "--amount", "7", "--wait", "--json", home=home, check=True)
        height = json.loads(res.stdout)["height"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            rows = _status(home)
            if all(r["up"] and r["height"] >= height and r["peers"] == 3 for r in rows):
                break
            time.sleep(0.5)
        assert len(rows) == 4 and all(r["up"] and r["peers"] == 3 for r in rows), rows
        table = run_cli("devnet", "status", home=home, check=True).stdout
        assert "node3" in table and "state root" in table
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        rest = proc.communicate(timeout=30)[0]
    assert proc.returncode == 0, rest[-2000:]
    assert "devnet stopped" in rest
    assert rest.count(f"settle.node: committed height={height} txs=1 ") == 1, rest[-3000:]  # every node commits it: said once

    proc = _up(home, rpc, p2p)  # again: resumes the same chain
    try:
        _wait_line(proc, "is up")
        rows = _status(home)
        assert all(r["height"] >= height for r in rows if r["up"])
        acct = json.loads(run_cli("query", "account", "bob", "--json", home=home, check=True).stdout)
        assert acct["balances"]["USD"] == 1_000_000 * 10**6 + 7
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    assert proc.returncode == 0


class _Lines:
    """Drains a supervisor's output in a thread (a full pipe would stall it and its nodes) and waits for lines."""

    def __init__(self, proc):
        import queue
        import threading

        self.q: "queue.Queue[str]" = queue.Queue()
        self.seen: list[str] = []
        self.reader = threading.Thread(target=lambda: [self.q.put(line) for line in proc.stdout], daemon=True)
        self.reader.start()

    def wait(self, needle, timeout=90):
        import queue

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.q.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.seen.append(line)
            if needle in line:
                return
        raise AssertionError(f"{needle!r} not printed:\n{''.join(self.seen[-40:])}")

    def rest(self):
        """Everything printed so far and until the output closes (call after the process exited)."""
        self.reader.join(timeout=30)
        while not self.q.empty():
            self.seen.append(self.q.get())
        return "".join(self.seen)


def _lock(home):
    """The supervisor's record (read again if caught mid-write)."""
    for _ in range(50):
        try:
            return json.loads((home / "devnet.lock").read_text())
        except ValueError:
            time.sleep(0.1)
    raise AssertionError("devnet.lock never held a whole record")


def _up_four(tmp_path):
    """A 4-validator devnet supervisor, up: (home, rpc base port, p2p base port, process, its output)."""
    home = tmp_path / "devnet"
    rpc, p2p = _free_run(4), _free_run(4) + 200
    proc = _up(home, rpc, p2p)
    out = _Lines(proc)
    out.wait("is up (4 node(s))")
    return home, rpc, p2p, proc, out


def test_a_crashed_node_is_restarted_a_busy_home_refused_and_down_stops_it(tmp_path):
    home, rpc, p2p, proc, out = _up_four(tmp_path)
    try:
        # a second supervisor on the same home fails at once, before printing any banner
        second = _up(home, rpc, p2p)
        said = second.communicate(timeout=30)[0]  # stdout and stderr
        assert second.returncode != 0
        assert said.startswith("error: ") and "already running" in said and f"supervisor pid {proc.pid}" in said, said
        assert "is up" not in said and "creating" not in said
        # kill -9 of one validator: the supervisor restarts it and it catches up
        victim = _lock(home)["nodes"]["node2"]
        os.kill(victim, signal.SIGKILL)
        out.wait("node2 exited with code -9; restarting in 1 s (restart 1)", timeout=30)
        out.wait("node2 restarted", timeout=30)
        assert _lock(home)["nodes"]["node2"] != victim
        res = run_cli("tx", "transfer", "--from", "alice", "--to", "bob", "--asset", "USD", "--amount", "3", "--wait", "--json", home=home, check=True)
        height = json.loads(res.stdout)["height"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            rows = _status(home)
            if all(r["up"] and r["height"] >= height for r in rows):
                break
            time.sleep(0.5)
        assert all(r["up"] and r["height"] >= height for r in rows), rows
        nodes = list(_lock(home)["nodes"].values())
        said = run_cli("devnet", "down", home=home, check=True).stdout
        assert "stopped" in said and str(proc.pid) in said
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    rest = out.rest()
    assert proc.returncode == 0 and "devnet stopped" in rest, rest[-2000:]
    assert not any(_alive(pid) for pid in nodes)
    assert "not running" in run_cli("devnet", "down", home=home, check=True).stdout


def test_kill_9_of_the_supervisor_stops_its_nodes(tmp_path):
    home, rpc, p2p, proc, out = _up_four(tmp_path)
    try:
        nodes = list(_lock(home)["nodes"].values())
        assert len(nodes) == 4 and all(_alive(pid) for pid in nodes)
        proc.kill()
        proc.wait(timeout=30)
        deadline = time.monotonic() + 30
        while any(_alive(pid) for pid in nodes) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(_alive(pid) for pid in nodes), [pid for pid in nodes if _alive(pid)]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "not running" in run_cli("devnet", "down", home=home, check=True).stdout


def test_devnet_up_from_a_directory_with_a_consensus_folder(tmp_path):
    """A node home holds ``consensus/``: run from there, it must not shadow the package."""
    cwd = tmp_path / "here"
    (cwd / "consensus").mkdir(parents=True)
    (cwd / "consensus" / "__init__.py").write_text("raise ImportError('bogus consensus package imported from the cwd')\n")
    (cwd / "node").mkdir()
    (cwd / "node" / "__init__.py").write_text("raise ImportError('bogus node package imported from the cwd')\n")
    home = tmp_path / "devnet"
    rpc, p2p = _free_run(1), _free_run(1) + 200
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    # -P: what the installed `settle` script does (its own directory, not the cwd, is first on sys.path)
    proc = subprocess.Popen(
        [sys.executable, "-P", "-m", "cli", "devnet", "up", "-n", "1", "--home", str(home), "--rpc-port", str(rpc), "--p2p-port", str(p2p)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=cwd, env=env,
    )
    try:
        _wait_line(proc, "is up (1 node(s))", timeout=60)
    finally:
        proc.send_signal(signal.SIGINT)
        rest = proc.communicate(timeout=30)[0]
    assert proc.returncode == 0, rest[-2000:]
    assert "bogus" not in rest
