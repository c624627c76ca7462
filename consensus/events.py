"""Inputs and outputs of the consensus core, and the records of its write-ahead log.

Owns: the :class:`Step` enum, the input events the node feeds to
``ConsensusCore.handle`` and the actions it gets back.  Every type is a
frozen, slotted dataclass that checks its own fields in its constructor (the
shape of h11 ``_events.py``), so a malformed event fails where it is built,
not deep inside the state machine.

Must never: hold behaviour beyond self-checks, import the state machine, or
touch I/O.

Inputs (node -> core)
    :class:`StartHeight`, :class:`ProposalReceived`, :class:`VoteReceived`,
    :class:`TimeoutElapsed`, :class:`BlockProposal`, :class:`BlockValidity`.
Actions (core -> node), to be carried out in list order
    :class:`WalWrite`, :class:`Broadcast`, :class:`ScheduleTimeout`,
    :class:`RequestProposal`, :class:`RequestValidation`, :class:`Decide`,
    :class:`EvidenceFound`, :class:`SigningFailed`.
WAL records
    every input type, plus the markers :class:`EnterHeight` and
    :class:`OwnMessage` (see ``wal.py``).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Union

from ledger.commit import CommitCertificate, Vote

from .messages import DuplicateVoteEvidence, Proposal

__all__ = [
    "Action",
    "BlockProposal",
    "BlockValidity",
    "Broadcast",
    "Decide",
    "EnterHeight",
    "EvidenceFound",
    "Input",
    "OwnMessage",
    "ProposalReceived",
    "RequestProposal",
    "RequestValidation",
    "ScheduleTimeout",
    "SigningFailed",
    "StartHeight",
    "Step",
    "TimeoutElapsed",
    "VoteReceived",
    "WalRecord",
    "WalWrite",
]


class Step(enum.IntEnum):
    """Where a height stands.  ``NEW_HEIGHT``: entered but no round started yet."""

    NEW_HEIGHT = 0
    PROPOSE = 1
    PREVOTE = 2
    PRECOMMIT = 3


TIMEOUT_STEPS = (Step.PROPOSE, Step.PREVOTE, Step.PRECOMMIT)


def _height(h: object) -> None:
    if type(h) is not int or not 1 <= h < 2**63:
        raise ValueError(f"height must be an int in [1, 2**63), got {h!r}")


def _round(r: object) -> None:
    if type(r) is not int or not 0 <= r <= 2**31:
        raise ValueError(f"round must be an int in [0, 2**31], got {r!r}")


def _block_id(b: object) -> None:
    if type(b) is not bytes or len(b) != 32:
        raise ValueError("block_id must be 32 bytes")


def _block(b: object) -> None:
    if type(b) is not bytes:
        raise ValueError("block must be bytes")


def _received_ms(t: object) -> None:
    if type(t) is not int or not 0 <= t < 2**63:
        raise ValueError(f"received_ms must be an int in [0, 2**63), got {t!r}")


def _timeout_step(s: object) -> None:
    if s not in TIMEOUT_STEPS or type(s) is not Step:
        raise ValueError(f"timeout step must be PROPOSE, PREVOTE or PRECOMMIT, got {s!r}")


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True, slots=True)
class StartHeight:
    """Start round 0 of ``height`` (the node has transactions, or the empty-block interval passed).

    For the height the core is waiting at it starts round 0; for a higher
    height (the node applied blocks it got by block sync) the core jumps
    there first; for a lower or already started height it does nothing.
    """

    height: int

    def __post_init__(self) -> None:
        _height(self.height)


@dataclass(frozen=True, slots=True)
class ProposalReceived:
    """A proposal from the network (signature not yet checked: the core checks it).

    ``received_ms``: the node's own wall clock (Unix ms) when the proposal
    arrived, stamped by the node -- the core never reads a clock.  A fresh
    proposal is prevoted only if its block time is timely against it
    (``timeliness.py``); the first arrival of a proposal is the one that counts.
    """

    proposal: Proposal
    received_ms: int

    def __post_init__(self) -> None:
        if type(self.proposal) is not Proposal:
            raise ValueError("ProposalReceived needs a Proposal")
        _received_ms(self.received_ms)


@dataclass(frozen=True, slots=True)
class VoteReceived:
    """A prevote or precommit from the network (signature checked by the core)."""

    vote: Vote

    def __post_init__(self) -> None:
        if type(self.vote) is not Vote:
            raise ValueError("VoteReceived needs a Vote")


@dataclass(frozen=True, slots=True)
class TimeoutElapsed:
    """A timeout the core scheduled has fired (stale ones are ignored)."""

    height: int
    round: int
    step: Step

    def __post_init__(self) -> None:
        _height(self.height)
        _round(self.round)
        _timeout_step(self.step)


@dataclass(frozen=True, slots=True)
class BlockProposal:
    """The node's answer to :class:`RequestProposal`: a block built from the mempool.

    The block's time is the node's clock when it started building (PBTS: the
    proposer's word, checked by everyone); ``received_ms`` is its clock when
    it hands the block in, so its own proposal is judged like anyone's.
    """

    height: int
    round: int
    block_id: bytes
    block: bytes
    received_ms: int

    def __post_init__(self) -> None:
        _height(self.height)
        _round(self.round)
        _block_id(self.block_id)
        _block(self.block)
        _received_ms(self.received_ms)


@dataclass(frozen=True, slots=True)
class BlockValidity:
    """The node's verdict on a proposed block (answer to :class:`RequestValidation`)."""

    height: int
    round: int
    block_id: bytes
    valid: bool

    def __post_init__(self) -> None:
        _height(self.height)
        _round(self.round)
        _block_id(self.block_id)
        if type(self.valid) is not bool:
            raise ValueError("valid must be a bool")


Input = Union[StartHeight, ProposalReceived, VoteReceived, TimeoutElapsed, BlockProposal, BlockValidity]


# --------------------------------------------------------------------------- WAL-only markers


@dataclass(frozen=True, slots=True)
class EnterHeight:
    """WAL marker: the core entered ``height``; replay for that height starts after it."""

    height: int

    def __post_init__(self) -> None:
        _height(self.height)


@dataclass(frozen=True, slots=True)
class OwnMessage:
    """WAL record of a proposal or vote this node signed, written before it is broadcast."""

    message: Union[Proposal, Vote]

    def __post_init__(self) -> None:
        if type(self.message) not in (Proposal, Vote):
            raise ValueError("OwnMessage holds a Proposal or a Vote")


WalRecord = Union[Input, EnterHeight, OwnMessage]
_WAL_TYPES = (StartHeight, ProposalReceived, VoteReceived, TimeoutElapsed, BlockProposal, BlockValidity,
              EnterHeight, OwnMessage)


# --------------------------------------------------------------------------- actions


@dataclass(frozen=True, slots=True)
class WalWrite:
    """Append ``record`` to the consensus WAL before carrying out any later action.

    The node must fsync the WAL before performing any later ``Broadcast``
    (one fsync covers every earlier record: the file is sequential).
    """

    record: WalRecord

    def __post_init__(self) -> None:
        if type(self.record) not in _WAL_TYPES:
            raise ValueError(f"not a WAL record: {type(self.record).__name__}")


@dataclass(frozen=True, slots=True)
class Broadcast:
    """Send ``message`` to every peer (the core has already counted it for itself)."""

    message: Union[Proposal, Vote]

    def __post_init__(self) -> None:
        if type(self.message) not in (Proposal, Vote):
            raise ValueError("Broadcast holds a Proposal or a Vote")


@dataclass(frozen=True, slots=True)
class ScheduleTimeout:
    """Feed ``TimeoutElapsed(height, round, step)`` back after ``duration_ms``."""

    height: int
    round: int
    step: Step
    duration_ms: int

    def __post_init__(self) -> None:
        _height(self.height)
        _round(self.round)
        _timeout_step(self.step)
        if type(self.duration_ms) is not int or self.duration_ms < 0:
            raise ValueError("duration_ms must be a non-negative int")


@dataclass(frozen=True, slots=True)
class RequestProposal:
    """We are the proposer of (height, round) with nothing to re-propose: build a block.

    Answer with :class:`BlockProposal` (late answers are ignored).
    """

    height: int
    round: int

    def __post_init__(self) -> None:
        _height(self.height)
        _round(self.round)


@dataclass(frozen=True, slots=True)
class RequestValidation:
    """Judge a proposed block (id matches bytes, signatures, nonces, settlement, header, time).

    Answer with :class:`BlockValidity`; asked once per block id per height.
    """

    height: int
    round: int
    block_id: bytes
    block: bytes

    def __post_init__(self) -> None:
        _height(self.height)
        _round(self.round)
        _block_id(self.block_id)
        _block(self.block)


@dataclass(frozen=True, slots=True)
class Decide:
    """``block`` is final at ``height``; ``certificate`` passes ``ledger.commit.verify_commit``."""

    height: int
    round: int
    block_id: bytes
    block: bytes
    certificate: CommitCertificate

    def __post_init__(self) -> None:
        _height(self.height)
        _round(self.round)
        _block_id(self.block_id)
        _block(self.block)
        c = self.certificate
        if type(c) is not CommitCertificate or (c.height, c.round, c.block_id) != (
                self.height, self.round, self.block_id):
            raise ValueError("certificate does not match the decision")


@dataclass(frozen=True, slots=True)
class EvidenceFound:
    """A validator signed two different votes for one (height, round, type)."""

    evidence: DuplicateVoteEvidence

    def __post_init__(self) -> None:
        if type(self.evidence) is not DuplicateVoteEvidence:
            raise ValueError("EvidenceFound needs a DuplicateVoteEvidence")


@dataclass(frozen=True, slots=True)
class SigningFailed:
    """The safety module refused or could not persist a signature; nothing was sent.

    ``reason`` is the error's text.  The core carries on as if the message
    had been lost; a node seeing storage failures should stop.
    """

    height: int
    round: int
    step: Step
    reason: str

    def __post_init__(self) -> None:
        _height(self.height)
        _round(self.round)
        if type(self.step) is not Step or type(self.reason) is not str:
            raise ValueError("SigningFailed needs a Step and a str reason")


Action = Union[WalWrite, Broadcast, ScheduleTimeout, RequestProposal, RequestValidation, Decide,
               EvidenceFound, SigningFailed]
