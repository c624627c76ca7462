"""The on-chain light client of a counterparty chain (ICS-02/07): create, update, and prove against it.

Owns ``bridge_create_client`` (admin: the counterparty's chain id and its
genesis validator set), ``bridge_update_client`` (anyone: a header and its
commit certificate, verified with ``ledger.lightclient.verify_header``; the
height must be above the latest trusted one; its time and state root are
kept per height) and :func:`prove_state`, the one check of a counterparty
state proof (``ledger.statetree.verify_state`` against the state root of a
trusted height).  Deterministic: every check is a pure function of the tx
and the state; never trusts the relayer that submits it.
"""
from __future__ import annotations

from ledger.block import Header
from ledger.codec import DecodeError
from ledger.commit import CommitCertificate
from ledger.lightclient import decode_validator_set, verify_header
from ledger.proofs import ProofError
from ledger.receipt import Event
from ledger.statetree import StateProof, verify_state
from ledger.txkinds_bridge import BridgeCreateClient, BridgeUpdateClient

from ..context import BlockContext
from ..errors import AlreadyExists, BadProof, InvalidParameter, NotFound
from ..state import State
from ..transfers import require_role
from .records import CHAIN_ID_RE, Client, Consensus, client_key, consensus_key, get_client, get_consensus

__all__ = ["prove_state", "require_client"]


def _decoded(cls, raw: bytes, what: str):
    try:
        return cls.decode(raw)
    except (DecodeError, ValueError) as exc:
        raise BadProof(f"{what} does not decode: {exc}") from None


def require_client(state: State, chain_id: str) -> Client:
    client = get_client(state, chain_id)
    if client is None:
        raise NotFound(f"no bridge client of chain {chain_id!r}")
    return client


def prove_state(state: State, chain_id: str, height: int, key: bytes, value: bytes | None, proof_bytes: bytes) -> Consensus:
    """Check that ``chain_id``'s state at trusted ``height`` holds ``value`` under ``key`` (None: no entry).

    Returns the trusted header's :class:`Consensus` (its time is what a
    timeout is judged by).

    Raises:
        NotFound: no client of ``chain_id``.
        BadProof: ``height`` is not a trusted height, or the proof fails.
    """
    require_client(state, chain_id)
    cons = get_consensus(state, chain_id, height)
    if cons is None:
        raise BadProof(f"height {height} of chain {chain_id!r} is not a trusted height (update the client first)")
    proof = _decoded(StateProof, proof_bytes, "state proof")
    try:
        verify_state(cons.state_root, key, value, proof)
    except ProofError as exc:
        raise BadProof(f"state proof at height {height} of {chain_id!r}: {exc}") from None
    return cons


def bridge_create_client(state: State, ctx: BlockContext, sender: bytes, body: BridgeCreateClient) -> list[Event]:
    require_role(state, sender, "admin")
    if not CHAIN_ID_RE.match(body.chain_id):
        raise InvalidParameter(f"chain id {body.chain_id!r} must match {CHAIN_ID_RE.pattern} to name vouchers")
    if body.chain_id == ctx.chain_id:
        raise InvalidParameter("a chain does not bridge to itself")
    if get_client(state, body.chain_id) is not None:
        raise AlreadyExists(f"a bridge client of chain {body.chain_id!r} exists")
    try:
        vset = decode_validator_set(body.validators)
    except ProofError as exc:
        raise InvalidParameter(str(exc)) from None
    if not len(vset):
        raise InvalidParameter("the validator set is empty")
    state.put(client_key(body.chain_id), Client(body.chain_id, body.validators, 0, 0).encode())
    return [Event("bridge_client_created", {"chain_id": body.chain_id, "validators_hash": vset.hash})]


def bridge_update_client(state: State, ctx: BlockContext, sender: bytes, body: BridgeUpdateClient) -> list[Event]:
    header = _decoded(Header, body.header, "header")
    cert = _decoded(CommitCertificate, body.certificate, "commit certificate")
    client = require_client(state, header.chain_id)
    if header.height <= client.latest_height:
        raise BadProof(f"header height {header.height} is not above the trusted height {client.latest_height}")
    try:
        power = verify_header(decode_validator_set(client.validators), client.chain_id, header, cert)
    except ProofError as exc:
        raise BadProof(str(exc)) from None
    state.put(consensus_key(client.chain_id, header.height), Consensus(header.time_ms, header.state_root).encode())
    state.put(client_key(client.chain_id),
              Client(client.chain_id, client.validators, header.height, max(header.time_ms, client.latest_time_ms)).encode())
    return [Event("bridge_client_updated", {
        "chain_id": client.chain_id, "height": header.height, "time_ms": header.time_ms,
        "state_root": header.state_root, "power": power,
    })]
