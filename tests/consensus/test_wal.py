"""WAL records: encoding, strict decoding, and replay after a crash at every point."""
from __future__ import annotations

import hypothesis.strategies as st
import pytest
from hypothesis import given, settings

from consensus.events import (
    BlockProposal,
    BlockValidity,
    Broadcast,
    Decide,
    EnterHeight,
    OwnMessage,
    ProposalReceived,
    SigningFailed,
    StartHeight,
    Step,
    TimeoutElapsed,
    VoteReceived,
    WalWrite,
)
from consensus.interfaces import Signer
from consensus.safety import MemorySafetyStorage, SafetyRules
from consensus.wal import decode_record, encode_record, records_to_replay, restore
from ledger.codec import DecodeError, encode
from tests.sim.cores import PRECOMMIT, PREVOTE, Bench, block, of_type, votes_sent
from tests.sim.fakes import CHAIN_ID, GENESIS_TIME_MS as T0

X, Y = block(1, 1), block(1, 2)


def script(b: Bench) -> list:
    """Inputs of a busy height for validator 0 of 4: a lock, a locked nil prevote,
    its own re-proposal, the decision, and the start of height 2."""
    H2 = block(2, 7)
    p2 = b.proposal(2, 0, H2)
    return [
        StartHeight(1),
        ProposalReceived(b.proposal(1, 0, X), T0), BlockValidity(1, 0, X[0], True),
        VoteReceived(b.vote(1, PREVOTE, 1, 0, X[0])), VoteReceived(b.vote(2, PREVOTE, 1, 0, X[0])),
        VoteReceived(b.vote(1, PRECOMMIT, 1, 0)), VoteReceived(b.vote(2, PRECOMMIT, 1, 0)),
        TimeoutElapsed(1, 0, Step.PRECOMMIT),
        ProposalReceived(b.proposal(1, 1, Y), T0), BlockValidity(1, 1, Y[0], True),
        VoteReceived(b.vote(1, PREVOTE, 1, 1)), VoteReceived(b.vote(2, PREVOTE, 1, 1)),
        VoteReceived(b.vote(3, PRECOMMIT, 1, 1)), VoteReceived(b.vote(1, PRECOMMIT, 1, 1)),
        TimeoutElapsed(1, 1, Step.PRECOMMIT),                       # round 2: we re-propose X
        VoteReceived(b.vote(1, PREVOTE, 1, 2, X[0])), VoteReceived(b.vote(2, PREVOTE, 1, 2, X[0])),
        VoteReceived(b.vote(1, PRECOMMIT, 1, 2, X[0])), VoteReceived(b.vote(3, PRECOMMIT, 1, 2, X[0])),
        StartHeight(2), ProposalReceived(p2, T0), BlockValidity(2, 0, H2[0], True),
        VoteReceived(b.vote(2, PREVOTE, 2, 0, H2[0])),
    ]


def run(b: Bench, inputs: list) -> list:
    out = []
    for ev in inputs:
        out += b.feed(ev)
    return out


def signed(actions: list) -> dict:
    """(height, round, step) -> sign-bytes of every broadcast own message."""
    result = {}
    for m in (a.message for a in of_type(actions, Broadcast)):
        step = 1 if type(m).__name__ == "Proposal" else 1 + m.type
        assert result.setdefault((m.height, m.round, step), m.sign_bytes(CHAIN_ID)) == m.sign_bytes(CHAIN_ID)
    return result


class CountingSigner(Signer):
    def __init__(self, inner: SafetyRules):
        self.inner, self.calls = inner, 0

    @property
    def address(self):
        return self.inner.address

    def sign_proposal(self, request):
        self.calls += 1
        return self.inner.sign_proposal(request)

    def sign_vote(self, request):
        self.calls += 1
        return self.inner.sign_vote(request)


# --------------------------------------------------------------------------- encoding


def all_record_kinds(b: Bench) -> list:
    p, v = b.proposal(1, 0, X), b.vote(1, PREVOTE, 1, 0, X[0])
    return [StartHeight(3), ProposalReceived(p, T0), VoteReceived(v), TimeoutElapsed(1, 2, Step.PREVOTE),
            BlockProposal(1, 0, X[0], X[1], T0), BlockValidity(1, 0, X[0], False), EnterHeight(4),
            OwnMessage(p), OwnMessage(v)]


def test_every_record_kind_roundtrips():
    for rec in all_record_kinds(Bench()):
        assert decode_record(encode_record(rec)) == rec


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_decoding_arbitrary_bytes_raises_only_decode_error(data):
    try:
        decode_record(data)
    except DecodeError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_decoding_mutated_records_raises_only_decode_error(data):
    rec = data.draw(st.sampled_from(all_record_kinds(Bench())))
    raw = bytearray(encode_record(rec))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    try:
        decode_record(bytes(raw))
    except DecodeError:
        pass


@pytest.mark.parametrize("obj", [[4, 1, 0, 0], [4, 1, 0, True], [1, True], [6, 1, 0, b"x", True], [99, 1], []])
def test_decoding_ill_typed_records_raises_decode_error(obj):
    with pytest.raises(DecodeError):
        decode_record(encode(obj))


def test_replay_starts_after_the_last_marker_at_or_below_the_height():
    recs = [StartHeight(1), EnterHeight(2), StartHeight(2), EnterHeight(3), StartHeight(3)]
    assert records_to_replay(recs, 2) == [StartHeight(2), EnterHeight(3), StartHeight(3)]
    assert records_to_replay(recs, 1) == recs


# --------------------------------------------------------------------------- replay


def test_restore_reaches_the_same_state_without_asking_the_signer():
    b = Bench()
    out = run(b, script(b))
    assert of_type(out, Decide) and b.core.height == 2
    records = b.wal(out)
    counting = CountingSigner(SafetyRules(b.keys[0], b.storage, CHAIN_ID))
    core, actions = restore(records, height=1, signer=counting, **b.core_args)
    assert core.snapshot() == b.core.snapshot()
    assert counting.calls == 0
    assert of_type(actions, Decide)[0].block_id == X[0]           # the store may lack it
    assert set(signed(actions)) == set(signed(out))                # own messages re-sent


def test_restore_after_losing_the_wal_tail_refuses_to_sign_differently():
    b = Bench()
    out = b.feed(StartHeight(1)) + b.feed(ProposalReceived(b.proposal(1, 0, X), T0))
    out += b.feed(BlockValidity(1, 0, X[0], True))                # prevote X signed and persisted
    assert [v.block_id for v in votes_sent(out)] == [X[0]]
    wal = b.wal(out)
    assert [type(r) for r in wal[2:]] == [BlockValidity, OwnMessage]
    core, _ = restore(wal[:2], height=1, signer=b.signer(), **b.core_args)  # crash lost the tail
    actions = core.handle(TimeoutElapsed(1, 0, Step.PROPOSE))      # would prevote nil now
    assert of_type(actions, SigningFailed) and not of_type(actions, Broadcast)


def test_crash_at_every_wal_position_then_replay_never_signs_conflicting():
    """CometBFT ``crashingWAL``: kill after input j, lose any WAL suffix, restore, feed the
    inputs again from the first lost one.

    * Whatever was lost, nothing released after the restart conflicts with what was
      released before it (the safety storage guarantees this even if the disk lost
      fsynced records).
    * If only records after the last fsync were lost (the node's contract: fsync
      before broadcast), the node behaves exactly like one that never crashed --
      in particular it remembers its locks.
    """
    reference = Bench()
    inputs = script(reference)
    never_crashed = signed(run(reference, inputs))
    for j in range(len(inputs)):
        b = Bench()
        outs = [b.feed(ev) for ev in inputs[: j + 1]]
        before = signed([a for out in outs for a in out])
        wal_per_input = [b.wal(out) for out in outs]
        flat = [r for recs in wal_per_input for r in recs]
        synced = max((i + 1 for i, r in enumerate(flat) if type(r) is OwnMessage), default=0)
        for cut in range(len(flat) + 1):
            storage = MemorySafetyStorage()
            if b.storage.load() is not None:
                storage.save(b.storage.load())
            done = sum(1 for _ in _prefix_inputs(wal_per_input, cut))
            core, actions = restore(flat[:cut], height=1, signer=SafetyRules(b.keys[0], storage, CHAIN_ID),
                                    **b.core_args)
            for ev in inputs[done:]:
                actions += core.handle(ev)
            for hrs, msg in signed(actions).items():
                assert before.get(hrs, msg) == msg, f"double sign at {hrs} (crash after input {j}, cut {cut})"
                if cut >= synced:
                    assert never_crashed.get(hrs) == msg, f"amnesia at {hrs} (crash after input {j}, cut {cut})"


def _prefix_inputs(wal_per_input: list[list], cut: int):
    """The inputs whose records all survived a cut of the flattened WAL at ``cut``."""
    n = 0
    for recs in wal_per_input:
        n += len(recs)
        if n > cut:
            return
        yield recs


def test_wal_writes_come_before_the_actions_they_cause():
    b = Bench()
    out = run(b, script(b))
    for i, a in enumerate(out):
        if type(a) is Broadcast:
            assert type(out[i - 1]) is WalWrite and out[i - 1].record == OwnMessage(a.message)
