"""Proposer-based timestamps (PBTS): when a proposed block's time is "timely".

Owns: the ``timely`` predicate of CometBFT's PBTS specification
(``spec/consensus/proposer-based-timestamp/pbts-algorithm.md``,
[PBTS-RECEPTION-STEP.1]) and the growth of the message delay with the round
(CometBFT ``SynchronyParams.InRound``).  Must never: read a clock -- the
receive time is an input the node stamps (``ProposalReceived.received_ms``)
-- or decide anything about votes (``state.py`` applies the predicate in rule
L22 only).

The rule
--------
A validator that receives, at time ``received_ms`` of its own clock, a fresh
proposal (``pol_round == -1``) in round ``r`` for a block whose header says
``block_time_ms`` prevotes for it only if::

    received_ms - precision_ms - message_delay_ms(r) <= block_time_ms <= received_ms + precision_ms

``precision_ms`` bounds how far two honest validators' clocks may differ;
``message_delay_ms(r)`` bounds how long a proposal takes from its proposer to
every validator.  An honest proposer stamps its block with its own clock, so
under those bounds its block is timely everywhere.  A proposer that freezes
its clock, or jumps it forward or back, is judged nil by every honest
validator once the lie exceeds the window.

Re-proposals (``pol_round >= 0``, rule L28) are not judged: the block keeps
its original time, which > 2/3 of the power found timely in the round of its
polka.

Message delay per round: ``message_delay_ms(r) = message_delay_ms * 1.1**r``
(rounded down, computed exactly in integers), capped at
:data:`MAX_MESSAGE_DELAY_MS`.  If the configured delay is too small for the
network, later rounds widen the window until honest proposals are timely
again, so liveness returns (CometBFT issue 2184).  The precision never grows.
"""
from __future__ import annotations

__all__ = ["MAX_MESSAGE_DELAY_MS", "is_timely", "message_delay_in_round"]

#: Cap of the grown message delay (CometBFT ``MaxMessageDelay``: 24 hours).
MAX_MESSAGE_DELAY_MS = 24 * 3600 * 1000

#: 1.1**200 > MAX_MESSAGE_DELAY_MS for any base >= 1, so rounds above this cap the delay.
_ROUNDS_TO_CAP = 200


def message_delay_in_round(message_delay_ms: int, round_: int) -> int:
    """``message_delay_ms * 1.1**round_``, rounded down, at most :data:`MAX_MESSAGE_DELAY_MS`.

    Exact integer arithmetic: ``message_delay_ms * 11**r // 10**r``.  Rounding
    down narrows the window by under 1 ms (against the proposer).
    """
    if round_ <= 0:
        return min(message_delay_ms, MAX_MESSAGE_DELAY_MS)
    if round_ >= _ROUNDS_TO_CAP and message_delay_ms > 0:
        return MAX_MESSAGE_DELAY_MS
    return min(message_delay_ms * 11**round_ // 10**round_, MAX_MESSAGE_DELAY_MS)


def is_timely(block_time_ms: int, received_ms: int, round_: int, precision_ms: int, message_delay_ms: int) -> bool:
    """PBTS ``timely``: is a block time acceptable for a proposal received at ``received_ms``?

    Args:
        block_time_ms: the proposed block's header time.
        received_ms: the receiver's own clock when the proposal arrived.
        round_: the proposal's round (the message delay grows with it).
        precision_ms, message_delay_ms: the consensus parameters.

    Returns:
        True iff ``received_ms - precision_ms - message_delay_in_round(message_delay_ms, round_)
        <= block_time_ms <= received_ms + precision_ms`` (both ends included).
    """
    lowest = received_ms - precision_ms - message_delay_in_round(message_delay_ms, round_)
    return lowest <= block_time_ms <= received_ms + precision_ms
