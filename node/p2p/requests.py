"""Request/response on the trio thread, for the asyncio application.

Owns: :class:`RequestBridge`, which registers the application's asyncio
request handlers as libp2p request/response protocols (each inbound request
is run on the asyncio loop and awaited from trio on an event, under the
request timeout) and executes the application's outbound requests
(:class:`OutboundRequest`), translating libp2p's errors into
:mod:`node.p2p.errors`.

Never does: run a handler on the trio thread, let a handler's exception or
slowness escape its one stream, or leave an outbound request unanswered:
every :class:`OutboundRequest` is resolved exactly once, whatever happens.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import trio
from libp2p.custom_types import TProtocol
from libp2p.peer.id import ID
from libp2p.request_response import BytesCodec, RequestContext, RequestResponse
from libp2p.request_response.api import RequestResponseConfig
from libp2p.request_response.exceptions import (
    ProtocolNotSupportedError,
    RequestResponseError,
    RequestTimeoutError,
)

from .config import P2PCounters, P2PLimits
from .errors import RequestError, RequestRefused, RequestTimeout
from .gate import PeerGate

__all__ = ["HandlerFailed", "OutboundRequest", "RequestBridge", "RequestHandler"]

log = logging.getLogger("settle.p2p")

RequestHandler = Callable[[str, bytes], Awaitable[bytes]]


@dataclass(slots=True)
class OutboundRequest:
    """An asyncio request travelling to the trio thread and back.

    ``resolve(response, error)`` is called exactly once, on the trio thread;
    it must hand the outcome to asyncio thread-safely.
    """

    peer: ID
    protocol: str
    payload: bytes
    timeout: float
    resolve: Callable[[bytes | None, BaseException | None], None]
    cancelled: bool = False
    scope: trio.CancelScope | None = field(default=None)

    def cancel(self) -> None:  # trio thread
        self.cancelled = True
        if self.scope is not None:
            self.scope.cancel()


class HandlerFailed(RequestResponseError):
    """The application's handler raised or returned a bad value (the stream is reset)."""


class RequestBridge:
    """The trio side of request/response (trio thread only after construction).

    Args:
        host: the libp2p host to serve on and send from.
        handlers: ``{protocol_id: async (peer_id, payload) -> bytes}``, run
            on ``loop``.
        names: peer ID -> its base58 string, for every allowlisted peer.
    """

    def __init__(
        self,
        host,
        *,
        handlers: dict[str, RequestHandler],
        gate: PeerGate,
        names: dict[ID, str],
        counters: P2PCounters,
        limits: P2PLimits,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.gate = gate
        self.names = names
        self.counters = counters
        self.limits = limits
        self.loop = loop
        self.rr = RequestResponse(host)
        for proto, handler in handlers.items():
            self.rr.set_handler(
                TProtocol(proto),
                self._serve(handler),
                BytesCodec(),
                RequestResponseConfig(
                    timeout=limits.request_timeout_s,  # read + handler + write
                    max_request_size=limits.max_request_bytes,
                    max_response_size=limits.max_response_bytes,
                    max_concurrent_inbound=limits.max_inbound_requests,
                ),
            )

    def _serve(self, handler: RequestHandler):
        async def handle(request: bytes, ctx: RequestContext) -> bytes:
            peer = ctx.peer_id
            if not self.gate.admits(peer):
                raise HandlerFailed(f"peer {peer} not admitted")
            self.counters.requests_in += 1
            token = trio.lowlevel.current_trio_token()
            done = trio.Event()

            def wake(_future) -> None:  # asyncio thread
                try:
                    token.run_sync_soon(done.set)
                except trio.RunFinishedError:
                    pass

            try:
                future = asyncio.run_coroutine_threadsafe(handler(self.names[peer], request), self.loop)
            except RuntimeError as exc:  # the asyncio loop is closing
                raise HandlerFailed(str(exc)) from None
            future.add_done_callback(wake)
            try:
                await done.wait()
            except BaseException:  # timed out or shutting down: stop the handler too
                future.cancel()
                raise
            try:
                response = future.result()
            except BaseException as exc:
                self.counters.request_errors += 1
                log.warning("p2p: request handler for %s raised %s: %s", ctx.protocol_id, type(exc).__name__, exc)
                raise HandlerFailed("handler failed") from None
            if not isinstance(response, (bytes, bytearray, memoryview)):
                self.counters.request_errors += 1
                raise HandlerFailed(f"handler returned {type(response).__name__}, not bytes")
            return bytes(response)

        return handle

    async def run(self, req: OutboundRequest) -> None:
        """Send ``req`` and resolve it with the response or a RequestError."""
        self.counters.requests_out += 1
        outcome: tuple[bytes | None, BaseException | None] = (None, RequestError("request cancelled"))
        try:
            with trio.CancelScope() as scope:
                req.scope = scope
                if req.cancelled:
                    scope.cancel()
                outcome = (await self._send(req), None)
        except RequestTimeoutError:
            outcome = (None, RequestTimeout(f"request {req.protocol} to {req.peer} timed out after {req.timeout} s"))
        except ProtocolNotSupportedError:
            outcome = (None, RequestRefused(f"peer {req.peer} does not serve {req.protocol}"))
        except Exception as exc:  # libp2p's stream errors have no common base: every other failure is a RequestError
            cause = exc.__cause__ or exc
            outcome = (None, RequestError(f"request {req.protocol} to {req.peer} failed: {cause}"))
        finally:  # also when the whole run is being cancelled
            if outcome[1] is not None:
                self.counters.request_errors += 1
            req.resolve(*outcome)

    async def _send(self, req: OutboundRequest) -> bytes:
        return await self.rr.send_request(
            req.peer,
            [TProtocol(req.protocol)],
            req.payload,
            BytesCodec(),
            RequestResponseConfig(
                timeout=req.timeout,
                max_request_size=self.limits.max_request_bytes,
                max_response_size=self.limits.max_response_bytes,
            ),
        )
