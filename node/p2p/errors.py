"""Errors the p2p layer raises to the node.

Owns the exception hierarchy only; every error the asyncio API raises on
purpose is a :class:`P2PError` (or a ``ValueError`` for a caller's bad
argument, such as an oversized payload or a peer not on the allowlist).
Never does: carry libp2p exception types across to asyncio.
"""
from __future__ import annotations

from ledger.errors import SettleError

__all__ = ["P2PError", "P2PStartError", "RequestError", "RequestRefused", "RequestTimeout"]


class P2PError(SettleError):
    """Base class: something in the peer-to-peer layer failed.

    Nobody's fault in the error tree's sense (``ledger/errors.py``): a peer
    unreachable, a request timed out.  Retry later or on another peer; a
    peer's bad input is reported separately (``report_garbage``).
    """


class P2PStartError(P2PError):
    """:meth:`P2PNetwork.start` failed (port in use, bad address, timeout)."""


class RequestError(P2PError):
    """A request got no response: the peer is unreachable, reset the stream,
    its handler failed, or the response was too large.  Safe to retry on
    another peer."""


class RequestTimeout(RequestError):
    """A request got no response within its timeout."""


class RequestRefused(RequestError):
    """The peer does not serve the protocol (or refused us)."""
