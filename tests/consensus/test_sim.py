"""Seeded simulations of the whole protocol: agreement, validity, certificates, liveness.

Every schedule is drawn from one ``random.Random`` seeded by (n, seed): delays,
loss, duplication, reordering, partitions that heal at GST, crash + restart
from WAL and safety storage (at any point of an action list), and up to f
Byzantine validators (see ``tests/sim/byzantine.py``).  A failing schedule
raises with ``SEED=<seed> SIM_N=<n>`` and the command that replays it:

    SEED=123 SIM_N=7 python -m pytest tests/consensus/test_sim.py -q -k test_replay_seed
"""
from __future__ import annotations

import os
import random

import pytest

from ledger.codec import decode
from tests.sim import Scenario, World, run_seed
from tests.sim.network import NetParams

SEEDS_PER_N = 1000
BATCH = 100

#: Seeds that once failed.  (4, *): a round stalled because a restarted node could not re-sign
#: its lost prevote while f validators were silent (fixed by the stall watchdog, rule S2 in
#: state.py).  (7, 366): a lagging node never counted an equivocator's precommit that completed
#: the commit, because the block was proposed in an earlier round (fixed in _ingest_vote).
#: (The harness has changed since, so these are now simply more schedules.)
REGRESSION_SEEDS = [(4, 94), (4, 148), (4, 466), (4, 471), (7, 366)]


@pytest.mark.parametrize("n", [4, 7])
@pytest.mark.parametrize("batch", range(SEEDS_PER_N // BATCH))
def test_seeded_schedules_keep_agreement_validity_and_liveness(n, batch):
    for seed in range(batch * BATCH, (batch + 1) * BATCH):
        run_seed(seed, n)  # raises SimFailure naming the seed


@pytest.mark.parametrize("n, seed", REGRESSION_SEEDS)
def test_regression_seeds(n, seed):
    run_seed(seed, n)


def test_replay_seed():
    """Replays one schedule: ``SEED=<seed> SIM_N=<n>``."""
    if "SEED" not in os.environ:
        pytest.skip("set SEED=<seed> (and SIM_N=4|7) to replay one schedule")
    result = run_seed(int(os.environ["SEED"]), int(os.environ.get("SIM_N", "4")))
    print(result)


def test_same_seed_replays_exactly():
    assert run_seed(5, 4) == run_seed(5, 4)


# --------------------------------------------------------------------------- targeted scenarios


def reliable(seed: int, n: int, byzantine: dict[int, str] | None = None, **kw) -> tuple[World, Scenario]:
    sc = Scenario(seed, n, byzantine or {}, NetParams(gst_ms=0, pre_delay=(1, 50), post_delay=(1, 50)), **kw)
    return World(sc, random.Random(seed)), sc


@pytest.mark.parametrize("after_actions", [-1, 0, 1, 2, 3, 5, 8])
def test_node_killed_mid_round_restarts_from_wal_and_peers_keep_agreement(after_actions):
    world, _ = reliable(after_actions + 100, 4, target_heights=20)
    node = world.instances[2]
    at_restart = []
    world.sched.at(1_500, node.arm_crash, after_actions)  # kill -9 between two actions of its next input
    world.sched.at(4_000, lambda: at_restart.append((node.up, node.height - 1)))
    world.sched.at(4_000, node.restart)
    world.run()  # agreement and no double-sign are checked after every delivery
    was_up, height = at_restart[0]
    assert node.crashes == 1 and not was_up  # the armed kill hit while it handled an input
    assert 1 < height < 20 <= node.height - 1  # it was mid-chain, came back and kept deciding
    assert any(k[0] == node.address and k[1] > height for k in world.signed)


def test_single_validator_decides_alone():
    world, _ = reliable(1, 1, target_heights=5)
    result = world.run()
    assert result.heights >= 5 and result.max_rounds_after_gst == 1


def test_double_voter_is_reported_by_every_honest_node():
    world, _ = reliable(3, 4, {3: "double-voter"}, target_heights=15)
    world.run()
    bad = world.instances[3].address
    reporters = {inst for inst, ev in world.evidence if ev.validator == bad}
    assert reporters == {x.inst for x in world.honest}


def test_twin_validator_is_caught_and_cannot_break_agreement():
    found = 0
    for seed in range(5):
        world, _ = reliable(seed, 4, {1: "twin"}, target_heights=6)
        world.run()  # agreement, validity, certificates checked throughout
        found += any(ev.validator == world.instances[1].address for _, ev in world.evidence)
    assert found


def test_invalid_block_proposer_never_gets_a_block_committed():
    world, _ = reliable(4, 4, {0: "invalid-proposer"}, target_heights=8)
    world.run()
    authors = {decode(d.block)[2] for d, _ in world.instances[1].store.values()}
    assert 0 not in authors and len(authors) == 3


def test_equivocating_proposer_cannot_split_honest_nodes():
    for seed in range(5):
        world, _ = reliable(seed, 4, {2: "equivocating-proposer"}, target_heights=8)
        world.run()


def test_weighted_voting_power():
    for seed in range(20):
        rng = random.Random(seed)
        from tests.sim.world import random_scenario

        sc = random_scenario(seed, 4, rng)
        sc.byzantine, sc.powers = {}, [3, 2, 1, 1]
        World(sc, rng).run()
