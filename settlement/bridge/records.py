"""The bridge's state: its keys, its records and typed access to them.

Owns every ``br/`` state key (listed in ``settlement/bridge/__init__.py``),
the :class:`Client` and :class:`Consensus` records, the bridge module's
address (the issuer of every voucher asset) and voucher naming.  Never
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
    "CLIENT",
    "CHAIN_ID_RE",
    "Client",
    "Consensus",
    "ESCROW",
    "ack_key",
    "client_key",
    "commitment_key",
    "consensus_key",
    "escrow_key",
    "receipt_key",
    "sequence_key",
    "slot_key",
    "voucher_origin",
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

# The bridge module's address: the issuer of every voucher asset.  sha256 of a
# domain tag, so no key is known for it: nobody can ``issue`` a voucher.
BRIDGE_ADDRESS = sha256(b"settle/bridge/module")[:20]
# A chain id the bridge can name: short enough that ``<chain id>/<ASSET>`` is a
# symbol (at most 16 characters), and without ``/``, so keys and voucher names split uniquely.
CHAIN_ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,13}$")
VOUCHER_MAX = 16  # a voucher's symbol fits the ``Symbol`` field of every tx body
ACK_OK = encode("ok")
KEPT_HEADERS = 256  # trusted heights a client keeps: proofs made at an older one are refused (update and retry)  # the acknowledgement of a received packet (a failed receive writes nothing)


@dataclass(frozen=True, slots=True)
class Client(Record):
    """The light client of one counterparty chain: the validator set it trusts, and the latest trusted header."""

    chain_id: Annotated[str, MaxLen(64)]
    validators: bytes  # ledger.lightclient.validator_set_bytes of the trusted set
    latest_height: Annotated[int, Range(0, 2**63 - 1)]  # 0: no header yet
    latest_time_ms: Annotated[int, Range(0, 2**63 - 1)]
    frozen_height: Annotated[int, Range(0, 2**63 - 1)]  # > 0: misbehaviour proven at this height; trusts nothing
    updates: Annotated[int, Range(0, 2**63 - 1)]  # headers accepted so far: the next one's slot is updates % KEPT_HEADERS


@dataclass(frozen=True, slots=True)
class Consensus(Record):
    """What a trusted header of the counterparty commits to: its block time and state root."""

    time_ms: Annotated[int, Range(0, 2**63 - 1)]
    state_root: Annotated[bytes, Len(32)]


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


def voucher_symbol(origin_chain: str, asset: str) -> str:
    """The voucher of ``asset`` of ``origin_chain`` (ICS-20's trace prefix, with the chain id as the prefix)."""
    return f"{origin_chain}/{asset}"


def voucher_origin(symbol: str) -> tuple[str, str] | None:
    """``(origin chain, asset)`` of a voucher symbol; None for a native asset."""
    chain, sep, asset = symbol.partition("/")
    return (chain, asset) if sep else None


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
