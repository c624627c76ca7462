"""Process-wide adjustments to py-libp2p 0.8.1 defaults that drop traffic.

Owns eight module-level changes, applied once by :func:`install`: the two
that ``shared/notes/py-libp2p.md`` calls for (1, 2) and six found while
building and profiling this layer (3-8):

1. ``libp2p.pubsub.pubsub.SUBSCRIPTION_CHANNEL_SIZE`` (32: a burst overflows
   a topic's delivery channel and libp2p drops with a log line) is raised
   before each subscribe to the largest ``subscription_channel_items`` asked
   for in this process.
2. ``libp2p.pubsub.pubsub.RpcQueue`` (per-peer outbound queue; its size is a
   default argument bound at import, 32, so changing ``OutBoundQueueSize``
   does nothing) is replaced by :class:`BoundedRpcQueue`, sized in items and
   bytes from the running network's limits, which counts every RPC it
   refuses.
3. ``libp2p.pubsub.pubsub.read_varint_prefixed_bytes_limited`` is wrapped so
   a peer's over-limit pubsub frame (libp2p resets the stream without
   telling anyone) becomes a strike against that peer.
4. ``libp2p.transport.tcp.tcp.TrioTCPStream`` is replaced by
   :class:`TrackedTCPStream`, which registers each connection's socket so
   a run that ends (cleanly or not) can close every one it owns.
5. ``libp2p.transport.tcp.tcp._set_reuse_flags`` no longer sets
   ``SO_REUSEPORT`` (wanted only for TCP hole punching): with it, a second
   node started on a port already in use listens *too*, and the kernel
   splits incoming connections between the two processes, silently.
6. ``env_to_send_in_RPC`` (gossipsub attaches the node's signed peer record
   to every RPC it sends) is cached per host for ``SENDER_RECORD_TTL_S``:
   libp2p rebuilds the listen multiaddrs, finds them unequal to the
   record's and signs a new record on *every* publish.
7. ``maybe_consume_signed_record`` in pubsub and gossipsub (every received
   RPC: parse the envelope, verify its signature, update the peerstore)
   accepts without consuming: peers' addresses come from the config and
   the allowlist, never from peer records.  Together 6 and 7 were ~15% of
   the trio thread's CPU under load.
8. ``PY_YAMUX_RELEASE_ON_READ`` (read by yamux on every stream read) is set
   to 0 unless the environment sets it: libp2p's default sends a
   WINDOW_UPDATE frame (an encrypted write and a syscall) after *every*
   read; with 0 a receiver releases window in batches of half the target
   window, which is how yamux is specified.

The running :class:`~node.p2p.service.P2PService` registers its hooks in a
thread-local (each service owns one trio thread), so several networks in
one process (tests) keep separate limits and counters.

Never does: change behaviour for libp2p code outside a registered trio
thread beyond larger queues with a byte bound and no ``SO_REUSEPORT``, or
catch anything it does not re-raise.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

import libp2p.pubsub.gossipsub as _gossipsub_mod
import libp2p.pubsub.pubsub as _pubsub_mod
import libp2p.transport.tcp.tcp as _tcp_mod
from libp2p.io.exceptions import MessageTooLarge
from libp2p.io.trio import TrioTCPStream
from libp2p.pubsub.rpc_queue import RpcQueue

__all__ = ["BoundedRpcQueue", "TuningHooks", "install", "register", "route_libp2p_logging", "unregister"]

_DEFAULT_QUEUE_ITEMS = 256
_DEFAULT_QUEUE_BYTES = 64 * 1024 * 1024
_DEFAULT_FRAME_BYTES = 4 * 1024 * 1024 + 64 * 1024
SENDER_RECORD_TTL_S = 30.0


@dataclass(slots=True)
class TuningHooks:
    """What one network wants from the patched libp2p internals."""

    peer_queue_items: int
    peer_queue_bytes: int
    frame_bytes: int
    on_queue_drop: Callable[[], None]
    on_oversized_frame: Callable[[object], None]  # the remote peer ID
    tcp_streams: weakref.WeakSet = field(default_factory=weakref.WeakSet)

    def close_tcp_streams(self) -> int:
        """Close every TCP socket this run opened or accepted; returns how many.

        After a failed run libp2p can leave connections registered nowhere
        yet open; their sockets would live until garbage collection while
        peers keep writing into them.
        """
        closed = 0
        for stream in list(self.tcp_streams):
            sock = getattr(getattr(stream, "stream", None), "socket", None)
            if sock is not None and sock.fileno() != -1:
                sock.close()
                closed += 1
        return closed


_local = threading.local()
_installed = False
_original_read = _pubsub_mod.read_varint_prefixed_bytes_limited


def _hooks() -> TuningHooks | None:
    return getattr(_local, "hooks", None)


def register(hooks: TuningHooks) -> None:
    """Bind ``hooks`` to the calling (trio) thread."""
    _local.hooks = hooks


def unregister() -> None:
    _local.hooks = None


def raise_subscription_channel(items: int) -> None:
    """Make the next ``Pubsub.subscribe`` use a channel of at least ``items``."""
    if _pubsub_mod.SUBSCRIPTION_CHANNEL_SIZE < items:
        _pubsub_mod.SUBSCRIPTION_CHANNEL_SIZE = items


class BoundedRpcQueue(RpcQueue):
    """libp2p's per-peer RpcQueue, bounded in items *and bytes*, counting refusals.

    libp2p bounds only the item count, so 1024 queued 4 MiB messages would
    be 4 GiB for one slow peer; this queue also refuses an RPC that would
    take it over ``peer_queue_bytes`` (one RPC is always accepted into an
    empty queue, so a single large message still goes out).
    """

    def __init__(self, max_size: int | None = None, max_message_size: int | None = None) -> None:
        hooks = _hooks()
        self._on_drop = hooks.on_queue_drop if hooks else None
        self.max_bytes = hooks.peer_queue_bytes if hooks else _DEFAULT_QUEUE_BYTES
        self.nbytes = 0
        super().__init__(
            max_size=max_size or (hooks.peer_queue_items if hooks else _DEFAULT_QUEUE_ITEMS),
            max_message_size=max_message_size or (hooks.frame_bytes if hooks else _DEFAULT_FRAME_BYTES),
        )

    def push(self, rpc, priority: bool = False) -> bool:
        size = rpc.ByteSize()
        if self.nbytes and self.nbytes + size > self.max_bytes:
            ok = False
        else:
            ok = super().push(rpc, priority)
        if ok:
            self.nbytes += size
        elif not self.closed and self._on_drop is not None:
            self._on_drop()
        return ok

    async def pop(self):
        rpc = await super().pop()
        if rpc is not None:
            self.nbytes = max(0, self.nbytes - rpc.ByteSize())
        return rpc


class TrackedTCPStream(TrioTCPStream):
    """libp2p's TCP stream, remembered by the running network (see TuningHooks)."""

    def __init__(self, stream) -> None:
        super().__init__(stream)
        hooks = _hooks()
        if hooks is not None:
            hooks.tcp_streams.add(self)


async def _read_limited(reader, max_length: int) -> bytes:
    try:
        return await _original_read(reader, max_length)
    except MessageTooLarge:
        hooks = _hooks()
        if hooks is not None:
            peer = getattr(getattr(reader, "muxed_conn", None), "peer_id", None)
            if peer is not None:
                hooks.on_oversized_frame(peer)
        raise


_original_env = _pubsub_mod.env_to_send_in_RPC
_sender_records: "weakref.WeakKeyDictionary[object, tuple[float, bytes]]" = weakref.WeakKeyDictionary()
_records_lock = threading.Lock()


def _cached_sender_record(host) -> tuple[bytes, bool]:
    """``env_to_send_in_RPC``, reusing the host's envelope for a while (change 6)."""
    now = time.monotonic()
    with _records_lock:
        hit = _sender_records.get(host)
    if hit is not None and hit[0] > now:
        return hit[1], False
    envelope, fresh = _original_env(host)
    with _records_lock:
        _sender_records[host] = (now + SENDER_RECORD_TTL_S, envelope)
    return envelope, fresh


def _ignore_sender_record(msg, host, peer_id=None) -> bool:
    """``maybe_consume_signed_record`` that keeps the RPC and skips the record (change 7)."""
    return True


def _set_reuseaddr_only(sock) -> None:
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    except OSError:
        pass


def route_libp2p_logging(level: int = logging.CRITICAL) -> None:
    """Send py-libp2p's log records through the application's handlers.

    Importing libp2p sets its ``libp2p`` logger to WARNING with no handler
    and ``propagate = False``, so its warnings reach stderr unformatted via
    ``logging.lastResort`` (e.g. a "Failed to open TCP stream" line on every
    redial of a peer that is down, "failed to upgrade security" on every
    refused stranger).  This re-attaches it to the root logger at ``level``
    (default CRITICAL: those are logged at ERROR, and ``settle.p2p`` already
    reports what matters: refusals, bans, restarts).  Call it after
    configuring logging; ``$LIBP2P_DEBUG`` still works for libp2p's own
    debug output.
    """
    logger = logging.getLogger("libp2p")
    logger.setLevel(level)
    logger.propagate = True
    # This one sets its own level (INFO) when imported, and says "initiating N
    # new dials" every 10 s: imported first, then held to ``level`` like the rest.
    import libp2p.network.auto_connector  # noqa: F401

    logging.getLogger("libp2p.network.auto_connector").setLevel(level)


def install() -> None:
    """Apply the patches once per process (idempotent)."""
    global _installed
    if _installed:
        return
    _pubsub_mod.RpcQueue = BoundedRpcQueue
    _tcp_mod.TrioTCPStream = TrackedTCPStream
    _tcp_mod._set_reuse_flags = _set_reuseaddr_only
    _pubsub_mod.read_varint_prefixed_bytes_limited = _read_limited
    _pubsub_mod.env_to_send_in_RPC = _cached_sender_record
    _gossipsub_mod.env_to_send_in_RPC = _cached_sender_record
    _pubsub_mod.maybe_consume_signed_record = _ignore_sender_record
    _gossipsub_mod.maybe_consume_signed_record = _ignore_sender_record
    os.environ.setdefault("PY_YAMUX_RELEASE_ON_READ", "0")
    _installed = True
