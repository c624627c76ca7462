"""Settle's typed Python SDK: connect to a node, query it, build and sign every tx kind, submit, wait, subscribe.

Owns the client side of the node's public API (JSON-RPC over HTTP and the
WebSocket feed) for programs, the ``settle`` CLI, the benchmarks and the
tests: :class:`Client` (sync, stdlib HTTP) and :class:`AsyncClient`
(aiohttp) with one typed method per RPC method (:mod:`sdk.methods`, results
in :mod:`sdk.types`), one builder per transaction kind (:mod:`sdk.txs`,
:func:`build`), signing with ``ledger.keys``, and one exception tree
(:mod:`sdk.errors`).  Imports ``ledger`` and ``settlement.checktx`` only:
never the node, the CLI or the harnesses.  See docs/sdk.md.
"""
from __future__ import annotations

from . import methods, txs, types
from .build import build, checked
from .client import Client
from .core import ensure_ok, sign
from .errors import (
    CommitTimeout,
    InvalidParams,
    LimitExceeded,
    MethodNotFound,
    NotAvailable,
    NotFinal,
    NotFound,
    RpcError,
    SettleError,
    SettleTimeout,
    TransportError,
    TxFailed,
    TxInvalid,
    TxRejected,
)

__all__ = [
    "AsyncClient", "Client", "CommitTimeout", "InvalidParams", "LimitExceeded", "MethodNotFound", "NotAvailable",
    "NotFinal", "NotFound", "RpcError", "SettleError", "SettleTimeout", "TransportError", "TxFailed", "TxInvalid", "TxRejected",
    "build", "checked", "ensure_ok", "methods", "sign", "txs", "types",
]


def __getattr__(name: str):
    """``sdk.AsyncClient`` on first use: aiohttp is imported only by programs that use it."""
    if name == "AsyncClient":
        from .aio import AsyncClient

        return AsyncClient
    raise AttributeError(f"module 'sdk' has no attribute {name!r}")
