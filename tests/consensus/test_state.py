"""The consensus core, one upon-rule at a time, driven by hand with scripted peers.

Validator 0 is the core under test; at height 1 of four equal validators the
proposers of rounds 0..3 are validators 3, 1, 0, 2.
"""
from __future__ import annotations

import pytest

from consensus.events import (
    BlockValidity,
    Broadcast,
    Decide,
    EvidenceFound,
    ProposalReceived,
    RequestProposal,
    RequestValidation,
    ScheduleTimeout,
    SigningFailed,
    StartHeight,
    Step,
    TimeoutElapsed,
    WalWrite,
)
from consensus.interfaces import DoubleSignRefused, Signer
from consensus.state import RULES, ConsensusCore
from ledger.commit import NIL, verify_commit
from tests.sim.cores import PRECOMMIT, PREVOTE, Bench, block, broadcasts, of_type, votes_sent
from tests.sim.fakes import CHAIN_ID, GENESIS_TIME_MS as T0, block_id_of

X, Y, Z = block(1, 1), block(1, 2), block(1, 3)
OTHERS = [1, 2, 3]


def advance_round(b: Bench) -> list:
    """Time out of the current round (propose, prevote, precommit timeouts)."""
    h, r = b.core.height, b.core.round
    out = []
    for step in (Step.PROPOSE, Step.PREVOTE, Step.PRECOMMIT):
        out += b.feed(TimeoutElapsed(h, r, step))
    return out


def lock_on(b: Bench, blk, round_: int = 0) -> None:
    """Bring the core to ``round_`` and make it lock ``blk`` there (L36)."""
    b.start()
    while b.core.round < round_:
        advance_round(b)
    b.deliver_valid(b.proposal(1, round_, blk))
    out = b.votes_from([1, 2], PREVOTE, 1, round_, blk[0])
    assert [v.block_id for v in votes_sent(out, PRECOMMIT)] == [blk[0]]
    assert (b.core.locked_value, b.core.locked_round) == (blk[0], round_)


def test_rules_table_names_a_documented_method_for_every_rule():
    for rule in RULES:
        method = getattr(ConsensusCore, rule.method)
        assert rule.label in method.__doc__, rule


def test_single_validator_proposes_prevotes_precommits_and_decides_alone():
    b = Bench(n=1)
    assert of_type(b.start(), RequestProposal) == [RequestProposal(1, 0)]
    out = b.answer_proposal(1, 0, X)
    kinds = [type(m).__name__ + (str(m.type) if hasattr(m, "type") else "") for m in broadcasts(out)]
    assert kinds == ["Proposal", "Vote1", "Vote2"]
    (d,) = of_type(out, Decide)
    assert (d.height, d.block_id, d.block) == (1, X[0], X[1])
    assert verify_commit(d.certificate, b.vset, CHAIN_ID, height=1, block_id=X[0]) == 1
    assert b.core.height == 2 and b.core.step is Step.NEW_HEIGHT


def test_proposal_is_not_voted_on_before_its_verdict():
    b = Bench()
    b.start()
    out = b.deliver(b.proposal(1, 0, X))
    assert of_type(out, RequestValidation) and not votes_sent(out)
    out = b.feed(BlockValidity(1, 0, X[0], True))
    assert [v.block_id for v in votes_sent(out, PREVOTE)] == [X[0]]


def test_upon_proposal_prevotes_nil_for_an_invalid_block():
    b = Bench()
    b.start()
    out = b.deliver_valid(b.proposal(1, 0, X), valid=False)
    assert [v.block_id for v in votes_sent(out)] == [NIL]


def test_timeout_propose_prevotes_nil_and_stale_timeouts_do_nothing():
    b = Bench()
    b.start()
    assert b.feed(TimeoutElapsed(1, 5, Step.PROPOSE)) == []
    out = b.feed(TimeoutElapsed(1, 0, Step.PROPOSE))
    assert [v.block_id for v in votes_sent(out, PREVOTE)] == [NIL]
    assert b.feed(TimeoutElapsed(1, 0, Step.PROPOSE)) == []


def test_polka_locks_and_precommits_the_block():
    lock_on(Bench(), X)


def test_prevote_quorum_any_schedules_timeout_prevote_once():
    b = Bench()
    b.start()
    b.feed(TimeoutElapsed(1, 0, Step.PROPOSE))
    out = b.votes_from([1], PREVOTE, 1, 0, X[0]) + b.votes_from([2], PREVOTE, 1, 0, Y[0])
    timeouts = [a for a in of_type(out, ScheduleTimeout) if a.step is Step.PREVOTE]
    assert timeouts == [ScheduleTimeout(1, 0, Step.PREVOTE, 500)]
    assert not of_type(b.votes_from([3], PREVOTE, 1, 0, X[0]), ScheduleTimeout)


def test_prevote_quorum_for_nil_precommits_nil():
    b = Bench()
    b.start()
    b.feed(TimeoutElapsed(1, 0, Step.PROPOSE))
    out = b.votes_from([1, 2], PREVOTE, 1, 0, NIL)
    assert [v.block_id for v in votes_sent(out, PRECOMMIT)] == [NIL]


def test_precommit_quorum_any_then_timeout_starts_next_round_with_longer_timeouts():
    b = Bench()
    b.start()
    b.feed(TimeoutElapsed(1, 0, Step.PROPOSE))
    b.feed(TimeoutElapsed(1, 0, Step.PREVOTE))
    out = b.votes_from([1, 2], PRECOMMIT, 1, 0, NIL)
    assert ScheduleTimeout(1, 0, Step.PRECOMMIT, 500) in out
    out = b.feed(TimeoutElapsed(1, 0, Step.PRECOMMIT))
    assert (b.core.round, b.core.step) == (1, Step.PROPOSE)
    assert ScheduleTimeout(1, 1, Step.PROPOSE, 1500) in out


def test_entering_prevote_starts_the_stall_watchdog():
    b = Bench()
    b.start()
    out = b.feed(TimeoutElapsed(1, 0, Step.PROPOSE))
    assert ScheduleTimeout(1, 0, Step.PREVOTE, 1000 + 500) in out


def test_locked_node_prevotes_nil_for_a_new_proposal_without_pol_round():
    b = Bench()
    lock_on(b, X)
    advance_round(b)
    out = b.deliver_valid(b.proposal(1, 1, Y))
    assert [v.block_id for v in votes_sent(out, PREVOTE)] == [NIL]


def test_locked_node_prevotes_its_locked_block_when_reproposed():
    b = Bench()
    lock_on(b, X)
    advance_round(b)
    b.votes_from([1, 2], PREVOTE, 1, 0, X[0])  # already counted; harmless
    out = b.deliver_valid(b.proposal(1, 1, X, pol_round=0))
    assert [v.block_id for v in votes_sent(out, PREVOTE)] == [X[0]]


def test_locked_node_accepts_a_proposal_with_a_newer_polka():
    b = Bench()
    lock_on(b, X)                     # locked X at round 0
    advance_round(b)                  # round 1: others see a polka for Y that we missed
    b.votes_from(OTHERS, PREVOTE, 1, 1, Y[0])
    advance_round(b)                  # round 2: we propose... so use round 3 (proposer 2)
    advance_round(b)
    assert b.core.round == 3
    out = b.deliver_valid(b.proposal(1, 3, Y, pol_round=1))
    assert [v.block_id for v in votes_sent(out, PREVOTE)] == [Y[0]]


def test_locked_node_rejects_a_proposal_whose_polka_is_older_than_its_lock():
    b = Bench()
    b.start()
    b.votes_from(OTHERS, PREVOTE, 1, 0, Y[0])        # polka for Y at round 0 (we prevoted nil)
    b.feed(TimeoutElapsed(1, 0, Step.PREVOTE))
    advance_round(b)
    lock_on(b, X, round_=1)                          # locked X at round 1
    advance_round(b)
    advance_round(b)
    assert b.core.round == 3
    out = b.deliver_valid(b.proposal(1, 3, Y, pol_round=0))
    assert [v.block_id for v in votes_sent(out, PREVOTE)] == [NIL]


def test_polka_in_precommit_step_updates_valid_value_but_not_the_lock():
    b = Bench()
    b.start()
    b.deliver_valid(b.proposal(1, 0, X))
    b.feed(TimeoutElapsed(1, 0, Step.PREVOTE))        # precommitted nil already
    b.votes_from([1, 2], PREVOTE, 1, 0, X[0])
    assert (b.core.valid_value, b.core.valid_round) == (X[0], 0)
    assert b.core.locked_round == -1


def test_proposer_reproposes_its_valid_value_with_pol_round():
    b = Bench()
    b.start()
    b.deliver_valid(b.proposal(1, 0, X))
    b.votes_from([1, 2], PREVOTE, 1, 0, X[0])
    advance_round(b)
    out = advance_round(b)                           # round 2: validator 0 proposes
    props = [m for m in broadcasts(out) if type(m).__name__ == "Proposal"]
    assert [(p.round, p.block_id, p.pol_round) for p in props] == [(2, X[0], 0)]
    assert not of_type(out, RequestProposal)


def test_f_plus_one_messages_of_a_higher_round_skip_to_it():
    b = Bench()
    b.start()
    b.votes_from([1], PREVOTE, 1, 5)
    assert b.core.round == 0                          # one validator is not f+1
    b.votes_from([2], PRECOMMIT, 1, 5)
    assert b.core.round == 5


def test_commit_of_any_round_decides_and_certificate_verifies():
    b = Bench()
    b.start()
    b.deliver_valid(b.proposal(1, 3, X))
    out = b.votes_from(OTHERS, PRECOMMIT, 1, 3, X[0])
    (d,) = of_type(out, Decide)
    assert (d.height, d.round, d.block_id) == (1, 3, X[0])
    assert verify_commit(d.certificate, b.vset, CHAIN_ID, height=1, block_id=X[0]) == 3


def test_commit_for_an_invalid_block_is_not_decided():
    b = Bench()
    b.start()
    b.deliver_valid(b.proposal(1, 0, X), valid=False)
    assert not of_type(b.votes_from(OTHERS, PRECOMMIT, 1, 0, X[0]), Decide)


def test_waiting_height_starts_on_a_valid_proposal():
    b = Bench()
    out = b.deliver(b.proposal(1, 0, X))
    assert b.core.step is Step.PROPOSE and of_type(out, ScheduleTimeout)


def test_waiting_height_starts_on_messages_from_more_than_a_third_only():
    b = Bench()
    b.votes_from([1], PREVOTE, 1, 0)
    assert b.core.step is Step.NEW_HEIGHT
    b.votes_from([2], PREVOTE, 1, 0)
    assert b.core.step is not Step.NEW_HEIGHT


def test_start_height_twice_does_nothing_and_a_higher_height_jumps():
    b = Bench()
    assert b.start()
    assert b.start() == []
    out = b.feed(StartHeight(7))
    assert b.core.height == 7 and b.core.step is Step.PROPOSE
    assert [type(a.record).__name__ for a in of_type(out, WalWrite)][:2] == ["EnterHeight", "StartHeight"]


def test_next_height_messages_are_buffered_then_replayed_after_the_decision():
    b = Bench()
    b.start()
    early = b.deliver(b.proposal(2, 0, block(2, 1)))
    assert early == [] and b.core.height == 1
    b.deliver_valid(b.proposal(1, 0, X))
    out = b.votes_from(OTHERS, PRECOMMIT, 1, 0, X[0])
    kinds = [type(a).__name__ for a in out]
    assert kinds.index("Decide") < kinds.index("RequestValidation")
    assert b.core.height == 2 and b.core.step is Step.PROPOSE  # the buffered proposal started it


def test_far_future_heights_are_dropped_and_the_buffer_is_bounded_per_sender():
    b = Bench()
    b.deliver(b.vote(1, PREVOTE, 9, 0))
    assert len(b.core._future) == 0
    for r in range(40):
        b.deliver(b.vote(1, PREVOTE, 2, r))
    assert len(b.core._future) == b.config.future_messages_per_validator


@pytest.mark.parametrize("forge", ["signature", "proposer", "block-id", "chain"])
def test_forged_proposals_are_dropped_unread(forge):
    b = Bench()
    b.start()
    p = b.proposal(1, 0, X)
    if forge == "signature":
        p = type(p)(p.height, p.round, p.pol_round, p.block_id, p.block, p.proposer, bytes(64))
    elif forge == "proposer":
        p = b.proposal(1, 0, X, by=2)
    elif forge == "block-id":
        p = type(p)(p.height, p.round, p.pol_round, p.block_id, Y[1], p.proposer, p.signature)
    else:
        b.core = ConsensusCore(height=1, signer=None, **{**b.core_args, "chain_id": "other-chain"})
    assert b.deliver(p) == []


def test_votes_with_bad_signatures_or_unknown_validators_are_dropped():
    b = Bench()
    b.start()
    v = b.vote(1, PREVOTE, 1, 0, X[0])
    assert b.deliver(type(v)(v.type, 1, 0, X[0], v.validator, bytes(64))) == []
    assert b.deliver(type(v)(v.type, 1, 0, X[0], b"\x01" * 20, v.signature)) == []
    assert of_type(b.deliver(v), WalWrite)
    assert b.deliver(v) == []  # duplicate


def test_conflicting_votes_give_one_evidence_per_validator_round_and_type():
    b = Bench()
    b.start()
    b.deliver(b.vote(1, PREVOTE, 1, 0, X[0]))
    out = b.deliver(b.vote(1, PREVOTE, 1, 0, NIL))
    (ev,) = of_type(out, EvidenceFound)
    assert ev.evidence.validator == b.keys[1].address and ev.evidence.verify(CHAIN_ID, b.vset)
    assert not of_type(b.deliver(b.vote(1, PREVOTE, 1, 0, Y[0])), EvidenceFound)


def test_an_equivocators_vote_for_the_proposed_block_still_counts_toward_its_polka():
    b = Bench()
    b.start()
    b.deliver(b.vote(3, PREVOTE, 1, 0, NIL))          # validator 3 (the proposer) first votes nil
    b.deliver_valid(b.proposal(1, 0, X))              # we prevote X
    b.deliver(b.vote(1, PREVOTE, 1, 0, X[0]))
    out = b.deliver(b.vote(3, PREVOTE, 1, 0, X[0]))    # conflicting, but for the proposed block
    assert of_type(out, EvidenceFound)
    assert [v.block_id for v in votes_sent(out, PRECOMMIT)] == [X[0]]


def test_an_equivocators_precommit_for_a_block_proposed_in_an_earlier_round_completes_a_commit():
    """A lagging node holds X only from round 0; the commit is from round 1, and its
    quorum needs the precommit of a validator whose nil precommit it counted first."""
    b = Bench(n=7)
    b.start()
    b.deliver_valid(b.proposal(1, 0, X))
    b.deliver(b.vote(5, PRECOMMIT, 1, 1, NIL))
    b.votes_from([1, 2, 3, 4], PRECOMMIT, 1, 1, X[0])
    out = b.deliver(b.vote(5, PRECOMMIT, 1, 1, X[0]))
    assert of_type(out, EvidenceFound)
    (d,) = of_type(out, Decide)
    assert (d.round, d.block_id) == (1, X[0])
    assert verify_commit(d.certificate, b.vset, CHAIN_ID) == 5


def test_a_validator_cannot_occupy_more_than_two_rounds_ahead():
    b = Bench()
    b.start()
    assert b.deliver(b.vote(1, PREVOTE, 1, 10))
    assert b.deliver(b.vote(1, PREVOTE, 1, 11))
    assert b.deliver(b.vote(1, PREVOTE, 1, 12)) == []
    assert b.deliver(b.vote(1, PRECOMMIT, 1, 11))     # a round it already occupies is fine


def test_second_proposal_of_a_round_is_kept_only_if_someone_votes_for_it():
    b = Bench()
    b.start()
    b.deliver_valid(b.proposal(1, 0, X))
    assert b.deliver(b.proposal(1, 0, Y)) == []
    b.deliver(b.vote(1, PREVOTE, 1, 0, Y[0]))
    assert of_type(b.deliver(b.proposal(1, 0, Y)), RequestValidation)


class Refusing(Signer):
    address = None

    def __init__(self, address):
        self.address = address

    def sign_proposal(self, request):
        raise DoubleSignRefused(request.height, request.round, 1)

    def sign_vote(self, request):
        raise DoubleSignRefused(request.height, request.round, 1 + request.type)


def test_refused_signature_is_reported_nothing_is_sent_and_the_step_advances():
    b = Bench()
    core = ConsensusCore(height=1, signer=Refusing(b.keys[0].address), **b.core_args)
    core.handle(StartHeight(1))
    out = core.handle(TimeoutElapsed(1, 0, Step.PROPOSE))
    assert of_type(out, SigningFailed) and not of_type(out, Broadcast)
    assert core.step is Step.PREVOTE


def test_observer_follows_and_decides_without_signing():
    b = Bench(me=None)
    b.deliver_valid(b.proposal(1, 0, X))
    out = b.votes_from([0, 1, 2], PRECOMMIT, 1, 0, X[0])
    assert of_type(out, Decide) and not of_type(out, Broadcast)


def test_block_proposal_whose_bytes_do_not_match_its_id_is_a_node_bug():
    b = Bench(n=1)
    b.start()
    with pytest.raises(ValueError):
        b.answer_proposal(1, 0, (X[0], Y[1]))


def test_handle_rejects_anything_but_an_input():
    with pytest.raises(TypeError):
        Bench().feed(Broadcast(Bench().vote(1, PREVOTE, 1, 0)))


def test_messages_for_height_lists_proposals_then_counted_votes():
    b = Bench()
    b.start()
    p = b.proposal(1, 0, X)
    b.deliver_valid(p)
    v = b.vote(1, PREVOTE, 1, 0, X[0])
    b.deliver(v)
    msgs = b.core.messages_for_height()
    assert msgs[0] == p and v in msgs and len(msgs) == 3  # plus our own prevote


def test_core_uses_the_given_block_id_function():
    b = Bench()
    core = ConsensusCore(height=1, signer=None, **{**b.core_args, "block_id_of": lambda raw: b"\x00" * 32})
    assert core.handle(ProposalReceived(b.proposal(1, 0, X), T0)) == []
    assert block_id_of(X[1]) == X[0]  # the default sim function would have accepted it
