"""A real process signing through ``node/safety_store.py`` is SIGKILLed again and again;
no restarted incarnation ever releases different bytes for an already-signed
(height, round, step)."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

from ledger.keys import verify
from node.safety_store import FileSafetyStorage
from tests.consensus.safety_signer_child import KEY

ROOT = Path(__file__).resolve().parents[2]
#: kill points inside FileSafetyStorage.save (2 slot writes, each followed by an fsync, per
#: signature), and None: SIGKILL from outside after a random number of released signatures.
KILLS = ["fsync:1", "fsync:4", "pwrite:3", "after-pwrite:5", None, "fsync:9", "after-pwrite:1",
         None, "pwrite:7", None, None]


def run_child(path: Path, incarnation: int, start: int, kill: str | None, rng: random.Random) -> list[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.consensus.safety_signer_child", str(path), str(incarnation), str(start),
         kill or "-"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    lines = []
    if kill is None:
        wanted = rng.randint(1, 60)
        for line in proc.stdout:
            lines.append(line)
            if sum(x.startswith("signed") for x in lines) >= wanted:
                proc.send_signal(signal.SIGKILL)
                break
    lines += proc.stdout.read().splitlines(keepends=True)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, f"child {incarnation} ({kill}) ended with {proc.returncode}"
    return [x for x in lines if x.endswith("\n")]


def test_sigkilled_signer_never_double_signs_after_restart(tmp_path):
    rng = random.Random(int(os.environ.get("SEED", "11")))
    path = tmp_path / "priv_validator_state.msgpack"
    released: dict[tuple[int, int, int], bytes] = {}
    refusals = 0
    start = 1
    for incarnation, kill in enumerate(KILLS):
        for line in run_child(path, incarnation, start, kill, rng):
            kind, *rest = line.split()
            if kind == "refused":
                refusals += 1
            elif kind == "signed":
                h, r, step, msg, sig = int(rest[0]), int(rest[1]), int(rest[2]), bytes.fromhex(rest[3]), \
                    bytes.fromhex(rest[4])
                assert verify(KEY.pubkey, msg, sig)
                assert released.setdefault((h, r, step), msg) == msg, f"double sign at {(h, r, step)}"
        if released:
            start = max(released)[0]  # the next incarnation re-asks the last signed height
    assert len(released) > 20 and refusals > 0
    stored = FileSafetyStorage(path).load()
    assert (stored.height, stored.round, stored.step) >= max(released)
