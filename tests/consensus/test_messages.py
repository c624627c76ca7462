"""Wire messages and events: canonical round trips, strict decoding, self-checking constructors."""
from __future__ import annotations

import dataclasses

import hypothesis.strategies as st
import pytest
from hypothesis import given, settings

from consensus.events import (
    BlockProposal,
    BlockValidity,
    Broadcast,
    Decide,
    ProposalReceived,
    RequestValidation,
    ScheduleTimeout,
    StartHeight,
    Step,
    TimeoutElapsed,
    WalWrite,
)
from consensus.messages import DuplicateVoteEvidence, MessageTag, decode_message, encode_message
from ledger.codec import DecodeError, encode
from ledger.commit import NIL, CommitCertificate
from tests.sim.cores import PREVOTE, Bench, block
from tests.sim.fakes import CHAIN_ID

B = Bench()
X, Y = block(1, 1), block(1, 2)
PROPOSAL = B.proposal(1, 2, X, pol_round=1)
VOTE = B.vote(1, PREVOTE, 1, 0, X[0])
EVIDENCE = DuplicateVoteEvidence.of(VOTE, B.vote(1, PREVOTE, 1, 0, NIL))


@pytest.mark.parametrize("message", [PROPOSAL, VOTE, EVIDENCE])
def test_messages_roundtrip_canonically(message):
    raw = encode_message(message)
    assert decode_message(raw) == message
    assert encode_message(decode_message(raw)) == raw


def test_proposal_signature_checks_chain_and_validator_set():
    assert PROPOSAL.verify(CHAIN_ID, B.vset)
    assert not PROPOSAL.verify("another-chain", B.vset)
    assert not dataclasses.replace(PROPOSAL, block_id=Y[0]).verify(CHAIN_ID, B.vset)


def test_proposal_pol_round_must_be_below_round():
    obj = PROPOSAL.to_obj()
    obj[2] = 2
    with pytest.raises(DecodeError):
        decode_message(encode([int(MessageTag.PROPOSAL), obj]))


def test_evidence_has_one_canonical_order_and_needs_a_real_conflict():
    other = B.vote(1, PREVOTE, 1, 0, NIL)
    assert DuplicateVoteEvidence.of(other, VOTE) == DuplicateVoteEvidence.of(VOTE, other)
    assert EVIDENCE.verify(CHAIN_ID, B.vset)
    with pytest.raises(ValueError):
        DuplicateVoteEvidence.of(VOTE, VOTE)
    with pytest.raises(ValueError):
        DuplicateVoteEvidence.of(VOTE, B.vote(2, PREVOTE, 1, 0, NIL))


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_decoding_arbitrary_bytes_raises_only_decode_error(data):
    try:
        decode_message(data)
    except DecodeError:
        pass


@settings(max_examples=400, deadline=None)
@given(st.sampled_from([PROPOSAL, VOTE, EVIDENCE]), st.data())
def test_decoding_mutated_messages_raises_only_decode_error(message, data):
    raw = bytearray(encode_message(message))
    for _ in range(data.draw(st.integers(1, 3))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    try:
        decode_message(bytes(raw))
    except DecodeError:
        pass


def test_unknown_tag_and_wrong_shape_are_decode_errors():
    for obj in ([9, VOTE.to_obj()], [2], "x", [True, VOTE.to_obj()]):
        with pytest.raises(DecodeError):
            decode_message(encode(obj))


def test_encode_message_rejects_other_types():
    with pytest.raises(TypeError):
        encode_message(X)


# --------------------------------------------------------------------------- events validate themselves


@pytest.mark.parametrize("build", [
    lambda: StartHeight(0),
    lambda: StartHeight(True),
    lambda: TimeoutElapsed(1, 0, Step.NEW_HEIGHT),
    lambda: TimeoutElapsed(1, 0, 2),
    lambda: TimeoutElapsed(1, -1, Step.PROPOSE),
    lambda: BlockProposal(1, 0, b"short", b"", 0),
    lambda: BlockProposal(1, 0, X[0], X[1], -1),
    lambda: ProposalReceived(PROPOSAL, 2**63),
    lambda: BlockValidity(1, 0, X[0], 1),
    lambda: ScheduleTimeout(1, 0, Step.PREVOTE, -5),
    lambda: RequestValidation(1, 0, X[0], "not bytes"),
    lambda: Broadcast(X),
    lambda: WalWrite("record"),
    lambda: Decide(1, 0, X[0], X[1], CommitCertificate(1, 0, Y[0], ())),
])
def test_malformed_events_fail_where_they_are_built(build):
    with pytest.raises(ValueError):
        build()


def test_well_formed_events_are_frozen():
    for value in (TimeoutElapsed(1, 0, Step.PROPOSE), PROPOSAL):
        with pytest.raises(AttributeError):
            value.round = 3
