"""Conformance suite for ``SafetyStorage``, run against every implementation.

Shape of aptos ``tests/suite.rs`` / py-evm ``DatabaseAPITestSuite``: each
behaviour of the interface contract is one test, parametrised over the
memory backend (``consensus.safety``) and the file backend
(``node/safety_store.py``).  File-only behaviours (corruption, leftovers,
permissions) follow.
"""
from __future__ import annotations

import os
import stat

import pytest

from consensus.interfaces import SafetyData, SafetyStorageError
from consensus.safety import MemorySafetyStorage, SafetyRules
from node.safety_store import FileSafetyStorage
from tests.sim.fakes import FailingSafetyStorage

#: SafetyData v1 as written by the first release; must keep loading forever.
GOLDEN_V1 = bytes.fromhex("9601070302c4027879c4016f")
GOLDEN_V1_VALUE = SafetyData(1, 7, 3, 2, b"\x78\x79", b"\x6f")


class Backend:
    """Makes a storage and "reopens" it the way a restarted process would."""

    def __init__(self, kind: str, tmp_path):
        self.kind, self.path = kind, tmp_path / "state" / "priv_validator_state.msgpack"
        self._memory = MemorySafetyStorage()

    def open(self):
        return self._memory if self.kind == "memory" else FileSafetyStorage(self.path)


@pytest.fixture(params=["memory", "file"])
def backend(request, tmp_path):
    return Backend(request.param, tmp_path)


def data(h: int, r: int = 0, step: int = 2) -> SafetyData:
    return SafetyData(1, h, r, step, b"bytes-%d" % h, bytes([h % 256]) * 64)


def test_empty_storage_loads_none(backend):
    assert backend.open().load() is None


def test_saved_value_loads_back(backend):
    s = backend.open()
    s.save(data(3))
    assert s.load() == data(3)


def test_last_save_wins(backend):
    s = backend.open()
    s.save(data(3))
    s.save(data(4, 1, 3))
    assert s.load() == data(4, 1, 3)


def test_value_survives_reopen(backend):
    backend.open().save(data(9))
    assert backend.open().load() == data(9)


def test_safety_rules_on_the_backend_refuse_double_sign_after_reopen(backend):
    from consensus.interfaces import DoubleSignRefused, VoteRequest
    from ledger.keys import PrivateKey

    key = PrivateKey.from_name("storage-suite")
    SafetyRules(key, backend.open(), "c").sign_vote(VoteRequest(1, 2, 0, b"\x01" * 32))
    with pytest.raises(DoubleSignRefused):
        SafetyRules(key, backend.open(), "c").sign_vote(VoteRequest(1, 2, 0, b"\x02" * 32))


def test_failed_save_leaves_old_value(backend):
    inner = backend.open()
    inner.save(data(1))
    failing = FailingSafetyStorage(inner, fail_at=1)
    with pytest.raises(SafetyStorageError):
        failing.save(data(2))
    assert backend.open().load() == data(1)


def test_golden_v1_encoding_still_loads(backend):
    assert GOLDEN_V1_VALUE.encode() == GOLDEN_V1
    s = backend.open()
    if backend.kind == "file":
        backend.path.write_bytes(GOLDEN_V1)
    else:
        s.save(SafetyData.decode(GOLDEN_V1))
    assert s.load() == GOLDEN_V1_VALUE


# --------------------------------------------------------------------------- file backend only


def test_corrupt_file_refuses_to_load_instead_of_starting_fresh(tmp_path):
    path = tmp_path / "s"
    path.write_bytes(b"\x96\x01garbage")
    with pytest.raises(SafetyStorageError):
        FileSafetyStorage(path).load()


def test_leftover_temp_file_from_a_crash_is_ignored(tmp_path):
    path = tmp_path / "s"
    FileSafetyStorage(path).save(data(5))
    (tmp_path / "s.tmp").write_bytes(b"half-written")
    s = FileSafetyStorage(path)
    assert s.load() == data(5)
    s.save(data(6))
    assert FileSafetyStorage(path).load() == data(6)


def test_file_is_private_to_its_owner(tmp_path):
    path = tmp_path / "s"
    FileSafetyStorage(path).save(data(1))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
