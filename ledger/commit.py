"""Votes, proposals' sign-bytes, and commit certificates with their verifier.

Owns: the canonical sign-bytes of every consensus signature (vote and
proposal; CometBFT ``types/canonical.go`` keeps them apart from the wire form
the same way), :class:`CommitCertificate` and :func:`verify_commit`, which
anyone holding the genesis validator set can run.

Sign-bytes carry a domain tag, the chain id, the step type, height, round and
the block id, so a signature is valid for exactly one (chain, height, round,
step, block).  Only ``consensus/safety.py`` (and the single-validator
producer) may ask a key to sign these.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Annotated

from .codec import Len, MaxLen, Range, Record, encode
from .errors import PeerMisbehaviour
from .fields import BlockHeight, Round
from .keys import verify
from .tx import Address
from .validators import ValidatorSet

__all__ = [
    "CertificateError",
    "CommitCertificate",
    "CommitSig",
    "Vote",
    "VoteType",
    "proposal_sign_bytes",
    "verify_commit",
    "vote_sign_bytes",
]

VOTE_DOMAIN = b"settle/vote/v1\x00"
PROPOSAL_DOMAIN = b"settle/proposal/v1\x00"
NIL = b""  # block id of a nil vote


class VoteType(enum.IntEnum):
    PREVOTE = 1
    PRECOMMIT = 2


class CertificateError(PeerMisbehaviour, ValueError):
    """A commit certificate does not prove > 2/3 of the voting power (a peer's fault: it sent it)."""


def vote_sign_bytes(chain_id: str, vote_type: int, height: int, round_: int, block_id: bytes) -> bytes:
    return VOTE_DOMAIN + encode([chain_id, int(vote_type), height, round_, block_id])


def proposal_sign_bytes(chain_id: str, height: int, round_: int, block_id: bytes, pol_round: int) -> bytes:
    return PROPOSAL_DOMAIN + encode([chain_id, height, round_, block_id, pol_round])


@dataclass(frozen=True, slots=True)
class Vote(Record):
    """A signed prevote or precommit; ``block_id == b""`` is a nil vote."""

    type: Annotated[int, Range(1, 2)]
    height: BlockHeight
    round: Round
    block_id: Annotated[bytes, MaxLen(32)]
    validator: Address
    signature: Annotated[bytes, Len(64)]

    def __post_init__(self) -> None:
        if len(self.block_id) not in (0, 32):
            raise ValueError("block_id must be empty (nil) or 32 bytes")

    def sign_bytes(self, chain_id: str) -> bytes:
        return vote_sign_bytes(chain_id, self.type, self.height, self.round, self.block_id)

    def verify(self, chain_id: str, vset: ValidatorSet) -> bool:
        v = vset.by_address.get(self.validator)
        return v is not None and verify(v.pubkey, self.sign_bytes(chain_id), self.signature)


@dataclass(frozen=True, slots=True)
class CommitSig(Record):
    validator: Address
    signature: Annotated[bytes, Len(64)]


@dataclass(frozen=True, slots=True)
class CommitCertificate(Record):
    """Precommit signatures of > 2/3 of the voting power for ``block_id``."""

    height: BlockHeight
    round: Round
    block_id: Annotated[bytes, Len(32)]
    signatures: Annotated[list[CommitSig], MaxLen(10_000)]


def verify_commit(
    cert: CommitCertificate,
    vset: ValidatorSet,
    chain_id: str,
    *,
    height: int | None = None,
    block_id: bytes | None = None,
) -> int:
    """Check that ``cert`` proves a commit; return the signing power.

    Rules: signatures sorted by validator address without duplicates, every
    signer in ``vset``, every signature a valid PRECOMMIT over
    ``(chain_id, height, round, block_id)``, and total power > 2/3.

    Raises:
        CertificateError: naming the first rule broken.
    """
    if height is not None and cert.height != height:
        raise CertificateError(f"certificate is for height {cert.height}, expected {height}")
    if block_id is not None and cert.block_id != block_id:
        raise CertificateError("certificate is for another block")
    msg = vote_sign_bytes(chain_id, VoteType.PRECOMMIT, cert.height, cert.round, cert.block_id)
    power = 0
    prev = b""
    for cs in cert.signatures:
        if cs.validator <= prev:
            raise CertificateError("signatures must be sorted by validator address, without duplicates")
        prev = cs.validator
        v = vset.by_address.get(cs.validator)
        if v is None:
            raise CertificateError(f"signer {cs.validator.hex()} is not a validator")
        if not verify(v.pubkey, msg, cs.signature):
            raise CertificateError(f"invalid signature from validator {cs.validator.hex()}")
        power += v.power
    if not vset.is_quorum(power):
        raise CertificateError(f"signing power {power} is not more than 2/3 of {vset.total_power}")
    return power
