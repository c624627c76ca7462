"""The node's collector policy (node/gc_policy.py) as both the node and the stress replay apply it."""
from __future__ import annotations

import gc

from node.gc_policy import FULL_GC_NEVER, apply_node_policy, stress_housekeeping


def test_policy_freezes_and_stops_full_collections_until_undone():
    before = gc.get_threshold()
    undo = apply_node_policy()
    try:
        assert gc.get_threshold() == (before[0], before[1], FULL_GC_NEVER)
        assert gc.get_freeze_count() > 0
    finally:
        undo()
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_stress_housekeeping_applies_the_node_policy_once_the_population_exists():
    before = gc.get_threshold()
    housekeeping, restore = stress_housekeeping()
    try:
        housekeeping(False)  # a block's full collection: policy not applied yet
        assert gc.get_threshold() == before
        housekeeping(True)
        assert gc.get_threshold()[2] == FULL_GC_NEVER
        housekeeping(False)
        assert gc.get_threshold()[2] == FULL_GC_NEVER
    finally:
        restore()
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
