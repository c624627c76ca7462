"""Hashes used across the ledger: sha256 digests and the binary Merkle root.

Owns: :func:`sha256`, :func:`merkle_root` (RFC 6962 shape: leaves and inner
nodes are domain-separated by a one-byte prefix, an odd node is promoted).
Never depends on anything but hashlib.
"""
from __future__ import annotations

import hashlib

__all__ = ["EMPTY_ROOT", "ZERO_HASH", "merkle_root", "sha256"]

ZERO_HASH = bytes(32)


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


EMPTY_ROOT = sha256(b"")


def merkle_root(leaves: list[bytes] | tuple[bytes, ...]) -> bytes:
    """Merkle root over ``leaves`` (each hashed with prefix 0x00, nodes with 0x01)."""
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
