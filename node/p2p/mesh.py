"""Direct messaging over one stream per peer: gossip for a full mesh without pubsub.

Owns (on the trio thread) the ``/settle/mesh/1.0.0`` protocol.  When no
node relays (``[p2p] relay = false``: every validator dials every other),
a message only ever travels from its origin straight to each connected
peer, and pubsub's machinery costs more than the message: a protobuf RPC,
a seen-cache entry, a topic validator run and a libp2p task per message
and per receiver (~1.2 ms of CPU per received message measured with
``bench/p2p_gossip.py``).  Here each node keeps one outbound stream per
peer and writes length-prefixed frames on it; whatever is queued when the
writer wakes goes out as ONE write (one Noise frame, one syscall).

Frame: 4-byte big-endian length ``n``, then ``n`` bytes: one byte naming the
topic (its index in the sorted topic list, the same on every node), then
the payload.  The origin is the Noise-authenticated peer of the
connection, exactly as for unsigned pubsub messages without relay.

Per peer: a bounded queue (``peer_queue_items`` / ``peer_queue_bytes``;
overflow is a counted drop, like libp2p's own queues) drained by one writer
task that opens the stream on first use and ends when a write fails (the
next publish opens a new stream).  Reading: frames longer than
``max_message_bytes`` or naming no topic are bad input (the stream is reset
and the peer gets a strike, through the service's guarded stream handler).

Never does: relay, block the publisher on a slow peer, or deliver a frame
from a peer the gate no longer admits.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

import trio
from libp2p.custom_types import TProtocol
from libp2p.peer.id import ID

from ledger.errors import PeerMisbehaviour

from .config import P2PCounters, P2PLimits
from .gate import PeerGate

__all__ = ["MESH_PROTOCOL", "DirectMesh", "MeshFrameError"]

log = logging.getLogger("settle.p2p")

MESH_PROTOCOL = TProtocol("/settle/mesh/1.0.0")
WRITE_COALESCE_BYTES = 1 << 20  # one write holds at most about this much
READ_CHUNK = 1 << 18


class MeshFrameError(PeerMisbehaviour):
    """A peer sent a frame that breaks the mesh protocol."""


class _PeerQueue:
    __slots__ = ("send", "recv", "items", "nbytes", "muxed")

    def __init__(self, max_items: int) -> None:
        self.send, self.recv = trio.open_memory_channel(max_items)
        self.items = 0
        self.nbytes = 0
        self.muxed = None  # the connection the writer's stream runs on, once open


class DirectMesh:
    """The mesh protocol of one libp2p host (trio thread only after construction).

    Args:
        deliver: ``deliver(topic, origin_peer_id_str, data)``, called for
            every frame received from an admitted peer.
        names: peer ID -> its base58 string, for every allowlisted peer.
    """

    def __init__(
        self,
        host,
        *,
        topics: list[str],
        names: dict[ID, str],
        gate: PeerGate,
        limits: P2PLimits,
        counters: P2PCounters,
        deliver: Callable[[str, str, bytes], None],
    ) -> None:
        self.host = host
        self.topics = sorted(topics)
        if len(self.topics) > 255:
            raise ValueError("the mesh protocol names at most 255 topics")
        self._topic_byte = {t: bytes((i,)) for i, t in enumerate(self.topics)}
        self.names = names
        self.gate = gate
        self.limits = limits
        self.counters = counters
        self.deliver = deliver
        self.queues: dict[ID, _PeerQueue] = {}
        self.nursery: trio.Nursery | None = None
        host.set_stream_handler(MESH_PROTOCOL, self._serve)

    # ---- sending --------------------------------------------------------

    def publish(self, topic: str, data: bytes, peers: dict) -> None:
        """Queue ``data`` on ``topic`` for each peer; never blocks.

        Args:
            peers: ``{peer ID: its live connections}``.  A queue whose stream
                runs on none of them (the peer reconnected) is closed and a
                new one started, so nothing is written into a dead connection.
        """
        body = self._topic_byte[topic] + data
        frame = len(body).to_bytes(4, "big") + body
        for peer, conns in peers.items():
            q = self.queues.get(peer)
            if q is not None and q.muxed is not None and all(getattr(c, "muxed_conn", None) is not q.muxed for c in conns):
                q.send.close()  # its writer ends, counting what it still held
                del self.queues[peer]
                q = None
            if q is None:
                if self.nursery is None:
                    return
                q = self.queues[peer] = _PeerQueue(self.limits.peer_queue_items)
                self.nursery.start_soon(self._writer, peer, q)
            if q.nbytes + len(frame) > self.limits.peer_queue_bytes:
                self.counters.peer_queue_drops += 1
                continue
            try:
                q.send.send_nowait(frame)
            except (trio.WouldBlock, trio.ClosedResourceError):
                self.counters.peer_queue_drops += 1
                continue
            q.items += 1
            q.nbytes += len(frame)

    def fill(self, peer: ID) -> float:
        """Fraction of ``peer``'s queue bound in use (the tighter of items and bytes)."""
        q = self.queues.get(peer)
        if q is None:
            return 0.0
        return max(q.items / self.limits.peer_queue_items, q.nbytes / self.limits.peer_queue_bytes)

    async def _writer(self, peer: ID, q: _PeerQueue) -> None:
        stream = None
        try:
            with trio.fail_after(self.limits.dial_timeout_s):
                stream = await self.host.new_stream(peer, [MESH_PROTOCOL])
            q.muxed = stream.muxed_conn
            while True:
                parts = [await q.recv.receive()]
                size = len(parts[0])
                while size < WRITE_COALESCE_BYTES:
                    try:
                        frame = q.recv.receive_nowait()
                    except trio.WouldBlock:
                        break
                    parts.append(frame)
                    size += len(frame)
                q.items -= len(parts)
                q.nbytes -= size
                await stream.write(b"".join(parts) if len(parts) > 1 else parts[0])
        except trio.EndOfChannel:
            pass  # publish closed the queue: the peer has a new connection
        except Exception as exc:  # the connection went away, or never came: the next publish retries
            log.debug("p2p: mesh stream to %s ended: %s: %s", self.names.get(peer, peer), type(exc).__name__, exc)
        finally:
            if self.queues.get(peer) is q:
                del self.queues[peer]
            dropped = q.items
            if dropped:
                self.counters.peer_queue_drops += dropped
            q.send.close()
            if stream is not None:
                with trio.CancelScope(shield=True), trio.move_on_after(1):
                    try:
                        await stream.reset()
                    except Exception:
                        pass

    # ---- receiving ------------------------------------------------------

    async def _serve(self, stream) -> None:
        """Read frames until the stream ends; bad frames raise MeshFrameError."""
        peer = stream.muxed_conn.peer_id
        origin = self.names.get(peer)
        if origin is None:
            raise MeshFrameError("mesh stream from a peer not on the allowlist")
        limit = self.limits.max_message_bytes + 1
        topics = self.topics
        buf = bytearray()
        while True:
            try:
                chunk = await stream.read(READ_CHUNK)
            except Exception as exc:  # reset, closed connection, peer gone: not misbehaviour
                log.debug("p2p: mesh stream from %s ended: %s: %s", origin, type(exc).__name__, exc)
                return
            if not chunk:
                return
            buf += chunk
            pos, end = 0, len(buf)
            while end - pos >= 4:
                n = int.from_bytes(buf[pos : pos + 4], "big")
                if n > limit or n == 0:
                    if n > limit:
                        self.counters.oversized += 1
                    raise MeshFrameError(f"mesh frame of {n} bytes (limit {limit})")
                if end - pos - 4 < n:
                    break
                t = buf[pos + 4]
                if t >= len(topics):
                    raise MeshFrameError(f"mesh frame names topic #{t}; there are {len(topics)}")
                data = bytes(buf[pos + 5 : pos + 4 + n])
                pos += 4 + n
                if not self.gate.admits(peer):
                    return
                self.deliver(topics[t], origin, data)
            if pos:
                del buf[:pos]
