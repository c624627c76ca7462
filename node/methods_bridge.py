"""JSON-RPC method ``bridge``: this chain's clients of other networks, and what moved to and from each.

Owns the mapping of ``settlement.bridge.queries.bridge_info`` to JSON, listed
in :data:`BRIDGE_METHODS` (the RPC method table is built from it and the other
groups by ``node.methods.method_table``).  Reads committed state only; the
bridge's transactions go through ``broadcast_tx`` like every other, and its
proofs through ``proof`` (kind ``state``).
"""
from __future__ import annotations

from settlement.bridge.queries import bridge_info

from .methods import Method, RpcApi

__all__ = ["BRIDGE_METHODS"]


async def bridge(api: RpcApi, params) -> dict:
    """``chain_id`` and ``clients``: per counterparty its trusted height and time, packets sent, escrow, vouchers."""
    return {"chain_id": api.chain.chain_id, "clients": bridge_info(api.chain.view)}


BRIDGE_METHODS: tuple[Method, ...] = (bridge,)
