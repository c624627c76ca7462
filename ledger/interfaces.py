"""The storage contract of the ledger: a sorted key-value store with atomic writes.

Owns: :class:`KVStore`, the one interface every storage backend implements
(``store_memory.MemoryKV`` for tests, ``store_leveldb.LevelDBKV`` for nodes);
the errors a backend may raise (:class:`StoreError`, which sits in
``errors.py`` with the rest of the error tree, and its subclasses); and
:func:`check_write`, the argument rules of :meth:`KVStore.write`, shared by
every backend so that they all refuse the same calls in the same way.
``tests/ledger/test_kvstore.py`` runs one conformance suite against every
backend; a new backend joins by adding itself to that suite's fixture.

Never: know what a key means (the layouts live in ``schema.py``, their meaning
in ``chainstore.py``), open files, or import anything but the standard library and ``errors.py``.
The contract sits here and is documented here; backends stay short and mostly
bare, as py-evm documents ``eth/abc.py`` and leaves its backends bare.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Protocol, runtime_checkable

from .errors import StoreError

__all__ = [
    "KVStore",
    "StoreClosedError",
    "StoreError",
    "StoreLockedError",
    "check_write",
]


class StoreClosedError(StoreError):
    """An operation was called on a store after its :meth:`KVStore.close`."""


class StoreLockedError(StoreError):
    """The database is already open: by another process, or earlier in this one.

    Attributes:
        path: the database directory that is in use.
    """

    def __init__(self, path: str, detail: str) -> None:
        super().__init__(f"node home is in use by another process: {path} ({detail})")
        self.path = path


@runtime_checkable
class KVStore(Protocol):
    """A byte-keyed store, iterated in key order, written in atomic batches.

    Keys and values are ``bytes`` (exactly ``bytes``: not ``bytearray``, not
    ``str``).  The empty value ``b""`` is a value like any other and is not the
    same as a missing key.  One process may hold a given store open at a time;
    whoever opened a store closes it.
    """

    def get(self, key: bytes) -> bytes | None:
        """Return the value stored under ``key``.

        Returns:
            The value, or ``None`` if the key is absent.

        Raises:
            TypeError: ``key`` is not ``bytes``.
            StoreClosedError: the store was closed.
            StoreError: the backend failed to read.
        """
        ...

    def write(
        self,
        puts: Mapping[bytes, bytes],
        deletes: Iterable[bytes] = (),
        *,
        sync: bool = True,
    ) -> None:
        """Apply every put and delete as one atomic change: all of it or none of it.

        A reader, or a process reopening the store after a crash at any moment,
        sees either the state before the call or the state after it, never a
        part.  Deleting an absent key is not an error.

        Args:
            puts: keys to set, with their new values.
            deletes: keys to remove.  A key may not be both put and deleted.
            sync: when true, the change is on stable storage (fsync) before the
                call returns; when false it may be lost in a power failure,
                though never split.

        Raises:
            TypeError: a key or value is not ``bytes``; nothing is written.
            ValueError: a key appears in both ``puts`` and ``deletes``;
                nothing is written.
            StoreClosedError: the store was closed.
            StoreError: the backend failed to write; nothing is written.
        """
        ...

    def iterate(self, prefix: bytes, *, reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        """Iterate over the ``(key, value)`` pairs whose key starts with ``prefix``.

        Pairs come in ascending bytewise key order (descending with
        ``reverse``).  The iteration reads a snapshot taken when this method is
        called: writes made afterwards are not seen.  ``b""`` selects every key.
        An iterator must not be used after the store is closed.

        Raises:
            TypeError: ``prefix`` is not ``bytes``.
            StoreClosedError: the store was closed.
            StoreError: the backend failed to read.
        """
        ...

    def close(self) -> None:
        """Release the store (files, locks).  Closing twice is allowed."""
        ...


def check_write(puts: Mapping[bytes, bytes], deletes: Iterable[bytes]) -> tuple[bytes, ...]:
    """Check the arguments of :meth:`KVStore.write` before anything is written.

    Returns:
        ``deletes`` as a tuple (it may be a one-shot iterable).

    Raises:
        TypeError: a key or value is not ``bytes``.
        ValueError: a key is both put and deleted.
    """
    for key, value in puts.items():
        if type(key) is not bytes:
            raise TypeError(f"store keys must be bytes, got {type(key).__name__}")
        if type(value) is not bytes:
            raise TypeError(f"store values must be bytes, got {type(value).__name__} for key {key!r}")
    dels = tuple(deletes)
    for key in dels:
        if type(key) is not bytes:
            raise TypeError(f"store keys must be bytes, got {type(key).__name__}")
        if key in puts:
            raise ValueError(f"key {key!r} is both put and deleted in one write")
    return dels
