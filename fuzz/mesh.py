"""Fuzz target: the direct-mesh frame reader (``node.p2p.mesh.DirectMesh._serve``).

The input is what a peer writes on its mesh stream; its first byte sets the
size of the chunks the stream hands out (1..256 bytes), so frames are
split across reads every possible way.  The stream is a 20-line stand-in
for a libp2p stream (``read`` and ``muxed_conn.peer_id``): everything
above it (the reader, the gate, the limits, the counters) is the real one.

Property: the reader returns at the end of the stream or raises
``MeshFrameError``, nothing else; the frames it delivered, framed again,
are exactly a prefix of the stream; it returned only if what follows is
an incomplete frame with a valid length, and raised only if what follows
has a length of 0 or over the limit (counted as oversized exactly then) or
names no topic.
"""
from __future__ import annotations

import types

import trio

from .harness import instrumented, main

with instrumented():
    from libp2p.peer.id import ID

    from node.gossip import TOPIC_CONSENSUS, TOPIC_STATUS, TOPIC_TXS
    from node.p2p.config import P2PCounters, P2PLimits
    from node.p2p.gate import PeerGate, peer_id_from_seed
    from node.p2p.mesh import DirectMesh, MeshFrameError

PEER = ID.from_base58(peer_id_from_seed(b"\x07" * 32))
LIMITS = P2PLimits(max_message_bytes=1024)


class _Host:
    def set_stream_handler(self, protocol, handler) -> None:
        pass


class _Stream:
    def __init__(self, data: bytes, chunk: int) -> None:
        self.chunks = [data[i : i + chunk] for i in range(0, len(data), chunk)]
        self.muxed_conn = types.SimpleNamespace(peer_id=PEER)

    async def read(self, n: int) -> bytes:
        return self.chunks.pop(0)[:n] if self.chunks else b""


def test_one_input(data: bytes) -> None:
    if not data:
        return
    chunk, stream = data[0] + 1, data[1:]
    delivered: list[tuple[str, str, bytes]] = []
    counters = P2PCounters()
    gate = PeerGate({PEER}, strikes_to_ban=3, strike_window_s=60, ban_seconds=60)
    mesh = DirectMesh(
        _Host(), topics=[TOPIC_TXS, TOPIC_CONSENSUS, TOPIC_STATUS], names={PEER: str(PEER)}, gate=gate,
        limits=LIMITS, counters=counters, deliver=lambda *m: delivered.append(m),
    )
    try:
        trio.run(mesh._serve, _Stream(stream, chunk))
        error = None
    except MeshFrameError as exc:
        error = exc
    framed = b"".join((1 + len(d)).to_bytes(4, "big") + bytes([mesh.topics.index(t)]) + d for t, _, d in delivered)
    assert stream.startswith(framed), "delivered frames are not what the peer sent"
    rest = stream[len(framed):]
    limit = LIMITS.max_message_bytes + 1
    n = int.from_bytes(rest[:4], "big") if len(rest) >= 4 else None
    assert counters.oversized == (1 if n is not None and n > limit else 0)
    if error is None:
        assert n is None or (0 < n <= limit and len(rest) - 4 < n), "a whole frame was left unread"
    else:
        assert n is not None and (n == 0 or n > limit or (len(rest) - 4 >= n and rest[4] >= len(mesh.topics))), f"refused a good frame: {error}"


def corpus() -> list[bytes]:
    frames = [(1 + len(d)).to_bytes(4, "big") + bytes([t]) + d for t, d in ((0, b"\x90"), (1, b"x" * 300), (2, b""), (3, b"bad"))]
    return [bytes([c]) + b"".join(frames[:k]) for c in (0, 3, 255) for k in (1, 3, 4)]


if __name__ == "__main__":
    main("mesh", test_one_input, corpus)
