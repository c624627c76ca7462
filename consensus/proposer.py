"""Proposer selection: a weighted rotation, deterministic in (validator set, height, round).

Owns: :class:`ProposerSchedule`.  Must never: depend on history (who proposed
before, which rounds failed), on a clock or on randomness -- every node must
compute the same proposer from the validator set, height and round alone.

Algorithm: smooth weighted round-robin (nginx's SWRR, the same rule as
CometBFT's proposer priority without its re-centering for validator-set
changes).  Validator ``i`` has weight ``w_i``, ``W = sum(w_i)``.  Start from
all priorities 0; each step adds ``w_i`` to every priority, picks the largest
priority (ties: lowest address) and subtracts ``W`` from the winner.

Why it is a fair rotation of period ``W``: priorities always sum to 0.  Before
subtracting, they sum to ``W``, so the winner's is at least ``W/n > 0`` and
stays above ``-W`` afterwards; the others only grow -- every priority is
always above ``-W``.  After ``W`` steps validator ``i`` won ``c_i`` times and
its priority is ``W * (w_i - c_i) > -W``, so ``c_i <= w_i``; the counts sum to
``W``, hence ``c_i = w_i`` exactly and every priority is 0 again.  The
sequence is therefore periodic with period ``W``; we precompute one period
and use

    proposer(height, round) = sequence[(height + round) mod W]

Smoothness (checked exhaustively for small sets and on random ones in
``tests/consensus/test_proposer.py``): in every window of ``L`` consecutive
indices validator ``i`` proposes within 2 of ``L * w_i / W`` times, so turns
are spread out rather than bunched and validators holding under 1/3 of the
power cannot hold a long run of consecutive rounds.

Large powers: when ``W`` exceeds :data:`MAX_PERIOD` slots, weights are scaled
to ``max(1, w_i * MAX_PERIOD // W)`` (proportional within one slot) to keep
the precomputed table small.  Equal-power sets reduce to plain round-robin in
address order.
"""
from __future__ import annotations

from ledger.validators import ValidatorSet

__all__ = ["MAX_PERIOD", "ProposerSchedule", "smooth_weighted_sequence"]

MAX_PERIOD = 4096


def smooth_weighted_sequence(weights: list[int] | tuple[int, ...]) -> tuple[int, ...]:
    """One full period (``sum(weights)`` entries) of SWRR, as indices into ``weights``.

    Raises:
        ValueError: empty weights or a weight below 1.
    """
    if not weights or min(weights) < 1:
        raise ValueError("weights must be a non-empty list of positive ints")
    total = sum(weights)
    n = len(weights)
    priority = [0] * n
    seq = []
    for _ in range(total):
        best = 0
        for i in range(n):
            priority[i] += weights[i]
            if priority[i] > priority[best]:
                best = i
        priority[best] -= total
        seq.append(best)
    return tuple(seq)


def scaled_weights(powers: list[int] | tuple[int, ...], limit: int = MAX_PERIOD) -> list[int]:
    """Powers unchanged if they sum to at most ``limit``, else scaled down (each at least 1)."""
    total = sum(powers)
    if total <= limit:
        return list(powers)
    return [max(1, p * limit // total) for p in powers]


class ProposerSchedule:
    """Who proposes at (height, round) for one validator set.

    Args:
        validators: the (fixed) validator set; its address order breaks ties.
    """

    def __init__(self, validators: ValidatorSet):
        self._addresses = tuple(v.address for v in validators.validators)
        weights = scaled_weights([v.power for v in validators.validators])
        self._sequence = tuple(self._addresses[i] for i in smooth_weighted_sequence(weights))

    @property
    def period(self) -> int:
        """Length of one full rotation (the sum of the, possibly scaled, weights)."""
        return len(self._sequence)

    def proposer(self, height: int, round_: int) -> bytes:
        """Address of the proposer of ``(height, round_)``."""
        return self._sequence[(height + round_) % len(self._sequence)]
