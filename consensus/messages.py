"""Consensus wire messages: the signed proposal, vote-equivocation evidence, the envelope.

Owns: :class:`Proposal` (a :class:`ledger.codec.Record` signed over
``ledger.commit.proposal_sign_bytes``), :class:`DuplicateVoteEvidence`, and the
wire envelope ``[tag, record]`` with :func:`encode_message` /
:func:`decode_message`.  Votes are :class:`ledger.commit.Vote`; this module
does not redefine them.

Must never: sign anything (only ``consensus/safety.py`` signs), look inside a
block (blocks are opaque bytes plus their id; the node judges them), or let
:func:`decode_message` raise anything but :class:`ledger.codec.DecodeError`.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Annotated, Callable, Union

from ledger.block import MAX_BLOCK_BYTES
from ledger.codec import DecodeError, Len, MaxLen, Range, Record, decode, encode
from ledger.commit import Vote, proposal_sign_bytes
from ledger.fields import BlockHeight, PolRound, Round
from ledger.keys import verify as ed25519_verify
from ledger.tx import Address, Hash32
from ledger.validators import ValidatorSet

__all__ = [
    "ConsensusMessage",
    "DuplicateVoteEvidence",
    "MAX_MESSAGE_BYTES",
    "MessageTag",
    "Proposal",
    "SignatureVerifier",
    "decode_message",
    "encode_message",
]

#: Largest envelope accepted by :func:`decode_message`: a maximal block plus headroom.
MAX_MESSAGE_BYTES = MAX_BLOCK_BYTES + 4096

#: ``verify(pubkey, message, signature) -> bool``; ``ledger.keys.verify`` or a cache of it.
SignatureVerifier = Callable[[bytes, bytes, bytes], bool]


@dataclass(frozen=True, slots=True)
class Proposal(Record):
    """``<PROPOSAL, height, round, block, pol_round>`` signed by the round's proposer.

    ``pol_round`` is the paper's ``validRound``: -1, or the earlier round in
    which the proposer saw a polka (> 2/3 prevotes) for this very block.
    ``block_id`` is what is signed and voted on; that it is the id of
    ``block`` is checked by the node when it validates the block.
    """

    height: BlockHeight
    round: Round
    pol_round: PolRound
    block_id: Hash32
    block: Annotated[bytes, MaxLen(MAX_BLOCK_BYTES)]
    proposer: Address
    signature: Annotated[bytes, Len(64)]

    def __post_init__(self) -> None:
        if self.pol_round >= self.round:
            raise ValueError(f"pol_round {self.pol_round} must be below round {self.round}")

    def sign_bytes(self, chain_id: str) -> bytes:
        return proposal_sign_bytes(chain_id, self.height, self.round, self.block_id, self.pol_round)

    def verify(self, chain_id: str, vset: ValidatorSet, verify: SignatureVerifier = ed25519_verify) -> bool:
        """True iff the proposer is in ``vset`` and the signature is valid for ``chain_id``."""
        v = vset.by_address.get(self.proposer)
        return v is not None and verify(v.pubkey, self.sign_bytes(chain_id), self.signature)


@dataclass(frozen=True, slots=True)
class DuplicateVoteEvidence(Record):
    """Two votes by one validator for the same height, round and type but different blocks.

    Stored in canonical order (``vote_a.block_id < vote_b.block_id``) so one
    equivocation has exactly one encoding, whichever vote arrived first.
    """

    vote_a: Vote
    vote_b: Vote

    def __post_init__(self) -> None:
        a, b = self.vote_a, self.vote_b
        if (a.validator, a.height, a.round, a.type) != (b.validator, b.height, b.round, b.type):
            raise ValueError("evidence votes must share validator, height, round and type")
        if not a.block_id < b.block_id:
            raise ValueError("evidence votes must be for different blocks, in block-id order")

    @classmethod
    def of(cls, first: Vote, second: Vote) -> "DuplicateVoteEvidence":
        """Evidence from two conflicting votes given in any order."""
        if second.block_id < first.block_id:
            first, second = second, first
        return cls(first, second)

    @property
    def validator(self) -> bytes:
        return self.vote_a.validator

    @property
    def height(self) -> int:
        return self.vote_a.height

    def verify(self, chain_id: str, vset: ValidatorSet, verify: SignatureVerifier = ed25519_verify) -> bool:
        """True iff both votes carry valid signatures of a validator in ``vset``."""
        v = vset.by_address.get(self.validator)
        if v is None:
            return False
        return all(verify(v.pubkey, x.sign_bytes(chain_id), x.signature) for x in (self.vote_a, self.vote_b))


class MessageTag(enum.IntEnum):
    """First element of the wire envelope ``[tag, record]``."""

    PROPOSAL = 1
    VOTE = 2
    EVIDENCE = 3


ConsensusMessage = Union[Proposal, Vote, DuplicateVoteEvidence]

_BY_TAG: dict[int, type[Record]] = {
    MessageTag.PROPOSAL: Proposal,
    MessageTag.VOTE: Vote,
    MessageTag.EVIDENCE: DuplicateVoteEvidence,
}
_TAG_OF: dict[type, int] = {cls: int(tag) for tag, cls in _BY_TAG.items()}


def encode_message(message: ConsensusMessage) -> bytes:
    """Canonical wire bytes ``encode([tag, record])`` of a consensus message.

    Raises:
        TypeError: ``message`` is not a Proposal, Vote or DuplicateVoteEvidence.
    """
    tag = _TAG_OF.get(type(message))
    if tag is None:
        raise TypeError(f"not a consensus message: {type(message).__name__}")
    return encode([tag, message.to_obj()])


def decode_message(data: bytes) -> ConsensusMessage:
    """Decode one envelope.

    Raises:
        DecodeError: for any input that is not the canonical encoding of a
            well-typed message (and never anything else).
    """
    obj = decode(data, max_bytes=MAX_MESSAGE_BYTES)
    if type(obj) is not list or len(obj) != 2 or type(obj[0]) is not int:
        raise DecodeError("ConsensusMessage: expected [tag, record]")
    cls = _BY_TAG.get(obj[0])
    if cls is None:
        raise DecodeError(f"ConsensusMessage: unknown tag {obj[0]}")
    return cls.from_obj(obj[1])
