"""One conformance suite for the KVStore contract, run against every backend.

The contract is documented on ``ledger.interfaces.KVStore``; every test in
the first part runs once per backend through the ``kv`` fixture (add a
backend there and it is held to the same rules).  The second part covers what
only a persistent backend has: reopening, and the lock that keeps a second
process out.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.interfaces import KVStore, StoreClosedError, StoreError, StoreLockedError
from ledger.store_leveldb import LevelDBKV
from ledger.store_memory import MemoryKV

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["memory", "leveldb"])
def kv(request, tmp_path) -> KVStore:
    """A fresh, empty store of each backend."""
    store: KVStore = MemoryKV() if request.param == "memory" else LevelDBKV(tmp_path / "db")
    yield store
    store.close()


# --------------------------------------------------------------------------- the contract


def test_backend_is_a_kvstore(kv):
    assert isinstance(kv, KVStore)


def test_missing_key_reads_none(kv):
    assert kv.get(b"nope") is None


def test_put_then_get(kv):
    kv.write({b"a": b"1", b"b": b"2"})
    assert kv.get(b"a") == b"1" and kv.get(b"b") == b"2"


def test_empty_value_is_not_a_missing_key(kv):
    kv.write({b"empty": b""})
    assert kv.get(b"empty") == b""


def test_put_overwrites(kv):
    kv.write({b"a": b"1"})
    kv.write({b"a": b"2"}, sync=False)
    assert kv.get(b"a") == b"2"


def test_delete_removes_and_absent_delete_is_a_no_op(kv):
    kv.write({b"a": b"1", b"b": b"2"})
    kv.write({}, [b"a", b"never-there"])
    assert kv.get(b"a") is None and kv.get(b"b") == b"2"


def test_puts_and_deletes_land_together(kv):
    kv.write({b"old": b"x"})
    kv.write({b"new": b"y"}, iter([b"old"]))  # deletes may be a one-shot iterable
    assert kv.get(b"old") is None and kv.get(b"new") == b"y"


@pytest.mark.parametrize("bad", [{b"k": "str value"}, {"str key": b"v"}, {b"k": bytearray(b"v")}, {b"k": None}])
def test_write_with_a_non_bytes_item_writes_nothing(kv, bad):
    with pytest.raises(TypeError):
        kv.write({b"a": b"1", **bad, b"z": b"26"}, [b"keep"])
    kv.write({b"keep": b"k"})
    with pytest.raises(TypeError):
        kv.write({b"a": b"1"}, [b"keep", "str key"])
    assert kv.get(b"a") is None and kv.get(b"z") is None and kv.get(b"keep") == b"k"


def test_key_both_put_and_deleted_is_refused(kv):
    kv.write({b"a": b"1"})
    with pytest.raises(ValueError, match="both put and deleted"):
        kv.write({b"a": b"2", b"b": b"2"}, [b"a"])
    assert kv.get(b"a") == b"1" and kv.get(b"b") is None


def test_non_bytes_key_or_prefix_is_refused(kv):
    with pytest.raises(TypeError):
        kv.get("a")
    with pytest.raises(TypeError):
        kv.iterate("a")


KEYS = [b"", b"a", b"a\x00", b"a\xff", b"ab", b"b", b"\x00", b"\xfe", b"\xff", b"\xff\xff", b"\xff\xff\x00"]


def test_iterate_is_sorted_and_limited_to_the_prefix(kv):
    kv.write({k: k + b"!" for k in reversed(KEYS)})
    assert list(kv.iterate(b"")) == [(k, k + b"!") for k in sorted(KEYS)]
    assert [k for k, _ in kv.iterate(b"a")] == [b"a", b"a\x00", b"ab", b"a\xff"]
    assert [k for k, _ in kv.iterate(b"\xff")] == [b"\xff", b"\xff\xff", b"\xff\xff\x00"]
    assert list(kv.iterate(b"c")) == []


def test_iterate_reverse(kv):
    kv.write({k: b"" for k in KEYS})
    assert [k for k, _ in kv.iterate(b"", reverse=True)] == sorted(KEYS, reverse=True)
    assert [k for k, _ in kv.iterate(b"\xff", reverse=True)] == [b"\xff\xff\x00", b"\xff\xff", b"\xff"]
    assert [k for k, _ in kv.iterate(b"a", reverse=True)] == [b"a\xff", b"ab", b"a\x00", b"a"]


@pytest.mark.parametrize("keys", [[b"a"], [b"", b"a", b"b"], [b"0", b"a", b"a\x00"]])
def test_iterate_reverse_keeps_a_key_equal_to_the_prefix(kv, keys):
    kv.write({k: b"" for k in keys})
    for prefix in (b"", b"a"):
        expected = sorted((k for k in keys if k.startswith(prefix)), reverse=True)
        assert [k for k, _ in kv.iterate(prefix, reverse=True)] == expected


def test_iterate_reads_a_snapshot_taken_at_the_call(kv):
    kv.write({b"p/1": b"1", b"p/2": b"2"})
    it = kv.iterate(b"p/")
    kv.write({b"p/3": b"3"}, [b"p/1"])
    assert list(it) == [(b"p/1", b"1"), (b"p/2", b"2")]


def test_closed_store_refuses_every_operation(kv):
    kv.close()
    kv.close()  # closing twice is allowed
    with pytest.raises(StoreClosedError):
        kv.get(b"a")
    with pytest.raises(StoreClosedError):
        kv.write({b"a": b"1"})
    with pytest.raises(StoreClosedError):
        kv.iterate(b"")


# Keys over a small alphabet, so that prefixes, edges (b"", 0x00, 0xff) and
# keys equal to a prefix come up often.
small_keys = st.lists(st.sampled_from([b"\x00", b"a", b"b", b"\xff"]), max_size=3).map(b"".join)
model_ops = st.lists(
    st.tuples(
        st.dictionaries(small_keys, st.binary(max_size=3), max_size=4),
        st.lists(small_keys, max_size=3),
    ),
    max_size=8,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=model_ops, prefix=small_keys, reverse=st.booleans())
def test_store_behaves_like_a_sorted_dict(kv, ops, prefix, reverse):
    kv.write({}, [k for k, _ in kv.iterate(b"")])  # each example starts empty
    model: dict[bytes, bytes] = {}
    for puts, deletes in ops:
        deletes = [k for k in deletes if k not in puts]
        kv.write(puts, deletes, sync=False)
        for k in deletes:
            model.pop(k, None)
        model.update(puts)
    expected = sorted((k, v) for k, v in model.items() if k.startswith(prefix))
    assert list(kv.iterate(prefix, reverse=reverse)) == (expected[::-1] if reverse else expected)
    assert all(kv.get(k) == v for k, v in model.items())


# --------------------------------------------------------------------------- LevelDB only


def test_leveldb_keeps_data_across_close_and_reopen(tmp_path):
    kv = LevelDBKV(tmp_path / "db")
    kv.write({b"a": b"1", b"b": b"2"})
    kv.write({b"c": b"3"}, [b"a"])
    kv.close()
    kv = LevelDBKV(tmp_path / "db", create_if_missing=False)
    try:
        assert list(kv.iterate(b"")) == [(b"b", b"2"), (b"c", b"3")]
    finally:
        kv.close()


def test_leveldb_creates_missing_parent_directories(tmp_path):
    kv = LevelDBKV(tmp_path / "home" / "data")
    kv.close()
    assert (tmp_path / "home" / "data" / "CURRENT").exists()


def test_leveldb_missing_database_without_create_is_a_store_error(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        LevelDBKV(tmp_path / "nothing", create_if_missing=False)


HOLDER = """
import sys
sys.path.insert(0, sys.argv[1])
from ledger.interfaces import StoreLockedError
from ledger.store_leveldb import LevelDBKV
try:
    kv = LevelDBKV(sys.argv[2])
except StoreLockedError as exc:
    print("locked", exc, flush=True)
    sys.exit(0)
print("open", flush=True)
sys.stdin.read()  # hold the store until the parent closes our stdin
kv.close()
"""


def _spawn_holder(path: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(REPO), str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def _try_open_elsewhere(path: Path) -> str:
    proc = _spawn_holder(path)
    out, _ = proc.communicate("", timeout=20)
    return out.split()[0]


def test_leveldb_open_in_another_process_is_refused_with_a_typed_error(tmp_path):
    path = tmp_path / "db"
    holder = _spawn_holder(path)
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(StoreLockedError, match="node home is in use by another process") as info:
            LevelDBKV(path)
        assert info.value.path == os.path.realpath(path)
    finally:
        holder.communicate("", timeout=20)
    LevelDBKV(path).close()  # free again once the holder has exited


def test_leveldb_second_open_in_this_process_is_refused_and_the_lock_kept(tmp_path):
    path = tmp_path / "db"
    kv = LevelDBKV(path)
    try:
        with pytest.raises(StoreLockedError, match="already open in this process"):
            LevelDBKV(path)
        with pytest.raises(StoreLockedError):
            LevelDBKV(str(path) + "/")  # the same directory spelled another way
        # LevelDB itself would have dropped the process's lock here.
        assert _try_open_elsewhere(path) == "locked"
    finally:
        kv.close()
    assert _try_open_elsewhere(path) == "open"


def test_leveldb_forgotten_close_frees_the_directory_for_this_process(tmp_path):
    path = tmp_path / "db"
    kv = LevelDBKV(path)
    kv.write({b"a": b"1"})
    del kv
    kv = LevelDBKV(path)
    try:
        assert kv.get(b"a") == b"1"
    finally:
        kv.close()
