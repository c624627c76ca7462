"""The safety module: named predicates, the fixed sign order, and no double-sign across crashes."""
from __future__ import annotations

import hypothesis.strategies as st
import pytest
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from consensus.interfaces import (
    DoubleSignRefused,
    HeightRegression,
    InvalidSignRequest,
    ProposalRequest,
    RoundRegression,
    SafetyData,
    SafetyError,
    SafetyStorageError,
    StepRegression,
    VoteRequest,
)
from consensus.safety import MemorySafetyStorage, SafetyRules
from ledger.commit import NIL, proposal_sign_bytes, vote_sign_bytes
from ledger.keys import PrivateKey, verify
from tests.sim.fakes import FailingSafetyStorage

CHAIN = "safety-test"
KEY = PrivateKey.from_name("safety-key")
A, B = b"\xaa" * 32, b"\xbb" * 32


def rules(storage=None) -> SafetyRules:
    return SafetyRules(KEY, storage if storage is not None else MemorySafetyStorage(), CHAIN)


def test_vote_signature_is_valid_over_vote_sign_bytes():
    sig = rules().sign_vote(VoteRequest(1, 5, 0, A))
    assert verify(KEY.pubkey, vote_sign_bytes(CHAIN, 1, 5, 0, A), sig)


def test_proposal_signature_is_valid_over_proposal_sign_bytes():
    sig = rules().sign_proposal(ProposalRequest(5, 2, A, 1))
    assert verify(KEY.pubkey, proposal_sign_bytes(CHAIN, 5, 2, A, 1), sig)


def test_same_request_again_returns_the_stored_signature_without_writing():
    storage = MemorySafetyStorage()
    sr = rules(storage)
    first = sr.sign_vote(VoteRequest(1, 3, 1, A))
    writes = storage.writes
    assert sr.sign_vote(VoteRequest(1, 3, 1, A)) == first
    assert storage.writes == writes


def refusal(first: VoteRequest, then: VoteRequest | ProposalRequest, error: type[SafetyError]) -> SafetyError:
    """The ``error`` that signing ``then`` raises once ``first`` is signed by fresh rules."""
    sr = rules()
    sr.sign_vote(first)
    with pytest.raises(error) as info:
        (sr.sign_proposal if isinstance(then, ProposalRequest) else sr.sign_vote)(then)
    return info.value


def test_conflicting_vote_for_same_height_round_step_is_refused_with_its_numbers():
    err = refusal(VoteRequest(2, 3, 1, A), VoteRequest(2, 3, 1, NIL), DoubleSignRefused)
    assert (err.height, err.round, err.step) == (3, 1, 3)


def test_sign_old_height_refused():
    err = refusal(VoteRequest(1, 7, 0, A), VoteRequest(1, 6, 9, A), HeightRegression)
    assert (err.height, err.last_height) == (6, 7)


def test_sign_old_round_refused():
    err = refusal(VoteRequest(1, 7, 3, A), ProposalRequest(7, 2, A, -1), RoundRegression)
    assert (err.round, err.last_round) == (2, 3)


def test_prevote_after_precommit_of_same_round_refused():
    err = refusal(VoteRequest(2, 7, 3, A), VoteRequest(1, 7, 3, A), StepRegression)
    assert (err.step, err.last_step) == (2, 3)


def test_proposal_then_prevote_then_precommit_of_one_round_allowed():
    sr = rules()
    sr.sign_proposal(ProposalRequest(4, 0, A, -1))
    sr.sign_vote(VoteRequest(1, 4, 0, A))
    sr.sign_vote(VoteRequest(2, 4, 0, NIL))
    assert (sr.data.height, sr.data.round, sr.data.step) == (4, 0, 3)


@pytest.mark.parametrize("pol_round", [2, 5])
def test_proposal_with_pol_round_not_below_round_refused(pol_round):
    with pytest.raises(InvalidSignRequest):
        rules().sign_proposal(ProposalRequest(4, 2, A, pol_round))


def test_failed_persist_releases_nothing_and_keeps_memory_state():
    storage = FailingSafetyStorage(fail_at=2)
    sr = rules(storage)
    sr.sign_vote(VoteRequest(1, 1, 0, A))
    before = sr.data
    with pytest.raises(SafetyStorageError):
        sr.sign_vote(VoteRequest(2, 1, 0, A))
    assert sr.data == before and storage.load() == before
    # nothing was released, so a different precommit for that step may still be signed
    sr.sign_vote(VoteRequest(2, 1, 0, NIL))


def test_torn_persist_then_restart_refuses_the_other_message():
    storage = FailingSafetyStorage(fail_at=1, torn=True)
    with pytest.raises(SafetyStorageError):
        rules(storage).sign_vote(VoteRequest(1, 1, 0, A))
    with pytest.raises(DoubleSignRefused):
        rules(storage).sign_vote(VoteRequest(1, 1, 0, B))


def test_restart_reloads_the_last_signature():
    storage = MemorySafetyStorage()
    sig = rules(storage).sign_vote(VoteRequest(1, 9, 2, A))
    again = rules(storage)
    assert again.sign_vote(VoteRequest(1, 9, 2, A)) == sig
    with pytest.raises(DoubleSignRefused):
        again.sign_vote(VoteRequest(1, 9, 2, B))


def test_requests_and_safety_data_are_plain_serialisable_records():
    for value in (VoteRequest(1, 2, 3, A), ProposalRequest(2, 3, A, 1), SafetyData(1, 2, 3, 2, b"x", b"y")):
        assert type(value).decode(value.encode()) == value


# --------------------------------------------------------------------------- state machine

HEIGHTS = st.integers(1, 3)
ROUNDS = st.integers(0, 3)
BLOCKS = st.sampled_from([NIL, A, B, b"\xcc" * 32])


class SafetyMachine(RuleBasedStateMachine):
    """Arbitrary sign requests, crashes with reload, and storage failing at write k.

    Invariant: never two different sign-bytes released for one (height, round, step),
    and every released signature verifies.
    """

    def __init__(self):
        super().__init__()
        self.storage = FailingSafetyStorage()
        self.signer = rules(self.storage)
        self.released: dict[tuple[int, int, int], bytes] = {}
        self.last: tuple[object, bytes] | None = None

    def _release(self, hrs, msg: bytes, sig: bytes, request) -> None:
        assert verify(KEY.pubkey, msg, sig)
        assert self.released.setdefault(hrs, msg) == msg, f"double sign at {hrs}"
        self.last = (request, sig)

    @rule(h=HEIGHTS, r=ROUNDS, t=st.sampled_from([1, 2]), block=BLOCKS)
    def sign_vote(self, h, r, t, block):
        request = VoteRequest(t, h, r, block)
        try:
            sig = self.signer.sign_vote(request)
        except SafetyError:
            return
        self._release((h, r, 1 + t), vote_sign_bytes(CHAIN, t, h, r, block), sig, request)

    @rule(h=HEIGHTS, r=ROUNDS, block=BLOCKS.filter(bool), data=st.data())
    def sign_proposal(self, h, r, block, data):
        pol = data.draw(st.integers(-1, r - 1))
        request = ProposalRequest(h, r, block, pol)
        try:
            sig = self.signer.sign_proposal(request)
        except SafetyError:
            return
        self._release((h, r, 1), proposal_sign_bytes(CHAIN, h, r, block, pol), sig, request)

    @precondition(lambda self: self.last is not None)
    @rule()
    def repeat_last_request(self):
        request, sig = self.last
        sign = self.signer.sign_vote if type(request) is VoteRequest else self.signer.sign_proposal
        assert sign(request) == sig

    @rule()
    def crash_and_reload(self):
        self.signer = rules(self.storage)
        self.last = None

    @rule(k=st.integers(1, 3), sticky=st.booleans(), torn=st.booleans())
    def storage_fails_at_write_k(self, k, sticky, torn):
        self.storage.fail_at = self.storage.saves + k
        self.storage.sticky, self.storage.torn = sticky, torn

    @rule()
    def storage_recovers(self):
        self.storage.fail_at = None

    @invariant()
    def memory_never_ahead_of_storage(self):
        stored = self.storage.load() or SafetyData.initial()
        mine = self.signer.data
        assert (stored.height, stored.round, stored.step) >= (mine.height, mine.round, mine.step)


SafetyMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestSafetyMachine = SafetyMachine.TestCase
