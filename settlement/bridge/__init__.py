"""Bridged transfers between Settle networks (IBC ICS-02/07 client, ICS-04 packets, ICS-20 transfers, ICS-23 proofs).

``client.py`` keeps the on-chain light client of each counterparty chain,
``packets.py`` the send / receive / timeout / acknowledgement of transfers, ``records.py`` the
keys and records.  Everything is settlement code: deterministic, integer,
no I/O; headers are verified with ``ledger.lightclient.verify_header`` and
state proofs with ``ledger.statetree.verify_state`` against the state root of
a header this chain already trusts.  A relayer (``cli/relay.py``) only
carries bytes: a lie is refused with a receipt and changes nothing.

State keys (``<seq>``, ``<height>``: 8-byte big-endian; chain ids match
``records.CHAIN_ID_RE``, so they hold no ``/``):

=========================================  ==============================================
``br/c/`` + chain                          Client(chain_id, validators, latest height, time,
                                           frozen height: 0 unless misbehaviour was shown,
                                           headers accepted, client id ``c<n>``)
``br/n``                                   clients ever created (int): the next client id
``br/h/`` + chain + ``/`` + height         Consensus(time_ms, state_root) of a trusted header
                                           (the latest ``KEPT_HEADERS`` heights)
``br/k/`` + chain + ``/`` + slot           the height held in ring slot ``slot`` (int)
``br/s/`` + dest chain                     last sequence sent to ``dest`` (int)
``br/p/`` + dest chain + ``/`` + seq       the Packet sent (its bytes: the commitment),
                                           deleted on timeout or acknowledgement
``br/r/`` + source chain + ``/`` + seq     receipt: the height it was received at (int)
``br/a/`` + source chain + ``/`` + seq     acknowledgement (``"ok"``)
``br/e/`` + ASSET + ``/`` + dest chain     native ``ASSET`` escrowed for vouchers on ``dest`` (int > 0)
``br/v/`` + voucher symbol                 Voucher(symbol, client id, origin chain id, base denom):
                                           the voucher's trace, written when first minted
=========================================  ==============================================

Vouchers are ordinary assets ``<client id>/<ASSET>`` (``t/`` key, issuer
:data:`records.BRIDGE_ADDRESS`, whose key nobody holds), held in ordinary
balances; the client id (``c0`` .. ``c99``, assigned in order by
``bridge_create_client``) is this chain's short name of the origin chain, as
IBC's channel ids are, so the voucher fits the 16-character ``Symbol`` field
whatever the chain ids.  Packets name assets by their trace
(``USD``, or ``<home chain id>/USD`` going home).  Each tx kind's handler is listed in :data:`HANDLERS`.
"""
from __future__ import annotations

from .client import bridge_create_client, bridge_misbehaviour, bridge_update_client
from .packets import HANDLERS as _PACKETS

__all__ = ["HANDLERS"]

HANDLERS = {
    "bridge_create_client": bridge_create_client,
    "bridge_misbehaviour": bridge_misbehaviour,
    "bridge_update_client": bridge_update_client,
    **_PACKETS,
}
