"""One typed request builder per node RPC method: the method's name, its keyword parameters, its result type.

Owns the parameters of every method exactly as the server names them
(``node/methods*.py``, the OpenRPC document ``rpc.discover`` returns), the
conversion of convenient Python values into their JSON form (bytes -> hex,
a 20-byte address -> ``st...``, a signed :class:`ledger.tx.Tx` -> hex of its
bytes), and leaving out parameters not given, so the server's defaults
apply.  Performs no I/O: :class:`sdk.Client` and :class:`sdk.AsyncClient`
send a :class:`Request` and return its result typed ``T``; their methods of
the same names are one line each over these.

:data:`METHODS` is the RPC name of every builder, in name order; a test
checks it equals the node's method table, so a new server method without an
SDK wrapper fails.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from ledger.keys import format_address
from ledger.tx import Tx

from . import types as t

__all__ = ["METHODS", "Request", "address_text", "hex_text"]

T = TypeVar("T")
Mode = Literal["async", "sync", "commit"]
COMMIT_SLACK_S = 10.0  # the HTTP wait of a commit-mode broadcast exceeds the server's own timeout by this


@dataclass(frozen=True, slots=True)
class Request(Generic[T]):
    """A JSON-RPC call: ``method``, ``params`` (JSON), and the HTTP timeout it needs (None: the client's)."""

    method: str
    params: dict[str, Any] = field(default_factory=dict)
    timeout: float | None = None


def address_text(a: str | bytes) -> str:
    """An account address as the RPC takes it: ``st`` + 40 hex digits (a 20-byte address is formatted)."""
    return format_address(a) if isinstance(a, (bytes, bytearray)) else a


def hex_text(h: str | bytes) -> str:
    """A hash or id as the RPC takes it: hex (bytes are converted, text is passed through)."""
    return bytes(h).hex() if isinstance(h, (bytes, bytearray)) else h


def _given(**params: Any) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


def _tx_hex(tx: Tx | bytes | str) -> str:
    if isinstance(tx, Tx):
        return tx.raw.hex()
    return hex_text(tx)


def _broadcast_timeout(mode: str, timeout: int | None) -> float | None:
    return (timeout or 30) + COMMIT_SLACK_S if mode == "commit" else None


# ------------------------------------------------------------------ core


def account(address: str | bytes) -> Request[t.Account]:
    return Request("account", {"address": address_text(address)})


def assets() -> Request[list[t.Asset]]:
    return Request("assets")


def block(height: int | None = None, receipts: bool = False) -> Request[t.Block]:
    return Request("block", _given(height=height, receipts=receipts or None))


def broadcast_tx(tx: Tx | bytes | str, mode: Mode = "sync", timeout: int | None = None) -> Request[t.BroadcastResult]:
    """``timeout``: seconds (1..300, server default 30) a ``commit``-mode call waits for the block."""
    return Request("broadcast_tx", _given(tx=_tx_hex(tx), mode=mode, timeout=timeout), _broadcast_timeout(mode, timeout))


def broadcast_tx_batch(txs: list[Tx | bytes | str], mode: Mode = "sync", timeout: int | None = None) -> Request[t.BatchResult]:
    return Request("broadcast_tx_batch", _given(txs=[_tx_hex(x) for x in txs], mode=mode, timeout=timeout),
                   _broadcast_timeout(mode, timeout))


def commit(height: int | None = None) -> Request[t.Commit]:
    return Request("commit", _given(height=height))


def evidence() -> Request[list[t.Evidence]]:
    return Request("evidence")


def genesis() -> Request[dict[str, Any]]:
    return Request("genesis")


def mempool() -> Request[t.Mempool]:
    return Request("mempool")


def peers() -> Request[list[t.Peer]]:
    """The libp2p ids of the peers the node is connected to, sorted (``status`` has their count)."""
    return Request("peers")


def status() -> Request[t.Status]:
    return Request("status")


def tx(hash: str | bytes) -> Request[t.TxInfo]:
    return Request("tx", {"hash": hex_text(hash)})


def validators() -> Request[list[t.Validator]]:
    return Request("validators")


# ------------------------------------------------------------------ risk engine


def account_margin(address: str | bytes) -> Request[t.AccountMargin]:
    return Request("account_margin", {"address": address_text(address)})


def events(height: int | None = None, kinds: list[str] | None = None) -> Request[t.BlockEvents]:
    return Request("events", _given(height=height, kinds=kinds))


def htlc(id: str | bytes) -> Request[t.Htlc]:
    return Request("htlc", {"id": hex_text(id)})


def insurance_fund() -> Request[t.InsuranceFund]:
    return Request("insurance_fund")


def market(market: str) -> Request[t.Market]:
    return Request("market", {"market": market})


def markets() -> Request[list[t.Market]]:
    return Request("markets")


def oracle(market: str) -> Request[t.Oracle]:
    return Request("oracle", {"market": market})


def order(maker: str | bytes, nonce: int) -> Request[t.OrderFill]:
    return Request("order", {"maker": address_text(maker), "nonce": nonce})


# ------------------------------------------------------------------ options, portfolio margin, bridge, proofs


def option_positions(address: str | bytes) -> Request[t.OptionPositions]:
    return Request("option_positions", {"address": address_text(address)})


def option_series(series: str) -> Request[t.OptionSeries]:
    return Request("option_series", {"series": series})


def option_series_list(underlying: str | None = None) -> Request[list[t.OptionSeries]]:
    return Request("option_series_list", _given(underlying=underlying))


def vol_surface(underlying: str) -> Request[t.VolSurface]:
    return Request("vol_surface", {"underlying": underlying})


def collateral_params() -> Request[t.CollateralParams]:
    return Request("collateral_params")


def pm_scenarios(address: str | bytes) -> Request[t.PmScenarios]:
    return Request("pm_scenarios", {"address": address_text(address)})


def pm_whatif(address: str | bytes, side: Literal["buy", "sell"], size: int, price: int, *,
              market: str | None = None, series: str | None = None) -> Request[t.PmWhatIf]:
    """A proposed fill of ``market`` (a perpetual) or ``series`` (an option), never written."""
    return Request("pm_whatif", _given(address=address_text(address), side=side, size=size, price=price,
                                       market=market, series=series))


def bridge() -> Request[t.BridgeInfo]:
    return Request("bridge")


def proof(kind: Literal["header", "receipt", "state", "tx"], *, hash: str | bytes | None = None,
          key: str | bytes | dict[str, Any] | None = None, height: int | None = None) -> Request[t.Proof]:
    """``hash`` for tx and receipt; ``key`` for state (raw key bytes or hex, or a named entry such as
    ``{"entry": "balance", "address": "st...", "asset": "USD"}``); ``height`` for header and state (default latest)."""
    return Request("proof", _given(kind=kind, hash=None if hash is None else hex_text(hash),
                                   key=key if key is None or isinstance(key, dict) else hex_text(key), height=height))


def rpc_discover() -> Request[t.OpenRpcDocument]:
    """The node's OpenRPC document (``rpc.discover``): every method, its params and result schemas."""
    return Request("rpc.discover")


BUILDERS = {b.__name__: b for b in (
    account, account_margin, assets, block, bridge, broadcast_tx, broadcast_tx_batch, collateral_params, commit,
    events, evidence, genesis, htlc, insurance_fund, market, markets, mempool, option_positions, option_series,
    option_series_list, oracle, order, peers, pm_scenarios, pm_whatif, proof, rpc_discover, status, tx, validators,
    vol_surface,
)}
METHODS: tuple[str, ...] = tuple(sorted("rpc.discover" if name == "rpc_discover" else name for name in BUILDERS))
