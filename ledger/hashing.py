"""Hashes used across the ledger: sha256 digests and the binary Merkle root.

Owns: :func:`sha256`, :func:`merkle_root` and :func:`merkle_tree_hash`.
``merkle_tree_hash`` is RFC 6962's ``MTH``: leaves and inner nodes are
domain-separated by a one-byte prefix (0x00, 0x01), built bottom-up with the
odd last node of a level promoted, which is the same tree as RFC 6962's
largest-power-of-two split.  ``merkle_root``, the root headers commit to,
binds that hash to the leaf count, ``sha256(0x02 || n as 8 bytes big-endian
|| MTH)``, as a Certificate Transparency signed tree head binds its
``tree_size``: without it an audit path proves a position in the tree but not
the index and size it claims (leaf 0 of 3 and leaf 0 of 4 share a path
shape).  ``ledger/proofs.py`` proves inclusion under both.
Never depends on anything but hashlib.
"""
from __future__ import annotations

import hashlib

__all__ = ["EMPTY_ROOT", "ZERO_HASH", "merkle_root", "merkle_tree_hash", "sha256", "sized_root"]

ZERO_HASH = bytes(32)


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


EMPTY_ROOT = sha256(b"")


def sized_root(size: int, tree_hash: bytes) -> bytes:
    """The committed root of a ``size``-leaf tree whose RFC 6962 hash is ``tree_hash``."""
    return hashlib.sha256(b"\x02" + size.to_bytes(8, "big") + tree_hash).digest()


def merkle_root(leaves: list[bytes] | tuple[bytes, ...]) -> bytes:
    """The root a header commits to: :func:`merkle_tree_hash` of ``leaves`` bound to their count."""
    return sized_root(len(leaves), merkle_tree_hash(leaves))


def merkle_tree_hash(leaves: list[bytes] | tuple[bytes, ...]) -> bytes:
    """RFC 6962 ``MTH`` over ``leaves`` (each hashed with prefix 0x00, nodes with 0x01)."""
    if not leaves:
        return EMPTY_ROOT
    level = [hashlib.sha256(b"\x00" + leaf).digest() for leaf in leaves]
    while len(level) > 1:
        nxt = []
        for i in range(0, len(level) - 1, 2):
            nxt.append(hashlib.sha256(b"\x01" + level[i] + level[i + 1]).digest())
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]
