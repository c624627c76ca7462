"""Read-only view of the bridge for RPC and the CLI: each counterparty's client, sequences, escrow and vouchers.

Owns :func:`bridge_info`.  Takes a view that can iterate a key prefix in
sorted order (``settlement.queries.IterableView``); never writes.
"""
from __future__ import annotations

from ledger.codec import decode
from ledger.hashing import sha256

from ..accounts import Asset, asset_key
from ..queries import IterableView
from .records import CLIENT, ESCROW, VOUCHER, Client, Voucher, get_int, sequence_key

__all__ = ["bridge_info"]


def bridge_info(view: IterableView) -> list[dict]:
    """One entry per counterparty, by chain id: its client id here, its trusted header, packets sent to it, the native
    assets escrowed for it, and the supply of its vouchers here (so escrow on one side can be compared with vouchers on
    the other), with each voucher's trace (``traces``: symbol, client id, chain id, base denom, supply)."""
    out: dict[str, dict] = {}
    for _, raw in view.iterate(CLIENT):
        c = Client.decode(raw)
        out[c.chain_id] = {
            "chain_id": c.chain_id, "client_id": c.client_id, "validators_hash": sha256(c.validators).hex(),
            "trusted_height": c.latest_height, "trusted_time_ms": c.latest_time_ms, "frozen_height": c.frozen_height,
            "sent": get_int(view, sequence_key(c.chain_id)), "escrow": {}, "vouchers": {}, "traces": [],
        }
    for key, raw in view.iterate(ESCROW):
        asset, _, chain = key[len(ESCROW):].decode().partition("/")
        if chain in out:
            out[chain]["escrow"][asset] = decode(raw)
    for _, raw in view.iterate(VOUCHER):
        v = Voucher.decode(raw)
        if v.chain_id in out:
            supply = Asset.decode(view.get(asset_key(v.symbol))).supply
            out[v.chain_id]["vouchers"][v.symbol] = supply
            out[v.chain_id]["traces"].append({"symbol": v.symbol, "client_id": v.client_id, "chain_id": v.chain_id,
                                              "denom": v.denom, "supply": supply})
    return [out[k] for k in sorted(out)]
