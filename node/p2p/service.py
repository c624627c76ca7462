"""The trio side of the p2p layer: one libp2p host and everything it runs.

Owns, on its own trio thread: the libp2p host (TCP, Noise only through
:class:`~node.p2p.gate.GatedNoise`, Yamux), Pubsub + GossipSub (all
allowlisted peers are *direct* peers; spam and eclipse protection off; a
1 s heartbeat so gossipsub's caches stay seconds deep), request/response
protocols, and these tasks:

* the publisher drains the outbound :class:`~node.p2p.bridge.ThreadQueue`
  into pubsub (relay on) or the direct mesh (:mod:`node.p2p.mesh`, relay
  off) and waits (bounded) while a peer's outbound queue is over half full;
* one reader per topic moves messages from other peers into the inbound
  queue for the asyncio side (own echoes filtered, overflow counted);
* the keeper (:mod:`node.p2p.keeper`, which also owns strikes and bans)
  redials allowlisted peers, repairs connections that lost their pubsub
  stream, lifts expired bans and publishes the peers snapshot;
* request/response, in both directions, through
  :class:`~node.p2p.requests.RequestBridge`.

Never does: run application code on this thread (handlers and
``on_message`` run on the asyncio loop), block on the asyncio side, or let
one peer's bad input end a task: every per-message step is guarded, and the
only way out of :meth:`P2PService.run` is :meth:`request_stop` or a bug.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import multiaddr
import trio
from libp2p import new_host
from libp2p.custom_types import TProtocol
from libp2p.network.config import ConnectionConfig
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo
from libp2p.pubsub.gossipsub import PROTOCOL_ID_V11, PROTOCOL_ID_V12
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_PROTOCOL_ID
from libp2p.stream_muxer.yamux.yamux import PROTOCOL_ID as YAMUX_PROTOCOL_ID
from libp2p.stream_muxer.yamux.yamux import Yamux
from libp2p.tools.anyio_service import background_trio_service
from libp2p.utils.connection_shutdown import is_expected_connection_shutdown

from . import tuning
from .bridge import ThreadQueue, TrioWaiter
from .config import P2PCounters, P2PLimits
from .errors import RequestError
from .gate import GatedNoise, PeerGate
from .keeper import PeerKeeper
from .mesh import DirectMesh
from .requests import OutboundRequest, RequestBridge, RequestHandler
from .router import DirectMeshGossipSub, GuardedPubsub

__all__ = ["InboundMessage", "P2PService"]

log = logging.getLogger("settle.p2p")



def pin_dial_addresses(peerstore, pinned: dict[ID, list]) -> None:
    """Dial an allowlisted peer only at its configured addresses.

    libp2p's identify replaces a peer's addresses in the peerstore with the
    ones the peer announces (its listen addresses), and every later dial
    (our keeper's, gossipsub's direct-peer redial) tries those: the
    configured address (a proxy, a NAT, a DNS name) was used once and then
    ignored, and an allowlisted peer could steer our dials to any address.
    Peers outside ``pinned`` keep libp2p's behaviour.
    """
    learned = peerstore.addrs

    def addrs(peer_id: ID) -> list:
        return list(pinned[peer_id]) if peer_id in pinned else learned(peer_id)

    peerstore.addrs = addrs


@dataclass(frozen=True, slots=True)
class InboundMessage:
    topic: str
    peer_id: str  # the message's origin (it signed it), never the forwarder
    data: bytes


class _ConnEvents:
    """INotifee: count connects and disconnects (trio thread)."""

    def __init__(self, counters: P2PCounters) -> None:
        self.counters = counters

    async def opened_stream(self, network, stream) -> None:
        pass

    async def closed_stream(self, network, stream) -> None:
        pass

    async def connected(self, network, conn) -> None:
        self.counters.connects += 1

    async def disconnected(self, network, conn) -> None:
        self.counters.disconnects += 1

    async def listen(self, network, maddr) -> None:
        pass

    async def listen_close(self, network, maddr) -> None:
        pass


class P2PService:
    """Everything that runs on the trio thread; see the module docstring.

    Construct on any thread; call :meth:`run` under ``trio.run`` on a
    dedicated thread; every other method runs on that trio thread (the
    asyncio side reaches them through the trio token).
    """

    def __init__(
        self,
        *,
        key_pair,
        listen_host: str,
        listen_port: int,
        allowlist: dict[ID, PeerInfo | None],
        gate: PeerGate,
        topics: list[str],
        request_handlers: dict[str, RequestHandler],
        limits: P2PLimits,
        counters: P2PCounters,
        outbound: ThreadQueue,
        inbound: ThreadQueue,
        loop: asyncio.AbstractEventLoop,
        relay: bool = True,
    ) -> None:
        self.limits = limits
        self.counters = counters
        self.outbound = outbound
        self.inbound = inbound
        self.loop = loop
        self.topics = list(topics)
        self.my_id = ID.from_pubkey(key_pair.public_key)
        self.listen = multiaddr.Multiaddr(f"/ip4/{listen_host}/tcp/{listen_port}")
        self.dialable = {p: i for p, i in allowlist.items() if i is not None and p != self.my_id}
        self.names = {p: p.to_base58() for p in allowlist}
        self.names[self.my_id] = self.my_id.to_base58()
        self.gate = gate
        self.listen_addrs: tuple[str, ...] = ()
        self._stop = trio.Event()
        self.token: trio.lowlevel.TrioToken | None = None
        self._nursery: trio.Nursery | None = None
        self._out_waiter: TrioWaiter | None = None
        self._stalled: set[ID] = set()

        self.host = new_host(
            key_pair=key_pair,
            sec_opt={NOISE_PROTOCOL_ID: GatedNoise(key_pair, self.gate, counters)},
            muxer_opt={TProtocol(YAMUX_PROTOCOL_ID): Yamux},
            connection_config=ConnectionConfig(dial_timeout=limits.dial_timeout_s),
        )
        for pid, info in self.dialable.items():
            self.host.get_peerstore().add_addrs(pid, info.addrs, 0)  # 0: permanent
        pin_dial_addresses(self.host.get_peerstore(), {pid: list(info.addrs) for pid, info in self.dialable.items()})
        self.router = DirectMeshGossipSub(
            protocols=[PROTOCOL_ID_V12, PROTOCOL_ID_V11],
            degree=6,
            degree_low=4,
            degree_high=12,
            direct_peers=list(self.dialable.values()),
            direct_connect_initial_delay=0.1,
            direct_connect_interval=limits.reconnect_interval_s,  # type: ignore[arg-type]
            heartbeat_initial_delay=0.1,
            heartbeat_interval=1,
            spam_protection_enabled=False,
            eclipse_protection_enabled=False,
        )
        self.router.relay = relay
        self.pubsub = GuardedPubsub(
            self.host,
            self.router,
            # Without relaying, every message arrives on the Noise-authenticated
            # connection of its origin (checked in _validate): a libp2p
            # signature per message would add nothing but CPU on both ends.
            # Consensus messages and transactions carry their own signatures.
            strict_signing=relay,
            max_inbound_rpc_size=limits.frame_bytes,
            allowed_topics=frozenset(self.topics),
            validation_cache_size=16,  # message ids never repeat; libp2p's LRU is O(size) per message
        )
        # Sequence numbers start at the wall clock in *seconds* by default, so
        # a node restarted after publishing more than one message per second
        # would reuse seqnos its peers still hold as seen (dropped as
        # duplicates, or as equivocation).  Nanoseconds leave no overlap.
        self.pubsub.counter = time.time_ns()
        for topic in self.topics:
            self.pubsub.set_topic_validator(topic, self._validate, False)
        self.requests = RequestBridge(
            self.host,
            handlers=request_handlers,
            gate=gate,
            names=self.names,
            counters=counters,
            limits=limits,
            loop=loop,
        )
        self.pubsub.on_bad_message = self._on_bad_message
        self.keeper = PeerKeeper(host=self.host, pubsub=self.pubsub, router=self.router, gate=gate,
                                 dialable=self.dialable, names=self.names, limits=limits, counters=counters,
                                 spawn=self._spawn)
        # Without relay, messages go straight to each peer on one stream (see mesh.py).
        self.mesh = None if relay else DirectMesh(
            self.host, topics=self.topics, names=self.names, gate=gate, limits=limits, counters=counters, deliver=self._deliver
        )
        network = self.host.get_network()
        network.register_notifee(_ConnEvents(counters))
        # Every inbound stream (protocol negotiation, then the protocol's
        # handler: pubsub reads, identify, requests) runs in the connection's
        # nursery; an exception there would end the whole swarm.  Contain it.
        self._unguarded_stream_handler = network.common_stream_handler
        network.common_stream_handler = self._guarded_stream_handler

    # ---- lifetime -------------------------------------------------------

    async def run(self, ready: Callable[[trio.lowlevel.TrioToken, tuple[str, ...]], None]) -> None:
        """Listen, join the topics, call ``ready(token, addrs)``, run until stopped.

        Raises whatever prevents listening (e.g. the port is taken) before
        ``ready`` is called.
        """
        tuning.install()
        hooks = tuning.TuningHooks(
            peer_queue_items=self.limits.peer_queue_items,
            peer_queue_bytes=self.limits.peer_queue_bytes,
            frame_bytes=self.limits.frame_bytes,
            on_queue_drop=self._on_queue_drop,
            on_oversized_frame=self._on_oversized_frame,
        )
        tuning.register(hooks)
        token = self.token = trio.lowlevel.current_trio_token()
        self._out_waiter = TrioWaiter(token)
        self.outbound.wakeup = self._out_waiter.wake
        try:
            async with self.host.run([self.listen]):
                if not self.host.get_network().listeners:  # libp2p only logs a failed listen
                    raise OSError(f"cannot listen on {self.listen} (address in use?)")
                async with background_trio_service(self.pubsub), background_trio_service(self.router):
                    await self.pubsub.wait_until_ready()
                    for peer in self.gate.banned():  # bans outlive a restarted run
                        self.keeper.isolate(peer)
                    tuning.raise_subscription_channel(self.limits.subscription_channel_items)
                    subs = [(t, await self.pubsub.subscribe(t)) for t in self.topics]
                    async with trio.open_nursery() as nursery:
                        self._nursery = nursery
                        if self.mesh is not None:
                            self.mesh.nursery = nursery
                        for topic, sub in subs:
                            nursery.start_soon(self._read_topic, topic, sub)
                        nursery.start_soon(self._publisher)
                        nursery.start_soon(self.keeper.run)
                        self.listen_addrs = tuple(str(a) for a in self.host.get_addrs())
                        ready(token, self.listen_addrs)
                        await self._stop.wait()
                        # Close connections and listeners before cancelling
                        # anything: cancelling host.run() alone leaves TCP
                        # connections ESTABLISHED.
                        with trio.move_on_after(self.limits.stop_timeout_s / 2):
                            await self.host.close()
                        nursery.cancel_scope.cancel()
                        self._nursery = None
                        if self.mesh is not None:
                            self.mesh.nursery = None
        except BaseException:
            # A bug got us here.  Close the sockets now: left to the garbage
            # collector, the peers would keep writing into dead connections
            # while the restarted run opens new ones.
            with trio.CancelScope(shield=True), trio.move_on_after(self.limits.stop_timeout_s / 2):
                try:
                    await self.host.close()
                except Exception as exc:  # best effort on the way out of a failed run: the original error is re-raised
                    log.debug("p2p: closing the host after a failure: %s", exc)
            raise
        finally:
            leftover = hooks.close_tcp_streams()
            if leftover:
                log.debug("p2p: closed %d connections libp2p left open", leftover)
            self.outbound.wakeup = None
            self.pubsub.seen_messages.stop()  # a sweeper thread libp2p never stops
            tuning.unregister()

    def request_stop(self) -> None:
        self._stop.set()

    @property
    def peers_snapshot(self) -> tuple[str, ...]:
        """Connected allowlisted peers with a live pubsub stream, sorted (the keeper's last look)."""
        return self.keeper.peers_snapshot

    def _spawn(self, fn, *args) -> bool:
        """Start ``fn(*args)`` in the run's nursery; False (nothing started) while not running."""
        if self._nursery is None:
            return False
        self._nursery.start_soon(fn, *args)
        return True

    # ---- gossip ---------------------------------------------------------

    def _validate(self, forwarder: ID, msg) -> bool:
        """Pubsub topic validator: runs before a message is delivered or forwarded."""
        if forwarder == self.my_id:
            return True
        if len(msg.data) > self.limits.max_message_bytes:
            self.counters.oversized += 1
            self.keeper.strike(forwarder, "oversized message")
            return False
        if ID(msg.from_id) not in self.names:
            self.counters.garbage += 1
            self.keeper.strike(forwarder, "message from an origin not on the allowlist")
            return False
        if not self.pubsub.strict_signing and msg.from_id != forwarder.to_bytes():
            # Unsigned, so only its origin may deliver it.  Honest peers do
            # send such copies (answers to gossip IWANTs after a reconnect):
            # refuse them without a strike; the origin's own copy, consensus
            # re-gossip and block sync cover what they carried.
            self.counters.relayed_dropped += 1
            return False
        return True

    async def _read_topic(self, topic: str, sub) -> None:
        while True:
            msg = await sub.get()
            try:
                origin = self.names.get(ID(msg.from_id))
                if origin is None or origin == self.names[self.my_id]:
                    continue  # own echo (or a stranger the validator already refused)
                self._deliver(topic, origin, bytes(msg.data))
            except Exception:  # a malformed message (libp2p parses its fields lazily) must not end this reader
                log.exception("p2p: dropping a message on %s that could not be queued", topic)

    def _deliver(self, topic: str, origin: str, data: bytes) -> None:
        """Hand a message from another peer to the asyncio side (overflow is counted)."""
        if self.inbound.put_nowait(InboundMessage(topic, origin, data), len(data)):
            self.counters.msgs_in += 1
            self.counters.bytes_in += len(data)
        else:
            self.counters.dropped_in += 1

    def _mesh_peers(self) -> dict[ID, list]:
        """Connected allowlisted peers the gate admits, with their connections."""
        conns = self.host.get_network().connections
        return {p: c for p, c in conns.items() if p in self.names and p != self.my_id and self.gate.admits(p)}

    async def _publisher(self) -> None:
        assert self._out_waiter is not None
        while True:
            item = self.outbound.get_nowait()
            if item is None:
                woken = self._out_waiter.arm()
                item = self.outbound.get_nowait()
                if item is None:
                    await woken.wait()
                    continue
            topic, data = item
            await self._wait_for_peer_queues()
            try:
                if self.mesh is not None:
                    self.mesh.publish(topic, data, self._mesh_peers())
                else:
                    await self.pubsub.publish(topic, data)
            except Exception:  # libp2p's publish raises assorted types; one failed message must not end the publisher
                log.exception("p2p: publish on %s failed", topic)
                continue
            self.counters.msgs_out += 1
            self.counters.bytes_out += len(data)

    async def _wait_for_peer_queues(self) -> None:
        """Backpressure: wait while a live peer's outbound queue is over half full.

        A peer that stays congested for ``publish_stall_s`` is marked stalled
        and no longer waited for (its queue drops, and counts) until it
        drains below a quarter.
        """
        deadline = None
        while True:
            fills = self._queue_fills()
            for pid in [p for p in self._stalled if fills.get(p, 0.0) < 0.25]:
                self._stalled.discard(pid)
            congested = [p for p, f in fills.items() if f >= 0.5 and p not in self._stalled]
            if not congested:
                return
            now = trio.current_time()
            if deadline is None:
                self.counters.publish_stalls += 1
                deadline = now + self.limits.publish_stall_s
            elif now >= deadline:
                log.warning("p2p: peers %s not draining; publishing past them", [self.names.get(p, p) for p in congested])
                self._stalled.update(congested)
                return
            await trio.sleep(0.002)

    def _queue_fills(self) -> dict[ID, float]:
        """Each peer's outbound queue use: the tighter of its item and byte bounds, 0..1."""
        if self.mesh is not None:
            return {p: self.mesh.fill(p) for p in self.mesh.queues}
        items, nbytes = self.limits.peer_queue_items, self.limits.peer_queue_bytes
        return {p: max(len(q) / items, getattr(q, "nbytes", 0) / nbytes) for p, q in self.pubsub.peer_queues.items()}

    def _on_queue_drop(self) -> None:
        self.counters.peer_queue_drops += 1

    # ---- misbehaviour ---------------------------------------------------

    async def _guarded_stream_handler(self, stream) -> None:
        try:
            await self._unguarded_stream_handler(stream)
        except Exception as exc:  # a peer's bad stream, whatever libp2p raised for it: contained, struck (see __init__)
            peer = getattr(getattr(stream, "muxed_conn", None), "peer_id", None)
            if is_expected_connection_shutdown(exc):
                log.debug("p2p: stream from %s ended: %s", peer, exc)
            else:
                self._on_bad_message(peer, exc)
            try:
                await stream.reset()
            except Exception:  # the stream may already be gone
                pass

    def _on_bad_message(self, peer, exc: BaseException) -> None:
        self.counters.garbage += 1
        log.info("p2p: dropped bad input from %s: %s: %s", self.names.get(peer, peer), type(exc).__name__, exc)
        if isinstance(peer, ID):
            self.keeper.strike(peer, f"bad input ({type(exc).__name__})")

    def _on_oversized_frame(self, peer) -> None:
        self.counters.oversized += 1
        if isinstance(peer, ID):
            self.keeper.strike(peer, "oversized pubsub frame")

    def report_garbage(self, peer: ID) -> None:
        self.counters.garbage += 1
        self.keeper.strike(peer, "garbage reported by the application")

    # ---- request / response ---------------------------------------------

    def start_request(self, req: OutboundRequest) -> None:
        """Spawn ``req`` (called through the trio token)."""
        if self._nursery is None:
            req.resolve(None, RequestError("p2p network is stopping"))
            return
        self._nursery.start_soon(self.requests.run, req)
