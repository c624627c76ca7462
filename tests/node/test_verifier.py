"""The verifier pool: verdicts in order from threads and processes, and no orphan after kill -9."""
from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from ledger.keys import PrivateKey
from ledger.tx import sign_tx
from ledger.txkinds import Transfer
from node.verifier import Verifier

KEY = PrivateKey.from_name("verifier-test", "c")


def _txs(n: int):
    return [sign_tx(KEY, "c", i, Transfer(KEY.address, "USD", 1, "")) for i in range(n)]


def _forged(tx):
    return dataclasses.replace(tx, signature=bytes(64))


@pytest.mark.parametrize("processes", [False, True], ids=["threads", "processes"])
def test_verdicts_are_in_order_and_catch_every_forgery(processes):
    txs = _txs(300)
    bad = {3, 128, 129, 299}
    batch = [_forged(t) if i in bad else t for i, t in enumerate(txs)]
    v = Verifier(2, chunk=64, processes=processes)
    try:
        assert v.verify_blocking(batch) == [i not in bad for i in range(300)]
        assert asyncio.run(v.verify(batch)) == [i not in bad for i in range(300)]
        assert v.verify_blocking(batch[:5]) == [True, True, True, False, True]  # inline path
        assert v.verified == 605
    finally:
        v.close()


def test_pool_workers_exit_when_the_node_is_killed(tmp_path):
    script = tmp_path / "owner.py"
    script.write_text(textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {os.getcwd()!r})
        from tests.node.test_verifier import _txs
        from node.verifier import Verifier
        if __name__ == "__main__":
            v = Verifier(2, processes=True)
            assert all(v.verify_blocking(_txs(100)))
            print("ready", flush=True)
            time.sleep(60)
    """))
    owner = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert owner.stdout.readline().strip() == "ready"
        workers = _children(owner.pid)
        assert len(workers) >= 2
        owner.send_signal(signal.SIGKILL)
        owner.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(p) for p in workers):
            time.sleep(0.1)
        assert not [p for p in workers if _alive(p)]
    finally:
        owner.kill()


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False
