"""The state tree's node format: keys, decoded nodes (32-entry heaps), their encoding and hashing.

Owns how one node of ``tree.py`` is laid out, keyed, encoded, decoded and
hashed inside (the binary hashing of ``proof.py`` over its 16 children), in
pure Python, and the import of the C update (``_native.c``, built by
setup.py when a compiler is there, with its own node struct;
``tree.use_native`` chooses).  Never reads
or writes a store, never decides which nodes a version rewrites (``tree.py``).
"""
from __future__ import annotations

import hashlib

from ..errors import StateCorrupt
from .proof import PLACEHOLDER, leaf_hash

__all__ = ["node_key"]

_sha = hashlib.sha256
_LEAF, _INNER = 1, 2


def node_key(path: bytes, version: int) -> bytes:
    return b"n" + bytes((len(path),)) + path + version.to_bytes(8, "big")


def _nibble(kh: bytes, depth: int) -> int:
    b = kh[depth >> 1]
    return b >> 4 if not depth & 1 else b & 15


# --------------------------------------------------------------------------- nodes
#
# A decoded node is a heap of 32 entries: ``heap[16 + nibble]`` are the
# children, ``heap[i]`` (1 <= i < 16) the binary subtree over the slots of
# ``heap[2i]`` and ``heap[2i + 1]``, ``heap[1]`` the node itself.  Every entry
# starts with ``(hash, kind)``, kind 0 empty, 1 one leaf, 2 more; a child
# entry goes on with its encoded bytes (tag included) and then, for a leaf,
# ``kh, vh, value``, for an inner node its version.  A subtree of one
# leaf IS that leaf's entry, so collapsing needs no copy.  Only the entries
# above a changed child are recomputed (4 hashes per changed child at most).

_E = (PLACEHOLDER, 0)


def _py_leaf(nib: int, kh: bytes, vh: bytes, value: bytes) -> tuple:
    enc = bytes((nib << 4 | _LEAF,)) + kh + len(value).to_bytes(4, "big") + value
    return (_sha(b"\x00" + kh + vh).digest(), 1, enc, kh, vh, value)


def _placed(e: tuple, nib: int) -> tuple:
    """Entry ``e`` as the child in slot ``nib`` (a leaf that moved gets its tag rewritten)."""
    if e[2][0] >> 4 == nib:
        return e
    return (e[0], e[1], bytes((nib << 4 | e[1],)) + e[2][1:], *e[3:])


def _combine(a: tuple, b: tuple) -> tuple:
    kb = b[1]
    if not kb and a[1] < 2:
        return a
    if not a[1] and kb == 1:
        return b
    return (_sha(b"\x01" + a[0] + b[0]).digest(), 2)


def _py_fill(heap: list, slots) -> list:
    """Recompute the entries of ``heap`` above the children in ``slots`` (heap indexes 16..31)."""
    if len(slots) == 1:  # the common case: one path of 4 (_combine inlined)
        i = slots[0] >> 1
        while i:
            a, b = heap[2 * i], heap[2 * i + 1]
            if not b[1] and a[1] < 2:
                heap[i] = a
            elif not a[1] and b[1] == 1:
                heap[i] = b
            else:
                heap[i] = (_sha(b"\x01" + a[0] + b[0]).digest(), 2)
            i >>= 1
        return heap
    idx = set(slots)
    for _ in range(4):
        idx = {i >> 1 for i in idx}
        for i in idx:
            heap[i] = _combine(heap[2 * i], heap[2 * i + 1])
    return heap


def _py_encode(heap: list) -> bytes:
    return b"".join([e[2] for e in heap[16:] if e[1]])


def _py_decode(data: bytes, key: bytes = b"") -> list:
    """Inverse of :func:`encode_node`; raises StateCorrupt for anything else."""
    heap = [None] + [_E] * 31
    i, n, last = 0, len(data), -1
    while i < n:
        tag = data[i]
        nib, kind = tag >> 4, tag & 15
        if nib <= last:
            raise StateCorrupt("tree node children out of order", key=key)
        last = nib
        if kind == _LEAF and i + 37 <= n and i + 37 + int.from_bytes(data[i + 33:i + 37], "big") <= n:
            end = i + 37 + int.from_bytes(data[i + 33:i + 37], "big")
            kh, value = data[i + 1:i + 33], data[i + 37:end]
            vh = _sha(value).digest()
            heap[16 + nib] = (leaf_hash(kh, vh), 1, data[i:end], kh, vh, value)
            i = end
        elif kind == _INNER and i + 41 <= n:
            heap[16 + nib] = (data[i + 9:i + 41], 2, data[i:i + 41], int.from_bytes(data[i + 1:i + 9], "big"))
            i += 41
        else:
            raise StateCorrupt(f"tree node has a bad child entry at byte {i}", key=key)
    return _py_fill(heap, range(16, 32))


# The update in C (``_native.c``, built by setup.py when a compiler is there):
# byte-identical results, tested against tree.py's Python update.
try:
    from . import _native
except ImportError:  # not built: the pure-Python helpers
    _native = None
else:
    _native.setup(_E)
