"""Body records of the bridge's transaction kinds, and :class:`Packet`, what a bridged transfer carries.

Owns the field layout of ``bridge_create_client``, ``bridge_update_client``,
``bridge_send``, ``bridge_recv``, ``bridge_timeout``, ``bridge_ack`` and
``bridge_misbehaviour``, and the packet record
(what the source chain writes to its state and the destination proves).  Pure data: whether a header, a proof
or a packet is acceptable is decided by ``settlement/bridge/``, which answers
with a receipt naming the rule.

Headers, commit certificates and state proofs ride as their canonical bytes
(``Header``, ``CommitCertificate``, ``ledger.statetree.StateProof``), decoded
by the settlement rules: ``ledger/tx.py`` imports this table, and those records'
modules import ``ledger/tx.py``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from .codec import MaxLen, Range, Record
from .fields import Address, Amount, BlockHeight, Symbol

__all__ = [
    "BridgeAck",
    "BridgeCreateClient",
    "BridgeMisbehaviour",
    "BridgeRecv",
    "BridgeSend",
    "BridgeTimeout",
    "BridgeUpdateClient",
    "Packet",
]

ChainId = Annotated[str, MaxLen(64)]
Denom = Annotated[str, MaxLen(81)]  # a symbol, or a trace ``<chain id>/<symbol>``: 64 + 1 + 16
TimeMs = Annotated[int, Range(0, 2**63 - 1)]
Sequence = Annotated[int, Range(1, 2**63 - 1)]


@dataclass(frozen=True, slots=True)
class Packet(Record):
    """One transfer from ``source_chain`` to ``dest_chain`` (ICS-20 ``FungibleTokenPacketData`` plus ICS-04 routing).

    ``denom`` is the asset's denomination trace (ICS-20's full path, never
    a chain's local voucher name): a native symbol of the source (``USD``:
    escrowed on the source, minted as a voucher ``<client id>/USD`` on the
    destination) or ``<dest chain id>/USD``, a voucher of the destination's
    own asset going home (burned on the source, released from escrow on the
    destination).  ``timeout_ms`` is in the destination's block time.
    The source chain stores the packet's canonical bytes under its commitment
    key; the state tree's leaf commits to their sha256 (ICS-04's packet
    commitment), and the relayer reads the packet back from that key.
    """

    sequence: Sequence
    source_chain: ChainId
    dest_chain: ChainId
    sender: Address
    receiver: Address
    denom: Denom
    decimals: Annotated[int, Range(0, 18)]  # the asset's, so a voucher created on first receipt shows it alike
    amount: Amount
    timeout_ms: TimeMs


@dataclass(frozen=True, slots=True)
class BridgeCreateClient(Record):
    """Admin starts trusting ``chain_id``, signed by the validator set whose canonical bytes are ``validators``.

    ``validators`` are ``ledger.lightclient.validator_set_bytes`` of the set in
    the counterparty's genesis (its operators publish it).
    """

    chain_id: ChainId
    validators: Annotated[bytes, MaxLen(60_000)]


@dataclass(frozen=True, slots=True)
class BridgeUpdateClient(Record):
    """Anyone hands the client of ``header.chain_id`` a newer header and the certificate committing it."""

    header: Annotated[bytes, MaxLen(1_024)]  # a Header's canonical bytes
    certificate: Annotated[bytes, MaxLen(60_000)]  # its CommitCertificate's canonical bytes


@dataclass(frozen=True, slots=True)
class BridgeSend(Record):
    """Send ``amount`` of ``asset`` to ``receiver`` on ``dest_chain``; refunded unless received before ``timeout_ms`` (destination block time).

    ``asset`` is named as on this chain: a native symbol, or a voucher
    ``<client id>/<ASSET>`` of ``dest_chain``'s asset going home.
    """

    dest_chain: ChainId
    receiver: Address
    asset: Symbol
    amount: Amount
    timeout_ms: TimeMs


@dataclass(frozen=True, slots=True)
class BridgeRecv(Record):
    """Anyone delivers ``packet``: ``proof`` shows its commitment in the source's state at ``proof_height``."""

    packet: Packet
    proof: Annotated[bytes, MaxLen(16_000)]  # a StateProof's canonical bytes
    proof_height: BlockHeight


@dataclass(frozen=True, slots=True)
class BridgeTimeout(Record):
    """Anyone refunds ``packet``: ``proof`` shows no receipt in the destination's state at ``proof_height``, past its timeout."""

    packet: Packet
    proof: Annotated[bytes, MaxLen(16_000)]  # a StateProof's canonical bytes
    proof_height: BlockHeight


@dataclass(frozen=True, slots=True)
class BridgeAck(Record):
    """Anyone closes ``packet`` on its source: ``proof`` shows its acknowledgement in the destination's state at ``proof_height``."""

    packet: Packet
    proof: Annotated[bytes, MaxLen(16_000)]
    proof_height: BlockHeight


@dataclass(frozen=True, slots=True)
class BridgeMisbehaviour(Record):
    """Anyone shows two different headers of one height, both committed by the client's validator set: it freezes."""

    header_a: Annotated[bytes, MaxLen(1_024)]
    certificate_a: Annotated[bytes, MaxLen(60_000)]
    header_b: Annotated[bytes, MaxLen(1_024)]
    certificate_b: Annotated[bytes, MaxLen(60_000)]
