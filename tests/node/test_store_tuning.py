"""Per-node LevelDB tuning: validators get different memtable sizes.

Validators write identical blocks; with identical memtables their LevelDB
flushes and compactions fall at the same moments and stall the whole network
at once (seen as a multi-second finality spike every ~90 s in the 10-minute
bench).  Each validator's size must differ and stay within 16-32 MB.
"""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.store_leveldb import WRITE_BUFFER_BYTES
from node.app import memtable_bytes

keys = st.binary(min_size=32, max_size=32)


@given(st.lists(keys, min_size=1, max_size=16, unique=True), keys)
@settings(max_examples=200)
def test_every_validator_gets_its_own_memtable_size_within_bounds(validators, other):
    sizes = [memtable_bytes(v, validators) for v in validators]
    assert len(set(sizes)) == len(validators)
    assert all(WRITE_BUFFER_BYTES <= s < 2 * WRITE_BUFFER_BYTES for s in sizes)
    assert sizes == [memtable_bytes(v, list(reversed(validators))) for v in validators]  # order of the set does not matter
    assert WRITE_BUFFER_BYTES <= memtable_bytes(other, validators) < 2 * WRITE_BUFFER_BYTES
