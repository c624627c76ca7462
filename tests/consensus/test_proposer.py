"""Proposer rotation: deterministic, exactly proportional per period, smooth in every window."""
from __future__ import annotations

import itertools
import random
from collections import Counter

import pytest

from consensus.proposer import MAX_PERIOD, ProposerSchedule, scaled_weights, smooth_weighted_sequence
from tests.sim.fakes import make_validators


def windows_discrepancy(seq: tuple[int, ...], weights: list[int]) -> float:
    """Largest |count of i in a window of length L - L * w_i / W| over all windows (cyclic)."""
    total, doubled = len(seq), seq + seq
    worst = 0.0
    for i, w in enumerate(weights):
        prefix = [0]
        for x in doubled:
            prefix.append(prefix[-1] + (x == i))
        for start in range(total):
            for length in range(1, total + 1):
                worst = max(worst, abs((prefix[start + length] - prefix[start]) - length * w / total))
    return worst


def small_weight_vectors():
    for n in range(1, 4):
        yield from (list(w) for w in itertools.product(range(1, 7), repeat=n))
    rng = random.Random(5)
    for _ in range(60):
        yield [rng.randint(1, 30) for _ in range(rng.randint(2, 8))]


@pytest.mark.parametrize("weights", list(small_weight_vectors()))
def test_each_period_gives_every_validator_exactly_its_weight_and_windows_stay_within_two(weights):
    seq = smooth_weighted_sequence(weights)
    assert len(seq) == sum(weights)
    assert Counter(seq) == Counter({i: w for i, w in enumerate(weights)})
    assert windows_discrepancy(seq, weights) < 2


def test_equal_powers_rotate_round_robin_in_address_order():
    _, vset = make_validators(5)
    sched = ProposerSchedule(vset)
    addresses = [v.address for v in vset.validators]
    assert [sched.proposer(0, r) for r in range(10)] == addresses * 2


def test_proposer_depends_only_on_the_set_height_and_round():
    _, vset = make_validators(4, [5, 1, 3, 2])
    a, b = ProposerSchedule(vset), ProposerSchedule(vset)
    assert all(a.proposer(h, r) == b.proposer(h, r) for h in range(1, 50) for r in range(5))
    assert a.proposer(7, 3) == a.proposer(8, 2) == a.proposer(10, 0)


def test_weights_follow_voting_power_over_a_period():
    _, vset = make_validators(3, [1, 2, 3])
    sched = ProposerSchedule(vset)
    counts = Counter(sched.proposer(h, 0) for h in range(sched.period))
    assert {vset.power_of(a): c for a, c in counts.items()} == {1: 1, 2: 2, 3: 3}


def test_large_powers_are_scaled_to_a_bounded_table_keeping_everyone():
    powers = [2**40, 2**39, 1]
    scaled = scaled_weights(powers)
    assert sum(scaled) <= MAX_PERIOD + len(powers) and min(scaled) >= 1
    assert scaled[0] == 2 * scaled[1]
    _, vset = make_validators(3, powers)
    assert ProposerSchedule(vset).period == sum(scaled)


def test_weights_must_be_positive():
    with pytest.raises(ValueError):
        smooth_weighted_sequence([1, 0])
