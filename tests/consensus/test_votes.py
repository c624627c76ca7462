"""Vote accounting: quorum and f+1 arithmetic by voting power, evidence, and memory bounds."""
from __future__ import annotations

from consensus.votes import Admission, HeightVoteSet
from ledger.commit import NIL
from tests.sim.cores import PRECOMMIT, PREVOTE, Bench, block

X, Y = block(1, 1), block(1, 2)


def height_set(n: int = 4, powers=None) -> tuple[Bench, HeightVoteSet]:
    b = Bench(n=n, powers=powers)
    return b, HeightVoteSet(1, b.vset)


def test_quorum_needs_strictly_more_than_two_thirds_of_the_power():
    b, hv = height_set(4, [1, 1, 1, 3])   # total 6: quorum needs > 4
    hv.add(b.vote(3, PREVOTE, 1, 0, X[0]))
    hv.add(b.vote(0, PREVOTE, 1, 0, X[0]))
    assert not hv.has_quorum_for(0, PREVOTE, X[0])   # 4 is exactly 2/3
    hv.add(b.vote(1, PREVOTE, 1, 0, X[0]))
    assert hv.has_quorum_for(0, PREVOTE, X[0]) and hv.has_quorum_any(0, PREVOTE)
    assert not hv.has_quorum_for(0, PRECOMMIT, X[0])


def test_quorum_any_counts_every_block_and_nil():
    b, hv = height_set()
    for i, bid in enumerate([X[0], Y[0], NIL]):
        hv.add(b.vote(i, PREVOTE, 1, 0, bid))
    assert hv.has_quorum_any(0, PREVOTE)
    assert not any(hv.has_quorum_for(0, PREVOTE, bid) for bid in (X[0], Y[0], NIL))


def test_round_senders_power_counts_votes_and_proposals_once_per_validator():
    b, hv = height_set(7)  # f+1 needs > 7/3, i.e. 3 validators
    hv.add(b.vote(1, PREVOTE, 1, 4))
    hv.add(b.vote(1, PRECOMMIT, 1, 4))
    hv.note_proposal(4, b.keys[2].address)
    assert hv.round_power(4) == 2 and hv.skip_round(0) is None
    hv.add(b.vote(3, PREVOTE, 1, 4))
    assert hv.skip_round(0) == 4 and hv.skip_round(4) is None


def test_commit_signatures_are_sorted_by_address():
    b, hv = height_set()
    for i in (3, 0, 2):
        hv.add(b.vote(i, PRECOMMIT, 1, 2, X[0]))
    assert hv.commits() == [(2, X[0])]
    sigs = hv.commit_signatures(2, X[0])
    assert [s.validator for s in sigs] == sorted(s.validator for s in sigs) and len(sigs) == 3


def test_admission_classifies_before_any_signature_work():
    b, hv = height_set()
    v = b.vote(1, PREVOTE, 1, 0, X[0])
    assert hv.admit(v, 0) is Admission.NEW
    hv.add(v)
    assert hv.admit(v, 0) is Admission.DUPLICATE
    assert hv.admit(b.vote(1, PREVOTE, 1, 0, Y[0]), 0) is Admission.CONFLICT
    assert hv.admit(b.vote(1, PREVOTE, 2, 0, X[0]), 0) is Admission.WRONG_HEIGHT
    assert hv.admit(Bench(n=5).vote(4, PREVOTE, 1, 0), 0) is Admission.UNKNOWN_VALIDATOR


def test_an_equivocator_yields_one_evidence_per_round_and_type_and_bounded_votes():
    b, hv = height_set()
    hv.add(b.vote(1, PREVOTE, 1, 0, X[0]))
    evidence = [hv.add(b.vote(1, PREVOTE, 1, 0, bytes([i]) * 32), tally=False) for i in range(50)]
    assert sum(e is not None for e in evidence) == 1 and len(hv.evidence) == 1
    assert len(hv.votes()) == 1  # untallied conflicts are not stored
    assert hv.add(b.vote(1, PREVOTE, 1, 0, NIL)) is None  # tallied, but no second evidence
    assert hv.power_for(0, PREVOTE, NIL) == 1 and hv.power_for(0, PREVOTE, X[0]) == 1


def test_future_rounds_per_validator_are_bounded():
    b, hv = height_set()
    for r in (5, 6):
        assert hv.admit(b.vote(1, PREVOTE, 1, r), 0) is Admission.NEW
        hv.add(b.vote(1, PREVOTE, 1, r))
    assert hv.admit(b.vote(1, PREVOTE, 1, 7), 0) is Admission.TOO_FAR_AHEAD
    assert hv.admit(b.vote(1, PRECOMMIT, 1, 6), 0) is Admission.NEW   # a round it already holds
    assert hv.admit(b.vote(1, PREVOTE, 1, 7), 5) is Admission.NEW     # we caught up to round 5
    assert hv.admit(b.vote(2, PREVOTE, 1, 9), 0) is Admission.NEW     # others have their own budget


def test_votes_lists_every_counted_vote_in_a_stable_order():
    b, hv = height_set()
    vs = [b.vote(i, t, 1, r, X[0]) for r in (1, 0) for t in (PRECOMMIT, PREVOTE) for i in (2, 0)]
    for v in vs:
        hv.add(v)
    listed = hv.votes()
    assert sorted(listed, key=lambda v: (v.round, v.type)) == listed and set(listed) == set(vs)
