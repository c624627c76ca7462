"""The stored, versioned state tree: updated once per block, proves any key at any retained version.

Owns how the tree of ``proof.py`` is stored and updated: Jellyfish-style
16-ary nodes (one nibble of ``sha256(key)`` per level; the binary hashing of
``proof.py`` happens inside a node, so a proof carries up to 4 siblings per
level), each node written once under ``(nibble path, version)`` and never
changed, each leaf carrying its entry's value (so a proof at an older
version still has its value, and a version adds no key per value); and the
stale index that says from which version on an old node is no longer
needed (pruning).

The node format (keys, the 32-entry heaps, encoding, hashing inside a
node) is ``nodes.py``'s.  Never does I/O itself: it reads through a :class:`NodeSource` (the chain
store, or a dict in tests) and hands the new nodes back as a
:class:`TreeBatch` for the caller to write in the same atomic batch as the
block.  Versions are block heights (the genesis state is version 0).

Keys (opaque to the store, which puts its own prefix in front)::

    b"n" || len(path) || path (one byte per nibble) || version (8 bytes)  -> a node

A node lists its children in nibble order, each as one tag byte
``nibble << 4 | kind`` followed by, for a leaf (kind 1), ``kh ||
len(value) (4 bytes) || value`` (its ``vh = sha256(value)`` is computed
when the node is decoded) and for an inner node (kind 2), ``version ||
hash``.  Leaves
live inside their parent (no node of their own); a subtree left with one
leaf is collapsed into that leaf, as in the binary tree of ``proof.py``.
The root node ``(b"", v)`` is written at every version, even when nothing
changed, so version ``v``'s root is always at ``(b"", v)``.

The whole update (``StateTree.update``: hashing and sorting the block's
keys, the node rewrites and their sha256, the root) also exists in C
(``_native.c``, an optional extension built by setup.py), used when built;
its decoded nodes are C structs (one bytes object each, ``as_heap`` gives
the Python form).  The Python code here is the reference it is tested
against byte for byte (roots, puts, stale lists and new nodes, in the same
order).  ``NATIVE`` says which is in use; ``SETTLE_TREE_PURE=1`` in the
environment forces the Python code.

Pruning: every node replaced at version ``v`` is listed as stale
since ``v``; once no retained version needs it (``v <= oldest retained``)
the store deletes it (``ChainStore.commit_block``'s ``tree_prune_through``).
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from itertools import groupby
from typing import Mapping, Protocol

from ..errors import StateCorrupt
from .proof import PLACEHOLDER, StatePath, StateProof

__all__ = ["NATIVE", "NodeSource", "StateTree", "TreeBatch", "node_key", "use_native"]

_sha = hashlib.sha256


class NodeSource(Protocol):
    """Committed tree keys (``node_key`` / ``value_key``), read-only."""

    def tree_get(self, key: bytes) -> bytes | None:
        """The bytes stored under a tree key, or None."""


from .nodes import (  # the node format; the underscored helpers are tree.py's and its tests'
    _E, _INNER, _native, _nibble, _placed, _py_decode, _py_encode, _py_fill, _py_leaf, node_key,
)

_leaf, _fill, encode_node = _py_leaf, _py_fill, _py_encode  # the reference's helpers (the C update has its own)


NATIVE = False  # whether the C helpers are in use


def _native_decode(data: bytes, key: bytes = b"") -> bytes:
    try:
        return _native.decode(data)
    except ValueError as e:
        raise StateCorrupt(str(e), key=key) from None


def _same(heap: list) -> list:
    return heap


def use_native(on: bool = True) -> bool:
    """Use the C update (if built and ``on``) or the Python one; returns whether C is in use.

    With C, decoded nodes are ``_native`` node objects (``as_heap`` turns one
    into the Python heap); with Python they are the heaps themselves.
    """
    global NATIVE, decode_node, as_heap
    NATIVE = bool(on) and _native is not None
    if NATIVE:
        decode_node, as_heap = _native_decode, _native.heap
    else:
        decode_node, as_heap = _py_decode, _same
    return NATIVE


use_native(os.environ.get("SETTLE_TREE_PURE") != "1")


# --------------------------------------------------------------------------- node lookup


class _Nodes:
    """Decoded nodes over a :class:`NodeSource`, cached (cleared wholesale when full)."""

    def __init__(self, source: NodeSource, max_entries: int = 200_000):
        self.source = source
        self._cache: dict[bytes, list] = {}
        self._max = max_entries

    def node(self, key: bytes) -> list | None:
        n = self._cache.get(key)
        if n is None:
            raw = self.source.tree_get(key)
            if raw is None:
                return None
            n = decode_node(raw, key)
            if len(self._cache) >= self._max:
                self._cache.clear()
            self._cache[key] = n
        return n

    def add(self, batch: "TreeBatch") -> None:
        """Remember the decoded nodes of a batch that was just written to the source.

        The nodes it replaced are forgotten, so the cache holds the latest
        version's nodes (and those read for proofs at older versions).
        """
        cache = self._cache
        for key in batch.stale:
            cache.pop(key, None)
        if len(cache) + len(batch.nodes) >= self._max:
            cache.clear()
        cache.update(batch.nodes)


class _Layer:
    """Pending nodes of a version not yet written, over the nodes below them."""

    def __init__(self, batch: "TreeBatch", below):
        self.batch = batch
        self.below = below
        self.depth = below.depth + 1 if isinstance(below, _Layer) else 1

    def node(self, key: bytes) -> list | None:
        n = self.batch.nodes.get(key)
        return n if n is not None else self.below.node(key)


class MemorySource:
    """A :class:`NodeSource` over a dict (tests, stress replay, genesis checks)."""

    def __init__(self, data: dict[bytes, bytes] | None = None):
        self.data = data if data is not None else {}

    def tree_get(self, key: bytes) -> bytes | None:
        return self.data.get(key)

    def write(self, batch: "TreeBatch") -> None:
        self.data.update(batch.puts)


@dataclass(frozen=True, slots=True)
class TreeBatch:
    """What one version adds: keys to put, keys that became stale at ``version``."""

    version: int
    puts: dict[bytes, bytes]
    stale: tuple[bytes, ...]
    nodes: dict[bytes, list]  # the new nodes, decoded (for caches)


# --------------------------------------------------------------------------- the tree


class StateTree:
    """The tree as of one version: its root, and how to read and update it.

    Immutable: :meth:`update` returns the tree of a later version, whose new
    nodes are in its :attr:`batch` until the caller writes them and
    :meth:`settle` s it onto the store.
    """

    __slots__ = ("_nodes", "batch", "root", "version")

    def __init__(self, nodes, version: int, root: bytes, batch: TreeBatch | None = None):
        self._nodes = nodes
        self.version = version
        self.root = root
        self.batch = batch

    @classmethod
    def empty(cls, source: NodeSource | None = None) -> "StateTree":
        """The tree before any version (no root node yet); updating it gives version 0 or more."""
        return cls(_Nodes(source if source is not None else MemorySource()), -1, PLACEHOLDER)

    @classmethod
    def open(cls, source: NodeSource, version: int) -> "StateTree":
        """The stored tree at ``version``.

        Raises:
            KeyError: its root node is not stored (never written, or pruned).
            StateCorrupt: it does not decode.
        """
        return cls(_Nodes(source), -1, PLACEHOLDER).at(version)

    def at(self, version: int) -> "StateTree":
        """The tree at an older retained ``version``, read from the same nodes (KeyError if not retained)."""
        nodes = self._nodes
        root = nodes.node(node_key(b"", version))
        if root is None:
            raise KeyError(version)
        return StateTree(nodes, version, as_heap(root)[1][0])

    def settle(self, written: NodeSource | None = None) -> "StateTree":
        """This tree once its batch is written to the source of the tree it was updated from.

        Drops the pending layers (their nodes are kept in the shared cache).
        With no ``written`` (a memory tree: tests, stress replay), the batches
        go into a copy of the memory source, so that another tree updated
        from the same parent (another round's block) is not disturbed.
        """
        nodes = self._nodes
        pending = []
        while isinstance(nodes, _Layer):
            pending.append(nodes.batch)
            nodes = nodes.below
        if written is None:
            source = MemorySource(dict(nodes.source.data))
            for batch in reversed(pending):
                source.write(batch)
            return StateTree(_Nodes(source), self.version, self.root)
        for batch in reversed(pending):
            nodes.add(batch)
        return StateTree(nodes, self.version, self.root)

    # ------------------------------------------------------------------ update

    def update(self, writes: Mapping[bytes, bytes | None], version: int) -> "StateTree":
        """The tree of ``version`` (> this one's): this one with ``writes`` applied (None deletes).

        The order of ``writes`` does not matter.  The result's :attr:`batch`
        holds its new nodes and what became stale.
        """
        if version <= self.version:
            raise ValueError(f"tree version {version} is not after {self.version}")
        if NATIVE:  # the same steps in C, byte for byte
            nodes = self._nodes  # a settled tree: C reads the cache's dict itself and calls node() on a miss
            root, puts, stale, new_nodes = _native.update(
                nodes.node, nodes._cache if type(nodes) is _Nodes else None, _Updater._missing,
                writes if type(writes) is dict else dict(writes), version, self.version)
            return self._then(TreeBatch(version, puts, tuple(stale), new_nodes), root)
        up = _Updater(self._nodes, version)
        ups = sorted([(_sha(k).digest(), v) for k, v in writes.items()])
        heap = up.load(b"", self.version)[:] if self.version >= 0 else [None] + [_E] * 31
        changed = []
        for nib, group in groupby(ups, key=lambda u: u[0][0] >> 4):
            old = heap[16 + nib]
            new = up.update(bytes((nib,)), old if old[1] else None, list(group), 1)
            if new is not old and (new is not None or old[1]):
                heap[16 + nib] = _E if new is None else _placed(new, nib)
                changed.append(16 + nib)
        if self.version >= 0:
            up.stale.append(node_key(b"", self.version))
        up.write(b"", _fill(heap, changed))
        return self._then(TreeBatch(version, up.puts, tuple(up.stale), up.new_nodes), heap[1][0])

    def _then(self, batch: TreeBatch, root: bytes) -> "StateTree":
        """The tree of ``batch.version`` with ``root``, its new nodes pending over this one's."""
        nodes = self._nodes
        if isinstance(nodes, _Layer) and nodes.depth >= 64:  # a long unsettled chain (tests): settle it
            nodes = StateTree(nodes, self.version, self.root).settle()._nodes
        return StateTree(_Layer(batch, nodes), batch.version, root, batch)

    # ------------------------------------------------------------------ proofs

    def prove(self, key: bytes) -> StateProof:
        """The proof of ``key`` (its value, or its absence) against :attr:`root`.

        Raises:
            StateCorrupt: a node or value the tree points to is missing.
        """
        kh = _sha(key).digest()
        if self.version < 0:
            return self._proof(key, [], None, None)
        nodes = self._nodes
        path = b""
        version = self.version
        siblings: list[bytes] = []
        while True:
            nk = node_key(path, version)
            heap = nodes.node(nk)
            if heap is None:
                raise StateCorrupt("tree node missing", key=nk)
            heap = as_heap(heap)
            found = heap[1]
            if found[1] == 2:  # else only the root: the whole tree is empty or one leaf
                nib = _nibble(kh, len(path))
                i = 1
                for j in range(4):
                    c = 2 * i + ((nib >> (3 - j)) & 1)
                    siblings.append(heap[c ^ 1][0])
                    found = heap[c]
                    if found[1] < 2:
                        break
                    i = c
                else:
                    version = found[3]
                    path += bytes((nib,))
                    continue
            if not found[1]:
                return self._proof(key, siblings, None, None)
            if found[3] != kh:
                return self._proof(key, siblings, None, found[3] + found[4])
            return self._proof(key, siblings, found[5], b"")  # decoding hashed the value into found[4]

    @staticmethod
    def _proof(key: bytes, siblings: list[bytes], value: bytes | None, other: bytes | None) -> StateProof:
        depth = len(siblings)
        bits = 0
        carried = []
        for s in siblings:
            bits <<= 1
            if s != PLACEHOLDER:
                bits |= 1
                carried.append(s)
        nbytes = (depth + 7) // 8
        present = (bits << (8 * nbytes - depth)).to_bytes(nbytes, "big") if depth else b""
        return StateProof(key, value, StatePath(depth, present, tuple(carried), other or b""))


class _Updater:
    """One version's update: the new nodes, and the old ones they make stale."""

    def __init__(self, src, version: int):
        self.src = src
        self.v = version
        self.v8 = version.to_bytes(8, "big")
        self.puts: dict[bytes, bytes] = {}
        self.new_nodes: dict[bytes, list] = {}
        self.stale: list[bytes] = []

    def load(self, path: bytes, version: int) -> list:
        nk = b"n" + bytes((len(path),)) + path + version.to_bytes(8, "big")
        n = self.src.node(nk)
        if n is None:
            raise StateCorrupt("tree node missing", key=nk)
        return n

    @staticmethod
    def _missing(nk: bytes):
        raise StateCorrupt("tree node missing", key=nk)

    def write(self, path: bytes, heap: list) -> tuple:
        nk = b"n" + bytes((len(path),)) + path + self.v8
        self.puts[nk] = encode_node(heap)
        self.new_nodes[nk] = heap
        h = heap[1][0]
        return (h, 2, bytes((path[-1] << 4 | _INNER,)) + self.v8 + h, self.v) if path else (h, 2, b"", self.v)

    def update(self, path: bytes, child: tuple | None, ups: list, depth: int) -> tuple | None:
        """The new entry at ``path`` after ``ups`` (sorted ``(kh, value | None)``, all under ``path``); None: empty."""
        if child is not None:
            if child[1] == 2:
                return self._update_inner(path, child, ups, depth)
            if len(ups) == 1 and ups[0][0] == child[3]:  # the common case: one entry's value changes
                value = ups[0][1]
                vh = None if value is None else _sha(value).digest()
                if vh == child[4]:
                    return child
                if value is None:
                    return None
                return _leaf(path[-1], child[3], vh, value)
        entries: dict[bytes, tuple] = {} if child is None else {child[3]: child}
        changed = False
        nib = path[-1]
        for kh, value in ups:
            old = entries.get(kh)
            if value is None:
                if old is None:
                    continue
                del entries[kh]
            else:
                vh = _sha(value).digest()
                if old is not None and old[4] == vh:
                    continue
                entries[kh] = _leaf(nib, kh, vh, value)
            changed = True
        if not changed:
            return child
        if len(entries) < 2:
            return next(iter(entries.values()), None)
        return self._build(path, [entries[k] for k in sorted(entries)], depth)

    def _build(self, path: bytes, leaves: list[tuple], depth: int) -> tuple:
        """An inner node at ``path`` over two or more leaves."""
        heap = [None] + [_E] * 31
        slots = []
        for nib, group in groupby(leaves, key=lambda e: _nibble(e[3], depth)):
            group = list(group)
            e = group[0] if len(group) == 1 else self._build(path + bytes((nib,)), group, depth + 1)
            heap[16 + nib] = _placed(e, nib)
            slots.append(16 + nib)
        return self.write(path, _fill(heap, slots))

    def _update_inner(self, path: bytes, child: tuple, ups: list, depth: int) -> tuple | None:
        heap = self.load(path, child[3])
        new_heap = None
        changed = []
        groups = ((_nibble(ups[0][0], depth), ups),) if len(ups) == 1 else groupby(ups, key=lambda u: _nibble(u[0], depth))
        for nib, group in groups:
            old = heap[16 + nib]
            new = self.update(path + bytes((nib,)), old if old[1] else None, group if type(group) is list else list(group), depth + 1)
            if new is old or (new is None and not old[1]):
                continue
            if new_heap is None:
                new_heap = heap[:]
            new_heap[16 + nib] = _E if new is None else _placed(new, nib)
            changed.append(16 + nib)
        if new_heap is None:
            return child
        self.stale.append(node_key(path, child[3]))
        top = _fill(new_heap, changed)[1]
        if top[1] < 2:
            return top if top[1] else None  # collapsed into its one leaf (or gone)
        return self.write(path, new_heap)
