"""Proposer-based timestamps: the ``timely`` predicate at its bounds, and how rule L22 uses it.

The predicate is CometBFT's [PBTS-RECEPTION-STEP.1]; a fresh proposal (``pol_round == -1``)
is prevoted only if its block time lies in ``[received - precision - delay(round),
received + precision]``, and a re-proposal (``pol_round >= 0``) keeps its original time and
is not judged.
"""
from __future__ import annotations

import pytest

from consensus.config import ConsensusConfig
from consensus.events import BlockProposal, BlockValidity, ProposalReceived, RequestValidation, Step, TimeoutElapsed
from consensus.timeliness import MAX_MESSAGE_DELAY_MS, is_timely, message_delay_in_round
from consensus.wal import LEGACY_RECEIVED_MS, decode_record, encode_record
from ledger.codec import encode
from ledger.commit import NIL
from tests.sim.cores import PRECOMMIT, PREVOTE, Bench, block, of_type, votes_sent
from tests.sim.fakes import GENESIS_TIME_MS as T0

P, D = 500, 5000
OTHERS = [1, 2, 3]
CONFIG = ConsensusConfig(precision_ms=P, message_delay_ms=D)


# --------------------------------------------------------------------------- the predicate


@pytest.mark.parametrize("offset, timely", [
    (P, True),                 # dated precision ahead of our clock: the proposer's clock may be that fast
    (P + 1, False),            # one ms further: from the future
    (0, True),
    (-(P + D), True),          # as old as precision + message delay allows
    (-(P + D) - 1, False),     # one ms older: frozen
])
def test_timely_window_is_closed_at_both_ends_in_round_0(offset, timely):
    received = T0 + 10_000
    assert is_timely(received + offset, received, 0, P, D) is timely
    assert CONFIG.timely(received + offset, received, 0) is timely


def test_worked_example_of_docs_risk_engine():
    """docs/risk-engine.md, "Block time": a proposal arriving at 12:00:10.000."""
    def at(h, m, s, ms):
        return ((h * 60 + m) * 60 + s) * 1000 + ms
    received = at(12, 0, 10, 0)
    ok = [t for t in (at(12, 0, 4, 499), at(12, 0, 4, 500), at(12, 0, 10, 500), at(12, 0, 10, 501))
          if CONFIG.timely(t, received, 0)]
    assert ok == [at(12, 0, 4, 500), at(12, 0, 10, 500)]
    assert CONFIG.timely(at(12, 0, 4, 0), received, 1) and not CONFIG.timely(at(12, 0, 3, 999), received, 1)


def test_the_lower_bound_widens_with_the_round_and_the_upper_bound_does_not():
    received = T0
    assert message_delay_in_round(D, 1) == 5500
    assert is_timely(received - P - 5500, received, 1, P, D)
    assert not is_timely(received - P - 5501, received, 1, P, D)
    assert not is_timely(received + P + 1, received, 30, P, D)


def test_message_delay_grows_ten_percent_per_round_rounded_down_and_capped():
    assert [message_delay_in_round(D, r) for r in range(4)] == [5000, 5500, 6050, 6655]
    assert message_delay_in_round(7, 1) == 7          # 7.7 rounded down
    delays = [message_delay_in_round(D, r) for r in range(300)]
    assert delays == sorted(delays) and delays[-1] == MAX_MESSAGE_DELAY_MS
    assert message_delay_in_round(1, 2**31) == MAX_MESSAGE_DELAY_MS


@pytest.mark.parametrize("bad", [dict(precision_ms=0), dict(message_delay_ms=0), dict(precision_ms=-1)])
def test_config_refuses_non_positive_bounds(bad):
    with pytest.raises(ValueError):
        ConsensusConfig(**bad)


# --------------------------------------------------------------------------- rule L22 in the core


def first_prevote(b: Bench, out: list) -> bytes:
    [vote] = votes_sent(out, PREVOTE)
    return vote.block_id


@pytest.mark.parametrize("block_offset, expected", [
    (0, "block"), (P, "block"), (P + 1, "nil"), (-(P + D), "block"), (-(P + D) - 1, "nil"),
    (60_000, "nil"), (-60_000, "nil"),
])
def test_fresh_proposal_is_prevoted_only_if_its_time_is_timely(block_offset, expected):
    b = Bench(config=CONFIG)
    b.now_ms = T0 + 100_000
    blk = block(1, 1, time_ms=b.now_ms + block_offset)
    b.start()
    out = b.deliver_valid(b.proposal(1, 0, blk))     # no timeout fired: the rule itself prevotes nil
    assert first_prevote(b, out) == (blk[0] if expected == "block" else NIL)


def test_the_receive_time_is_the_first_arrival_not_a_later_copy():
    b = Bench(config=CONFIG)
    blk = block(1, 1, time_ms=T0)
    b.start()
    b.now_ms = T0 + P + D + 1
    p = b.proposal(1, 0, blk)
    [req] = of_type(b.feed(ProposalReceived(p, T0)), RequestValidation)   # arrived on time ...
    assert b.deliver(p) == []                        # ... a late copy changes nothing
    out = b.feed(BlockValidity(1, 0, req.block_id, True))
    assert first_prevote(b, out) == blk[0]


def test_own_block_is_judged_against_the_time_the_node_handed_it_in():
    b = Bench(config=CONFIG)
    me_first = b.rounds_proposed_by(0)[0]
    b.start()
    while b.core.round < me_first:
        b.feed(TimeoutElapsed(1, b.core.round, Step.PROPOSE))
        b.feed(TimeoutElapsed(1, b.core.round, Step.PREVOTE))
        b.feed(TimeoutElapsed(1, b.core.round, Step.PRECOMMIT))
    stale = block(1, 5, time_ms=T0)
    out = b.feed(BlockProposal(1, me_first, stale[0], stale[1], T0 + 60_000))
    assert first_prevote(b, out) == NIL


def test_reproposal_of_a_polka_block_keeps_its_old_time_and_is_not_judged():
    """L28: the block had > 2/3 prevotes in round 0 (so was timely then); re-proposed in a
    later round it carries the same bytes and time, and is prevoted however old it now is.
    The same block proposed fresh (pol_round -1) in that round gets nil."""
    b = Bench(config=CONFIG)
    X = block(1, 1, time_ms=T0)
    b.start()
    b.votes_from(OTHERS, PREVOTE, 1, 0, X[0])        # polka for X in round 0 (we missed the proposal)
    for step in (Step.PROPOSE, Step.PREVOTE, Step.PRECOMMIT):
        b.feed(TimeoutElapsed(1, 0, step))
    later = next(r for r in range(1, 10) if b.proposer(1, r) != 0)
    while b.core.round < later:
        for step in (Step.PROPOSE, Step.PREVOTE, Step.PRECOMMIT):
            b.feed(TimeoutElapsed(1, b.core.round, step))
    b.now_ms = T0 + 600_000                          # ten minutes later: X's time is far from timely
    fresh = Bench(config=CONFIG)
    fresh.now_ms = b.now_ms
    fresh.start()
    while fresh.core.round < later:
        for step in (Step.PROPOSE, Step.PREVOTE, Step.PRECOMMIT):
            fresh.feed(TimeoutElapsed(1, fresh.core.round, step))
    assert first_prevote(fresh, fresh.deliver_valid(fresh.proposal(1, later, X))) == NIL
    assert first_prevote(b, b.deliver_valid(b.proposal(1, later, X, pol_round=0))) == X[0]


def test_buffered_next_height_proposal_keeps_its_arrival_time():
    b = Bench(config=CONFIG)
    b.start()
    H2 = block(2, 1, time_ms=T0)
    b.deliver(b.proposal(2, 0, H2))                  # arrives at T0, while we are at height 1
    b.deliver_valid(b.proposal(1, 0, block(1, 1)))
    b.now_ms = T0 + 60_000                           # height 1 took a minute
    out = b.votes_from(OTHERS, PRECOMMIT, 1, 0, block(1, 1)[0])
    [req] = of_type(out, RequestValidation)          # height 2 replayed the buffered proposal
    out = b.feed(BlockValidity(2, 0, req.block_id, True))
    assert b.core.height == 2 and first_prevote(b, out) == H2[0]


# --------------------------------------------------------------------------- the WAL


def test_wal_records_keep_the_receive_time_and_old_records_still_load():
    b = Bench()
    p = b.proposal(1, 0, block(1, 1))
    rec = ProposalReceived(p, T0 + 123)
    assert decode_record(encode_record(rec)) == rec
    assert decode_record(encode([2, p.to_obj()])) == ProposalReceived(p, LEGACY_RECEIVED_MS)
    X = block(1, 1)
    assert decode_record(encode([5, 1, 0, X[0], X[1]])) == BlockProposal(1, 0, X[0], X[1], LEGACY_RECEIVED_MS)
