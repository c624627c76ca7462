"""The message log of one height: checked proposals (with when they arrived), blocks, verdicts, votes.

Owns: :class:`MessageLog` -- the admission checks every incoming proposal and
vote passes (right proposer for the round, not a repeat, bounded per round
and per validator, block bytes matching the block id, valid signature for
this chain and validator set) and the storage of what passed.  The state
machine asks it questions ("which proposals are there in round r?", "what is
the verdict on this block?") and decides everything itself.

Must never: change round, step or locks, emit actions, or keep a message
whose signature it has not checked.  Everything here belongs to one height
and is dropped with it.
"""
from __future__ import annotations

from typing import Callable

from ledger.commit import NIL, Vote
from ledger.validators import ValidatorSet

from .messages import DuplicateVoteEvidence, Proposal, SignatureVerifier
from .proposer import ProposerSchedule
from .votes import Admission, HeightVoteSet

__all__ = ["MessageLog", "SignatureChecks"]


class SignatureChecks:
    """Height-independent checks of one message (also used for buffered future messages)."""

    def __init__(self, chain_id: str, validators: ValidatorSet, proposers: ProposerSchedule,
                 block_id_of: Callable[[bytes], bytes], verify: SignatureVerifier,
                 block_time_of: Callable[[bytes], int]):
        self.chain_id = chain_id
        self.validators = validators
        self.proposers = proposers
        self._block_id_of = block_id_of
        self._block_time_of = block_time_of
        self._verify = verify

    def block_time(self, block: bytes) -> int | None:
        """The header time of ``block`` (Unix ms), or None for bytes that are not a block."""
        try:
            return self._block_time_of(block)
        except ValueError:
            return None

    def id_matches(self, block_id: bytes, block: bytes) -> bool:
        """Do ``block``'s bytes have id ``block_id``?  (False for bytes that are not a block.)"""
        try:
            return self._block_id_of(block) == block_id
        except ValueError:
            return False

    def proposal_ok(self, p: Proposal) -> bool:
        """From the round's proposer, block matching its id, valid signature."""
        return (p.proposer == self.proposers.proposer(p.height, p.round) and self.id_matches(p.block_id, p.block)
                and p.verify(self.chain_id, self.validators, self._verify))

    def vote_ok(self, v: Vote) -> bool:
        """From a validator, valid signature."""
        validator = self.validators.by_address.get(v.validator)
        return validator is not None and self._verify(validator.pubkey, v.sign_bytes(self.chain_id), v.signature)


class MessageLog:
    """Proposals, blocks, verdicts and votes of one height.

    Args:
        height: the height.
        checks: signature and block-id checks.
        future_rounds_per_validator: see ``votes.HeightVoteSet``.
    """

    def __init__(self, height: int, checks: SignatureChecks, future_rounds_per_validator: int):
        self.height = height
        self.checks = checks
        self.votes = HeightVoteSet(height, checks.validators, future_rounds_per_validator)
        self.proposals: dict[int, dict[bytes, Proposal]] = {}
        self.received_ms: dict[tuple[int, bytes], int] = {}   # (round, block id) -> first arrival
        self.blocks: dict[bytes, bytes] = {}
        self.verdicts: dict[bytes, bool] = {}
        self._requested: set[bytes] = set()

    # ------------------------------------------------------------------ proposals

    def add_proposal(self, p: Proposal, current_round: int, received_ms: int, *, verified: bool) -> bool:
        """Check and keep a proposal of this height and when it arrived; True if it is new.

        Kept per round: the first proposal, then (an equivocating proposer's)
        others only for blocks that already have votes in that round, at most
        ``n + 1`` in all.
        """
        if p.height != self.height or p.proposer != self.checks.proposers.proposer(p.height, p.round):
            return False
        in_round = self.proposals.get(p.round)
        if in_round and (p.block_id in in_round or len(in_round) > len(self.checks.validators)
                         or not self.votes.has_support(p.round, p.block_id)):
            return False
        if not self.votes.admit_round(p.proposer, p.round, current_round):
            return False
        if not verified and not self.checks.proposal_ok(p):
            return False
        self.store_proposal(p, received_ms)
        return True

    def store_proposal(self, p: Proposal, received_ms: int) -> None:
        """Keep a proposal known to be good (our own), received at ``received_ms``."""
        self.proposals.setdefault(p.round, {})[p.block_id] = p
        self.received_ms.setdefault((p.round, p.block_id), received_ms)
        self.blocks.setdefault(p.block_id, p.block)
        self.votes.note_proposal(p.round, p.proposer)

    def in_round(self, round_: int) -> list[Proposal]:
        """Proposals of ``round_`` in arrival order."""
        return list(self.proposals.get(round_, {}).values())

    def all_proposals(self) -> list[Proposal]:
        return [self.proposals[r][b] for r in sorted(self.proposals) for b in sorted(self.proposals[r])]

    # ------------------------------------------------------------------ verdicts

    def add_own_block(self, block_id: bytes, block: bytes) -> bool:
        """Keep the block our node built for us to propose; it is valid unless the node
        already judged the same block invalid.  Returns the verdict."""
        self.blocks.setdefault(block_id, block)
        return self.verdicts.setdefault(block_id, True)

    def needs_validation(self, block_id: bytes) -> bool:
        """True the first time a block without a verdict is seen (ask the node once)."""
        if block_id in self.verdicts or block_id in self._requested:
            return False
        self._requested.add(block_id)
        return True

    def set_verdict(self, block_id: bytes, valid: bool) -> bool:
        """Record the node's verdict on a block we asked about; False if unasked or known."""
        if block_id not in self._requested or block_id in self.verdicts:
            return False
        self.verdicts[block_id] = valid
        return True

    # ------------------------------------------------------------------ votes

    def add_vote(self, v: Vote, current_round: int, *, verified: bool) -> tuple[bool, DuplicateVoteEvidence | None]:
        """Check and count a vote of this height.

        Returns:
            (counted, evidence): whether it now counts toward quorums (a
            validator's first vote for the round and type, or a conflicting one
            for nil or a block proposed at this height -- see ``votes.py``),
            and new equivocation evidence if it conflicts.
        """
        admission = self.votes.admit(v, current_round)
        if admission is not Admission.NEW and admission is not Admission.CONFLICT:
            return False, None
        if not verified and not self.checks.vote_ok(v):
            return False, None
        counted = admission is Admission.NEW or v.block_id == NIL or v.block_id in self.blocks
        return counted, self.votes.add(v, tally=counted)
