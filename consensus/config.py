"""Consensus configuration: timeouts that grow with the round, PBTS bounds, and memory bounds.

Owns: :class:`ConsensusConfig` and the timeout formula.  The core never reads
a clock; it asks the node to schedule ``ScheduleTimeout`` actions whose
durations come from here.  Must never: hold state, read the environment or a
file (the node builds the config from its own config file).
"""
from __future__ import annotations

from dataclasses import dataclass, fields

from .events import Step
from .timeliness import is_timely

__all__ = ["ConsensusConfig"]


@dataclass(frozen=True, slots=True)
class ConsensusConfig:
    """Timeouts in milliseconds and bounds on what the core keeps in memory.

    Timeouts (Tendermint paper, ``timeoutPropose(r)`` etc.): the duration for
    round ``r`` is ``base + r * delta``, capped at ``max_timeout_ms``; growing
    timeouts are what lets honest nodes eventually share a round long enough
    to decide once the network is synchronous again.

    Node-level pacing (the core does not use these; they live here so one
    config object describes consensus):

    * ``timeout_commit_ms``: after ``Decide`` wait at least this long before
      feeding ``StartHeight`` for the next height (collects late precommits
      and paces blocks).
    * ``empty_block_interval_ms``: with an empty mempool, feed ``StartHeight``
      only after this long, so an idle network does not spin.
    * ``max_block_txs`` / ``max_block_bytes``: how much the proposer takes
      from the mempool when it answers ``RequestProposal``.

    Proposer-based timestamps (see ``timeliness.py``): a fresh proposal is
    prevoted only if its block time lies in ``[received - precision_ms -
    message_delay_ms * 1.1**round, received + precision_ms]`` of the
    receiver's clock.  Every validator must use the same two values, so they
    are chain-wide: genesis ``consensus_params`` ``pbts_precision_ms`` and
    ``pbts_message_delay_ms`` (:func:`genesis_overrides`); absent, these
    defaults.

    * ``precision_ms`` (500, CometBFT's default): the most two honest
      validators' clocks may differ (NTP keeps them within tens of ms).
    * ``message_delay_ms`` (5000; CometBFT's default is 2 s, raised to 15 s
      in v1.0): the most a proposal may take from being stamped by its
      proposer to being stamped by a receiver, block building and a busy
      event loop included.  Measured with 4 validators at maximum load on
      one loaded 2-core machine (blocks of up to 5,000 transactions):
      receive time minus block time p50 1.4 s, p90 1.9 s, max 3.4 s over
      198 receipts, so 2 s would reject an honest block (1 of 20 heights)
      and 5 s rejects none.

    Memory bounds (see ``votes.py`` and ``state.py``):

    * ``future_heights``: messages for heights ``h+1 .. h+future_heights``
      are buffered (verified) and replayed when the core gets there; others
      are dropped.
    * ``future_messages_per_validator``: at most this many buffered messages
      per (future height, sender).
    * ``future_rounds_per_validator``: a validator may have messages in at
      most this many rounds above our current round (CometBFT's
      ``peerCatchupRounds``).
    """

    timeout_propose_ms: int = 1000
    timeout_propose_delta_ms: int = 500
    timeout_prevote_ms: int = 500
    timeout_prevote_delta_ms: int = 500
    timeout_precommit_ms: int = 500
    timeout_precommit_delta_ms: int = 500
    max_timeout_ms: int = 60_000
    timeout_commit_ms: int = 1000
    empty_block_interval_ms: int = 10_000
    max_block_txs: int = 5000
    max_block_bytes: int = 4 * 1024 * 1024
    future_heights: int = 2
    future_messages_per_validator: int = 16
    future_rounds_per_validator: int = 2
    precision_ms: int = 500
    message_delay_ms: int = 5000

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if type(value) is not int or value < 0:
                raise ValueError(f"ConsensusConfig.{f.name} must be a non-negative int, got {value!r}")
        if self.timeout_propose_ms == 0 or self.max_timeout_ms == 0:
            raise ValueError("timeout_propose_ms and max_timeout_ms must be positive")
        if self.precision_ms == 0 or self.message_delay_ms == 0:
            raise ValueError("precision_ms and message_delay_ms must be positive")

    def timely(self, block_time_ms: int, received_ms: int, round_: int) -> bool:
        """PBTS ``timely`` with this config's bounds (see ``timeliness.is_timely``)."""
        return is_timely(block_time_ms, received_ms, round_, self.precision_ms, self.message_delay_ms)

    def timeout_ms(self, step: Step, round_: int) -> int:
        """Duration of the ``step`` timeout in round ``round_``.

        Raises:
            ValueError: ``step`` has no timeout (``NEW_HEIGHT``).
        """
        if step is Step.PROPOSE:
            base, delta = self.timeout_propose_ms, self.timeout_propose_delta_ms
        elif step is Step.PREVOTE:
            base, delta = self.timeout_prevote_ms, self.timeout_prevote_delta_ms
        elif step is Step.PRECOMMIT:
            base, delta = self.timeout_precommit_ms, self.timeout_precommit_delta_ms
        else:
            raise ValueError(f"no timeout for step {step!r}")
        return min(base + round_ * delta, self.max_timeout_ms)


GENESIS_PARAMS = {"pbts_precision_ms": "precision_ms", "pbts_message_delay_ms": "message_delay_ms"}


def genesis_overrides(params) -> dict[str, int]:
    """:class:`ConsensusConfig` keyword arguments from genesis ``consensus_params`` ((name, value) pairs)."""
    return {GENESIS_PARAMS[name]: value for name, value in params if name in GENESIS_PARAMS}
