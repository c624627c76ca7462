"""The state the transition touches: a journaled overlay over committed state.

Owns: :class:`State` — reads fall through to a read-only ``StateView`` (the
committed state, e.g. a LevelDB-backed cache in the node); writes go to an
overlay with a journal so a transaction can be reverted (snapshot / revert,
as py-evm's ``StateAPI``).  Also owns the state root.

It never writes to the backing view: the caller takes :meth:`State.finish`
and persists them (one LevelDB batch per block).

State root
----------
The root is an incremental multiset hash (AdHash, Bellare-Micciancio 1997,
with a 2048-bit modulus so Wagner's generalized-birthday attack is out of
reach; the same idea as Facebook's LtHash):

    acc  = sum over live (key, value) of  H(key, value)   (mod 2**2048)
    H    = shake_256("settle/state/v1" || len(key) as 4 bytes || key || value), 256 bytes
    root = sha256(acc as 256 big-endian bytes)

Changing a key from ``old`` to ``new`` subtracts ``H(key, old)`` and adds
``H(key, new)``, so a block's root costs time proportional to the keys it
changed, not to the size of the state.  The accumulator is stored beside the
state (opaque bytes) so a restarted node continues from it.
"""
from __future__ import annotations

import hashlib
from itertools import repeat
from typing import Iterator, Protocol

from .errors import StateCorrupt

__all__ = ["ACC_BYTES", "RootAccumulator", "State", "StateView", "entry_hash"]

ACC_BYTES = 256
_MOD = 1 << (8 * ACC_BYTES)
_DOMAIN = b"settle/state/v1"
_MISSING = object()


class StateView(Protocol):
    """Read-only committed state."""

    def get(self, key: bytes) -> bytes | None:
        """Value stored under ``key``, or None."""


def entry_hash(key: bytes, value: bytes) -> int:
    h = hashlib.shake_256(_DOMAIN + len(key).to_bytes(4, "big") + key + value)
    return int.from_bytes(h.digest(ACC_BYTES), "big")


# H(key, new) computed for one block's root is H(key, old) for the next block
# that changes the key: remembered once, taken (and dropped) when used.  A
# pure-function memo, bounded, cleared wholesale when full; never affects results.
_HASHES: dict[tuple[bytes, bytes], int] = {}
_HASHES_MAX = 65_536  # ~25 MB at most


def _old_hash(key: bytes, value: bytes) -> int:
    h = _HASHES.pop((key, value), None)
    return entry_hash(key, value) if h is None else h


def _new_hash(key: bytes, value: bytes) -> int:
    h = entry_hash(key, value)
    if len(_HASHES) >= _HASHES_MAX:
        _HASHES.clear()
    _HASHES[(key, value)] = h
    return h


class RootAccumulator:
    """The additive multiset hash of the whole state (see module docstring)."""

    __slots__ = ("value",)

    def __init__(self, value: int = 0):
        self.value = value % _MOD

    @classmethod
    def from_bytes(cls, data: bytes | None) -> "RootAccumulator":
        if data is None:
            return cls(0)
        if len(data) != ACC_BYTES:
            raise StateCorrupt(f"state accumulator has {len(data)} bytes, expected {ACC_BYTES}")
        return cls(int.from_bytes(data, "big"))

    def to_bytes(self) -> bytes:
        return self.value.to_bytes(ACC_BYTES, "big")

    def root(self) -> bytes:
        return hashlib.sha256(self.to_bytes()).digest()


class DictView:
    """A StateView over a plain dict (tests, genesis, stress replay)."""

    def __init__(self, data: dict[bytes, bytes] | None = None):
        self.data = data if data is not None else {}

    def get(self, key: bytes) -> bytes | None:
        return self.data.get(key)

    def apply(self, writes: dict[bytes, bytes | None]) -> None:
        for k in sorted(writes):
            v = writes[k]
            if v is None:
                self.data.pop(k, None)
            else:
                self.data[k] = v


class State:
    """Overlay of pending writes over a :class:`StateView`, with a journal."""

    def __init__(self, view: StateView):
        self._view = view
        self._writes: dict[bytes, bytes | None] = {}
        self._journal: list[tuple[bytes, object]] = []

    # ------------------------------------------------------------------ access

    def get(self, key: bytes) -> bytes | None:
        w = self._writes
        if key in w:
            return w[key]
        return self._view.get(key)

    def put(self, key: bytes, value: bytes | None) -> None:
        """Set ``key`` to ``value`` (None deletes it)."""
        self._journal.append((key, self._writes.get(key, _MISSING)))
        self._writes[key] = value

    def put_many(self, keys: list[bytes], values: list[bytes | None]) -> None:
        """:meth:`put` of each ``keys[i]``, ``values[i]`` (the order of puts does not matter: the net writes are sorted)."""
        w = self._writes
        self._journal.extend(zip(keys, map(w.get, keys, repeat(_MISSING))))
        w.update(zip(keys, values))

    def delete(self, key: bytes) -> None:
        self.put(key, None)

    # ------------------------------------------------------------------ journal

    def snapshot(self) -> int:
        return len(self._journal)

    def revert(self, snap: int) -> None:
        """Undo every write made after ``snapshot()`` returned ``snap``."""
        j = self._journal
        w = self._writes
        while len(j) > snap:
            key, prev = j.pop()
            if prev is _MISSING:
                del w[key]
            else:
                w[key] = prev  # type: ignore[assignment]

    # ------------------------------------------------------------------ result

    def _net(self) -> Iterator[tuple[bytes, bytes | None, bytes | None]]:
        """``(key, committed value, new value)`` of each key whose value changed, in key order."""
        get = self._view.get
        writes = self._writes
        for key in sorted(writes):
            old, new = get(key), writes[key]
            if old != new:
                yield key, old, new

    def writes(self) -> dict[bytes, bytes | None]:
        """Net writes against the view (unchanged keys dropped)."""
        return {key: new for key, _, new in self._net()}

    def finish(self, acc: RootAccumulator) -> tuple[dict[bytes, bytes | None], RootAccumulator]:
        """:meth:`writes`, and ``acc`` updated with them (each key's committed value read once)."""
        out: dict[bytes, bytes | None] = {}
        v = acc.value
        for key, old, new in self._net():
            out[key] = new
            if old is not None:
                v -= _old_hash(key, old)
            if new is not None:
                v += _new_hash(key, new)
        return out, RootAccumulator(v)  # reduces mod 2**2048 once
