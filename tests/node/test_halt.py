"""A store or WAL write that fails halts the node loudly: a critical log line
with the cause, /health not 200, submissions refused, no further blocks, a
non-zero exit.  The failure is real: the node's LevelDB (or its consensus
directory: WAL and safety data) lives on a small tmpfs that fills up."""
from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from ledger.keys import PrivateKey
from ledger.tx import sign_tx
from ledger.txkinds import Transfer
from sdk import SettleError
from tests.nodeproc import NodeProcess


def _health(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url + "/health", timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture(params=["data", "consensus"])
def small_dir(request, node_home):
    home, url = node_home
    data = home / request.param
    keep = home / f"{request.param}.orig"
    if data.exists():
        data.rename(keep)
    data.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(data)], capture_output=True).returncode != 0:
        pytest.skip("needs to mount a tmpfs (root)")
    if keep.exists():
        shutil.copytree(keep, data, dirs_exist_ok=True)
    yield home, url, data
    subprocess.run(["umount", "-l", str(data)], check=False)


def _fill(directory) -> None:
    chunk = b"\0" * 65536
    with open(directory / "filler", "wb", buffering=0) as f:
        try:
            while True:
                f.write(chunk)
        except OSError:
            pass
        try:
            while True:
                f.write(b"\0")
        except OSError:
            pass


def test_a_failed_store_or_wal_write_halts_the_node_loudly(small_dir):
    home, url, full = small_dir
    cfg = (home / "config.toml").read_text()
    (home / "config.toml").write_text(cfg.replace("halt_linger_ms = 10000", "halt_linger_ms = 15000"))
    node = NodeProcess(home, url).start()
    try:
        node.wait_height(2)
        assert _health(url)[0] == 200
        _fill(full)
        alice = PrivateKey.load(home / "keys" / "alice.json")
        bob = PrivateKey.load(home / "keys" / "bob.json")
        txs = [sign_tx(alice, "settle-local", i, Transfer(bob.address, "USD", 1, "")).raw.hex() for i in range(50)]
        node.client.call("broadcast_tx_batch", {"txs": txs, "mode": "sync"})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and _health(url)[0] == 200:
            time.sleep(0.1)
        status, body = _health(url)
        assert status == 503 and body["ok"] is False and "No space left" in body["halted"], (status, body)
        t = sign_tx(alice, "settle-local", 50, Transfer(bob.address, "USD", 1, ""))
        with pytest.raises(SettleError) as err:
            node.client.call("broadcast_tx", {"tx": t.raw.hex()})
        assert err.value.code == -32000 and "halted" in str(err.value)
        height = node.client.call("status")["height"]
        assert node.proc.poll() is None  # still up, saying why, for halt_linger_ms
        try:  # then it exits by itself, with code 3, whatever its threads are stuck on
            code = node.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            code = None
    finally:
        stopped = node.stop()
    assert code == 3 and stopped == 3, (code, stopped, node.log())
    log = node.log_path.read_text()
    assert " C settle.node: HALT" in log and "No space left" in log, log[-3000:]
    assert f"committed height={height + 1} " not in log
