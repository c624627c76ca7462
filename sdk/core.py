"""What the sync and async clients share and that needs no I/O: envelopes, answers, signing, finality.

Owns the JSON-RPC 2.0 envelope of a request, reading an answer into its
result or the :mod:`sdk.errors` exception its code names, the URL of the
node's WebSocket, reading a WebSocket notification, building and signing a
transaction for a key (chain id and nonce given), and applying the finality
check of :mod:`sdk.finality` to a committed transaction.
Never opens a socket and never sleeps: :mod:`sdk.client` and :mod:`sdk.aio`
do, each its own way.
"""
from __future__ import annotations

import itertools
import json
from typing import Any

from ledger.codec import Record
from ledger.keys import PrivateKey
from ledger.tx import Tx, sign_tx
from ledger.validators import ValidatorSet

from .build import checked, kind_of
from .errors import TransportError, TxFailed, error_from_rpc
from .methods import Request
from .finality import verify_final_receipt
from .types import BroadcastResult, Proof

__all__ = ["ClientCore", "ensure_ok", "sign"]

DEFAULT_TIMEOUT_S = 60.0
POLL_S = 0.1  # between two reads of a wait that polls


class ClientCore:
    """The node's URL, the request ids, the chain id once known (it never changes for a node), and the
    validator set finality is checked against (``trust``; None: the set the node reports, signatures checked)."""

    def __init__(self, url: str, timeout: float = DEFAULT_TIMEOUT_S, *, trust: ValidatorSet | None = None):
        self.url = url.rstrip("/") + "/"
        self.timeout = timeout
        self.trust = trust
        self._ids = itertools.count(1)
        self._chain_id: str | None = None

    @property
    def ws_url(self) -> str:
        """The node's WebSocket feed (``GET /ws``) on the same host and port."""
        return "ws" + self.url.removeprefix("http") + "ws"

    def envelope(self, method: str, params: Any) -> bytes:
        return json.dumps({"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params or {}}).encode()

    def result(self, body: bytes) -> Any:
        """The ``result`` of an answer; the error its code names, or TransportError if it is not JSON-RPC."""
        try:
            resp = json.loads(body or b"null")
        except ValueError:
            raise TransportError(f"node at {self.url} sent a response that is not JSON") from None
        if not isinstance(resp, dict):
            raise TransportError(f"unexpected response from {self.url}")
        if "error" in resp:
            raise error_from_rpc(resp["error"])
        return resp.get("result")

    def timeout_of(self, req: Request, timeout: float | None) -> float:
        return timeout or max(req.timeout or 0, self.timeout)

    def final(self, chain_id: str, tx_hash: str, answer: Proof) -> None:
        """NotFinal unless ``answer`` (``proof`` kind ``receipt``) proves ``tx_hash`` committed on ``chain_id`` and final."""
        verify_final_receipt(answer, chain_id, tx_hash, self.trust)


def notification(text: str, method: str) -> dict | None:
    """The params of a WebSocket message if it is the notification ``method``; a JSON-RPC error raises."""
    msg = json.loads(text)
    if not isinstance(msg, dict):
        return None
    if "error" in msg:
        raise error_from_rpc(msg["error"])
    return msg.get("params") if msg.get("method") == method else None


def subscribe_message(topic: str, **params: Any) -> str:
    return json.dumps({"jsonrpc": "2.0", "id": 1, "method": "subscribe", "params": {"topic": topic, **params}})


def sign(key: PrivateKey, chain_id: str, nonce: int, body: Record, check: bool = True) -> Tx:
    """``body`` signed by ``key`` for ``chain_id`` at ``nonce``; checked first (``settlement.checktx``) unless told not to.

    Raises:
        TxInvalid: the body is not a tx body, or a stateless check refuses it.
    """
    kind_of(body)
    return sign_tx(key, chain_id, nonce, checked(body) if check else body)


def ensure_ok(result: BroadcastResult) -> BroadcastResult:
    """``result`` if its receipt is ok; TxFailed (with the receipt's error and reason) if it was committed and failed."""
    r = result.get("receipt")
    if r is not None and not r["ok"]:
        raise TxFailed(f"transaction {result['hash']} committed at height {result.get('height')} but failed: "
                       f"{r['error']}: {r['reason']}", dict(result))
    return result
