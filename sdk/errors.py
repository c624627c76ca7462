"""The SDK's one exception tree: every failure of a call, a wait or a transaction is a :class:`SettleError`.

Owns the mapping of a JSON-RPC error object (``code``, ``message``,
``data``) to the subclass named after its code, and the transport and
timeout failures a client meets before any answer.  Never retries and never
hides a code: ``.code`` and ``.data`` are the server's.

::

    SettleError                     .code (None for transport), .data
    ├── TransportError              the node cannot be reached or answered no JSON-RPC
    ├── SettleTimeout               no answer, block or commit in time
    │   └── CommitTimeout           (also an RpcError) -32002: not committed within the server's timeout
    ├── RpcError                    the node answered a JSON-RPC error
    │   ├── TxRejected              -32000: refused by the mempool (``.data``: hash, code, reason)
    │   ├── NotFound                -32001: no such block, tx, account, market, ...
    │   ├── LimitExceeded           -32003: a per-connection limit
    │   ├── NotAvailable            -32004: a proof kind this node cannot answer yet
    │   ├── InvalidParams           -32602
    │   └── MethodNotFound          -32601
    ├── NotFinal                    a committed tx's proof of finality does not check (certificate, inclusion)
    ├── TxInvalid                   refused before signing: unknown kind, bad field, or settlement.checktx
    └── TxFailed                    committed, but its receipt is not ok (``.receipt``)
"""
from __future__ import annotations

from typing import Any

__all__ = [
    "CommitTimeout",
    "InvalidParams",
    "LimitExceeded",
    "MethodNotFound",
    "NotAvailable",
    "NotFinal",
    "NotFound",
    "RpcError",
    "SettleError",
    "SettleTimeout",
    "TransportError",
    "TxFailed",
    "TxInvalid",
    "TxRejected",
    "error_from_rpc",
]


class SettleError(Exception):
    """Any failure the SDK reports.  ``code``: the JSON-RPC error code (None when the node never answered one)."""

    def __init__(self, message: str, code: int | None = None, data: Any = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.data = data


class TransportError(SettleError):
    """The node could not be reached, answered HTTP other than 200, or sent something that is not JSON-RPC."""


class SettleTimeout(SettleError):
    """Nothing came in time: the HTTP answer, a WebSocket notification, a height or a transaction waited for."""


class RpcError(SettleError):
    """The node answered a JSON-RPC error object; ``code`` and ``data`` are its own."""


class TxRejected(RpcError):
    """-32000: the mempool refused the transaction (bad nonce, signature, check); ``data`` names the reason."""


class NotFound(RpcError):
    """-32001: the block, transaction, account, market, series or HTLC asked for does not exist."""


class LimitExceeded(RpcError):
    """-32003: a per-connection limit of the node (e.g. WebSocket tx subscriptions) is reached."""


class NotAvailable(RpcError):
    """-32004: a proof kind this node cannot answer yet."""


class CommitTimeout(RpcError, SettleTimeout):
    """-32002: ``broadcast_tx`` in ``commit`` mode saw no commit within its timeout (the tx may still commit)."""


class InvalidParams(RpcError):
    """-32602: a parameter is missing or has the wrong type or range (the message names it)."""


class MethodNotFound(RpcError):
    """-32601: the node has no such method (an older node than this SDK)."""


class NotFinal(SettleError):
    """The node said a tx committed, but its answer does not prove it: the commit certificate lacks a quorum
    of the validator set, names another block, or the receipt is not under the block's receipts root."""


class TxInvalid(SettleError, ValueError):
    """A transaction body refused before anything is signed or sent: an unknown kind or field, a value of
    the wrong type or length, or a stateless rule of ``settlement.checktx`` (the message names it)."""


class TxFailed(SettleError):
    """The transaction was committed but its receipt is not ok: ``receipt`` holds ``error`` and ``reason``."""

    def __init__(self, message: str, result: dict):
        super().__init__(message, None, result)
        self.result = result
        self.receipt = result.get("receipt", {})


RPC_ERRORS: dict[int, type[RpcError]] = {
    -32000: TxRejected,
    -32001: NotFound,
    -32002: CommitTimeout,
    -32003: LimitExceeded,
    -32004: NotAvailable,
    -32601: MethodNotFound,
    -32602: InvalidParams,
}


def error_from_rpc(err: Any) -> RpcError:
    """The exception for a JSON-RPC ``error`` member: the subclass of its code, :class:`RpcError` for any other."""
    if not isinstance(err, dict):
        return RpcError(f"malformed error object: {err!r}")
    code = err.get("code")
    cls = RPC_ERRORS.get(code, RpcError) if type(code) is int else RpcError
    return cls(str(err.get("message", "error")), code if type(code) is int else None, err.get("data"))
