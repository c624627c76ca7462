"""Merkle inclusion proofs for the roots a header commits to (``tx_root``, ``receipts_root``).

Owns: :class:`MerkleProof` (leaf index, tree size, audit path), building one
(:func:`inclusion_proof`), checking one (:func:`verify_inclusion`, and
:func:`verify_tx` / :func:`verify_receipt` against a header), its JSON form
(:func:`proof_json`, strict :func:`proof_from_json`, lowercase hex), and
:class:`ProofError`, the one error of every proof check in ``ledger/`` (the
state tree raises it too).  Pure: values in, values out; never reads a store.

The tree is :func:`ledger.hashing.merkle_tree_hash`'s: leaves hashed with
prefix 0x00, inner nodes with 0x01, built bottom-up by pairing neighbours and
promoting the odd last node of a level.  That bottom-up shape IS the RFC 6962
(RFC 9162 section 2.1.1) tree: the largest-power-of-two split ``MTH(D[n]) =
H(0x01 || MTH(D[0:k]) || MTH(D[k:n]))`` yields exactly the nodes covering the
aligned ranges ``[i*2^j, min((i+1)*2^j, n))``, which are the nodes bottom-up
pairing builds (``tests/ledger/test_proofs.py`` checks both constructions
agree for every size up to 300).  An audit path here is RFC 6962's
``PATH(m, D[n])``, checked with RFC 9162 section 2.1.3.2's algorithm.  The
header's root is that hash bound to the leaf count
(:func:`ledger.hashing.sized_root`, as a CT signed tree head binds
``tree_size``), so a proof that verifies proves the leaf's index AND the tree's
size, not only a position.

What the leaves are: for ``tx_root`` the tx hashes (``sha256`` of the tx's
canonical bytes), for ``receipts_root`` the receipts' canonical encodings (one
per tx in block order, then the block-level receipts).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Annotated

from .block import Header
from .codec import Len, MaxLen, Range, Record
from .errors import InvalidInput
from .hashing import sha256, sized_root

__all__ = [
    "MerkleProof",
    "ProofError",
    "hex_bytes",
    "inclusion_proof",
    "leaf_hash",
    "proof_from_json",
    "proof_json",
    "tx_proof",
    "verify_inclusion",
    "verify_receipt",
    "verify_tx",
]

MAX_TREE_SIZE = 2**32  # far above any block's tx or receipt count; bounds a path to 32 hashes
MAX_PATH = 32


class ProofError(InvalidInput, ValueError):
    """A proof does not prove what it claims; the message names the first check that failed.

    Raised by every verifier in ``ledger/`` (inclusion proofs, headers, the
    state tree).  It is the presenter's fault: refuse the proof, change nothing.
    """


@dataclass(frozen=True, slots=True)
class MerkleProof(Record):
    """Where a leaf sits (``index`` of ``size`` leaves) and the sibling hashes up to the root, leaf side first."""

    index: Annotated[int, Range(0, MAX_TREE_SIZE - 1)]
    size: Annotated[int, Range(1, MAX_TREE_SIZE)]
    path: Annotated[list[Annotated[bytes, Len(32)]], MaxLen(MAX_PATH)]


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def inclusion_proof(leaves: list[bytes] | tuple[bytes, ...], index: int) -> MerkleProof:
    """The audit path of ``leaves[index]`` in ``merkle_root(leaves)``.

    Walks the levels bottom-up as ``merkle_root`` does, taking the sibling of
    the running node at each level; a promoted node has no sibling there.

    Raises:
        ProofError: ``index`` is not a position in ``leaves``.
    """
    n = len(leaves)
    if not 0 <= index < n:
        raise ProofError(f"leaf index {index} is outside a tree of {n} leaves")
    level = [leaf_hash(leaf) for leaf in leaves]
    path: list[bytes] = []
    i = index
    while len(level) > 1:
        sibling = i ^ 1
        if sibling < len(level):
            path.append(level[sibling])
        nxt = [_node(level[k], level[k + 1]) for k in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
        i //= 2
    return MerkleProof(index, n, tuple(path))


tx_proof = inclusion_proof  # the shared design's name; the leaves of tx_root are the tx hashes


def proof_json(proof: MerkleProof) -> dict:
    """The JSON form of a proof (RPC ``proof``, portable receipts): hashes as lowercase hex."""
    return {"index": proof.index, "size": proof.size, "path": [h.hex() for h in proof.path]}


def proof_from_json(obj, where: str = "proof") -> MerkleProof:
    """The proof of :func:`proof_json`, strictly: exactly those keys, integers, 32-byte lowercase hex hashes.

    Raises:
        ProofError: naming ``where`` and the field that is wrong.
    """
    if not isinstance(obj, dict) or sorted(obj) != ["index", "path", "size"]:
        raise ProofError(f"{where}: expected an object with exactly index, size and path")
    index, size, path = obj["index"], obj["size"], obj["path"]
    if type(index) is not int or type(size) is not int or not 0 <= index < size <= MAX_TREE_SIZE:
        raise ProofError(f"{where}: index and size must be integers with 0 <= index < size")
    if not isinstance(path, list) or len(path) > MAX_PATH:
        raise ProofError(f"{where}.path: expected a list of at most {MAX_PATH} hashes")
    return MerkleProof(index, size, tuple(hex_bytes(h, f"{where}.path[{k}]", 32) for k, h in enumerate(path)))


def hex_bytes(text, where: str, length: int | None = None) -> bytes:
    """Bytes from lowercase hex (the one spelling proofs use, so any other spelling is a change).

    Raises:
        ProofError: ``text`` is not lowercase hex, or not ``length`` bytes.
    """
    if not isinstance(text, str) or text != text.lower():
        raise ProofError(f"{where}: expected lowercase hex")
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise ProofError(f"{where}: not hex") from None
    if raw.hex() != text:
        raise ProofError(f"{where}: not plain hex (no spaces or prefix)")
    if length is not None and len(raw) != length:
        raise ProofError(f"{where}: expected {length} bytes, got {len(raw)}")
    return raw


def verify_inclusion(root: bytes, leaf: bytes, proof: MerkleProof) -> None:
    """Check that ``leaf`` is leaf ``proof.index`` of a ``proof.size``-leaf tree whose root is ``root``.

    RFC 9162 section 2.1.3.2: walk up from the leaf, the index's low bit and
    the last index of the level deciding on which side each path hash goes.
    The path must have exactly the tree's depth at that index: no hash left
    over, none missing.  The tree hash reached, bound to ``proof.size``
    (:func:`ledger.hashing.sized_root`), must be ``root``.

    Raises:
        ProofError: naming the check that failed.
    """
    if not 0 <= proof.index < proof.size:
        raise ProofError(f"proof index {proof.index} is outside a tree of {proof.size} leaves")
    fn, sn = proof.index, proof.size - 1
    r = leaf_hash(leaf)
    for p in proof.path:
        if sn == 0:
            raise ProofError("proof path is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = _node(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = _node(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("proof path is shorter than the tree is deep")
    if sized_root(proof.size, r) != root:
        raise ProofError(f"the leaf and path do not hash to the root of a {proof.size}-leaf tree")


def verify_tx(header: Header, tx_raw: bytes, proof: MerkleProof) -> None:
    """Check that the tx with canonical bytes ``tx_raw`` is in the block of ``header`` (``header.tx_root``).

    Raises:
        ProofError: ``"tx inclusion: ..."`` naming the check that failed.
    """
    try:
        verify_inclusion(header.tx_root, sha256(tx_raw), proof)
    except ProofError as exc:
        raise ProofError(f"tx inclusion: {exc} (tx_root of block {header.height})") from None


def verify_receipt(header: Header, receipt_raw: bytes, proof: MerkleProof) -> None:
    """Check that the receipt with canonical bytes ``receipt_raw`` is under ``header.receipts_root``.

    Raises:
        ProofError: ``"receipt inclusion: ..."`` naming the check that failed.
    """
    try:
        verify_inclusion(header.receipts_root, receipt_raw, proof)
    except ProofError as exc:
        raise ProofError(f"receipt inclusion: {exc} (receipts_root of block {header.height})") from None
