"""A node's state proof, checked by the client against its own trust root: nothing the node says is believed.

Owns :func:`proven_state` (one ``proof`` RPC answer of kind ``state``: its
header committed by the trusted validator set, its entry on that header's
``state_root``), :func:`fetch_state` (ask a node, then check), and the state
keys and values a client proves: a balance and an HTLC.  The client computes
the key itself (``balance_key``, ``htlc_key`` of the settlement modules that
own the entries) and asks for that key, so a node cannot answer about another
entry.  Used by ``settle light``, ``settle receipt export --with-balance`` /
``settle verify`` and ``settle xswap --trust-a/--trust-b``.

Pure except :func:`fetch_state` (one RPC call).  Never signs or submits
anything; every refusal is a ``ProofError`` naming the first check that failed.
"""
from __future__ import annotations

from dataclasses import dataclass

from ledger.block import Header
from ledger.codec import DecodeError, decode
from ledger.commit import CommitCertificate
from ledger.keys import parse_address
from ledger.lightclient import decode_validator_set, verify_header
from ledger.proofs import ProofError, hex_bytes
from ledger.statetree import StateProof, verify_state
from settlement.accounts import balance_key
from settlement.risk.records import Htlc, htlc_key

from sdk import Client
from .trust import Trust

__all__ = ["ProvenState", "balance_of", "fetch_state", "htlc_of", "key_of_balance", "key_of_htlc", "proven_entry",
           "proven_state"]


@dataclass(frozen=True)
class ProvenState:
    """One state entry as of the block at ``header.height``; ``value`` None: proven absent."""

    header: Header
    key: bytes
    value: bytes | None
    signing_power: int
    total_power: int

    @property
    def height(self) -> int:
        return self.header.height


def _decoded(answer: dict, name: str, decoder):
    raw = hex_bytes(answer[name], name)
    try:
        return decoder(raw)
    except ValueError as exc:  # DecodeError, or a field out of its record's range
        raise ProofError(f"{name} does not decode: {exc}") from None


def proven_state(answer, trust: Trust, key: bytes, height: int | None = None) -> ProvenState:
    """Check a ``proof`` answer of kind ``state`` for ``key`` (at ``height`` if given) against ``trust``.

    Checks, in order: the answer's shape, the validator set against the trust
    root, the header's commit certificate (``ledger.lightclient.verify_header``),
    the height asked for, then the entry on the header's ``state_root``
    (``ledger.statetree.verify_state``).

    Raises:
        ProofError: naming the first check that failed.
    """
    try:
        if not isinstance(answer, dict) or answer.get("kind") != "state" or not isinstance(answer.get("proof"), dict):
            raise ProofError("the answer is not a state proof")
        header: Header = _decoded(answer, "header", Header.decode)
        cert = _decoded(answer, "certificate", CommitCertificate.decode)
        vset = decode_validator_set(hex_bytes(answer["validators"], "validators"))
        try:
            trust.check(header.chain_id, vset)
        except ProofError as exc:
            raise ProofError(f"not trusted: {exc}") from None
        try:
            power = verify_header(vset, trust.chain_id or header.chain_id, header, cert)
        except ProofError as exc:
            raise ProofError(f"header: {exc}") from None
        if height is not None and header.height != height:
            raise ProofError(f"the proof is for height {header.height}, height {height} was asked")
        value = None if answer["value"] is None else hex_bytes(answer["value"], "value")
        return proven_entry(header, key, answer["proof"]["state_proof"], power, vset.total_power, value)
    except (KeyError, TypeError) as exc:
        raise ProofError(f"the answer is missing or mistypes {exc}") from None


_AS_PROVEN = object()


def proven_entry(header: Header, key: bytes, encoded, power: int, total: int, value=_AS_PROVEN) -> ProvenState:
    """Check one entry (``encoded``: hex of its StateProof) on the ``state_root`` of an already verified ``header``.

    ``value`` is the value claimed beside the proof; without one, the value
    the proof itself carries is the one checked and returned.
    """
    proof: StateProof = _decoded({"proof": encoded}, "proof", StateProof.decode)
    if value is _AS_PROVEN:
        value = proof.value
    try:
        verify_state(header.state_root, key, value, proof)
    except ProofError as exc:
        raise ProofError(f"state entry {key.hex()} at height {header.height}: {exc}") from None
    return ProvenState(header, key, value, power, total)


def fetch_state(client: Client, trust: Trust, key: bytes, height: int | None = None) -> ProvenState:
    """Ask a node (not trusted) for the proof of ``key`` at ``height`` (default its latest) and check it."""
    params = {"kind": "state", "key": key.hex()} | ({} if height is None else {"height": height})
    return proven_state(client.call("proof", params), trust, key, height)


def key_of_balance(address: str, asset: str) -> bytes:
    """The state key of a balance (raises ValueError for a malformed address)."""
    return balance_key(parse_address(address), asset)


def key_of_htlc(hid: str | bytes) -> bytes:
    """The state key of an HTLC from its 32-byte id (hex or bytes; raises ValueError otherwise)."""
    raw = bytes.fromhex(hid) if isinstance(hid, str) else hid
    if len(raw) != 32:
        raise ValueError("an HTLC id is 32 bytes (64 hex digits)")
    return htlc_key(raw)


def balance_of(state: ProvenState) -> int:
    """The proven balance (0 when proven absent: the state keeps no zero balances)."""
    if state.value is None:
        return 0
    try:
        value = decode(state.value)
    except DecodeError as exc:
        raise ProofError(f"the proven balance does not decode: {exc}") from None
    if type(value) is not int or value <= 0:
        raise ProofError(f"the proven balance is {value!r}, not a positive integer")
    return value


def htlc_of(state: ProvenState) -> Htlc | None:
    """The proven HTLC record (None when proven absent)."""
    if state.value is None:
        return None
    try:
        return Htlc.decode(state.value)
    except ValueError as exc:
        raise ProofError(f"the proven HTLC does not decode: {exc}") from None
