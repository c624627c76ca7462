"""The state root's incremental updates give the root computed from scratch.

``State.finish`` updates the state tree with each block's net writes; whatever
order blocks are built, rebuilt (a round that failed, maybe with other txs) or
validated in, the root must equal the tree built from the live entries at once.
"""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from settlement.state import DictView, State, StateTree

KEYS = [b"a/" + bytes([i]) for i in range(6)]
block = st.dictionaries(st.sampled_from(KEYS), st.one_of(st.none(), st.binary(min_size=0, max_size=3)), max_size=6)


def _scratch(data: dict[bytes, bytes]) -> bytes:
    return StateTree.empty().update(data, 0).root


def _finish(view: DictView, tree: StateTree, writes: dict):
    s = State(view)
    for k, v in writes.items():
        s.put(k, v)
    return s.finish(tree)


@given(st.lists(st.tuples(block, st.one_of(st.none(), block)), max_size=12))
@settings(max_examples=200, deadline=None)
def test_incremental_root_equals_the_root_from_scratch(blocks):
    view, tree = DictView(), StateTree.empty()
    for writes, other in blocks:
        if other is not None:  # another block built first on the same parent (a round that failed)
            _finish(view, tree, other)
        net, new = _finish(view, tree, writes)
        view.apply(net)
        tree = new.settle() if len(view.data) % 2 else new  # settled or still pending: the same tree
        assert tree.root == _scratch(view.data)
