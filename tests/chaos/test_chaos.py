"""Chaos runs against four real validator processes (``pytest -m chaos``; excluded by default).

The nemesis goes through every fault kind once on a seeded schedule
(kill -9, SIGSTOP, partitions, a full disk, clock skew, flooding clients)
while clients transfer between fixed accounts; after the heal the checker
finds no violation: acknowledged commits on every node at their height,
nothing refused committed, nothing applied twice, all nodes on one chain,
every asset conserved.  Recovery times are reported, not asserted.
"""
from __future__ import annotations

import os

import pytest

from bench.chaos import ChaosConfig, run_chaos
from bench.chaos.cluster import faketime_library
from bench.chaos.nemesis import KINDS, NEEDS_FAKETIME

pytestmark = [
    pytest.mark.chaos,
    pytest.mark.skipif(os.geteuid() != 0, reason="mounting the full-disk tmpfs needs root"),
]


@pytest.mark.timeout(900)
@pytest.mark.parametrize("seed", [1])
def test_no_violation_under_every_fault_kind(seed, tmp_path):
    # about 2 minutes of faults: one round of the eleven kinds (each 3-8 s, a gap and its recovery)
    result = run_chaos(ChaosConfig(seed=seed, duration=120, directory=tmp_path / "run"))
    assert result["violations_total"] == 0, result["violation_details"]
    expected = [k for k in KINDS if faketime_library() is not None or k not in NEEDS_FAKETIME]
    assert all(result["faults"][k] >= 1 for k in expected), result["faults"]
    assert result["ops"]["ok"] > 0
    # the healed network serves clients again (recovery itself is bounded by the run's limit, not asserted in seconds)
    assert result["ok_ops_after_last_heal"] > 0
    assert not result["recovery_s"]["not_recovered"], result["fault_log"]
    assert not result["unexpected_exits"]
