"""Kill a real writer process at arbitrary moments; the store must stay whole.

``store_crash_writer.py`` commits blocks to a LevelDB ChainStore as fast as
it can.  This test starts it, SIGKILLs it after delays from 50 ms to 1.5 s
(most kills land inside a synced LevelDB write, where the writer spends its
time), reopens the store and checks with ``store_assert_consistent`` that the
latest block is complete (block, certificate, receipts, tx index), that
nothing of a later height exists, and that the toy state kept its invariants
and matches ``root_acc``.  Each restart must resume at latest + 1.

What this does not prove: a SIGKILL leaves the OS page cache intact, so it
shows that a commit is atomic, not that ``sync=True`` survives a power cut.

Timing is inherent here (the point is to interrupt a real process at moments
we do not choose); the delays only vary where the kill lands, and every
assertion holds whatever moment that is.
"""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from ledger.chainstore import ChainStore
from ledger.commit import verify_commit
from ledger.receipt import receipts_root
from ledger.store_leveldb import LevelDBKV
from settlement.blockrules import check_child
from tests.helpers import STORE_CHAIN_ID, StoreChain, store_assert_consistent

WRITER = Path(__file__).with_name("store_crash_writer.py")
KILL_DELAYS = (0.05, 0.1, 0.2, 0.3, 0.45, 0.7, 1.0, 1.5)  # seconds after "start"


def spawn_writer(path: Path, log: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(WRITER), str(path), *extra],
        stdout=subprocess.PIPE,
        stderr=log.open("a"),
        text=True,
    )


def check_store(path: Path) -> int:
    """Reopen the store, assert it is consistent, return its latest height."""
    kv = LevelDBKV(path, create_if_missing=False)
    try:
        return store_assert_consistent(kv, ChainStore(kv))
    finally:
        kv.close()


def check_whole_chain(path: Path) -> int:
    """Every block links to its parent and carries a valid certificate and receipts."""
    kv = LevelDBKV(path, create_if_missing=False)
    try:
        store = ChainStore(kv)
        vset = StoreChain().vset
        parent = None
        for height in range(1, store.latest_height() + 1):
            block = store.block(height)
            check_child(parent, block.header, STORE_CHAIN_ID)
            verify_commit(store.commit_cert(height), vset, STORE_CHAIN_ID, height=height, block_id=block.id)
            assert receipts_root(store.receipts(height)) == block.header.receipts_root
            parent = block.header
        return store.latest_height()
    finally:
        kv.close()


def test_store_survives_sigkill_at_any_moment_and_the_writer_resumes(tmp_path):
    path = tmp_path / "home" / "data"
    log = tmp_path / "writer.log"
    latest = 0
    for delay in KILL_DELAYS:
        writer = spawn_writer(path, log)
        try:
            first = writer.stdout.readline()
            assert first == f"start {latest + 1}\n", f"writer said {first!r}; log:\n{log.read_text()}"
            time.sleep(delay)
            writer.send_signal(signal.SIGKILL)
        finally:
            writer.kill()
            writer.wait(timeout=20)
            writer.stdout.close()
        assert writer.returncode == -signal.SIGKILL, f"the writer died on its own; log:\n{log.read_text()}"
        now = check_store(path)
        assert now >= latest
        latest = now
    assert latest > len(KILL_DELAYS), "the writer hardly committed anything"

    finisher = spawn_writer(path, log, str(latest + 3))
    out, _ = finisher.communicate(timeout=60)
    assert finisher.returncode == 0, log.read_text()
    assert out.splitlines() == [f"start {latest + 1}", f"done {latest + 3}"]
    assert check_store(path) == latest + 3
    assert check_whole_chain(path) == latest + 3
