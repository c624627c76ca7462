"""Light client verification: is this header one the trusted validators committed?

Owns: :func:`verify_header` (one header and its commit certificate against a
trusted validator set), :class:`HeaderFollower` (a sequence of headers, each
linked to the one before by ``prev_hash``), and the canonical bytes of a
validator set as proofs carry it (:func:`validator_set_bytes`,
:func:`decode_validator_set`).  Pure: no I/O, no clock; the offline receipt
verifier, ``settle light`` and, later, a chain's on-chain client of another
chain all call these same functions.

Never trusts what it is handed: the validator set comes from the caller's own
trust root (a genesis document, a validator-set hash), never from the header
or the node serving it.

Validator sets are static from genesis today, so a header is acceptable only
if it names the trusted set (``validators_hash``).  When sets can change, this
is the place for CometBFT's skipping verification: a header signed by > 1/3
of the trusted set's power and > 2/3 of its own (new) set moves the trust to
the new set.  :func:`verify_header` refuses a changed set with a reason that
says so rather than guessing.
"""
from __future__ import annotations

from .block import Header
from .codec import DecodeError, decode, encode
from .commit import CertificateError, CommitCertificate, verify_commit
from .hashing import ZERO_HASH
from .proofs import ProofError
from .validators import Validator, ValidatorSet

__all__ = ["HeaderFollower", "decode_validator_set", "validator_set_bytes", "verify_header"]


def validator_set_bytes(vset: ValidatorSet) -> bytes:
    """The canonical bytes of ``vset``; their sha256 is ``vset.hash`` (the header's ``validators_hash``)."""
    return encode(vset.to_obj())


def decode_validator_set(raw: bytes) -> ValidatorSet:
    """The validator set of :func:`validator_set_bytes`; raises ProofError naming what is wrong."""
    try:
        obj = decode(raw)
        if type(obj) is not list:
            raise DecodeError("expected a list of validators")
        vset = ValidatorSet([Validator.from_obj(v) for v in obj])
    except (DecodeError, ValueError) as exc:
        raise ProofError(f"validator set does not decode: {exc}") from None
    if validator_set_bytes(vset) != raw:
        raise ProofError("validator set is not in canonical order (sorted by address)")
    return vset


def verify_header(trusted_vset: ValidatorSet, chain_id: str, header: Header, cert: CommitCertificate) -> int:
    """Check that ``cert`` commits ``header`` on ``chain_id`` with > 2/3 of ``trusted_vset``; return the signing power.

    Checks, in order: the header's chain id, that the header names the
    trusted set (``validators_hash``), that the certificate is for this
    header's height and id, then every signature and the quorum
    (:func:`ledger.commit.verify_commit`).

    Raises:
        ProofError: naming the first check that failed.
    """
    if header.chain_id != chain_id:
        raise ProofError(f"header is for chain {header.chain_id!r}, the trusted chain is {chain_id!r}")
    if header.validators_hash != trusted_vset.hash:
        raise ProofError(
            f"header {header.height} names validator set {header.validators_hash.hex()}, the trusted set is "
            f"{trusted_vset.hash.hex()} (validator set changes are not supported)"
        )
    if cert.height != header.height:
        raise ProofError(f"commit certificate is for height {cert.height}, the header is at height {header.height}")
    if cert.block_id != header.id:
        raise ProofError(f"commit certificate is for block {cert.block_id.hex()}, the header's id is {header.id.hex()}")
    try:
        return verify_commit(cert, trusted_vset, chain_id, height=header.height, block_id=header.id)
    except CertificateError as exc:
        raise ProofError(f"commit certificate: {exc}") from None


class HeaderFollower:
    """Follows a chain header by header, each verified and linked to the last.

    Starts from nothing (the next header must be height 1 with a zero
    ``prev_hash``) or from a header the caller already verified (``start``).
    A header is accepted when :func:`verify_header` passes, it is at the next
    height, its ``prev_hash`` is the last header's id and its time does not go
    back.  ``latest`` is the last accepted header.
    """

    def __init__(self, trusted_vset: ValidatorSet, chain_id: str, start: Header | None = None) -> None:
        self.vset = trusted_vset
        self.chain_id = chain_id
        self.latest: Header | None = start

    @property
    def height(self) -> int:
        return 0 if self.latest is None else self.latest.height

    def advance(self, header: Header, cert: CommitCertificate) -> int:
        """Accept the next header; return its signing power.

        Raises:
            ProofError: the header is not the next one, does not link, goes
                back in time, or is not committed by the trusted set.
        """
        expected = self.height + 1
        if header.height != expected:
            raise ProofError(f"header is at height {header.height}, the next height is {expected}")
        parent_id = ZERO_HASH if self.latest is None else self.latest.id
        if header.prev_hash != parent_id:
            raise ProofError(f"header {header.height} does not link to header {self.height} (prev_hash mismatch)")
        if self.latest is not None and header.time_ms < self.latest.time_ms:
            raise ProofError(f"header {header.height} time {header.time_ms} is before its parent's {self.latest.time_ms}")
        power = verify_header(self.vset, self.chain_id, header, cert)
        self.latest = header
        return power
