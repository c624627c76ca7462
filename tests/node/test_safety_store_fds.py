"""The safety module's file: opened once (it signs even when the process has no
file descriptor left), two slots (a torn write loses nothing), the first format still loads."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import os, resource, sys
from consensus.interfaces import SafetyData
from node.safety_store import FileSafetyStorage

resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
s = FileSafetyStorage(sys.argv[1])
s.save(SafetyData(1, 1, 0, 2, b"a", b"s" * 64))
held = []
try:
    while True:
        held.append(os.open(os.devnull, os.O_RDONLY))
except OSError as exc:
    assert exc.errno == 24, exc  # EMFILE: the process has no descriptor left
for h in range(2, 6):
    s.save(SafetyData(1, h, 0, 2, b"b", b"s" * 64))
assert s.load().height == 5
print("ok")
"""


def test_save_needs_no_new_descriptor(tmp_path):
    path = tmp_path / "consensus" / "safety.bin"
    p = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, timeout=60,
                       cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.stderr[-2000:]
    from node.safety_store import FileSafetyStorage

    assert FileSafetyStorage(path).load().height == 5  # and it reads back in a new process


def _data(h: int):
    from consensus.interfaces import SafetyData

    return SafetyData(1, h, 0, 2, b"x%d" % h, b"s" * 64)


def test_a_first_format_file_loads_and_its_first_save_upgrades_it(tmp_path):
    from node.safety_store import MAGIC, FileSafetyStorage

    path = tmp_path / "safety.bin"
    path.write_bytes(_data(7).encode())  # the first format: the bare value
    s = FileSafetyStorage(path)
    assert s.load() == _data(7)
    s.save(_data(8))
    s.save(_data(9))
    assert path.read_bytes().startswith(MAGIC) and FileSafetyStorage(path).load() == _data(9)
    assert not (tmp_path / "safety.bin.tmp").exists()


def test_one_damaged_slot_loses_nothing_and_two_refuse(tmp_path):
    import pytest

    from consensus.interfaces import SafetyStorageError
    from node.safety_store import SLOT, FileSafetyStorage

    path = tmp_path / "safety.bin"
    s = FileSafetyStorage(path)
    s.save(_data(1))
    s.save(_data(2))
    good = path.read_bytes()

    def damaged(*offsets: int) -> FileSafetyStorage:
        raw = bytearray(good)
        for o in offsets:
            raw[o] ^= 0xFF
        path.write_bytes(bytes(raw))
        return FileSafetyStorage(path)

    assert damaged(SLOT + 30).load() == _data(2)  # slot 1 torn (a crash mid-write)
    assert damaged(30).load() == _data(2)  # slot 0 torn
    with pytest.raises(SafetyStorageError):
        damaged(30, SLOT + 30).load()  # nothing intact: refuse, never "nothing signed"
