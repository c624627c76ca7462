"""The asyncio face of the p2p layer: :class:`P2PNetwork`.

Owns: the trio thread's lifetime (start it, wait until it listens, stop it
cleanly and join it), the two bounded queues across the thread boundary,
the asyncio task that feeds received messages to ``on_message`` one at a
time, and turning asyncio calls (publish, request, report_garbage) into
work on the trio thread.

Threading model: libp2p runs under ``trio.run`` in one daemon thread per
network.  Every method here is called on the asyncio loop thread that
called :meth:`start`; ``on_message`` and the request handlers are awaited
on that same loop.  Nothing here blocks the loop: ``publish`` is a bounded
non-blocking put, ``request`` awaits a future the trio thread resolves.

Never does: run libp2p code on the asyncio thread, run application code on
the trio thread, or queue without a bound.
"""
from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from collections.abc import Awaitable, Callable, Mapping

import trio
from libp2p.peer.id import ID

from .bridge import AsyncioWaiter, ThreadQueue
from .config import P2PCounters, P2PLimits
from .errors import P2PError, P2PStartError, RequestError, RequestTimeout
from .gate import PeerGate, identity_from_seed, parse_allowlist
from .requests import OutboundRequest, RequestHandler
from .service import InboundMessage, P2PService

__all__ = ["MessageHandler", "P2PNetwork"]

log = logging.getLogger("settle.p2p")

MessageHandler = Callable[[str, str, bytes], Awaitable[None]]


def _root_cause(exc: BaseException) -> BaseException:
    """The first leaf of (nested) exception groups, for a readable message."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


class _Run:
    """One trio thread running one :class:`P2PService`, seen from asyncio."""

    def __init__(self, service: P2PService, loop: asyncio.AbstractEventLoop) -> None:
        self.service = service
        self.loop = loop
        self.started: asyncio.Future = loop.create_future()  # (token, addrs)
        self.done: asyncio.Future = loop.create_future()  # the run's end
        self.thread: threading.Thread | None = None
        self.token: trio.lowlevel.TrioToken | None = None
        self.addrs: tuple[str, ...] = ()

    @staticmethod
    def _resolve(fut: asyncio.Future, result=None, exc: BaseException | None = None) -> None:
        if not fut.done():
            fut.set_exception(exc) if exc is not None else fut.set_result(result)

    def _ready(self, token: trio.lowlevel.TrioToken, addrs: tuple[str, ...]) -> None:  # trio thread
        self.loop.call_soon_threadsafe(self._resolve, self.started, (token, addrs))

    def main(self) -> None:  # the thread's body
        error: BaseException | None = None
        try:
            trio.run(self.service.run, self._ready)
        except BaseException as exc:  # reported to asyncio, never lost
            error = exc
        try:
            self.loop.call_soon_threadsafe(self._resolve, self.started, None, error or P2PStartError("p2p thread ended"))
            self.loop.call_soon_threadsafe(self._resolve, self.done, None, error)
        except RuntimeError:  # the loop is already closed
            pass

    async def stop(self, timeout: float, quiet: bool = False) -> None:
        """Ask the run to stop (host.close() first), wait for it, join the thread."""
        token = self.token or self.service.token  # the latter is set as soon as trio runs
        if token is not None and not self.done.done():
            try:
                token.run_sync_soon(self.service.request_stop)
            except trio.RunFinishedError:
                pass
        try:
            await asyncio.wait_for(asyncio.shield(self.done), timeout)
        except TimeoutError:
            log.error("p2p: trio thread did not stop within %.0f s", timeout)
        except Exception as exc:  # whatever ended the trio run: stopping anyway, so it is only logged
            if not quiet:
                log.error("p2p: trio thread ended with %s", _root_cause(exc), exc_info=exc)
        if self.thread is not None:
            self.thread.join(timeout=1.0)


class P2PNetwork:
    """A permissioned libp2p node: gossip topics plus request/response.

    Args:
        identity_seed: 32 bytes; fixes this node's peer ID (see
            :func:`~node.p2p.gate.peer_id_from_seed`).  Keep it apart from
            the validator signing key.
        listen_host, listen_port: TCP address to listen on (port 0 picks one;
            see :attr:`listen_addrs`).
        allowed_peers: ``{peer_id: multiaddr or None}``: the only peers that
            may connect, in either direction.  Peers with an address are
            dialled and kept connected; None means accept but never dial.
            This node's own ID may be included (ignored).
        topics: gossip topics to join; ``publish`` accepts only these.
        on_message: ``async (topic, origin_peer_id, data)``, awaited for each
            message from another peer, one at a time, in arrival order.  It
            should decode, verify and enqueue quickly; call
            :meth:`report_garbage` for input that fails to decode or verify.
        request_handlers: ``{protocol_id: async (peer_id, payload) -> bytes}``.
            A handler that raises or overruns ``limits.request_timeout_s``
            resets that one stream; the caller sees a RequestError.
        limits: every bound (defaults suit a small validator set).
        relay: forward other peers' messages (gossipsub).  True is the
            robust default: a message still arrives when the direct link
            from its origin is down.  False suits a full mesh (every node
            dials every other, as validators here do): messages go straight
            from their origin to each peer on one stream per peer
            (:mod:`node.p2p.mesh`), with none of the n-2 redundant copies
            and none of pubsub's per-message work, at the price of that
            robustness.

    Raises:
        ValueError: bad seed, allowlist entry, topic or handler.
    """

    def __init__(
        self,
        identity_seed: bytes,
        listen_host: str,
        listen_port: int,
        allowed_peers: Mapping[str, str | None],
        topics: list[str],
        on_message: MessageHandler,
        request_handlers: Mapping[str, RequestHandler] | None = None,
        limits: P2PLimits | None = None,
        relay: bool = True,
    ) -> None:
        self._key_pair = identity_from_seed(identity_seed)
        self._peer_id = ID.from_pubkey(self._key_pair.public_key)
        self._allowlist = parse_allowlist(allowed_peers)
        limits = limits or P2PLimits()
        # Owned here, not by a run, so bans survive a restart of the trio thread.
        self._gate = PeerGate(
            set(self._allowlist) - {self._peer_id},
            strikes_to_ban=limits.strikes_to_ban,
            strike_window_s=limits.strike_window_s,
            ban_seconds=limits.ban_seconds,
        )
        self._names = {p.to_base58(): p for p in self._allowlist}
        if not topics or len(set(topics)) != len(topics) or not all(isinstance(t, str) and t for t in topics):
            raise ValueError("topics must be distinct non-empty strings")
        if not inspect.iscoroutinefunction(on_message):
            raise ValueError("on_message must be an async function")
        handlers = dict(request_handlers or {})
        for proto, handler in handlers.items():
            if not proto.startswith("/") or not inspect.iscoroutinefunction(handler):
                raise ValueError(f"request handler {proto!r}: protocol must start with '/', handler must be async")
        self._listen = (listen_host, int(listen_port))
        self._topics = list(topics)
        self._on_message = on_message
        self._handlers = handlers
        self._relay = bool(relay)
        self.limits = limits
        self.counters = P2PCounters()
        self._run: _Run | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._dispatcher: asyncio.Task | None = None
        self._supervisor: asyncio.Task | None = None
        self._request_slots: asyncio.Semaphore | None = None
        self._outbound: ThreadQueue | None = None
        self._inbound: ThreadQueue | None = None
        self._running = False
        self.listen_addrs: tuple[str, ...] = ()

    # ---- identity and state -------------------------------------------

    @property
    def peer_id(self) -> str:
        """This node's peer ID, ``12D3KooW...``."""
        return self._peer_id.to_base58()

    @property
    def running(self) -> bool:
        return self._running

    def peers(self) -> list[str]:
        """Allowlisted peers connected with a live gossip stream, sorted."""
        if self._run is None or not self._running:
            return []
        banned = self._gate.banned_snapshot  # a ban takes effect before the next snapshot
        return [p for p in self._run.service.peers_snapshot if p not in banned]

    def banned_peers(self) -> list[str]:
        """Peers currently banned for misbehaviour."""
        return sorted(self._gate.banned_snapshot)

    def stats(self) -> dict[str, int]:
        """Counters plus gauges (queue depths, peers, bans) for metrics."""
        out = self.counters.snapshot()
        out["peers"] = len(self.peers())
        out["banned"] = len(self.banned_peers())
        out["outbound_queue"] = len(self._outbound) if self._outbound else 0
        out["inbound_queue"] = len(self._inbound) if self._inbound else 0
        return out

    # ---- lifetime -------------------------------------------------------

    async def start(self) -> None:
        """Start the trio thread, listen, join the topics.

        Returns once listening; peers connect in the background (see
        :meth:`peers`).  If the trio thread later dies of an unexpected
        error it is restarted (``counters.restarts``), with backoff.

        Raises:
            P2PStartError: cannot listen, or not up within ``start_timeout_s``.
        """
        if self._loop is not None:
            raise P2PError("P2PNetwork.start called twice")
        loop = self._loop = asyncio.get_running_loop()
        waiter = AsyncioWaiter(loop)
        self._outbound = ThreadQueue(self.limits.outbound_queue_items, self.limits.outbound_queue_bytes)
        self._inbound = ThreadQueue(self.limits.inbound_queue_items, self.limits.inbound_queue_bytes, waiter.wake)
        self._request_slots = asyncio.Semaphore(self.limits.max_inflight_requests)
        run = await self._launch()
        self._running = True
        self._dispatcher = loop.create_task(self._dispatch(waiter), name="p2p-dispatch")
        self._supervisor = loop.create_task(self._supervise(run), name="p2p-supervise")
        log.debug("p2p: %s listening on %s, %d allowed peers", self.peer_id, ", ".join(run.addrs), len(self._allowlist))

    async def _launch(self) -> _Run:
        """Build a service, run it on a new trio thread, wait until it listens."""
        loop = self._loop
        assert loop is not None and self._outbound is not None and self._inbound is not None
        try:
            service = P2PService(
                key_pair=self._key_pair,
                listen_host=self._listen[0],
                listen_port=self._listen[1],
                allowlist=self._allowlist,
                gate=self._gate,
                topics=self._topics,
                request_handlers=self._handlers,
                limits=self.limits,
                counters=self.counters,
                outbound=self._outbound,
                inbound=self._inbound,
                loop=loop,
                relay=self._relay,
            )
        except Exception as exc:  # libp2p's setup raises assorted types: all mean this transport cannot start
            raise P2PStartError(f"cannot set up libp2p: {exc}") from exc
        run = _Run(service, loop)
        run.thread = threading.Thread(target=run.main, name=f"p2p-trio-{self.peer_id[-6:]}", daemon=True)
        run.thread.start()
        try:
            token, addrs = await asyncio.wait_for(asyncio.shield(run.started), self.limits.start_timeout_s)
        except BaseException as exc:
            await run.stop(self.limits.stop_timeout_s, quiet=True)
            if isinstance(exc, (asyncio.CancelledError, KeyboardInterrupt)):
                raise
            host, port = self._listen
            cause = _root_cause(exc)
            raise P2PStartError(f"p2p cannot start on {host}:{port}: {cause or type(cause).__name__}") from exc
        run.token, run.addrs = token, addrs
        self._run = run
        self.listen_addrs = addrs
        return run

    async def _supervise(self, run: _Run) -> None:
        """Restart the trio thread if it ends while we are running (a bug)."""
        delay = 1.0
        while True:
            try:
                await asyncio.shield(run.done)
                error: BaseException | None = P2PError("trio thread returned")
            except Exception as exc:  # the trio run died of a bug: restarted below, with backoff
                error = exc
            if not self._running:
                return
            self.counters.restarts += 1
            log.error("p2p: trio thread died; restarting in %.0f s", delay, exc_info=error)
            run.thread.join(timeout=1.0)
            await asyncio.sleep(delay)
            try:
                run = await self._launch()
                delay = 1.0
            except P2PStartError as exc:
                log.error("p2p: restart failed: %s", exc)
                delay = min(delay * 2, 30.0)

    async def stop(self) -> None:
        """Close every connection and listener, end the trio thread, join it.

        Idempotent.  Queued outbound messages are dropped (not counted).
        """
        if not self._running:
            return
        self._running = False
        assert self._outbound is not None and self._inbound is not None
        self._outbound.close()
        for task in (self._supervisor, self._dispatcher):
            if task is not None:
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    pass
        if self._run is not None:
            await self._run.stop(self.limits.stop_timeout_s)
        self._inbound.close()
        log.debug("p2p: stopped")

    # ---- gossip ---------------------------------------------------------

    def publish(self, topic: str, data: bytes) -> bool:
        """Queue ``data`` for gossip on ``topic``; never blocks.

        Returns:
            True if queued.  False (and ``counters.dropped_out`` incremented)
            if the network is not running, the payload exceeds
            ``max_message_bytes``, or the outbound queue is full: pace or
            batch, and retry later.
        Raises:
            ValueError: ``topic`` was not joined.
        """
        if topic not in self._topics:
            raise ValueError(f"not a joined topic: {topic!r}")
        size = len(data)
        if not self._running or size > self.limits.max_message_bytes or self._outbound is None:
            self.counters.dropped_out += 1
            return False
        if not self._outbound.put_nowait((topic, bytes(data)), size):
            self.counters.dropped_out += 1
            return False
        self.counters.published += 1
        return True

    def report_garbage(self, peer_id: str) -> None:
        """Tell the layer ``peer_id`` sent something undecodable or unverifiable.

        Counted; ``strikes_to_ban`` reports within ``strike_window_s`` ban
        the peer for ``ban_seconds`` (disconnected, refused both ways, and
        its messages dropped even when others forward them).
        """
        peer = self._names.get(peer_id)
        run = self._run
        if peer is None or not self._running or run is None or run.token is None:
            return
        try:
            run.token.run_sync_soon(run.service.report_garbage, peer)
        except trio.RunFinishedError:
            pass

    async def _dispatch(self, waiter: AsyncioWaiter) -> None:
        assert self._inbound is not None
        while True:
            msg: InboundMessage | None = self._inbound.get_nowait()
            if msg is None:
                woken = waiter.arm()
                msg = self._inbound.get_nowait()
                if msg is None:
                    await woken.wait()
                    continue
            try:
                await self._on_message(msg.topic, msg.peer_id, msg.data)
            except asyncio.CancelledError:
                raise
            except Exception:  # a handler's bug must not end the dispatcher; the node's handlers halt by themselves
                self.counters.handler_errors += 1
                log.exception("p2p: on_message failed for a %d-byte message on %s from %s", len(msg.data), msg.topic, msg.peer_id)

    # ---- request / response ---------------------------------------------

    async def request(self, peer_id: str, protocol: str, payload: bytes, timeout: float = 10.0) -> bytes:
        """Send ``payload`` to ``peer_id`` on ``protocol``; return its response.

        Raises:
            ValueError: unknown peer, or payload over ``max_request_bytes``.
            RequestTimeout: no response within ``timeout`` seconds.
            RequestRefused: the peer does not serve ``protocol``.
            RequestError: unreachable, stream reset, handler failure,
                response over ``max_response_bytes``, or not running.
        """
        peer = self._names.get(peer_id)
        if peer is None or peer == self._peer_id:
            raise ValueError(f"{peer_id!r} is not an allowed remote peer")
        if len(payload) > self.limits.max_request_bytes:
            raise ValueError(f"request of {len(payload)} bytes exceeds max_request_bytes")
        if not self._running or self._loop is None or self._request_slots is None:
            raise RequestError("p2p network is not running")
        loop = self._loop
        future: asyncio.Future = loop.create_future()

        def resolve(result: bytes | None, exc: BaseException | None) -> None:  # trio thread
            def settle() -> None:
                if not future.done():
                    future.set_exception(exc) if exc is not None else future.set_result(result)

            try:
                loop.call_soon_threadsafe(settle)
            except RuntimeError:
                pass

        req = OutboundRequest(peer, protocol, bytes(payload), float(timeout), resolve)
        async with self._request_slots:
            run = self._run
            try:
                if run is None or run.token is None:
                    raise trio.RunFinishedError
                run.token.run_sync_soon(run.service.start_request, req)
            except trio.RunFinishedError:
                raise RequestError("p2p network is not running") from None
            try:
                # The trio side enforces ``timeout``; the margin covers the hop back.
                return await asyncio.wait_for(asyncio.shield(future), timeout + 5.0)
            except (asyncio.CancelledError, TimeoutError) as exc:
                try:
                    run.token.run_sync_soon(req.cancel)
                except trio.RunFinishedError:
                    pass
                if isinstance(exc, TimeoutError):
                    raise RequestTimeout(f"request {protocol} to {peer_id} timed out after {timeout} s") from None
                raise
