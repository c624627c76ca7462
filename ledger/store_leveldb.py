"""The LevelDB :class:`~ledger.interfaces.KVStore` a node keeps its chain in.

Owns: opening, writing and closing one LevelDB directory through plyvel, and
turning plyvel's exceptions into the typed errors of ``interfaces.py``.  This
is the one module of ``ledger/`` that touches files.  It never interprets a
key, never writes outside :meth:`LevelDBKV.write`, and every ``write`` is a
single LevelDB write batch, so it is atomic even if the process is killed in
the middle of it (``tests/ledger/test_store_crash.py`` kills real writers).

One open per process, guarded here
----------------------------------
LevelDB locks ``<dir>/LOCK`` with a POSIX ``fcntl`` lock, which belongs to the
whole process.  When the same process opens a directory a second time,
LevelDB (1.22) refuses with "already held by process" but first closes a
descriptor of ``LOCK``, and closing any descriptor of a file drops every
``fcntl`` lock the process holds on it: the first handle stays open while
another process can now open the same directory.  So this module keeps the
set of directories it has open and refuses a second open itself, before
LevelDB is asked.
"""
from __future__ import annotations

import os
import weakref
from collections.abc import Iterable, Iterator, Mapping
from itertools import takewhile

import plyvel

from .interfaces import StoreClosedError, StoreError, StoreLockedError, check_write

__all__ = ["LevelDBKV"]

_OPEN_DIRS: set[str] = set()  # real paths of the directories open in this process


def _message(exc: BaseException) -> str:
    """plyvel's error text (it carries bytes) as a str."""
    arg = exc.args[0] if exc.args else ""
    return arg.decode(errors="replace") if isinstance(arg, bytes) else str(arg)


def _prefix_end(prefix: bytes) -> bytes | None:
    """The smallest key above every key that starts with ``prefix``; None if none is."""
    head = prefix.rstrip(b"\xff")
    return head[:-1] + bytes([head[-1] + 1]) if head else None


def _items(owner: "LevelDBKV", it: Iterator[tuple[bytes, bytes]]) -> Iterator[tuple[bytes, bytes]]:
    """Yield from a plyvel iterator, keeping ``owner`` alive and mapping errors.

    Holding ``owner`` matters: a plyvel iterator keeps the LevelDB handle open,
    so the directory must stay in ``_OPEN_DIRS`` while any iterator lives.
    """
    try:
        yield from it
    except RuntimeError:  # plyvel: "Database or iterator is closed"
        raise StoreClosedError(f"the store at {owner.path} was closed during iteration") from None
    except plyvel.Error as exc:
        raise StoreError(f"reading {owner.path} failed: {_message(exc)}") from exc


WRITE_BUFFER_BYTES = 16 * 1024 * 1024  # memtable size: fewer, larger level-0 flushes than the 4 MB default

class LevelDBKV:
    """A KVStore in the LevelDB directory ``path``.

    Args:
        path: the database directory (created, with its parents, if missing
            and ``create_if_missing``).
        create_if_missing: create an empty database when there is none.
        write_buffer_bytes: memtable size.  Nodes that write the same blocks
            flush and compact at the same moments when it is the same on
            all of them; a node varies it (see ``node.app``) so they do not.

    Raises:
        StoreLockedError: the directory is open in another process or already
            open in this one.
        StoreError: the database is missing (and not to be created), corrupt,
            or cannot be opened for another reason.
    """

    def __init__(
        self, path: str | os.PathLike[str], create_if_missing: bool = True, *, write_buffer_bytes: int = WRITE_BUFFER_BYTES
    ) -> None:
        self.path = os.path.realpath(os.fspath(path))
        if self.path in _OPEN_DIRS:
            raise StoreLockedError(self.path, "it is already open in this process")
        try:
            if create_if_missing:
                os.makedirs(self.path, exist_ok=True)
            db = plyvel.DB(
                self.path,
                create_if_missing=create_if_missing,
                # Blocks are signatures, keys and hashes: Snappy finds little
                # to compress and costs CPU in every compaction.
                compression=None,
                write_buffer_size=write_buffer_bytes,
            )
        except plyvel.IOError as exc:
            text = _message(exc)
            if "IO error: lock " in text:
                raise StoreLockedError(self.path, text) from None
            raise StoreError(f"cannot open the store at {self.path}: {text}") from exc
        except plyvel.Error as exc:
            raise StoreError(f"cannot open the store at {self.path}: {_message(exc)}") from exc
        except OSError as exc:
            raise StoreError(f"cannot create the store directory {self.path}: {exc}") from exc
        self._db: plyvel.DB | None = db
        _OPEN_DIRS.add(self.path)
        # Forgetting close() must not leave the directory marked open forever.
        self._release = weakref.finalize(self, _OPEN_DIRS.discard, self.path)

    def _live(self) -> plyvel.DB:
        if self._db is None:
            raise StoreClosedError(f"the store at {self.path} is closed")
        return self._db

    def get(self, key: bytes) -> bytes | None:
        db = self._live()
        try:
            return db.get(key)
        except plyvel.Error as exc:
            raise StoreError(f"reading {self.path} failed: {_message(exc)}") from exc

    def write(self, puts: Mapping[bytes, bytes], deletes: Iterable[bytes] = (), *, sync: bool = True) -> None:
        db = self._live()
        dels = check_write(puts, deletes)
        try:
            # transaction=True: the batch is dropped if anything raises inside.
            with db.write_batch(transaction=True, sync=sync) as batch:
                for key in dels:
                    batch.delete(key)
                for key, value in puts.items():
                    batch.put(key, value)
        except plyvel.Error as exc:
            raise StoreError(f"writing {self.path} failed: {_message(exc)}") from exc

    def iterate(self, prefix: bytes, *, reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        db = self._live()
        if type(prefix) is not bytes:
            raise TypeError(f"store prefixes must be bytes, got {type(prefix).__name__}")
        # Created now, not on first next(): the snapshot is taken at this call.
        if not reverse:
            return _items(self, db.iterator(prefix=prefix))
        # plyvel (1.5.1 and upstream) drops the last key of a reverse range
        # when it equals the range's start, e.g. the key b"a" under prefix
        # b"a".  So walk back from the end of the range with no start bound
        # and stop at the first key outside the prefix.
        it = db.iterator(stop=_prefix_end(prefix), reverse=True)
        return _items(self, takewhile(lambda item: item[0].startswith(prefix), it))

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
            self._release()

    def __repr__(self) -> str:
        state = "closed" if self._db is None else "open"
        return f"LevelDBKV({self.path!r}, {state})"
