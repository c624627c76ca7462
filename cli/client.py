"""A small synchronous JSON-RPC client for the CLI, tests and benchmarks.

Owns: one HTTP POST per call (urllib, no extra dependency), turning JSON-RPC
errors into :class:`RPCClientError` with the server's message, and
connection failures into a readable one-line error.
"""
from __future__ import annotations

import itertools
import json
import urllib.error
import urllib.request
from typing import Any

__all__ = ["RPCClient", "RPCClientError"]


class RPCClientError(Exception):
    def __init__(self, message: str, code: int | None = None, data: Any = None):
        super().__init__(message)
        self.code = code
        self.data = data


class RPCClient:
    def __init__(self, url: str, timeout: float = 60.0):
        self.url = url.rstrip("/") + "/"
        self.timeout = timeout
        self._ids = itertools.count(1)

    def _post(self, payload: Any, timeout: float | None = None) -> Any:
        data = json.dumps(payload).encode()
        req = urllib.request.Request(self.url, data=data, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout or self.timeout) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise RPCClientError(f"node at {self.url} answered HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise RPCClientError(f"cannot reach node at {self.url}: {reason}") from None
        except ValueError:
            raise RPCClientError(f"node at {self.url} sent a response that is not JSON") from None

    def call(self, method: str, params: Any = None, *, timeout: float | None = None) -> Any:
        resp = self._post({"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params or {}}, timeout)
        if not isinstance(resp, dict):
            raise RPCClientError(f"unexpected response from {self.url}")
        if "error" in resp:
            err = resp["error"]
            raise RPCClientError(err.get("message", "error"), err.get("code"), err.get("data"))
        return resp.get("result")
