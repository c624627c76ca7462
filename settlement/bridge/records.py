"""The bridge's state: its keys, its records and typed access to them.

Owns every ``br/`` state key (listed in ``settlement/bridge/__init__.py``),
the :class:`Client`, :class:`Consensus` and :class:`Voucher` records, the
bridge module's address (the issuer of every voucher asset), client ids and
voucher naming.  Never
decides whether an operation is allowed (``client.py`` and ``packets.py`` do).
"""
from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from typing import Annotated

from ledger.codec import Len, MaxLen, Range, Record, decode, encode
from ledger.hashing import sha256

from ..state import State

__all__ = [
    "BRIDGE_ADDRESS",
    "CHAIN_ID_RE",
    "CLIENT",
    "Client",
    "Consensus",
    "ESCROW",
    "MAX_CLIENTS",
    "VOUCHER",
    "Voucher",
    "ack_key",
    "client_key",
    "commitment_key",
    "consensus_key",
    "denom_trace",
    "escrow_key",
    "get_voucher",
    "receipt_key",
    "sequence_key",
    "slot_key",
    "take_client_id",
    "trace_origin",
    "voucher_key",
    "voucher_symbol",
]

CLIENT = b"br/c/"
CONSENSUS = b"br/h/"
SLOT = b"br/k/"
SEQUENCE = b"br/s/"
COMMITMENT = b"br/p/"
RECEIPT = b"br/r/"
ACK = b"br/a/"
ESCROW = b"br/e/"
VOUCHER = b"br/v/"
CLIENTS = b"br/n"  # how many clients were ever created: the next one's id is ``c<n>``

# The bridge module's address: the issuer of every voucher asset.  sha256 of a
# domain tag, so no key is known for it: nobody can ``issue`` a voucher.
BRIDGE_ADDRESS = sha256(b"settle/bridge/module")[:20]
# A chain id the bridge can name: any genesis length (1..64), without ``/``, so keys and
# denomination traces ``<chain id>/<ASSET>`` split uniquely.
CHAIN_ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
# Client ids are ``c0`` .. ``c99`` (IBC's short channel ids): ``<client id>/<ASSET>`` is then at
# most 3 + 1 + 12 characters (``accounts.SYMBOL_RE``), so every native asset's voucher fits ``Symbol``.
MAX_CLIENTS = 100
VOUCHER_MAX = 16  # a voucher's symbol fits the ``Symbol`` field of every tx body
ACK_OK = encode("ok")  # the acknowledgement of a received packet (a failed receive writes nothing)
KEPT_HEADERS = 256  # trusted heights a client keeps: proofs made at an older one are refused (update and retry)


@dataclass(frozen=True, slots=True)
class Client(Record):
    """The light client of one counterparty chain: the validator set it trusts, and the latest trusted header."""

    chain_id: Annotated[str, MaxLen(64)]
    validators: bytes  # ledger.lightclient.validator_set_bytes of the trusted set
    latest_height: Annotated[int, Range(0, 2**63 - 1)]  # 0: no header yet
    latest_time_ms: Annotated[int, Range(0, 2**63 - 1)]
    frozen_height: Annotated[int, Range(0, 2**63 - 1)]  # > 0: misbehaviour proven at this height; trusts nothing
    updates: Annotated[int, Range(0, 2**63 - 1)]  # headers accepted so far: the next one's slot is updates % KEPT_HEADERS
    client_id: Annotated[str, MaxLen(8)]  # this chain's short name of the counterparty (``c0``, ...): the prefix of its vouchers


@dataclass(frozen=True, slots=True)
class Consensus(Record):
    """What a trusted header of the counterparty commits to: its block time and state root."""

    time_ms: Annotated[int, Range(0, 2**63 - 1)]
    state_root: Annotated[bytes, Len(32)]


@dataclass(frozen=True, slots=True)
class Voucher(Record):
    """The trace of a voucher asset (ICS-20's ``DenomTrace``): ``symbol`` here is ``denom`` of ``chain_id``.

    ``symbol`` is ``<client_id>/<denom>``, ``client_id`` this chain's client
    of ``chain_id``; written when the voucher is first minted, never removed.
    """

    symbol: Annotated[str, MaxLen(16)]
    client_id: Annotated[str, MaxLen(8)]
    chain_id: Annotated[str, MaxLen(64)]
    denom: Annotated[str, MaxLen(16)]  # the native asset on its home chain


def _seq(n: int) -> bytes:
    return struct.pack(">Q", n)


def client_key(chain_id: str) -> bytes:
    return CLIENT + chain_id.encode()


def consensus_key(chain_id: str, height: int) -> bytes:
    return CONSENSUS + chain_id.encode() + b"/" + _seq(height)


def slot_key(chain_id: str, slot: int) -> bytes:
    """Which trusted height of ``chain_id`` sits in ring slot ``slot`` (the oldest is dropped when the slot is reused)."""
    return SLOT + chain_id.encode() + b"/" + _seq(slot)


def sequence_key(dest_chain: str) -> bytes:
    return SEQUENCE + dest_chain.encode()


def commitment_key(dest_chain: str, sequence: int) -> bytes:
    """On the source: the commitment of packet ``sequence`` sent to ``dest_chain``."""
    return COMMITMENT + dest_chain.encode() + b"/" + _seq(sequence)


def receipt_key(source_chain: str, sequence: int) -> bytes:
    """On the destination: packet ``sequence`` from ``source_chain`` was received."""
    return RECEIPT + source_chain.encode() + b"/" + _seq(sequence)


def ack_key(source_chain: str, sequence: int) -> bytes:
    return ACK + source_chain.encode() + b"/" + _seq(sequence)


def escrow_key(asset: str, dest_chain: str) -> bytes:
    """On the source: how much of the native ``asset`` is escrowed for vouchers on ``dest_chain``."""
    return ESCROW + asset.encode() + b"/" + dest_chain.encode()


def voucher_key(symbol: str) -> bytes:
    return VOUCHER + symbol.encode()


def voucher_symbol(client_id: str, asset: str) -> str:
    """The local name of the voucher of ``asset`` of the chain whose client here is ``client_id`` (``c0/USD``)."""
    return f"{client_id}/{asset}"


def denom_trace(origin_chain: str, asset: str) -> str:
    """How a packet names a voucher going home: ``<origin chain id>/<ASSET>`` (ICS-20's full denomination path)."""
    return f"{origin_chain}/{asset}"


def trace_origin(denom: str) -> tuple[str, str] | None:
    """``(origin chain, asset)`` of a packet's denomination trace; None for the source's native asset."""
    chain, sep, asset = denom.partition("/")
    return (chain, asset) if sep else None


def take_client_id(state: State) -> str | None:
    """The id the next client gets (``c<n>``, counted in state), None once :data:`MAX_CLIENTS` exist; counts it."""
    n = get_int(state, CLIENTS)
    if n >= MAX_CLIENTS:
        return None
    put_int(state, CLIENTS, n + 1)
    return f"c{n}"


def get_voucher(state: State, symbol: str) -> Voucher | None:
    raw = state.get(voucher_key(symbol))
    return None if raw is None else Voucher.decode(raw)


def get_int(state: State, key: bytes) -> int:
    raw = state.get(key)
    return 0 if raw is None else decode(raw)


def put_int(state: State, key: bytes, value: int) -> None:
    """Store ``value`` under ``key``; zero deletes the key."""
    state.put(key, encode(value) if value else None)


def get_client(state: State, chain_id: str) -> Client | None:
    raw = state.get(client_key(chain_id))
    return None if raw is None else Client.decode(raw)


def get_consensus(state: State, chain_id: str, height: int) -> Consensus | None:
    raw = state.get(consensus_key(chain_id, height))
    return None if raw is None else Consensus.decode(raw)
