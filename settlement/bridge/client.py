"""The on-chain light client of a counterparty chain (ICS-02/07): create, update, and prove against it.

Owns ``bridge_create_client`` (admin: the counterparty's chain id and its
genesis validator set; the client gets this chain's next short id ``c0``,
``c1``, ..., the prefix of the counterparty's vouchers here), ``bridge_update_client`` (anyone: a header and its
commit certificate, verified with ``ledger.lightclient.verify_header``; the
height must be above the latest trusted one; its time and state root are
kept per height for the latest :data:`~.records.KEPT_HEADERS` heights, the
oldest dropped in a ring of slots), ``bridge_misbehaviour`` (anyone: two different headers of
one height, both committed by the trusted set, freeze the client for good:
ICS-07's misbehaviour; a frozen client proves nothing, so no packet moves
through it, as IBC does until governance replaces the client) and :func:`prove_state`, the one check of a counterparty
state proof (``ledger.statetree.verify_state`` against the state root of a
trusted height).  Deterministic: every check is a pure function of the tx
and the state; never trusts the relayer that submits it.
"""
from __future__ import annotations

import dataclasses

from ledger.block import Header
from ledger.codec import DecodeError, decode, encode
from ledger.commit import CommitCertificate
from ledger.lightclient import decode_validator_set, verify_header
from ledger.proofs import ProofError
from ledger.receipt import Event
from ledger.statetree import StateProof, verify_state
from ledger.txkinds_bridge import BridgeCreateClient, BridgeMisbehaviour, BridgeUpdateClient

from ..context import BlockContext
from ..errors import AlreadyExists, BadProof, InvalidParameter, NotFound, NotPermitted
from ..state import State
from ..transfers import require_role
from .records import (
    CHAIN_ID_RE,
    KEPT_HEADERS,
    MAX_CLIENTS,
    Client,
    Consensus,
    client_key,
    consensus_key,
    get_client,
    get_consensus,
    slot_key,
    take_client_id,
)

__all__ = ["prove_state", "require_client"]


def _decoded(cls, raw: bytes, what: str):
    try:
        return cls.decode(raw)
    except (DecodeError, ValueError) as exc:
        raise BadProof(f"{what} does not decode: {exc}") from None


def require_client(state: State, chain_id: str) -> Client:
    """The client of ``chain_id``; raises NotFound without one, NotPermitted if it is frozen."""
    client = get_client(state, chain_id)
    if client is None:
        raise NotFound(f"no bridge client of chain {chain_id!r}")
    if client.frozen_height:
        raise NotPermitted(f"the bridge client of {chain_id!r} is frozen: its validators signed two headers at height "
                           f"{client.frozen_height}")
    return client


def _verified(client: Client, header_raw: bytes, cert_raw: bytes) -> tuple[Header, int]:
    """The header, if ``client``'s validator set committed it, and the signing power; raises BadProof otherwise."""
    header = _decoded(Header, header_raw, "header")
    cert = _decoded(CommitCertificate, cert_raw, "commit certificate")
    if header.chain_id != client.chain_id:
        raise BadProof(f"header is for chain {header.chain_id!r}, the client is of {client.chain_id!r}")
    try:
        return header, verify_header(decode_validator_set(client.validators), client.chain_id, header, cert)
    except ProofError as exc:
        raise BadProof(str(exc)) from None


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
        raise InvalidParameter(f"chain id {body.chain_id!r} must match {CHAIN_ID_RE.pattern} to trace denominations")
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
    client_id = take_client_id(state)
    if client_id is None:
        raise InvalidParameter(f"this chain already has {MAX_CLIENTS} bridge clients, the most it names")
    state.put(client_key(body.chain_id), Client(body.chain_id, body.validators, 0, 0, 0, 0, client_id).encode())
    return [Event("bridge_client_created", {"chain_id": body.chain_id, "client_id": client_id, "validators_hash": vset.hash})]


def bridge_update_client(state: State, ctx: BlockContext, sender: bytes, body: BridgeUpdateClient) -> list[Event]:
    client = require_client(state, _decoded(Header, body.header, "header").chain_id)
    header, power = _verified(client, body.header, body.certificate)
    if header.height <= client.latest_height:
        raise BadProof(f"header height {header.height} is not above the trusted height {client.latest_height}")
    slot = slot_key(client.chain_id, client.updates % KEPT_HEADERS)
    dropped = state.get(slot)
    if dropped is not None:
        state.put(consensus_key(client.chain_id, decode(dropped)), None)
    state.put(slot, encode(header.height))
    state.put(consensus_key(client.chain_id, header.height), Consensus(header.time_ms, header.state_root).encode())
    latest = dataclasses.replace(client, latest_height=header.height,
                                 latest_time_ms=max(header.time_ms, client.latest_time_ms), updates=client.updates + 1)
    state.put(client_key(client.chain_id), latest.encode())
    return [Event("bridge_client_updated", {
        "chain_id": client.chain_id, "height": header.height, "time_ms": header.time_ms,
        "state_root": header.state_root, "power": power,
    })]


def bridge_misbehaviour(state: State, ctx: BlockContext, sender: bytes, body: BridgeMisbehaviour) -> list[Event]:
    client = require_client(state, _decoded(Header, body.header_a, "header").chain_id)
    a, power_a = _verified(client, body.header_a, body.certificate_a)
    b, power_b = _verified(client, body.header_b, body.certificate_b)
    if a.height != b.height or a.id == b.id:
        raise InvalidParameter("misbehaviour needs two different headers of one height")
    state.put(client_key(client.chain_id), dataclasses.replace(client, frozen_height=a.height).encode())
    return [Event("bridge_client_frozen", {"chain_id": client.chain_id, "height": a.height, "header_a": a.id,
                                           "header_b": b.id, "power_a": power_a, "power_b": power_b})]
