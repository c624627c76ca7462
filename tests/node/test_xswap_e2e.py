"""``settle xswap`` between two real networks (different chain ids and ports, one validator each, on 127.0.0.1).

The two parties are two ``settle xswap`` processes; alice gives USD on A for
bob's EUR on B.  Timeouts are seconds of block time (blocks come at least
every 0.2 s), so the refund paths finish in about ten seconds.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ledger.keys import PrivateKey, format_address
from tests.nodeproc import ROOT, network, run_cli, tune_fast

# Policy of the tests: T_A = lock after the lock's block, T_B = T_A - margin.  The responder needs
# margin + 2 * min_window = 5.4 s left on A's lock when it sees it; a lock of 15 s leaves room for a
# slow start of its process on a loaded machine (tests that wait for a timeout use less).
TIMING = ["--margin", "3", "--min-window", "1.2", "--poll", "0.2"]
LOCK = ["--lock", "15"]


def _tune(home: Path) -> None:
    tune_fast(home, empty_interval_ms=200)


def two_networks(root: Path, validators: int):
    """Networks A and B (chain ids swap-a, swap-b) of ``validators`` each, started, and a user home whose keyring
    holds alice's and bob's key on each: ({"a": procs, "b": procs}, user home)."""
    procs = {c: network(root / c, validators, f"swap-{c}", tune=_tune) for c in "ab"}
    for p in [*procs["a"], *procs["b"]]:
        p.start(wait=False)
    for p in [*procs["a"], *procs["b"]]:
        p.wait_ready()
    user = root / "user"
    (user / "keys").mkdir(parents=True)
    for c in "ab":
        for name in ("alice", "bob"):
            shutil.copy(root / c / "keys" / f"{name}.json", user / "keys" / f"{name}-{c}.json")
    return procs, user


@pytest.fixture(scope="module")
def nets(tmp_path_factory):
    procs, user = two_networks(tmp_path_factory.mktemp("xswap"), 1)
    yield {c: procs[c][0] for c in "ab"}, user
    for p in [*procs["a"], *procs["b"]]:
        p.stop()


def addr(user: Path, key: str) -> str:
    return format_address(PrivateKey.load(user / "keys" / f"{key}.json").address)


def balances(nodes, user) -> dict:
    out = {}
    for c in "ab":
        for who in ("alice", "bob"):
            bal = nodes[c].client.call("account", {"address": addr(user, f"{who}-{c}")})["balances"]
            out[(who, c)] = (bal.get("USD", 0), bal.get("EUR", 0))
    return out


def changes(before: dict, after: dict) -> dict:
    return {k: (after[k][0] - before[k][0], after[k][1] - before[k][1]) for k in before if after[k] != before[k]}


def xswap(user: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "SETTLE_HOME": str(user)}
    return subprocess.Popen([sys.executable, "-m", "cli", "xswap", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def finish(p: subprocess.Popen, timeout: float = 60) -> str:
    out, _ = p.communicate(timeout=timeout)
    assert p.returncode == 0, out
    return out


def initiate(nodes, user, tmp: Path, *extra: str, usd: int, eur: int) -> subprocess.Popen:
    return xswap(user, "initiate", "--rpc-a", nodes["a"].rpc_url, "--rpc-b", nodes["b"].rpc_url, "--chain-a", "swap-a",
                 "--chain-b", "swap-b", "--key-a", "alice-a", "--key-b", "alice-b", "--counterparty-a", addr(user, "bob-a"),
                 "--counterparty-b", addr(user, "bob-b"), "--give", f"USD:{usd}", "--get", f"EUR:{eur}",
                 "--offer", str(tmp / "offer.json"), "--state", str(tmp / "alice.json"), *LOCK, *TIMING, *extra)


def respond(nodes, user, tmp: Path, *extra: str) -> subprocess.Popen:
    """Bob takes the offer in ``tmp``, agreeing to exactly what it says (what he agreed is checked against it)."""
    t = json.loads((tmp / "offer.json").read_text())["terms"]
    return xswap(user, "respond", "--rpc-a", nodes["a"].rpc_url, "--rpc-b", nodes["b"].rpc_url, "--key-a", "bob-a",
                 "--key-b", "bob-b", "--offer", str(tmp / "offer.json"), "--state", str(tmp / "bob.json"),
                 "--give", f"{t['asset_b']}:{t['amount_b']}", "--get", f"{t['asset_a']}:{t['amount_a']}", *TIMING, *extra)


def phase(path: Path) -> str | None:
    try:
        return json.loads(path.read_text())["phase"]
    except (OSError, ValueError, KeyError):
        return None


def wait_phase(path: Path, want: str, proc: subprocess.Popen, timeout: float = 30) -> None:
    """Until the state file at ``path`` says ``want`` (``proc``, the tool writing it, must still be running)."""
    deadline = time.monotonic() + timeout
    while phase(path) != want:
        assert proc.poll() is None, proc.stdout.read()
        assert time.monotonic() < deadline, f"{path} never reached {want}"
        time.sleep(0.02)


def swapped(usd: int, eur: int) -> dict:
    """The balance changes of a completed swap of ``usd`` on A for ``eur`` on B."""
    return {("alice", "a"): (-usd, 0), ("bob", "a"): (usd, 0), ("alice", "b"): (0, eur), ("bob", "b"): (0, -eur)}


def wait_file(path: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def test_swap_usd_on_a_for_eur_on_b(nets, tmp_path):
    nodes, user = nets
    _swap_and_check(nodes, user, tmp_path)


@pytest.mark.slow
def test_swap_between_two_four_validator_networks(tmp_path):
    procs, user = two_networks(tmp_path / "nets", 4)
    try:
        for c in "ab":
            procs[c][0].wait_height(2)
        _swap_and_check({"a": procs["a"][1], "b": procs["b"][2]}, user, tmp_path)  # the tools talk to non-proposing nodes too
    finally:
        for p in [*procs["a"], *procs["b"]]:
            p.stop()


def _swap_and_check(nodes, user, tmp_path):
    before = balances(nodes, user)
    ini = initiate(nodes, user, tmp_path, usd=1_000_000, eur=900_000)
    wait_file(tmp_path / "offer.json")
    res = respond(nodes, user, tmp_path, "--json")
    out_i, out_r = finish(ini), finish(res)
    assert "completed" in out_i.splitlines()[-1]
    final = json.loads(out_r.splitlines()[-1])
    assert final["phase"] == "completed" and final["secret"] == "(kept in the state file)"
    assert changes(before, balances(nodes, user)) == swapped(1_000_000, 900_000)
    status = json.loads(run_cli("xswap", "status", "--state", str(tmp_path / "alice.json"), "--json", check=True).stdout)
    secret = json.loads((tmp_path / "alice.json").read_text())["secret"]
    assert status["phase"] == "completed" and secret not in json.dumps(status)
    assert status["timeout_b_ms"] <= status["timeout_a_ms"] - 3_000  # T_B <= T_A - margin
    assert (tmp_path / "alice.json").stat().st_mode & 0o777 == 0o600


def test_responder_never_comes_initiator_refunds(nets, tmp_path):
    nodes, user = nets
    before = balances(nodes, user)
    out = finish(initiate(nodes, user, tmp_path, "--lock", "7", usd=2_000_000, eur=1))
    assert "refunded" in out.splitlines()[-1] and "aborting" in out
    assert changes(before, balances(nodes, user)) == {}


def test_initiator_vanishes_after_responder_locked_both_refund(nets, tmp_path):
    nodes, user = nets
    before = balances(nodes, user)
    finish(initiate(nodes, user, tmp_path, "--stop-at", "locked", "--lock", "10", usd=3_000_000, eur=5))  # then it is gone
    out = finish(respond(nodes, user, tmp_path))
    assert "refunded" in out.splitlines()[-1]
    mid = changes(before, balances(nodes, user))
    assert mid == {("alice", "a"): (-3_000_000, 0)}  # bob has all back; alice's lock waits for her
    out = finish(xswap(user, "resume", "--state", str(tmp_path / "alice.json"), "--poll", "0.2"))
    assert "refunded" in out.splitlines()[-1] and "already refunded" in out  # bob's refunded lock is not claimable
    assert changes(before, balances(nodes, user)) == {}


def test_tool_killed_mid_swap_resumes_and_completes(nets, tmp_path):
    nodes, user = nets
    before = balances(nodes, user)
    ini = initiate(nodes, user, tmp_path, usd=4_000_000, eur=3_600_000)
    wait_phase(tmp_path / "alice.json", "locked", ini)
    os.killpg(ini.pid, signal.SIGKILL)  # a crash: no cleanup
    ini.wait()
    res = respond(nodes, user, tmp_path)
    wait_phase(tmp_path / "bob.json", "locked", res)
    out = finish(xswap(user, "resume", "--state", str(tmp_path / "alice.json"), "--poll", "0.2"))
    assert "completed" in out.splitlines()[-1]
    finish(res)
    assert changes(before, balances(nodes, user)) == swapped(4_000_000, 3_600_000)


def test_htlc_lock_with_a_block_time_timeout_from_the_cli(nets):
    nodes, user = nets
    a = nodes["a"]

    def cli_json(*args):
        return json.loads(run_cli(*args, "--rpc", a.rpc_url, "--json", home=user, check=True).stdout)

    ids = []
    for timeout in (["--timeout-ms", str(a.client.call("status")["latest_block_time_ms"] + 600_000)], ["--timeout-in", "2"]):
        lock = cli_json("tx", "htlc-lock", "--from", "alice-a", "--to", "bob-a", "--asset", "USD", "--amount", "7",
                        "--hashlock", "ab" * 32, *timeout, "--wait")
        ev = lock["receipt"]["events"][0]
        assert ev["timeout_height"] == 0 and ev["timeout_ms"] > 0
        ids.append((ev["id"], ev["timeout_ms"]))
    early = run_cli("tx", "htlc-refund", "--from", "alice-a", "--id", ids[0][0], "--rpc", a.rpc_url, "--wait", home=user)
    assert early.returncode == 1 and "htlc_state" in early.stderr  # ten minutes of block time to go
    a.wait_status("latest_block_time_ms", ids[1][1])
    cli_json("tx", "htlc-refund", "--from", "alice-a", "--id", ids[1][0], "--wait")
    info = cli_json("query", "htlc", ids[1][0])
    assert (info["status"], info["timeout_ms"]) == ("refunded", ids[1][1])


def test_network_down_for_a_while_the_tool_waits_and_completes(nets, tmp_path):
    nodes, user = nets
    before = balances(nodes, user)
    ini = initiate(nodes, user, tmp_path, usd=5_000_000, eur=4_500_000)
    wait_phase(tmp_path / "alice.json", "locked", ini)
    nodes["b"].stop()  # B's only node goes away while alice waits for bob's lock there
    time.sleep(1.0)
    assert ini.poll() is None  # still running, retrying
    nodes["b"].start()
    finish(respond(nodes, user, tmp_path))
    out = finish(ini)
    assert "network unreachable, retrying" in out and "completed" in out.splitlines()[-1]
    assert changes(before, balances(nodes, user)) == swapped(5_000_000, 4_500_000)
