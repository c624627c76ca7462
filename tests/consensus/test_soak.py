"""Long seeded soak of the simulator: ``python -m pytest -m slow tests/consensus/test_soak.py --seeds N``.

Runs seeds beyond the default suite's range (which covers 0..999) for n = 4 and n = 7;
every failure names its seed and the replay command.
"""
from __future__ import annotations

import pytest

from tests.consensus.test_sim import SEEDS_PER_N
from tests.sim import SimFailure, run_seed


@pytest.mark.slow
@pytest.mark.timeout(0)  # as long as --seeds asks
@pytest.mark.parametrize("n", [4, 7])
def test_soak(n, request):
    failures = []
    for seed in range(SEEDS_PER_N, SEEDS_PER_N + request.config.getoption("--seeds")):
        try:
            run_seed(seed, n)
        except SimFailure as exc:
            failures.append(str(exc))
    assert not failures, "\n".join(failures[:10]) + f"\n({len(failures)} failing seeds)"
