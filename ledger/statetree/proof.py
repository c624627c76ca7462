"""What a state proof is and how anyone checks it, with no store and no node.

Owns the commitment's definition (the hashing rules below), :class:`StateProof`
and :func:`verify_state`.  Pure: used by the node, the offline verifier and
(later) the settlement state machine's light client.  Never reads a store.

The commitment
--------------
A binary sparse Merkle tree over ``kh = sha256(key)`` (bit 0 is the most
significant bit of ``kh[0]``), with every subtree that holds one entry
collapsed into that entry's leaf (Diem's Jellyfish Merkle tree commits to
exactly this binary tree, whatever its 16-ary storage)::

    leaf(kh, vh)  = sha256(0x00 || kh || vh)        vh = sha256(value)
    node(l, r)    = sha256(0x01 || l || r)
    empty subtree = 32 zero bytes (PLACEHOLDER)
    subtree with exactly one entry = that entry's leaf hash
    root of the empty tree = PLACEHOLDER

The 0x00 / 0x01 prefixes separate leaves from inner nodes (RFC 6962); the
placeholder is not the output of any known sha256 input.

A proof of ``key`` is the path from the root down to where ``kh`` leads: the
``depth`` siblings (from the root down; placeholders are not carried, a
bitmap says where they are) and, when the key is absent and another entry
sits where it would be, that entry's ``kh`` and ``vh``.  Absent keys are
proven by that other entry (whose ``kh`` shares the first ``depth`` bits) or
by an empty subtree at the end of the path.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Annotated

from ..codec import MaxLen, Range, Record
from ..fields import Hash32
from ..proofs import ProofError

__all__ = [
    "EMPTY_TREE_ROOT",
    "PLACEHOLDER",
    "ProofError",
    "StatePath",
    "StateProof",
    "bit",
    "leaf_hash",
    "node_hash",
    "verify_state",
]

PLACEHOLDER = bytes(32)
EMPTY_TREE_ROOT = PLACEHOLDER
MAX_KEY_BYTES = 1024
_sha = hashlib.sha256


def leaf_hash(kh: bytes, vh: bytes) -> bytes:
    return _sha(b"\x00" + kh + vh).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha(b"\x01" + left + right).digest()


def bit(kh: bytes, i: int) -> int:
    """Bit ``i`` of a key hash (0 is the most significant bit of the first byte)."""
    return (kh[i >> 3] >> (7 - (i & 7))) & 1


@dataclass(frozen=True, slots=True)
class StatePath(Record):
    """The Merkle path of one key (see the module docstring)."""

    depth: Annotated[int, Range(0, 256)]
    present: Annotated[bytes, MaxLen(32)]  # bit i (MSB first) set: sibling i is carried, else a placeholder
    siblings: list[Hash32]  # the carried siblings, from the root down
    other: Annotated[bytes, MaxLen(64)]  # b"", or kh || vh of the entry found where an absent key would be


@dataclass(frozen=True, slots=True)
class StateProof(Record):
    """A state entry (``value`` None: absent) and its path, as of one tree root."""

    key: Annotated[bytes, MaxLen(MAX_KEY_BYTES)]
    value: bytes | None
    path: StatePath


def _expand(path: StatePath) -> list[bytes]:
    depth, present = path.depth, path.present
    if len(present) != (depth + 7) // 8:
        raise ProofError(f"path bitmap has {len(present)} bytes, depth {depth} needs {(depth + 7) // 8}")
    out: list[bytes] = []
    carried = iter(path.siblings)
    for i in range(depth):
        if bit(present, i):
            s = next(carried, None)
            if s is None:
                raise ProofError("path carries fewer siblings than its bitmap marks")
            out.append(s)
        else:
            out.append(PLACEHOLDER)
    if next(carried, None) is not None:
        raise ProofError("path carries more siblings than its bitmap marks")
    if depth % 8 and present[-1] & (0xFF >> (depth % 8)):
        raise ProofError("path bitmap has bits set beyond its depth")
    return out


def verify_state(root: bytes, key: bytes, value: bytes | None, proof: StateProof) -> None:
    """Check that the tree with ``root`` maps ``key`` to ``value`` (None: holds no entry for it).

    Raises:
        ProofError: naming the first check that failed.
    """
    if proof.key != key:
        raise ProofError("the proof is for another key")
    if proof.value != value:
        raise ProofError("the proof is for another value" if value is not None or proof.value is None
                         else "the proof shows the key present")
    path = proof.path
    siblings = _expand(path)
    depth = path.depth
    kh = _sha(key).digest()
    if value is not None:
        if path.other:
            raise ProofError("an inclusion proof carries no other entry")
        h = leaf_hash(kh, _sha(value).digest())
    elif path.other:
        if len(path.other) != 64:
            raise ProofError(f"the other entry has {len(path.other)} bytes, expected 64")
        okh, ovh = path.other[:32], path.other[32:]
        if okh == kh:
            raise ProofError("the proof shows the key present")
        if any(bit(okh, i) != bit(kh, i) for i in range(depth)):
            raise ProofError("the other entry does not sit on this key's path")
        h = leaf_hash(okh, ovh)
    else:
        h = PLACEHOLDER
    for i in range(depth - 1, -1, -1):
        h = node_hash(siblings[i], h) if bit(kh, i) else node_hash(h, siblings[i])
    if h != root:
        raise ProofError("the path does not lead to the state root")
