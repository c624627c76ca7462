"""A dict-backed :class:`~ledger.interfaces.KVStore` for tests and simulations.

Owns: nothing but a dict.  The contract (atomic writes, sorted snapshot
iteration, errors) is documented on ``interfaces.KVStore`` and checked by
``tests/ledger/test_kvstore.py``.  Never persists anything: closing the store
drops its contents.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from .interfaces import StoreClosedError, check_write

__all__ = ["MemoryKV"]


class MemoryKV:
    """An in-memory KVStore; ``sync`` is accepted and ignored."""

    def __init__(self) -> None:
        self._data: dict[bytes, bytes] | None = {}

    def _live(self) -> dict[bytes, bytes]:
        if self._data is None:
            raise StoreClosedError("the memory store is closed")
        return self._data

    def get(self, key: bytes) -> bytes | None:
        data = self._live()
        if type(key) is not bytes:
            raise TypeError(f"store keys must be bytes, got {type(key).__name__}")
        return data.get(key)

    def write(self, puts: Mapping[bytes, bytes], deletes: Iterable[bytes] = (), *, sync: bool = True) -> None:
        data = self._live()
        dels = check_write(puts, deletes)  # raises before anything changes
        for key in dels:
            data.pop(key, None)
        data.update(puts)

    def iterate(self, prefix: bytes, *, reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        data = self._live()
        if type(prefix) is not bytes:
            raise TypeError(f"store prefixes must be bytes, got {type(prefix).__name__}")
        items = sorted((k, v) for k, v in data.items() if k.startswith(prefix))
        if reverse:
            items.reverse()
        return iter(items)

    def close(self) -> None:
        self._data = None
