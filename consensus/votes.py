"""Vote accounting for one height: quorums, f+1 senders per round, equivocation evidence.

Owns: :class:`VoteSet` (the votes of one height, round and type) and
:class:`HeightVoteSet` (every round of one height, plus who sent anything in
each round).  Quorum means strictly more than 2/3 of the voting power and
"f+1" strictly more than 1/3 (``ValidatorSet.is_quorum`` / ``is_one_third``).

Must never: verify signatures (the state machine checks a vote before
:meth:`HeightVoteSet.add`), look at blocks or proposals' contents, or read a
clock.  Pure data in, data out.

Why memory stays bounded (after CometBFT ``types/vote_set.go``)
--------------------------------------------------------------
We cannot keep every vote we are sent: a Byzantine validator can sign as many
different votes as it likes.  So:

* A validator's *first* vote for a (round, type) is always kept and counted.
  That is at most one vote per validator per (round, type).
* A *conflicting* vote (same validator, round and type, another block) yields
  at most one :class:`DuplicateVoteEvidence` per (validator, round, type) and
  is otherwise dropped -- unless the caller says it is for nil or for a block
  proposed at this height (``tally=True``).  Only those can matter: honest
  validators vote only for nil or for a proposed block, and counting an
  equivocator's vote for them keeps us from missing a quorum that other honest
  nodes see (the reason CometBFT tracks peers' "+2/3 claims").  The state
  machine keeps at most ``n + 1`` proposals per round (the first, plus ones
  for blocks that already have votes in that round), so a validator adds at
  most one vote per held block per (round, type).
* Rounds are bounded: votes and proposals for rounds above ours are accepted
  from each validator in at most ``future_rounds_per_validator`` distinct
  rounds (CometBFT ``peerCatchupRounds``).  Our own round only moves by
  timeouts or by f+1 evidence that honest validators are ahead, so the rounds
  we hold are the rounds we went through plus a constant per validator.
* Everything here belongs to one height and is dropped when the height is
  decided.

So per height memory is ``O(rounds^2 * n^2)`` votes in the worst case (only
equivocators reach it; ``O(rounds * n)`` otherwise), with ``rounds`` bounded
by how long the height lasts, not by what peers send.
"""
from __future__ import annotations

import enum

from ledger.commit import NIL, CommitSig, Vote, VoteType
from ledger.validators import ValidatorSet

from .messages import DuplicateVoteEvidence

__all__ = ["Admission", "HeightVoteSet", "VoteSet"]


class Admission(enum.Enum):
    """What :meth:`HeightVoteSet.admit` thinks of a vote before its signature is checked."""

    NEW = "new"                            # first vote of this validator for (round, type)
    CONFLICT = "conflict"                  # the validator already voted for another block
    DUPLICATE = "duplicate"                # we already hold this very vote
    UNKNOWN_VALIDATOR = "unknown-validator"
    WRONG_HEIGHT = "wrong-height"
    TOO_FAR_AHEAD = "too-far-ahead"        # the validator used up its future rounds


class VoteSet:
    """Votes of one (height, round, type): per-block tallies and any-block power."""

    __slots__ = ("first", "by_block", "power_by_block", "power", "quorum_ids")

    def __init__(self) -> None:
        self.first: dict[bytes, Vote] = {}                   # validator -> first vote
        self.by_block: dict[bytes, dict[bytes, Vote]] = {}   # block id -> validator -> vote
        self.power_by_block: dict[bytes, int] = {}
        self.power = 0                                       # distinct validators, any block
        self.quorum_ids: list[bytes] = []                    # block ids (NIL too) with > 2/3


class HeightVoteSet:
    """All prevotes and precommits of one height, and per-round sender power.

    Args:
        height: the height these votes belong to.
        validators: the validator set (powers and quorum arithmetic).
        future_rounds_per_validator: how many distinct rounds above the
            caller's current round one validator may occupy.
    """

    def __init__(self, height: int, validators: ValidatorSet, future_rounds_per_validator: int = 2):
        self.height = height
        self._vset = validators
        self._future_rounds = future_rounds_per_validator
        self._sets: dict[tuple[int, int], VoteSet] = {}
        self._rounds_of: dict[bytes, set[int]] = {}
        self._round_senders: dict[int, set[bytes]] = {}
        self._round_power: dict[int, int] = {}
        self._height_senders: set[bytes] = set()
        self.height_power = 0
        self._commits: list[tuple[int, bytes]] = []
        self._evidence_keys: set[tuple[bytes, int, int]] = set()
        self.evidence: list[DuplicateVoteEvidence] = []

    # ------------------------------------------------------------------ admission

    def admit_round(self, validator: bytes, round_: int, current_round: int) -> bool:
        """May ``validator`` put a message in ``round_`` given our ``current_round``?"""
        if round_ <= current_round:
            return True
        rounds = self._rounds_of.get(validator)
        if not rounds or round_ in rounds:
            return True
        ahead = sum(1 for r in rounds if r > current_round)
        return ahead < self._future_rounds

    def admit(self, vote: Vote, current_round: int) -> Admission:
        """Classify ``vote`` without looking at its signature (cheap; call it first)."""
        if vote.height != self.height:
            return Admission.WRONG_HEIGHT
        if vote.validator not in self._vset.by_address:
            return Admission.UNKNOWN_VALIDATOR
        vs = self._sets.get((vote.round, vote.type))
        if vs is not None:
            held = vs.by_block.get(vote.block_id, {}).get(vote.validator)
            if held is not None:
                return Admission.DUPLICATE
            first = vs.first.get(vote.validator)
            if first is not None:
                if first.block_id == vote.block_id:
                    return Admission.DUPLICATE
                return Admission.CONFLICT
        if not self.admit_round(vote.validator, vote.round, current_round):
            return Admission.TOO_FAR_AHEAD
        return Admission.NEW

    # ------------------------------------------------------------------ updates

    def add(self, vote: Vote, *, tally: bool = True) -> DuplicateVoteEvidence | None:
        """Record a vote whose signature the caller has verified.

        A first vote is always counted.  A conflicting vote is counted only if
        ``tally`` (see the module comment) and yields evidence the first time
        this validator conflicts in this (round, type).

        Returns:
            New evidence, or None.
        """
        key = (vote.round, vote.type)
        vs = self._sets.get(key)
        if vs is None:
            vs = self._sets[key] = VoteSet()
        power = self._vset.power_of(vote.validator)
        first = vs.first.get(vote.validator)
        evidence = None
        if first is None:
            vs.first[vote.validator] = vote
            vs.power += power
            self._note_sender(vote.round, vote.validator)
        elif first.block_id != vote.block_id:
            ekey = (vote.validator, vote.round, vote.type)
            if ekey not in self._evidence_keys:
                self._evidence_keys.add(ekey)
                evidence = DuplicateVoteEvidence.of(first, vote)
                self.evidence.append(evidence)
            if not tally:
                return evidence
        tallied = vs.by_block.setdefault(vote.block_id, {})
        if vote.validator in tallied:
            return evidence
        tallied[vote.validator] = vote
        total = vs.power_by_block.get(vote.block_id, 0) + power
        vs.power_by_block[vote.block_id] = total
        if self._vset.is_quorum(total) and vote.block_id not in vs.quorum_ids:
            vs.quorum_ids.append(vote.block_id)
            if vote.type == VoteType.PRECOMMIT and vote.block_id != NIL:
                self._commits.append((vote.round, vote.block_id))
        return evidence

    def note_proposal(self, round_: int, proposer: bytes) -> None:
        """Count a proposal's sender among the messages of ``round_`` (paper line 55)."""
        self._note_sender(round_, proposer)

    def _note_sender(self, round_: int, validator: bytes) -> None:
        self._rounds_of.setdefault(validator, set()).add(round_)
        senders = self._round_senders.setdefault(round_, set())
        if validator not in senders:
            senders.add(validator)
            self._round_power[round_] = self._round_power.get(round_, 0) + self._vset.power_of(validator)
        if validator not in self._height_senders:
            self._height_senders.add(validator)
            self.height_power += self._vset.power_of(validator)

    # ------------------------------------------------------------------ queries

    def has_quorum_any(self, round_: int, vote_type: int) -> bool:
        """> 2/3 of the power voted (for anything) in (round, type)."""
        vs = self._sets.get((round_, vote_type))
        return vs is not None and self._vset.is_quorum(vs.power)

    def has_quorum_for(self, round_: int, vote_type: int, block_id: bytes) -> bool:
        """> 2/3 of the power voted for ``block_id`` (NIL for nil) in (round, type)."""
        vs = self._sets.get((round_, vote_type))
        return vs is not None and block_id in vs.quorum_ids

    def power_for(self, round_: int, vote_type: int, block_id: bytes) -> int:
        vs = self._sets.get((round_, vote_type))
        return 0 if vs is None else vs.power_by_block.get(block_id, 0)

    def has_support(self, round_: int, block_id: bytes) -> bool:
        """Some counted prevote or precommit of ``round_`` is for ``block_id``."""
        return any(self.power_for(round_, t, block_id) for t in (VoteType.PREVOTE, VoteType.PRECOMMIT))

    def round_power(self, round_: int) -> int:
        """Power of distinct validators with any message (vote or proposal) in ``round_``."""
        return self._round_power.get(round_, 0)

    def skip_round(self, current_round: int) -> int | None:
        """Highest round above ``current_round`` where > 1/3 of the power sent something."""
        best = None
        for r, power in self._round_power.items():
            if r > current_round and self._vset.is_one_third(power) and (best is None or r > best):
                best = r
        return best

    def commits(self) -> list[tuple[int, bytes]]:
        """(round, block id) pairs with > 2/3 precommits for a block, in order of reaching it."""
        return list(self._commits)

    def commit_signatures(self, round_: int, block_id: bytes) -> tuple[CommitSig, ...]:
        """Precommit signatures for ``block_id`` in ``round_``, sorted by validator address."""
        vs = self._sets.get((round_, VoteType.PRECOMMIT))
        votes = {} if vs is None else vs.by_block.get(block_id, {})
        return tuple(CommitSig(addr, votes[addr].signature) for addr in sorted(votes))

    def votes(self) -> list[Vote]:
        """Every counted vote, ordered by (round, type, block id, validator)."""
        out = []
        for (r, t) in sorted(self._sets):
            vs = self._sets[(r, t)]
            for bid in sorted(vs.by_block):
                block_votes = vs.by_block[bid]
                out.extend(block_votes[a] for a in sorted(block_votes))
        return out
