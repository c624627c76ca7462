"""Tendermint consensus as a sans-I/O state machine.

Owns: :class:`ConsensusCore`, the rules of Algorithm 1 of Buchman, Kwon and
Milosevic, "The latest gossip on BFT consensus" (arXiv 1807.04938), and the
:data:`RULES` table naming them.  **Every transition of the consensus state
lives in this file.**  Must never: do I/O, read a clock, draw random numbers,
hold a signing key (it asks a :class:`~consensus.interfaces.Signer`), or
trust a message before checking its signature against the validator set.

Size: over 500 lines because every transition lives here (the rule above):
one file to read the algorithm in, rule by rule, against the paper.

Theory of operation
-------------------
The node feeds one input at a time to :meth:`ConsensusCore.handle` and gets
back a list of actions to carry out *in order* (see ``events.py``).  Inputs
are the paper's messages (proposals, prevotes, precommits), fired timeouts,
and the node's answers to two questions the paper leaves abstract:
``getValue()`` becomes ``RequestProposal`` -> :class:`BlockProposal`, and
``valid(v)`` becomes ``RequestValidation`` -> :class:`BlockValidity`.  A
proposal counts for the rules only once its block has a verdict, the way
CometBFT waits for a complete block; until then ``timeoutPropose`` runs.

Each input first updates the message log of the height (``log.MessageLog``:
checked proposals, blocks, verdicts and votes), emitting a ``WalWrite`` of the
input if it changed anything; then :meth:`ConsensusCore._progress` evaluates the upon-rules of
:data:`RULES` until none fires.  Each rule is one method named after it, with
the paper's line label in its docstring; "for the first time" flags are kept
per (rule, round).  The paper's functions ``StartRound`` (line 11) and
``OnTimeout*`` (lines 57-67) are methods too.

Deviations from Algorithm 1, all documented where they happen:

* ``NEW_HEIGHT`` step: after deciding, the core enters the next height but
  starts round 0 only on :class:`StartHeight` (the node paces blocks), or by
  itself (rule ``S1``) on a valid proposal or messages from > 1/3 of the power
  for that height, so idle nodes follow the ones that started.
* The proposer also schedules ``timeoutPropose``: its block arrives
  asynchronously and the node might never answer.
* Rule L49 takes the block bytes from any proposal of this height with that
  id (a proposal is only the carrier of ``v``; ``block_id_of`` binds ids to
  bytes), which lets a lagging node decide from a relayed commit.
* Messages for the next few heights are buffered (``inbox.FutureBuffer``);
  rounds above ours are bounded per validator (``votes.py``).
* A signature the safety module refuses is treated as a lost message: the
  step still advances and ``SigningFailed`` is reported.
* Proposer-based timestamps (CometBFT PBTS, ``timeliness.py``): rule L22
  prevotes a fresh proposal only if its block time is timely against the
  time the node stamped on its arrival (``ProposalReceived.received_ms``);
  L28 re-proposals keep their block and so their time, and are not judged.
  The block's time is read with ``block_time_of``, like its id.
* Stall watchdog (``S2``): entering prevote or precommit also schedules that
  step's timeout (longer by timeoutPropose), so a vote lost for good cannot
  stall a round waiting for a quorum that never forms (see ``_enter_step``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Union

from ledger.commit import NIL, CommitCertificate, Vote, VoteType
from ledger.keys import verify as ed25519_verify
from ledger.validators import ValidatorSet

from .config import ConsensusConfig
from .events import (
    Action,
    BlockProposal,
    BlockValidity,
    Broadcast,
    Decide,
    EnterHeight,
    EvidenceFound,
    OwnMessage,
    ProposalReceived,
    RequestProposal,
    RequestValidation,
    ScheduleTimeout,
    SigningFailed,
    StartHeight,
    Step,
    TimeoutElapsed,
    VoteReceived,
    WalWrite,
)
from .inbox import FutureBuffer
from .interfaces import ProposalRequest, SafetyError, Signer, VoteRequest
from .log import MessageLog, SignatureChecks
from .messages import Proposal, SignatureVerifier
from .proposer import ProposerSchedule

__all__ = ["ConsensusCore", "CoreSnapshot", "RULES", "Rule"]

Message = Union[Proposal, Vote]
PREVOTE, PRECOMMIT = int(VoteType.PREVOTE), int(VoteType.PRECOMMIT)
_VOTE_STEP = {PREVOTE: Step.PREVOTE, PRECOMMIT: Step.PRECOMMIT}


@dataclass(frozen=True)
class Rule:
    """One upon-rule: its label in the paper, the method implementing it, its guard."""

    label: str
    method: str
    guard: str


#: The upon-rules, in the order they are tried.  Any order is a valid
#: execution of the paper; deciding first keeps the log short.
RULES: tuple[Rule, ...] = (
    Rule("L49", "_upon_commit_quorum",
         "<PROPOSAL, h, r, v, *> AND 2f+1 <PRECOMMIT, h, r, id(v)> while decision[h] = nil"),
    Rule("S1", "_upon_messages_for_waiting_height",
         "a proposal, or messages from f+1 power, for h while h has not started (Settle)"),
    Rule("L55", "_upon_messages_from_higher_round",
         "f+1 <*, h, round, *, *> with round > round_p"),
    Rule("L22", "_upon_proposal",
         "<PROPOSAL, h, round_p, v, -1> from proposer(h, round_p) while step = propose"),
    Rule("L28", "_upon_proposal_with_earlier_polka",
         "<PROPOSAL, h, round_p, v, vr> AND 2f+1 <PREVOTE, h, vr, id(v)> while step = propose, 0 <= vr < round_p"),
    Rule("L34", "_upon_prevote_quorum_any",
         "2f+1 <PREVOTE, h, round_p, *> while step = prevote, for the first time"),
    Rule("L36", "_upon_polka_for_proposal",
         "<PROPOSAL, h, round_p, v, *> AND 2f+1 <PREVOTE, h, round_p, id(v)> while valid(v), step >= prevote,"
         " for the first time"),
    Rule("L44", "_upon_prevote_quorum_nil",
         "2f+1 <PREVOTE, h, round_p, nil> while step = prevote"),
    Rule("L47", "_upon_precommit_quorum_any",
         "2f+1 <PRECOMMIT, h, round_p, *> for the first time"),
)


@dataclass(frozen=True)
class CoreSnapshot:
    """Everything that determines the core's future behaviour at its height (for tests and RPC)."""

    height: int
    round: int
    step: Step
    locked_value: bytes | None
    locked_round: int
    valid_value: bytes | None
    valid_round: int
    proposals: tuple[tuple[int, bytes], ...]
    votes: tuple[Vote, ...]
    verdicts: tuple[tuple[bytes, bool], ...]


class ConsensusCore:
    """One validator's (or observer's) view of consensus.

    Args:
        chain_id: part of every sign-bytes checked and produced.
        validators: the fixed validator set (one place; see ``ledger.validators``).
        height: the first height to decide (last committed height + 1).
        block_id_of: returns the id of block bytes, raising ValueError for
            bytes that are not a block; proposals whose block does not match
            their ``block_id`` are dropped unread.
        block_time_of: returns the header time (Unix ms) of block bytes,
            raising ValueError for bytes that are not a block (whose time is
            then never timely).
        signer: the safety module; None runs an observer that never votes.
        config: timeouts and memory bounds.
        verify: Ed25519 verification (a caching wrapper is fine).
        own_messages: this node's own signed messages from the WAL, reused
            instead of re-signing when replay reaches them (``wal.restore``).
    """

    def __init__(self, *, chain_id: str, validators: ValidatorSet, height: int,
                 block_id_of: Callable[[bytes], bytes], block_time_of: Callable[[bytes], int],
                 signer: Signer | None = None,
                 config: ConsensusConfig | None = None, verify: SignatureVerifier = ed25519_verify,
                 own_messages: Iterable[Message] = ()):
        self.chain_id = chain_id
        self.validators = validators
        self.config = config or ConsensusConfig()
        self._proposers = ProposerSchedule(validators)
        self._checks = SignatureChecks(chain_id, validators, self._proposers, block_id_of, verify, block_time_of)
        self._signer = signer if signer is not None and signer.address in validators else None
        self.address = self._signer.address if self._signer else None
        self._future = FutureBuffer(self.config.future_heights, self.config.future_messages_per_validator)
        self._own: dict[tuple[int, int, int], Message] = {}
        for m in own_messages:
            step = Step.PROPOSE if type(m) is Proposal else _VOTE_STEP[m.type]
            self._own[(m.height, m.round, int(step))] = m
        self._out: list[Action] = []
        self._rules = tuple(getattr(self, r.method) for r in RULES)
        self._handlers = {
            StartHeight: self._on_start_height, ProposalReceived: self._on_proposal_received,
            VoteReceived: self._on_vote_received, TimeoutElapsed: self._on_timeout,
            BlockProposal: self._on_block_proposal, BlockValidity: self._on_block_validity,
        }
        self._reset(height)

    def _reset(self, height: int) -> None:
        self.height = height
        self.round = 0
        self.step = Step.NEW_HEIGHT
        self.locked_value: bytes | None = None
        self.locked_round = -1
        self.valid_value: bytes | None = None
        self.valid_round = -1
        self._log = MessageLog(height, self._checks, self.config.future_rounds_per_validator)
        self._votes = self._log.votes
        self._fired: set[tuple[str, int]] = set()
        self._proposed_round = -1

    # ------------------------------------------------------------------ public API

    def handle(self, event) -> list[Action]:
        """Feed one input; return the actions to carry out, in order.

        Raises:
            TypeError: ``event`` is not an input type of ``events.py``.
            ValueError: a :class:`BlockProposal` whose bytes do not have its
                ``block_id`` (a bug in the node).
        """
        handler = self._handlers.get(type(event))
        if handler is None:
            raise TypeError(f"not a consensus input: {type(event).__name__}")
        self._out = []
        if handler(event):
            self._progress()
        out, self._out = self._out, []
        return out

    def proposer(self, height: int, round_: int) -> bytes:
        """Address of the proposer of (height, round)."""
        return self._proposers.proposer(height, round_)

    def messages_for_height(self) -> list[Message]:
        """Proposals and counted votes of the current height, for the node's gossip to peers."""
        return self._log.all_proposals() + self._votes.votes()

    def snapshot(self) -> CoreSnapshot:
        return CoreSnapshot(
            self.height, self.round, self.step, self.locked_value, self.locked_round, self.valid_value,
            self.valid_round, tuple((p.round, p.block_id) for p in self._log.all_proposals()),
            tuple(self._votes.votes()), tuple(sorted(self._log.verdicts.items())))

    # ------------------------------------------------------------------ inputs

    def _on_start_height(self, ev: StartHeight) -> bool:
        if ev.height < self.height or (ev.height == self.height and self.step is not Step.NEW_HEIGHT):
            return False
        if ev.height > self.height:
            self._enter_height(ev.height)
        self._emit(WalWrite(ev))
        self._start_round(0)
        return True

    def _on_proposal_received(self, ev: ProposalReceived) -> bool:
        return self._ingest_proposal(ev.proposal, ev.received_ms, verified=False)

    def _on_vote_received(self, ev: VoteReceived) -> bool:
        return self._ingest_vote(ev.vote, verified=False)

    def _on_timeout(self, ev: TimeoutElapsed) -> bool:
        if (ev.height, ev.round) != (self.height, self.round) or self.step is Step.NEW_HEIGHT:
            return False
        if ev.step is Step.PROPOSE and self.step is Step.PROPOSE:
            self._emit(WalWrite(ev))
            self._on_timeout_propose()
        elif ev.step is Step.PREVOTE and self.step is Step.PREVOTE:
            self._emit(WalWrite(ev))
            self._on_timeout_prevote()
        elif ev.step is Step.PRECOMMIT:
            self._emit(WalWrite(ev))
            self._on_timeout_precommit()
        else:
            return False
        return True

    def _on_block_proposal(self, ev: BlockProposal) -> bool:
        if ((ev.height, ev.round) != (self.height, self.round) or self.step is not Step.PROPOSE
                or self._proposed_round == ev.round or self.proposer(ev.height, ev.round) != self.address):
            return False  # late, or we already proposed (our valid value, L16) in this round
        if not self._checks.id_matches(ev.block_id, ev.block):
            raise ValueError("BlockProposal: block bytes do not have the given block_id")
        self._emit(WalWrite(ev))
        if self._log.add_own_block(ev.block_id, ev.block):
            self._propose(ev.block_id, -1, ev.received_ms)
        return True

    def _on_block_validity(self, ev: BlockValidity) -> bool:
        if ev.height != self.height or not self._log.set_verdict(ev.block_id, ev.valid):
            return False
        self._emit(WalWrite(ev))
        return True

    # ------------------------------------------------------------------ message log

    def _ingest_proposal(self, p: Proposal, received_ms: int, *, verified: bool) -> bool:
        """Log a proposal of this height and when it arrived (WAL it, ask for a verdict); buffer one
        of a near future height."""
        if p.height > self.height:
            if self._future.accepts(self.height, p) and (verified or self._checks.proposal_ok(p)):
                self._future.add(self.height, p, received_ms)
            return False
        if not self._log.add_proposal(p, self.round, received_ms, verified=verified):
            return False
        self._emit(WalWrite(ProposalReceived(p, received_ms)))
        if self._log.needs_validation(p.block_id):
            self._emit(RequestValidation(p.height, p.round, p.block_id, p.block))
        return True

    def _ingest_vote(self, v: Vote, *, verified: bool) -> bool:
        """Log a vote of this height (WAL it, report evidence); buffer one of a near future height."""
        if v.height != self.height:
            if v.height > self.height and self._future.accepts(self.height, v) and (
                    verified or self._checks.vote_ok(v)):
                self._future.add(self.height, v)
            return False
        counted, evidence = self._log.add_vote(v, self.round, verified=verified)
        if counted:
            self._emit(WalWrite(VoteReceived(v)))
        if evidence is not None:
            self._emit(EvidenceFound(evidence))
        return counted

    # ------------------------------------------------------------------ rules

    def _progress(self) -> None:
        """Fire upon-rules until none applies (each firing changes state, so this ends)."""
        rules = self._rules
        while any(rule() for rule in rules):
            pass

    def _upon_commit_quorum(self) -> bool:
        """L49: upon <PROPOSAL, h_p, r, v, *> from proposer(h_p, r) AND 2f+1 <PRECOMMIT, h_p, r, id(v)>
        while decision_p[h_p] = nil: if valid(v) then decide v and start the next height (L50-54)."""
        for r, block_id in self._votes.commits():
            if self._log.verdicts.get(block_id) is True and block_id in self._log.blocks:
                self._decide(r, block_id)
                return True
        return False

    def _upon_messages_for_waiting_height(self) -> bool:
        """S1 (Settle; the paper has no idle state): upon a valid proposal for h_p, or messages for
        h_p from validators holding > 1/3 of the power, while h_p has not started: StartRound(0)."""
        if self.step is not Step.NEW_HEIGHT:
            return False
        if self._log.proposals or self.validators.is_one_third(self._votes.height_power):
            self._start_round(0)
            return True
        return False

    def _upon_messages_from_higher_round(self) -> bool:
        """L55: upon f+1 <*, h_p, round, *, *> with round > round_p: StartRound(round).
        We jump to the highest such round."""
        if self.step is Step.NEW_HEIGHT:
            return False
        target = self._votes.skip_round(self.round)
        if target is None:
            return False
        self._start_round(target)
        return True

    def _upon_proposal(self) -> bool:
        """L22 with PBTS [PBTS-ALG-UPON-PROP.1]: upon <PROPOSAL, h_p, round_p, v, -1> from
        proposer(h_p, round_p) while step_p = propose: prevote id(v) if timely(v.time) and valid(v)
        and (lockedRound_p = -1 or lockedValue_p = v), else nil (L23-27)."""
        if self.step is not Step.PROPOSE:
            return False
        for p in self._log.in_round(self.round):
            valid = self._log.verdicts.get(p.block_id)
            if p.pol_round != -1 or valid is None:
                continue
            ok = valid and self._timely(p) and (self.locked_round == -1 or self.locked_value == p.block_id)
            self._prevote(p.block_id if ok else NIL)
            return True
        return False

    def _timely(self, p: Proposal) -> bool:
        """PBTS timely(v.time) for a fresh proposal, against the time it first arrived here."""
        block_time = self._checks.block_time(p.block)
        received = self._log.received_ms.get((p.round, p.block_id))
        return block_time is not None and received is not None and self.config.timely(
            block_time, received, p.round)

    def _upon_proposal_with_earlier_polka(self) -> bool:
        """L28: upon <PROPOSAL, h_p, round_p, v, vr> from proposer(h_p, round_p) AND
        2f+1 <PREVOTE, h_p, vr, id(v)> while step_p = propose and 0 <= vr < round_p: prevote id(v)
        if valid(v) and (lockedRound_p <= vr or lockedValue_p = v), else nil (L29-33)."""
        if self.step is not Step.PROPOSE:
            return False
        for p in self._log.in_round(self.round):
            vr = p.pol_round
            valid = self._log.verdicts.get(p.block_id)
            if valid is None or not 0 <= vr < self.round:
                continue
            if not self._votes.has_quorum_for(vr, PREVOTE, p.block_id):
                continue
            ok = valid and (self.locked_round <= vr or self.locked_value == p.block_id)
            self._prevote(p.block_id if ok else NIL)
            return True
        return False

    def _upon_prevote_quorum_any(self) -> bool:
        """L34: upon 2f+1 <PREVOTE, h_p, round_p, *> while step_p = prevote for the first time:
        schedule OnTimeoutPrevote(h_p, round_p) after timeoutPrevote(round_p) (L35)."""
        key = ("L34", self.round)
        if self.step is not Step.PREVOTE or key in self._fired:
            return False
        if not self._votes.has_quorum_any(self.round, PREVOTE):
            return False
        self._fired.add(key)
        self._schedule(Step.PREVOTE)
        return True

    def _upon_polka_for_proposal(self) -> bool:
        """L36: upon <PROPOSAL, h_p, round_p, v, *> from proposer(h_p, round_p) AND
        2f+1 <PREVOTE, h_p, round_p, id(v)> while valid(v) and step_p >= prevote for the first time:
        if step_p = prevote, lock v and precommit id(v) (L37-41); set validValue/validRound (L42-43)."""
        key = ("L36", self.round)
        if self.step < Step.PREVOTE or key in self._fired:
            return False
        for p in self._log.in_round(self.round):
            if self._log.verdicts.get(p.block_id) is not True:
                continue
            if not self._votes.has_quorum_for(self.round, PREVOTE, p.block_id):
                continue
            self._fired.add(key)
            if self.step is Step.PREVOTE:
                self.locked_value, self.locked_round = p.block_id, self.round
                self._precommit(p.block_id)
            self.valid_value, self.valid_round = p.block_id, self.round
            return True
        return False

    def _upon_prevote_quorum_nil(self) -> bool:
        """L44: upon 2f+1 <PREVOTE, h_p, round_p, nil> while step_p = prevote: precommit nil (L45-46)."""
        if self.step is not Step.PREVOTE or not self._votes.has_quorum_for(self.round, PREVOTE, NIL):
            return False
        self._precommit(NIL)
        return True

    def _upon_precommit_quorum_any(self) -> bool:
        """L47: upon 2f+1 <PRECOMMIT, h_p, round_p, *> for the first time:
        schedule OnTimeoutPrecommit(h_p, round_p) after timeoutPrecommit(round_p) (L48)."""
        key = ("L47", self.round)
        if self.step is Step.NEW_HEIGHT or key in self._fired:
            return False
        if not self._votes.has_quorum_any(self.round, PRECOMMIT):
            return False
        self._fired.add(key)
        self._schedule(Step.PRECOMMIT)
        return True

    # ------------------------------------------------------------------ the paper's functions

    def _start_round(self, round_: int) -> None:
        """StartRound (L11-21).  We schedule timeoutPropose as proposer too (see module comment)."""
        self.round = round_
        self.step = Step.PROPOSE
        self._schedule(Step.PROPOSE)
        if self.address is None or self.proposer(self.height, round_) != self.address:
            return
        if self.valid_value is not None:
            self._propose(self.valid_value, self.valid_round)    # L15-16
        else:
            self._emit(RequestProposal(self.height, round_))     # L18: getValue(), answered by BlockProposal

    def _on_timeout_propose(self) -> None:
        """OnTimeoutPropose (L57-60): still in propose: prevote nil."""
        self._prevote(NIL)

    def _on_timeout_prevote(self) -> None:
        """OnTimeoutPrevote (L61-64): still in prevote: precommit nil."""
        self._precommit(NIL)

    def _on_timeout_precommit(self) -> None:
        """OnTimeoutPrecommit (L65-67): StartRound(round_p + 1)."""
        self._start_round(self.round + 1)

    def _decide(self, round_: int, block_id: bytes) -> None:
        """decision_p[h_p] = v, then the next height with a fresh log (L51-54, but see S1)."""
        cert = CommitCertificate(self.height, round_, block_id, self._votes.commit_signatures(round_, block_id))
        self._emit(Decide(self.height, round_, block_id, self._log.blocks[block_id], cert))
        self._enter_height(self.height + 1)

    def _enter_height(self, height: int) -> None:
        """Reset the per-height state (L53) and replay buffered messages for ``height``."""
        self._reset(height)
        self._emit(WalWrite(EnterHeight(height)))
        self._own = {k: m for k, m in self._own.items() if k[0] >= height}
        for m, received_ms in self._future.take(height):
            if type(m) is Proposal:
                self._ingest_proposal(m, received_ms, verified=True)
            else:
                self._ingest_vote(m, verified=True)

    def _schedule(self, step: Step) -> None:
        self._emit(ScheduleTimeout(self.height, self.round, step, self.config.timeout_ms(step, self.round)))

    # ------------------------------------------------------------------ signing and sending

    def _propose(self, block_id: bytes, pol_round: int, received_ms: int = 0) -> None:
        """Sign and broadcast <PROPOSAL, h_p, round_p, v, pol_round> (L19) and count it ourselves.

        ``received_ms``: when our node handed in the fresh block (a re-proposal,
        ``pol_round >= 0``, is never judged for timeliness, so it needs none)."""
        h, r = self.height, self.round
        self._proposed_round = r
        sig = self._sign(h, r, Step.PROPOSE, block_id, pol_round)
        if sig is None:
            return
        p = Proposal(h, r, pol_round, block_id, self._log.blocks[block_id], self.address, sig)
        self._send(p)
        self._log.store_proposal(p, received_ms)

    def _prevote(self, block_id: bytes) -> None:
        self._enter_step(Step.PREVOTE)
        self._vote(PREVOTE, block_id)

    def _precommit(self, block_id: bytes) -> None:
        self._enter_step(Step.PRECOMMIT)
        self._vote(PRECOMMIT, block_id)

    def _enter_step(self, step: Step) -> None:
        """Set the step and start its stall watchdog (S2, Settle).

        The paper starts timeoutPrevote/timeoutPrecommit only on 2f+1 votes
        (L34, L47).  If an honest vote is lost for good -- a restarted node
        whose safety storage is ahead of its WAL cannot re-sign it -- that
        quorum may never form while f validators are silent, and the round
        would stall forever.  So entering the step also schedules the same
        timeout, later by timeoutPropose(round).  Its handlers (L61, L65) only
        precommit nil or start the next round, which is safe at any time.
        """
        self.step = step
        r = self.round
        duration = self.config.timeout_ms(Step.PROPOSE, r) + self.config.timeout_ms(step, r)
        self._emit(ScheduleTimeout(self.height, r, step, duration))

    def _vote(self, vote_type: int, block_id: bytes) -> None:
        if self.address is None:
            return
        h, r = self.height, self.round
        sig = self._sign(h, r, _VOTE_STEP[vote_type], block_id, None)
        if sig is None:
            return
        vote = Vote(vote_type, h, r, block_id, self.address, sig)
        self._send(vote)
        self._votes.add(vote)

    def _sign(self, h: int, r: int, step: Step, block_id: bytes, pol_round: int | None) -> bytes | None:
        """A signature from the WAL's own messages if replay reached one, else from the signer."""
        own = self._own.get((h, r, int(step)))
        if own is not None:
            same = own.block_id == block_id and (pol_round is None or own.pol_round == pol_round)
            if same:
                return own.signature
            self._emit(SigningFailed(h, r, step, "conflicts with an own message in the WAL"))
            return None
        try:
            if pol_round is None:
                return self._signer.sign_vote(VoteRequest(int(_VOTE_STEP_TYPE[step]), h, r, block_id))
            return self._signer.sign_proposal(ProposalRequest(h, r, block_id, pol_round))
        except SafetyError as exc:
            self._emit(SigningFailed(h, r, step, str(exc)))
            return None

    def _send(self, message: Message) -> None:
        self._emit(WalWrite(OwnMessage(message)))
        self._emit(Broadcast(message))

    def _emit(self, action: Action) -> None:
        self._out.append(action)


_VOTE_STEP_TYPE = {Step.PREVOTE: PREVOTE, Step.PRECOMMIT: PRECOMMIT}
