"""The state tree: roots equal a rebuild from scratch, every proof verifies, a tampered one fails."""
from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest
from hypothesis import given, settings, strategies as st

from ledger.proofs import ProofError
from ledger.statetree import EMPTY_TREE_ROOT, StateProof, StateTree, verify_state
from ledger.statetree.proof import leaf_hash
from ledger.statetree.tree import MemorySource

KEYS = [b"k%d" % i for i in range(40)] + [b"", b"\x00" * 33]
writes_st = st.dictionaries(st.sampled_from(KEYS), st.none() | st.binary(max_size=12), max_size=25)


def apply(data: dict, writes: dict) -> dict:
    out = dict(data)
    for k, v in writes.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = v
    return out


def check_proofs(tree: StateTree, data: dict) -> None:
    for key in KEYS:
        value = data.get(key)
        proof = tree.prove(key)
        assert proof.value == value
        verify_state(tree.root, key, value, proof)
        assert StateProof.decode(proof.encode()) == proof


def tampered(proof: StateProof) -> list[StateProof]:
    """Every single-field corruption of ``proof`` that must fail."""
    path = proof.path
    out = [replace(proof, value=(proof.value or b"") + b"x")]
    if path.siblings:
        s = path.siblings[0]
        out.append(replace(proof, path=replace(path, siblings=(bytes([s[0] ^ 1]) + s[1:],) + path.siblings[1:])))
        out.append(replace(proof, path=replace(path, siblings=path.siblings[1:])))
    if path.depth:
        out.append(replace(proof, path=replace(path, depth=path.depth - 1, present=path.present[: (path.depth + 6) // 8])))
    if path.other:
        out.append(replace(proof, path=replace(path, other=path.other[:-1] + bytes([path.other[-1] ^ 1]))))
    return out


@settings(max_examples=60, deadline=None)
@given(st.lists(writes_st, min_size=1, max_size=6))
def test_versions_match_a_rebuild_and_every_proof_verifies(history):
    tree = StateTree.empty()
    data: dict = {}
    kept = []
    for version, writes in enumerate(history):
        tree = tree.update(writes, version)
        data = apply(data, writes)
        assert tree.root == StateTree.empty().update(data, 0).root
        check_proofs(tree, data)
        kept.append((version, dict(data), tree.root))
    for version, old, root in kept:  # every version stays provable, with its own values
        past = tree.at(version)
        assert past.root == root
        check_proofs(past, old)


@settings(max_examples=40, deadline=None)
@given(writes_st.filter(bool), st.randoms(use_true_random=False))
def test_a_tampered_proof_fails(writes, rnd):
    data = {k: v for k, v in writes.items() if v is not None}
    tree = StateTree.empty().update(writes, 0)
    for key in KEYS:
        proof = tree.prove(key)
        for bad in tampered(proof):
            with pytest.raises(ProofError):
                verify_state(tree.root, key, bad.value, bad)
        with pytest.raises(ProofError):
            verify_state(hashlib.sha256(tree.root).digest(), key, data.get(key), proof)
        if key in data:  # an entry's proof proves nothing about another key
            other = rnd.choice([k for k in KEYS if k != key])
            with pytest.raises(ProofError):
                verify_state(tree.root, other, data[key], replace(proof, key=other))


def test_absence_is_not_provable_for_a_present_key_nor_presence_for_an_absent_one():
    tree = StateTree.empty().update({b"a": b"1", b"b": b"2"}, 0)
    with pytest.raises(ProofError):
        verify_state(tree.root, b"a", None, replace(tree.prove(b"a"), value=None))
    other = tree.prove(b"b").path
    with pytest.raises(ProofError, match="present"):  # b's leaf offered as the "other" entry on b's path
        verify_state(tree.root, b"b", None, StateProof(b"b", None, replace(other, other=hashlib.sha256(b"b").digest() + hashlib.sha256(b"2").digest())))
    absent = tree.prove(b"zz")
    with pytest.raises(ProofError):
        verify_state(tree.root, b"zz", b"1", replace(absent, value=b"1"))


@settings(max_examples=30, deadline=None)
@given(writes_st, st.randoms(use_true_random=False))
def test_the_order_of_writes_does_not_change_the_root(writes, rnd):
    items = list(writes.items())
    rnd.shuffle(items)
    assert StateTree.empty().update(dict(items), 0).root == StateTree.empty().update(writes, 0).root


def test_empty_and_one_entry_trees():
    empty = StateTree.empty()
    assert empty.root == EMPTY_TREE_ROOT
    verify_state(empty.root, b"x", None, empty.prove(b"x"))
    zero = empty.update({}, 0)
    assert zero.root == EMPTY_TREE_ROOT
    one = zero.update({b"x": b"v"}, 1)
    kh = hashlib.sha256(b"x").digest()
    assert one.root == leaf_hash(kh, hashlib.sha256(b"v").digest())
    assert one.prove(b"x").path.depth == 0
    verify_state(one.root, b"y", None, one.prove(b"y"))
    assert one.update({b"x": None}, 2).root == EMPTY_TREE_ROOT


def test_reopened_from_its_source_after_pruning():
    source = MemorySource()
    tree = StateTree.empty(source)
    stale: list[tuple[int, bytes]] = []
    datas = []
    data: dict = {}
    for version in range(8):
        writes = {b"k%d" % (version * 3 + i): b"v%d" % version for i in range(3)}
        writes[b"k%d" % version] = None if version % 2 else b"again"
        tree = tree.update(writes, version)
        source.write(tree.batch)
        stale += [(version, k) for k in tree.batch.stale]
        tree = tree.settle(source)
        data = apply(data, writes)
        datas.append(dict(data))
    keep_from = 5  # prune what no version >= 5 needs
    for since, key in stale:
        if since <= keep_from:
            del source.data[key]
    reopened = StateTree.open(MemorySource(dict(source.data)), 7)
    assert reopened.root == tree.root
    for version in (5, 6, 7):
        check_proofs(reopened.at(version), datas[version])
    with pytest.raises(KeyError):
        reopened.at(4)


# ---------------------------------------------------------------- the C helpers against the Python reference

from ledger.statetree import tree as tree_mod  # noqa: E402

BIG_KEYS = st.integers(0, 5000).map(lambda i: b"acct%d" % i)
big_writes_st = st.dictionaries(BIG_KEYS, st.none() | st.binary(max_size=40), max_size=300)


def _run(history: list[dict], native: bool, cached: bool = False) -> list[tuple]:
    """Each version's root, puts, stale list and new nodes (as heaps), computed in C or in Python.

    ``cached``: each version is written to one source and settled onto it, as
    the node does, so the next update reads the latest nodes from the cache.
    """
    was = tree_mod.NATIVE
    tree_mod.use_native(native)
    try:
        source = MemorySource()
        tree = StateTree.empty(source)
        out = []
        for version, writes in enumerate(history):
            tree = tree.update(writes, version)
            b = tree.batch
            out.append((tree.root, list(b.puts.items()), b.stale, [(k, tree_mod.as_heap(n)) for k, n in b.nodes.items()]))
            if cached:
                source.write(b)
                tree = tree.settle(source)
            else:
                tree = tree.settle()
        return out
    finally:
        tree_mod.use_native(was)


@pytest.mark.skipif(tree_mod._native is None, reason="C helpers not built: the pure-Python tree is in use")
@settings(max_examples=40, deadline=None)
@given(st.lists(big_writes_st, min_size=1, max_size=5), st.booleans())
def test_native_update_is_byte_identical_to_python(history, cached):
    assert _run(history, True, cached) == _run(history, False)


def test_which_tree_code_is_in_use():
    """NATIVE is True exactly when the C helpers are built (and not switched off by SETTLE_TREE_PURE=1)."""
    import os
    pure = os.environ.get("SETTLE_TREE_PURE") == "1"
    assert tree_mod.NATIVE == (tree_mod._native is not None and not pure)
    if not tree_mod.NATIVE:
        pytest.skip("pure-Python state tree in use (C helpers not built or switched off)")


def test_native_decode_refuses_what_python_refuses():
    from ledger.errors import StateCorrupt
    good = tree_mod._py_encode(tree_mod._py_fill([None] + [tree_mod._E] * 15 + [tree_mod._py_leaf(n, bytes([n]) * 32, hashlib.sha256(b"val").digest(), b"val") if n in (2, 9) else tree_mod._E for n in range(16)], range(16, 32)))
    was = tree_mod.NATIVE
    for data in (good, good[:-1], good[40:] + good[:40], good[:36] + b"\xff" + good[37:], b"\x13" + good[1:], b""):
        results = []
        for native in (False, True):
            if native and tree_mod._native is None:
                continue
            tree_mod.use_native(native)
            try:
                results.append(tree_mod.as_heap(tree_mod.decode_node(data, b"k")))
            except StateCorrupt as e:
                results.append(str(e))
        tree_mod.use_native(was)
        assert all(r == results[0] for r in results)
