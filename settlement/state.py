"""The state the transition touches: a journaled overlay over committed state.

Owns: :class:`State` — reads fall through to a read-only ``StateView`` (the
committed state, e.g. a LevelDB-backed cache in the node); writes go to an
overlay with a journal so a transaction can be reverted (snapshot / revert,
as py-evm's ``StateAPI``).  Also owns the state root.

It never writes to the backing view: the caller takes :meth:`State.finish`
and persists them (one LevelDB batch per block).

State root
----------
The root is the root of the authenticated state tree (``ledger/statetree``):
a sparse Merkle tree over every live ``(key, value)``, so one entry's value
or absence can be proven against a header.  :meth:`State.finish` hands the
block's net writes to the tree once, in key order; the tree's new nodes ride
in the same store batch as the writes (``ledger/chainstore.py``).
"""
from __future__ import annotations

from itertools import repeat
from typing import Iterator, Protocol

from ledger.statetree import StateTree

__all__ = ["State", "StateTree", "StateView"]

_MISSING = object()


class StateView(Protocol):
    """Read-only committed state."""

    def get(self, key: bytes) -> bytes | None:
        """Value stored under ``key``, or None."""


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

    def finish(self, tree: StateTree, version: int | None = None) -> tuple[dict[bytes, bytes | None], StateTree]:
        """:meth:`writes`, and ``tree`` updated with them as ``version`` (default: the next one).

        Versions are block heights (genesis is 0); the new tree's ``batch``
        holds the nodes the caller stores with the writes.
        """
        out = self.writes()
        return out, tree.update(out, tree.version + 1 if version is None else version)
