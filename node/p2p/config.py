"""Limits and counters of the peer-to-peer layer.

Owns: :class:`P2PLimits`, every tunable bound of ``node/p2p`` in one frozen,
self-validating value (queue sizes, message and request sizes, timeouts, the
ban policy), and :class:`P2PCounters`, the plain integer counters the node
exports as metrics.

Never does: I/O, threads, or imports of libp2p/trio/asyncio.  Each counter
has exactly one writing thread: the asyncio loop writes ``published``,
``dropped_out``, ``handler_errors`` and ``restarts``; the trio thread
writes the rest.  So no increment is lost, and reading a snapshot from
the other thread is safe without locks (at worst an increment stale).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["P2PLimits", "P2PCounters"]

KiB = 1024
MiB = 1024 * KiB


@dataclass(frozen=True, slots=True)
class P2PLimits:
    """Every bound the p2p layer enforces.

    Gossip:
        max_message_bytes: a gossip payload larger than this is refused by
            :meth:`P2PNetwork.publish` and dropped (and counted, and a strike
            against the forwarder) when received.
        outbound_queue_items / outbound_queue_bytes: the asyncio -> trio
            publish queue; ``publish`` returns False when either is full.
        inbound_queue_items / inbound_queue_bytes: the trio -> asyncio
            delivery queue; received messages are dropped and counted when
            the application's ``on_message`` falls this far behind.
        peer_queue_items / peer_queue_bytes: libp2p's per-peer outbound RPC
            queue (libp2p: 32 items, no byte bound; it silently drops
            bursts).  The publisher waits while any peer queue is over half
            full, for at most ``publish_stall_s``; overflow is counted.
        subscription_channel_items: libp2p's per-topic delivery channel
            (default 32).  Drained at once into the inbound queue, so it
            holds a few messages at most in practice.
    Requests:
        max_request_bytes / max_response_bytes: request/response payloads.
        request_timeout_s: an inbound request's whole exchange (read, the
            application's handler, write) must end within this.
        max_inflight_requests: outbound requests in flight at once.
        max_inbound_requests: concurrent inbound requests per protocol.
    Misbehaviour:
        strikes_to_ban: oversized or garbage messages (``report_garbage``)
            from one peer within ``strike_window_s`` that get it banned.
        ban_seconds: how long a banned peer is disconnected and refused in
            the Noise handshake, both directions.
    Connectivity:
        reconnect_interval_s: how often disconnected allowlisted peers are
            redialled (also gossipsub's ``direct_connect_interval``).
        dial_timeout_s: one dial attempt.
        start_timeout_s / stop_timeout_s: bound :meth:`start` / :meth:`stop`.
    """

    max_message_bytes: int = 4 * MiB
    outbound_queue_items: int = 512
    outbound_queue_bytes: int = 64 * MiB
    inbound_queue_items: int = 2048
    inbound_queue_bytes: int = 128 * MiB
    peer_queue_items: int = 512
    peer_queue_bytes: int = 64 * MiB
    subscription_channel_items: int = 256
    publish_stall_s: float = 2.0
    max_request_bytes: int = 64 * KiB
    max_response_bytes: int = 16 * MiB
    request_timeout_s: float = 10.0
    max_inflight_requests: int = 64
    max_inbound_requests: int = 16
    strikes_to_ban: int = 10
    strike_window_s: float = 60.0
    ban_seconds: float = 300.0
    reconnect_interval_s: float = 1.0
    dial_timeout_s: float = 5.0
    start_timeout_s: float = 15.0
    stop_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"P2PLimits.{name} must be a positive number, got {value!r}")
        if self.outbound_queue_bytes < self.max_message_bytes:
            raise ValueError("P2PLimits.outbound_queue_bytes must hold at least one max_message_bytes message")
        if self.inbound_queue_bytes < self.max_message_bytes:
            raise ValueError("P2PLimits.inbound_queue_bytes must hold at least one max_message_bytes message")
        if self.peer_queue_items < 4:
            raise ValueError("P2PLimits.peer_queue_items must be at least 4")
        if self.peer_queue_bytes < 2 * self.frame_bytes:
            raise ValueError("P2PLimits.peer_queue_bytes must hold two max-size frames")

    @property
    def frame_bytes(self) -> int:
        """Largest pubsub RPC frame read from or written to a peer.

        A payload of ``max_message_bytes`` plus protobuf framing, signature,
        key and the signed peer record fits comfortably in 64 KiB of slack.
        Frames beyond this are refused by libp2p itself (stream reset), and
        counted as oversized by the hook in :mod:`node.p2p.tuning`.
        """
        return self.max_message_bytes + 64 * KiB


@dataclass(slots=True)
class P2PCounters:
    """Monotonic counters for metrics; see the module docstring for writers.

    published / dropped_out: ``publish`` calls accepted / refused (queue
    full, too large, not running).  msgs_out / bytes_out: messages handed
    to gossipsub.  msgs_in / bytes_in: messages from other peers queued
    for ``on_message``; dropped_in: ones dropped because that queue was
    full.  oversized: gossip messages or frames over the limit.  garbage:
    ``report_garbage`` calls plus messages from origins not on the
    allowlist.  relayed_dropped: unsigned messages that came from a peer
    other than their origin (gossip IWANT answers; refused without a
    strike, see ``P2PService._validate``).  peer_queue_drops: RPCs libp2p's per-peer queue refused
    (the drops libp2p would otherwise make silently).  publish_stalls:
    times the publisher waited on a full peer queue.  connects /
    disconnects: connection events.  refused: Noise handshakes refused
    (stranger or banned peer).  bans: peers banned.  requests_in /
    requests_out / request_errors: request/response exchanges.
    handler_errors: exceptions raised by ``on_message``.  restarts: the
    trio thread died of a bug and was restarted.
    """

    published: int = 0
    dropped_out: int = 0
    msgs_out: int = 0
    bytes_out: int = 0
    msgs_in: int = 0
    bytes_in: int = 0
    dropped_in: int = 0
    oversized: int = 0
    garbage: int = 0
    relayed_dropped: int = 0
    peer_queue_drops: int = 0
    publish_stalls: int = 0
    connects: int = 0
    disconnects: int = 0
    refused: int = 0
    bans: int = 0
    requests_in: int = 0
    requests_out: int = 0
    request_errors: int = 0
    handler_errors: int = 0
    restarts: int = 0

    def snapshot(self) -> dict[str, int]:
        """A copy of every counter, for the metrics endpoint."""
        return asdict(self)
