"""JSON-RPC methods of the risk engine: margin, markets, oracles, insurance fund, HTLCs, orders, block events.

Owns parameter checking and the mapping of ``settlement.risk.queries``
answers to JSON for these methods, listed in :data:`RISK_METHODS` (the RPC
method table is built from it and ``node.methods.CORE_METHODS`` by
``node.methods.method_table``).  Reads committed state only
(``api.chain.view``) and receipts from the store; never writes.
"""
from __future__ import annotations

from ledger.keys import parse_address
from ledger.receipt import Receipt
from settlement.risk import queries as rq
from settlement.machine import BLOCK_EVENTS_TX_HASH

from .methods import INVALID_PARAMS, NOT_FOUND, Method, RPCError, RpcApi, _height, _param
from .render import jsonable

__all__ = ["RISK_METHODS"]


def _address(params, name: str = "address", pos: int = 0) -> bytes:
    text = _param(params, name, str, pos=pos)
    try:
        return parse_address(text)
    except ValueError as exc:
        raise RPCError(INVALID_PARAMS, str(exc)) from None


def _registered_market(params, info) -> dict:
    """``info(market)`` for the ``market`` parameter; NOT_FOUND when it answers None (no such market)."""
    mid = _param(params, "market", str, pos=0)
    answer = info(mid)
    if answer is None:
        raise RPCError(NOT_FOUND, f"market {mid} is not registered")
    return answer


async def account_margin(api: RpcApi, params) -> dict:
    """Collateral, positions, equity, IMR, MMR and liquidation distance of an account, per collateral asset."""
    return rq.margin_info(api.chain.view, _address(params))


async def market(api: RpcApi, params) -> dict:
    return _registered_market(params, lambda mid: rq.market_info(api.chain.view, mid))


async def markets(api: RpcApi, params) -> list:
    return rq.market_list(api.chain.view)


async def oracle(api: RpcApi, params) -> dict:
    """The market's oracle reports, their age at the latest block time, quorum and median."""
    return _registered_market(params, lambda mid: rq.oracle_info(api.chain.view, mid, api.chain.last_time_ms))


async def insurance_fund(api: RpcApi, params) -> list:
    return rq.insurance_fund(api.chain.view)


async def htlc(api: RpcApi, params) -> dict:
    text = _param(params, "id", str, pos=0)
    try:
        hid = bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        raise RPCError(INVALID_PARAMS, "parameter 'id' must be hex") from None
    if len(hid) != 32:
        raise RPCError(INVALID_PARAMS, "parameter 'id' must be 32 bytes (64 hex digits)")
    info = rq.htlc_info(api.chain.view, hid)
    if info is None:
        raise RPCError(NOT_FOUND, f"HTLC {hid.hex()} not found")
    return info


async def order(api: RpcApi, params) -> dict:
    """Lots filled (or cancelled) of a maker's order nonce."""
    maker = _address(params, "maker", 0)
    nonce = _param(params, "nonce", int, pos=1)
    if not 0 <= nonce < 2**63:
        raise RPCError(INVALID_PARAMS, "parameter 'nonce' must be in [0, 2**63)")
    return rq.order_info(api.chain.view, maker, nonce)


def _events(receipts: list[Receipt], kinds: set[str] | None) -> list[dict]:
    out = []
    for i, r in enumerate(receipts):
        block_level = r.tx_hash == BLOCK_EVENTS_TX_HASH
        for j, e in enumerate(r.events):
            if kinds and e.kind not in kinds:
                continue
            out.append({"receipt": i, "event": j, "tx_hash": None if block_level else r.tx_hash.hex(),
                        "block_level": block_level, **jsonable(e.as_dict())})
    return out


async def events(api: RpcApi, params) -> dict:
    """Every event of a block's receipts (tx events and the block-level liquidation/funding/price events).

    Params: ``height`` (default latest), ``kinds`` (optional list of event kinds to keep).
    """
    h = _height(api.chain, params)
    kinds = _param(params, "kinds", list, None, 1)
    if kinds is not None and not all(isinstance(k, str) for k in kinds):
        raise RPCError(INVALID_PARAMS, "parameter 'kinds' must be a list of strings")
    evs = _events(api.blocks.receipts(h), set(kinds) if kinds else None)
    return {"height": h, "count": len(evs), "events": evs}


RISK_METHODS: tuple[Method, ...] = (account_margin, events, htlc, insurance_fund, market, markets, oracle, order)
