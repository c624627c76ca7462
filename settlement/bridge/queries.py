"""Read-only view of the bridge for RPC and the CLI: each counterparty's client, sequences, escrow and vouchers.

Owns :func:`bridge_info`.  Takes a view that can iterate a key prefix in
sorted order (``settlement.queries.IterableView``); never writes.
"""
from __future__ import annotations

from ledger.codec import decode
from ledger.hashing import sha256

from ..accounts import ASSET, Asset
from ..queries import IterableView
from .records import CLIENT, ESCROW, Client, get_int, sequence_key, voucher_origin

__all__ = ["bridge_info"]


def bridge_info(view: IterableView) -> list[dict]:
    """One entry per counterparty, by chain id: its trusted header, packets sent to it, the native assets escrowed
    for it, and the supply of its vouchers here (so escrow on one side can be compared with vouchers on the other)."""
    out: dict[str, dict] = {}
    for _, raw in view.iterate(CLIENT):
        c = Client.decode(raw)
        out[c.chain_id] = {
            "chain_id": c.chain_id, "validators_hash": sha256(c.validators).hex(), "trusted_height": c.latest_height,
            "trusted_time_ms": c.latest_time_ms, "frozen_height": c.frozen_height, "sent": get_int(view, sequence_key(c.chain_id)), "escrow": {}, "vouchers": {},
        }
    for key, raw in view.iterate(ESCROW):
        asset, _, chain = key[len(ESCROW):].decode().partition("/")
        if chain in out:
            out[chain]["escrow"][asset] = decode(raw)
    for _, raw in view.iterate(ASSET):
        a = Asset.decode(raw)
        origin = voucher_origin(a.symbol)
        if origin is not None and origin[0] in out:
            out[origin[0]]["vouchers"][a.symbol] = a.supply
    return [out[k] for k in sorted(out)]
