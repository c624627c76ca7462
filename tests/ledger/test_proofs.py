"""Merkle inclusion proofs: every leaf of every small tree proves, and nothing else does.

The tree is ``ledger.hashing.merkle_tree_hash``'s; these tests also pin that
it is the RFC 6962 tree (the recursive largest-power-of-two definition gives
the same hash for every size), so the paths are RFC 6962 audit paths; the
committed root binds that hash to the leaf count, so a wrong size fails too.
"""
from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.block import Header, tx_root
from ledger.codec import DecodeError
from ledger.errors import InvalidInput
from ledger.hashing import EMPTY_ROOT, merkle_root, merkle_tree_hash, sha256, sized_root
from ledger.keys import PrivateKey
from ledger.proofs import MerkleProof, ProofError, inclusion_proof, tx_proof, verify_inclusion, verify_receipt, verify_tx
from ledger.receipt import Event, Receipt, receipts_root
from ledger.tx import sign_tx
from ledger.txkinds import Transfer


def rfc6962_root(leaves: list[bytes]) -> bytes:
    """MTH(D[n]) exactly as RFC 6962 section 2.1 defines it (k: the largest power of two < n)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + rfc6962_root(leaves[:k]) + rfc6962_root(leaves[k:])).digest()


def rfc6962_path(m: int, leaves: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]) of RFC 6962 section 2.1.1."""
    if len(leaves) == 1:
        return []
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    if m < k:
        return rfc6962_path(m, leaves[:k]) + [rfc6962_root(leaves[k:])]
    return rfc6962_path(m - k, leaves[k:]) + [rfc6962_root(leaves[:k])]


def leaves_of(n: int) -> list[bytes]:
    return [f"leaf-{i}".encode() for i in range(n)]


def test_merkle_tree_hash_is_the_rfc6962_tree_for_every_size_up_to_300():
    assert merkle_tree_hash([]) == rfc6962_root([]) == EMPTY_ROOT
    for n in range(0, 301):
        assert merkle_tree_hash(leaves_of(n)) == rfc6962_root(leaves_of(n)), n
        assert merkle_root(leaves_of(n)) == sized_root(n, rfc6962_root(leaves_of(n))), n


def test_the_root_binds_the_leaf_count():
    """Leaf 0 of 3 and of 4 have paths of one shape: only the bound size tells the trees apart."""
    three, four = leaves_of(3), leaves_of(4)
    p3 = inclusion_proof(three, 0)
    verify_inclusion(merkle_root(three), three[0], p3)
    with pytest.raises(ProofError, match="4-leaf tree"):
        verify_inclusion(merkle_root(three), three[0], MerkleProof(0, 4, p3.path))
    assert merkle_root(three) != merkle_root(four) and merkle_root([]) != EMPTY_ROOT


@pytest.mark.parametrize("n", range(1, 34))
def test_every_index_of_trees_of_size_1_to_33_proves_and_is_the_rfc6962_path(n):
    leaves = leaves_of(n)
    root = merkle_root(leaves)
    for i in range(n):
        proof = inclusion_proof(leaves, i)
        assert proof.index == i and proof.size == n
        assert proof.path == tuple(rfc6962_path(i, leaves))
        verify_inclusion(root, leaves[i], proof)
        assert MerkleProof.decode(proof.encode()) == proof


@pytest.mark.parametrize("n", range(1, 34))
def test_wrong_leaf_index_or_size_fails_for_every_index(n):
    leaves = leaves_of(n)
    root = merkle_root(leaves)
    for i in range(n):
        proof = inclusion_proof(leaves, i)
        for j in range(n):
            if j != i:
                with pytest.raises(ProofError):
                    verify_inclusion(root, leaves[j], proof)  # another leaf at this index
                with pytest.raises(ProofError):
                    verify_inclusion(root, leaves[i], MerkleProof(j, n, proof.path))  # this leaf, another index
        for size in range(1, 40):
            if size != n and i < size:
                with pytest.raises(ProofError):
                    verify_inclusion(root, leaves[i], MerkleProof(i, size, proof.path))
        with pytest.raises(ProofError, match="outside"):
            verify_inclusion(root, leaves[i], MerkleProof(n, n, proof.path))


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13, 33])
def test_any_flipped_bit_in_leaf_path_or_root_fails(n):
    leaves = leaves_of(n)
    root = merkle_root(leaves)
    for i in range(n):
        proof = inclusion_proof(leaves, i)
        for bit in range(len(leaves[i]) * 8):
            bad = bytearray(leaves[i])
            bad[bit // 8] ^= 1 << (bit % 8)
            with pytest.raises(ProofError):
                verify_inclusion(root, bytes(bad), proof)
        for k, node in enumerate(proof.path):
            for bit in range(256):
                bad = bytearray(node)
                bad[bit // 8] ^= 1 << (bit % 8)
                path = list(proof.path)
                path[k] = bytes(bad)
                with pytest.raises(ProofError):
                    verify_inclusion(root, leaves[i], MerkleProof(i, n, path))
        for bit in range(0, 256, 7):
            bad = bytearray(root)
            bad[bit // 8] ^= 1 << (bit % 8)
            with pytest.raises(ProofError):
                verify_inclusion(bytes(bad), leaves[i], proof)


def test_a_path_one_hash_too_long_or_too_short_fails_with_its_reason():
    leaves = leaves_of(6)
    root = merkle_root(leaves)
    proof = inclusion_proof(leaves, 2)
    with pytest.raises(ProofError, match="longer"):
        verify_inclusion(root, leaves[2], MerkleProof(2, 6, (*proof.path, root)))
    with pytest.raises(ProofError, match="shorter"):
        verify_inclusion(root, leaves[2], MerkleProof(2, 6, proof.path[:-1]))
    with pytest.raises(ProofError, match="do not hash to the root"):
        verify_inclusion(sha256(b"other"), leaves[2], proof)


def test_an_interior_node_is_not_a_leaf():
    """Domain separation: a node hash passed off as a leaf of a smaller tree does not prove."""
    leaves = leaves_of(4)
    root = merkle_root(leaves)
    left = merkle_tree_hash(leaves[:2])
    right = merkle_tree_hash(leaves[2:])
    with pytest.raises(ProofError):
        verify_inclusion(root, left, MerkleProof(0, 2, (right,)))


def test_index_out_of_range_and_error_branch():
    with pytest.raises(ProofError, match="outside"):
        inclusion_proof(leaves_of(3), 3)
    with pytest.raises(ProofError):
        inclusion_proof([], 0)
    assert issubclass(ProofError, InvalidInput) and issubclass(ProofError, ValueError)
    with pytest.raises(DecodeError):
        MerkleProof.decode(MerkleProof(0, 1, ()).encode()[:-1])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=40), min_size=1, max_size=80), st.data())
def test_hypothesis_proofs_verify_and_tampering_fails(leaves, data):
    root = merkle_root(leaves)
    i = data.draw(st.integers(0, len(leaves) - 1))
    proof = inclusion_proof(leaves, i)
    verify_inclusion(root, leaves[i], proof)
    other = data.draw(st.binary(max_size=40))
    if other != leaves[i]:
        with pytest.raises(ProofError):
            verify_inclusion(root, other, proof)
    j = data.draw(st.integers(0, len(leaves) - 1))
    if leaves[j] != leaves[i]:
        with pytest.raises(ProofError):
            verify_inclusion(root, leaves[i], MerkleProof(j, len(leaves), proof.path))
    size = data.draw(st.integers(1, 100))
    if size != len(leaves) and i < size:
        with pytest.raises(ProofError):
            verify_inclusion(root, leaves[i], MerkleProof(i, size, proof.path))


def test_tx_and_receipt_proofs_against_a_header():
    key = PrivateKey.from_name("proofs-sender")
    txs = [sign_tx(key, "proofs", n, Transfer(key.address, "USD", n + 1, "")) for n in range(5)]
    receipts = [Receipt(t.hash, 0, "", "", (Event("transfer", {"amount": 1}),)) for t in txs]
    receipts.append(Receipt(bytes(32), 0, "", "", (Event("funding", {}),)))  # a block-level receipt
    header = Header("proofs", 7, 1, bytes(32), tx_root(txs), bytes(32), receipts_root(receipts), key.address, bytes(32))
    for i, t in enumerate(txs):
        proof = tx_proof([x.hash for x in txs], i)
        verify_tx(header, t.raw, proof)
        rproof = inclusion_proof([r.encode() for r in receipts], i)
        verify_receipt(header, receipts[i].encode(), rproof)
        with pytest.raises(ProofError, match="^tx inclusion: .*block 7"):
            verify_tx(header, txs[(i + 1) % 5].raw, proof)
        with pytest.raises(ProofError, match="^receipt inclusion: "):
            verify_receipt(header, receipts[(i + 1) % 5].encode(), rproof)
