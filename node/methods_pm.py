"""JSON-RPC methods of portfolio margin and collateral: an account's scenario table, a what-if trade, the collateral list.

Owns parameter checking and the mapping of ``settlement.risk.pm_queries``
answers to JSON for these methods, listed in :data:`PM_METHODS` (the RPC
method table is built from it and the other groups by
``node.methods.method_table``).  Reads committed state only
(``api.chain.view``) at the latest block time; never writes: a what-if is
computed on a scratch copy that is dropped.  The transactions
(``set_margin_mode``, ``set_pm_params``, ``set_collateral``) go through
``broadcast_tx`` like every other.
"""
from __future__ import annotations

from settlement.risk import pm_queries as pq

from .methods import INVALID_PARAMS, NOT_FOUND, Method, RPCError, RpcApi, _param
from .methods_risk import _address

__all__ = ["PM_METHODS"]


async def pm_scenarios(api: RpcApi, params) -> dict:
    """Margin mode; per collateral asset equity, IMR, MMR (and standard mode's); per underlying the scenario P&L table,
    the binding scenario and the requirement.  Params: ``address``."""
    return pq.pm_scenarios(api.chain.view, _address(params), api.chain.last_time_ms)


async def pm_whatif(api: RpcApi, params) -> dict:
    """``pm_scenarios`` before and after a proposed fill, never written.  Params: ``address``, ``market`` (a perpetual)
    or ``series`` (an option), ``side`` ("buy" | "sell"), ``size`` (lots or contracts), ``price`` (per lot or contract)."""
    addr = _address(params)
    proposed = {"side": _param(params, "side", str), "size": _param(params, "size", int), "price": _param(params, "price", int)}
    for name in ("market", "series"):
        value = _param(params, name, str, None)
        if value is not None:
            proposed[name] = value
    try:
        return pq.pm_whatif(api.chain.view, addr, proposed, api.chain.last_time_ms)
    except LookupError as exc:
        raise RPCError(NOT_FOUND, str(exc)) from None
    except ValueError as exc:
        raise RPCError(INVALID_PARAMS, str(exc)) from None


async def collateral_params(api: RpcApi, params) -> list:
    """Every listed collateral asset: the asset it backs, its price market and price, haircut, cap, liquidation discount."""
    return pq.collateral_params(api.chain.view)


PM_METHODS: tuple[Method, ...] = (collateral_params, pm_scenarios, pm_whatif)
