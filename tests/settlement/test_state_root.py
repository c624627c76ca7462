"""The state root's shortcuts give the root computed from scratch.

``State.finish`` remembers each new entry's hash for the next change of
that key and reduces modulo 2**2048 once per block; whatever order blocks are
built, rebuilt (a round that failed) or validated in, the root must equal the
multiset hash of the live entries computed without any of that.
"""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from settlement import state as state_mod
from settlement.state import DictView, RootAccumulator, State, entry_hash

KEYS = [b"a/" + bytes([i]) for i in range(6)]
block = st.dictionaries(st.sampled_from(KEYS), st.one_of(st.none(), st.binary(min_size=0, max_size=3)), max_size=6)


def _scratch(data: dict[bytes, bytes]) -> bytes:
    return RootAccumulator(sum(entry_hash(k, v) for k, v in data.items())).root()


@given(st.lists(st.tuples(block, st.booleans(), st.booleans()), max_size=12))
@settings(max_examples=200)
def test_incremental_root_equals_the_root_from_scratch(blocks):
    view, acc = DictView(), RootAccumulator()
    for writes, rebuild, clear in blocks:
        if clear:
            state_mod._HASHES.clear()  # the memo may be emptied at any time
        s = State(view)
        for k, v in writes.items():
            s.put(k, v)
        net, new = s.finish(acc)
        if rebuild:  # the same block built again on the same parent (a new round)
            again = State(view)
            for k, v in writes.items():
                again.put(k, v)
            assert again.finish(acc)[1].root() == new.root()
        view.apply(net)
        acc = new
        assert acc.root() == _scratch(view.data)
        assert 0 <= acc.value < 1 << 2048
