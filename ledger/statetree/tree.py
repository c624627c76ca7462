"""The stored, versioned state tree: updated once per block, proves any key at any retained version.

Owns how the tree of ``proof.py`` is stored and updated: Jellyfish-style
16-ary nodes (one nibble of ``sha256(key)`` per level; the binary hashing of
``proof.py`` happens inside a node, so a proof carries up to 4 siblings per
level), each node written once under ``(nibble path, version)`` and never
changed; the values of the entries, kept per version so a proof at an older
version still has its value; and the stale index that says from which
version on an old node or value is no longer needed (pruning).

Never does I/O itself: it reads through a :class:`NodeSource` (the chain
store, or a dict in tests) and hands the new nodes back as a
:class:`TreeBatch` for the caller to write in the same atomic batch as the
block.  Versions are block heights (the genesis state is version 0).

Keys (opaque to the store, which puts its own prefix in front)::

    b"n" || len(path) || path (one byte per nibble) || version (8 bytes)  -> a node
    b"v" || sha256(key) || version (8 bytes)                              -> the value written at that version

A node lists its children in nibble order, each as one tag byte
``nibble << 4 | kind`` followed by, for a leaf (kind 1), ``kh || vh ||
value version`` and for an inner node (kind 2), ``version || hash``.  Leaves
live inside their parent (no node of their own); a subtree left with one
leaf is collapsed into that leaf, as in the binary tree of ``proof.py``.
The root node ``(b"", v)`` is written at every version, even when nothing
changed, so version ``v``'s root is always at ``(b"", v)``.

Pruning: every node or value replaced at version ``v`` is listed as stale
since ``v``; once no retained version needs it (``v <= oldest retained``)
the store deletes it (``ChainStore.commit_block``'s ``tree_prune_through``).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from itertools import groupby
from typing import Mapping, Protocol

from ..errors import StateCorrupt
from .proof import PLACEHOLDER, StatePath, StateProof, leaf_hash, node_hash

__all__ = ["NodeSource", "StateTree", "TreeBatch", "node_key", "value_key"]

_sha = hashlib.sha256
_LEAF, _INNER = 1, 2
# A child: (is_leaf, kh | node version, vh | None, hash, value version | None)
_EMPTY = (PLACEHOLDER, 0)  # (hash, kind) of an empty subtree; kind 1: one leaf, 2: more


class NodeSource(Protocol):
    """Committed tree keys (``node_key`` / ``value_key``), read-only."""

    def tree_get(self, key: bytes) -> bytes | None:
        """The bytes stored under a tree key, or None."""


def node_key(path: bytes, version: int) -> bytes:
    return b"n" + bytes((len(path),)) + path + version.to_bytes(8, "big")


def value_key(kh: bytes, version: int) -> bytes:
    return b"v" + kh + version.to_bytes(8, "big")


def _nibble(kh: bytes, depth: int) -> int:
    b = kh[depth >> 1]
    return b >> 4 if not depth & 1 else b & 15


# --------------------------------------------------------------------------- nodes


def encode_node(children: dict[int, tuple]) -> bytes:
    parts = []
    for nib in sorted(children):
        c = children[nib]
        if c[0]:
            parts.append(bytes((nib << 4 | _LEAF,)) + c[1] + c[2] + c[4].to_bytes(8, "big"))
        else:
            parts.append(bytes((nib << 4 | _INNER,)) + c[1].to_bytes(8, "big") + c[3])
    return b"".join(parts)


def decode_node(data: bytes, key: bytes = b"") -> dict[int, tuple]:
    """Inverse of :func:`encode_node`; raises StateCorrupt for anything else."""
    children: dict[int, tuple] = {}
    i, n, last = 0, len(data), -1
    while i < n:
        tag = data[i]
        nib, kind = tag >> 4, tag & 15
        if nib <= last:
            raise StateCorrupt("tree node children out of order", key=key)
        last = nib
        if kind == _LEAF and i + 73 <= n:
            kh, vh = data[i + 1:i + 33], data[i + 33:i + 65]
            children[nib] = (True, kh, vh, leaf_hash(kh, vh), int.from_bytes(data[i + 65:i + 73], "big"))
            i += 73
        elif kind == _INNER and i + 41 <= n:
            children[nib] = (False, int.from_bytes(data[i + 1:i + 9], "big"), None, data[i + 9:i + 41], None)
            i += 41
        else:
            raise StateCorrupt(f"tree node has a bad child entry at byte {i}", key=key)
    return children


def _levels(children: dict[int, tuple]) -> list[list[tuple[bytes, int]]]:
    """The binary reduction of a node's 16 slots: ``levels[0]`` the slots, ``levels[4]`` the node."""
    level = [_EMPTY] * 16
    for nib, c in children.items():
        level[nib] = (c[3], 1 if c[0] else 2)
    levels = [level]
    while len(level) > 1:
        nxt = []
        for i in range(0, len(level), 2):
            a, b = level[i], level[i + 1]
            if not b[1] and a[1] < 2:
                nxt.append(a)
            elif not a[1] and b[1] == 1:
                nxt.append(b)
            else:
                nxt.append((node_hash(a[0], b[0]), 2))
        levels.append(nxt)
        level = nxt
    return levels


def _node_hash(children: dict[int, tuple]) -> bytes:
    return _levels(children)[4][0][0]


# --------------------------------------------------------------------------- node lookup


class _Nodes:
    """Decoded nodes over a :class:`NodeSource`, cached (cleared wholesale when full)."""

    def __init__(self, source: NodeSource, max_entries: int = 200_000):
        self.source = source
        self._cache: dict[bytes, dict[int, tuple]] = {}
        self._max = max_entries

    def node(self, key: bytes) -> dict[int, tuple] | None:
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

    def raw(self, key: bytes) -> bytes | None:
        return self.source.tree_get(key)

    def add(self, batch: "TreeBatch") -> None:
        """Remember the decoded nodes of a batch that was just written to the source."""
        if len(self._cache) + len(batch.nodes) >= self._max:
            self._cache.clear()
        self._cache.update(batch.nodes)


class _Layer:
    """Pending nodes of a version not yet written, over the nodes below them."""

    def __init__(self, batch: "TreeBatch", below):
        self.batch = batch
        self.below = below
        self.depth = below.depth + 1 if isinstance(below, _Layer) else 1

    def node(self, key: bytes) -> dict[int, tuple] | None:
        n = self.batch.nodes.get(key)
        return n if n is not None else self.below.node(key)

    def raw(self, key: bytes) -> bytes | None:
        v = self.batch.puts.get(key)
        return v if v is not None else self.below.raw(key)


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
    nodes: dict[bytes, dict[int, tuple]]  # the new nodes, decoded (for caches)


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
    def open(cls, source: NodeSource, version: int, *, nodes: _Nodes | None = None) -> "StateTree":
        """The stored tree at ``version``.

        Raises:
            KeyError: its root node is not stored (never written, or pruned).
            StateCorrupt: it does not decode.
        """
        nodes = nodes if nodes is not None else _Nodes(source)
        root = nodes.node(node_key(b"", version))
        if root is None:
            raise KeyError(version)
        return cls(nodes, version, _node_hash(root))

    def at(self, version: int) -> "StateTree":
        """The tree at an older retained ``version``, read from the same nodes (KeyError if not retained)."""
        nodes = self._nodes
        root = nodes.node(node_key(b"", version))
        if root is None:
            raise KeyError(version)
        return StateTree(nodes, version, _node_hash(root))

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
        holds its new nodes and values and what became stale.
        """
        if version <= self.version:
            raise ValueError(f"tree version {version} is not after {self.version}")
        up = _Updater(self._nodes, version)
        ups = sorted((_sha(k).digest(), v) for k, v in writes.items())
        root_children = up.root_children(self.version)
        children = dict(root_children)
        for nib, group in groupby(ups, key=lambda u: u[0][0] >> 4):
            old = children.get(nib)
            new = up.update(bytes((nib,)), old, list(group), 1)
            if new is None:
                children.pop(nib, None)
            else:
                children[nib] = new
        if self.version >= 0:
            up.stale.append(node_key(b"", self.version))
        levels = _levels(children)
        up.write(b"", children, levels)
        batch = TreeBatch(version, up.puts, tuple(up.stale), up.new_nodes)
        nodes = self._nodes
        if isinstance(nodes, _Layer) and nodes.depth >= 64:  # a long unsettled chain (tests): settle it
            nodes = StateTree(nodes, self.version, self.root).settle()._nodes
        return StateTree(_Layer(batch, nodes), version, levels[4][0][0], batch)

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
            children = nodes.node(nk)
            if children is None:
                raise StateCorrupt("tree node missing", key=nk)
            levels = _levels(children)
            top = levels[4][0]
            found = None
            if top[1] < 2:  # only the root: the whole tree is empty or one leaf
                found = top
            else:
                nib = _nibble(kh, len(path))
                for j in range(4):
                    idx = nib >> (3 - j)
                    lvl = levels[3 - j]
                    siblings.append(lvl[idx ^ 1][0])
                    if lvl[idx][1] < 2:
                        found = lvl[idx]
                        break
            if found is not None:
                if not found[1]:
                    return self._proof(key, siblings, None, None)
                leaf = next(c for c in children.values() if c[0] and c[3] == found[0])
                if leaf[1] != kh:
                    return self._proof(key, siblings, None, leaf[1] + leaf[2])
                value = nodes.raw(value_key(kh, leaf[4]))
                if value is None or _sha(value).digest() != leaf[2]:
                    raise StateCorrupt("tree value missing or not the leaf's", key=value_key(kh, leaf[4]))
                return self._proof(key, siblings, value, b"")
            version = children[nib][1]
            path += bytes((nib,))

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
    """One version's update: the new nodes and values, and what they make stale."""

    def __init__(self, src, version: int):
        self.src = src
        self.v = version
        self.puts: dict[bytes, bytes] = {}
        self.new_nodes: dict[bytes, dict[int, tuple]] = {}
        self.stale: list[bytes] = []

    def load(self, path: bytes, version: int) -> dict[int, tuple]:
        nk = node_key(path, version)
        n = self.src.node(nk)
        if n is None:
            raise StateCorrupt("tree node missing", key=nk)
        return n

    def root_children(self, version: int) -> dict[int, tuple]:
        return {} if version < 0 else self.load(b"", version)

    def write(self, path: bytes, children: dict[int, tuple], levels=None) -> tuple:
        nk = node_key(path, self.v)
        self.puts[nk] = encode_node(children)
        self.new_nodes[nk] = children
        h = (levels or _levels(children))[4][0][0]
        return (False, self.v, None, h, None)

    def update(self, path: bytes, child: tuple | None, ups: list, depth: int) -> tuple | None:
        """The new child at ``path`` after ``ups`` (sorted ``(kh, value | None)``, all under ``path``)."""
        if child is not None and not child[0]:
            return self._update_inner(path, child, ups, depth)
        entries: dict[bytes, tuple] = {} if child is None else {child[1]: child}
        changed = False
        for kh, value in ups:
            old = entries.get(kh)
            if value is None:
                if old is None:
                    continue
                del entries[kh]
            else:
                vh = _sha(value).digest()
                if old is not None and old[2] == vh:
                    continue
                self.puts[value_key(kh, self.v)] = value
                entries[kh] = (True, kh, vh, leaf_hash(kh, vh), self.v)
            if old is not None:
                self.stale.append(value_key(kh, old[4]))
            changed = True
        if not changed:
            return child
        return self._build(path, [entries[k] for k in sorted(entries)], depth)

    def _build(self, path: bytes, leaves: list[tuple], depth: int) -> tuple | None:
        if len(leaves) < 2:
            return leaves[0] if leaves else None
        children = {
            nib: self._build(path + bytes((nib,)), list(group), depth + 1)
            for nib, group in groupby(leaves, key=lambda c: _nibble(c[1], depth))
        }
        return self.write(path, children)

    def _update_inner(self, path: bytes, child: tuple, ups: list, depth: int) -> tuple | None:
        children = dict(self.load(path, child[1]))
        changed = False
        for nib, group in groupby(ups, key=lambda u: _nibble(u[0], depth)):
            old = children.get(nib)
            new = self.update(path + bytes((nib,)), old, list(group), depth + 1)
            if new is old:
                continue
            changed = True
            if new is None:
                del children[nib]
            else:
                children[nib] = new
        if not changed:
            return child
        self.stale.append(node_key(path, child[1]))
        if len(children) < 2:
            only = next(iter(children.values()), None)
            if only is None or only[0]:
                return only  # collapsed into its one leaf (or gone)
        return self.write(path, children)
