"""JSON-RPC methods of options: a series, the series list, the vol surface, an account's option positions.

Owns parameter checking and the mapping of ``settlement.risk.options.queries``
answers to JSON for these methods, listed in :data:`OPTION_METHODS` (the RPC
method table is built from it, ``node.methods.CORE_METHODS`` and
``node.methods_risk.RISK_METHODS`` by ``node.methods.method_table``).  Reads
committed state only (``api.chain.view``), with time to expiry and report ages
taken at the latest block time; never writes.  Option transactions
(``set_option_params``, ``register_option_series``, ``register_option_chain``,
``vol_report``, ``option_trade``) go through ``broadcast_tx`` like every other.
"""
from __future__ import annotations

from settlement.risk.options import queries as oq

from .methods import NOT_FOUND, Method, RPCError, RpcApi, _param
from .methods_risk import _address

__all__ = ["OPTION_METHODS"]


def _found(api: RpcApi, params, name: str, info, missing: str) -> dict:
    """``info(view, value, time_ms)`` for the string parameter ``name``; NOT_FOUND (``missing``) when it answers None."""
    value = _param(params, name, str, pos=0)
    out = info(api.chain.view, value, api.chain.last_time_ms)
    if out is None:
        raise RPCError(NOT_FOUND, missing.format(value))
    return out


async def option_series(api: RpcApi, params) -> dict:
    """Terms, mark, IV, greeks (per contract), open interest and time to expiry of a series. Params: ``series``."""
    return _found(api, params, "series", oq.series_info, "option series {} is not listed")


async def option_series_list(api: RpcApi, params) -> list:
    """Every live series (of ``underlying``, if given), by underlying then series id."""
    underlying = _param(params, "underlying", str, None, 0)
    return oq.series_list(api.chain.view, api.chain.last_time_ms, underlying)


async def vol_surface(api: RpcApi, params) -> dict:
    """Option parameters, oracle vol points and their freshness, and the IV of every live series. Params: ``underlying``."""
    return _found(api, params, "underlying", oq.surface_info, "options are not enabled on {}")


async def option_positions(api: RpcApi, params) -> dict:
    """Option positions of an account (size, premium, mark value, greeks) and its margin per collateral asset."""
    return oq.option_positions(api.chain.view, _address(params), api.chain.last_time_ms)


OPTION_METHODS: tuple[Method, ...] = (option_positions, option_series, option_series_list, vol_surface)
