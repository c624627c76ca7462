"""Finality of a committed transaction, checked by the client rather than taken from the node.

Owns the check that a node's ``proof`` answer of kind ``receipt`` proves a
transaction final: the header's commit certificate carries more than 2/3 of
the voting power of a validator set (the one the client trusts, given to the
client, or else the set the node reports, whose hash the header must name),
and the receipt's bytes are under that header's ``receipts_root`` and belong
to the transaction.  Settle's consensus is Tendermint: a block with a commit
certificate is never reverted.  Uses ``ledger.lightclient`` and
``ledger.proofs`` (the checks a light client and ``settle verify`` make);
performs no I/O.
"""
from __future__ import annotations

from ledger.block import Header
from ledger.codec import DecodeError
from ledger.commit import CommitCertificate
from ledger.lightclient import decode_validator_set, verify_header
from ledger.proofs import ProofError, proof_from_json, verify_receipt
from ledger.receipt import Receipt
from ledger.validators import ValidatorSet

from .errors import NotFinal
from .types import Proof

__all__ = ["verify_final_receipt"]


def verify_final_receipt(answer: Proof, chain_id: str, tx_hash: str, trusted: ValidatorSet | None = None) -> Receipt:
    """The receipt of ``tx_hash`` that ``answer`` (RPC ``proof``, kind ``receipt``) proves committed and final.

    Raises:
        NotFinal: the certificate, the validator set, the inclusion proof or the receipt's tx does not check.
    """
    try:
        header = Header.decode(bytes.fromhex(answer["header"]))
        cert = CommitCertificate.decode(bytes.fromhex(answer["certificate"]))
        vset = trusted if trusted is not None else decode_validator_set(bytes.fromhex(answer["validators"]))
        verify_header(vset, chain_id, header, cert)
        raw = bytes.fromhex(answer["value"] or "")
        verify_receipt(header, raw, proof_from_json(answer["proof"]))
        receipt = Receipt.decode(raw)
    except (ProofError, DecodeError, ValueError, KeyError, TypeError) as exc:
        raise NotFinal(f"transaction {tx_hash}: the node's answer does not prove it final: {exc}") from None
    if receipt.tx_hash.hex() != tx_hash:
        raise NotFinal(f"transaction {tx_hash}: the node proved the receipt of {receipt.tx_hash.hex()} instead")
    return receipt
