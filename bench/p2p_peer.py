"""One P2PNetwork in its own process, driven by JSON lines on stdin (tests and the gossip benchmark).

:class:`PeerProcess` is the parent side, used by ``tests/node/test_p2p.py``
and ``bench/p2p_gossip.py`` (``$P2P_PEER_SCRIPT`` may name a wrapper script, e.g.
one that profiles the child).

Run as ``python -m bench.p2p_peer CONFIG_JSON`` where CONFIG_JSON holds
``seed`` (hex), ``port``, ``allowed`` ({peer_id: multiaddr or null}),
``topics``, ``name`` and optional ``limits`` (P2PLimits fields).  Prints
``{"event": "ready", ...}`` once listening, then answers each command line
``{"id": N, "cmd": ..., ...}`` with one line ``{"id": N, ...}``.

The application side mimics the node: each test message is ``MAGIC`` + a
JSON header (origin name, topic tag, sequence, send time) + padding; anything
else is garbage and reported with ``report_garbage``.  It serves
``/test/blobs/1`` (``{"n": bytes}`` -> n bytes), ``/test/fail/1`` (raises) and
``/test/slow/1`` (sleeps past the timeout).  Commands: ping, wait_peers,
publish, publish_raw, received, request, stats, inject, stop.
"""
from __future__ import annotations

import asyncio
import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import uvloop

from cli.devnet import node_env
from node.p2p import P2PLimits, P2PNetwork, RequestError, peer_id_from_seed

MAGIC = b"SETTLE-TEST\n"


def rss_bytes() -> int:
    """Resident set size now (Linux /proc), else the peak from getrusage."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class App:
    def __init__(self, cfg: dict) -> None:
        self.cfg = cfg
        self.name = cfg["name"]
        self.seen: set[tuple] = set()
        self.counts: dict[str, dict[str, int]] = {}  # tag -> origin/topic -> n
        self.latencies: dict[str, list[float]] = {}
        self.dups = 0
        self.garbage = 0
        limits = P2PLimits(**cfg.get("limits", {}))
        self.net = P2PNetwork(
            bytes.fromhex(cfg["seed"]),
            "127.0.0.1",
            cfg["port"],
            cfg["allowed"],
            cfg["topics"],
            self.on_message,
            {"/test/blobs/1": self.blobs, "/test/fail/1": self.fail, "/test/slow/1": self.slow},
            limits,
            relay=cfg.get("relay", True),
        )

    async def on_message(self, topic: str, peer: str, data: bytes) -> None:
        now = time.time()
        try:
            if not data.startswith(MAGIC):
                raise ValueError("no magic")
            header = json.loads(data[len(MAGIC) : data.index(b"\n", len(MAGIC))])
            key = (header["o"], topic, header["tag"], header["s"])
        except (ValueError, KeyError, TypeError):
            self.garbage += 1
            self.net.report_garbage(peer)
            return
        if key in self.seen:
            self.dups += 1
            return
        self.seen.add(key)
        per = self.counts.setdefault(header["tag"], {})
        k = f"{header['o']}/{topic}"
        per[k] = per.get(k, 0) + 1
        self.latencies.setdefault(header["tag"], []).append((now - header["t"]) * 1000)

    async def blobs(self, peer: str, payload: bytes) -> bytes:
        n = json.loads(payload)["n"]
        return (b"0123456789abcdef" * (n // 16 + 1))[:n]

    async def fail(self, peer: str, payload: bytes) -> bytes:
        raise RuntimeError("handler bug")

    async def slow(self, peer: str, payload: bytes) -> bytes:
        await asyncio.sleep(60)
        return b""

    def message(self, topic_tag: str, seq: int, size: int) -> bytes:
        header = json.dumps({"o": self.name, "tag": topic_tag, "s": seq, "t": time.time()}).encode()
        body = MAGIC + header + b"\n"
        return body + b"." * max(0, size - len(body))

    async def cmd_publish(self, topic: str, count: int, size: int, tag: str, rate: float = 0, start: int = 0) -> dict:
        """Publish ``count`` messages; on False back off 2 ms and retry (the app's pacing)."""
        refused = 0
        t0 = time.monotonic()
        for i in range(count):
            if rate:
                delay = t0 + i / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            msg = self.message(tag, start + i, size)
            while not self.net.publish(topic, msg):
                refused += 1
                await asyncio.sleep(0.002)
                msg = self.message(tag, start + i, size)
        return {"published": count, "refused": refused, "elapsed": time.monotonic() - t0}

    async def cmd_wait_peers(self, n: int, timeout: float = 20) -> dict:
        t0 = time.monotonic()
        while len(self.net.peers()) < n and time.monotonic() - t0 < timeout:
            await asyncio.sleep(0.01)
        return {"peers": self.net.peers(), "waited": time.monotonic() - t0}

    async def cmd_received(self, tag: str, expect: int = 0, timeout: float = 0) -> dict:
        t0 = time.monotonic()
        while sum(self.counts.get(tag, {}).values()) < expect and time.monotonic() - t0 < timeout:
            await asyncio.sleep(0.01)
        return {
            "counts": self.counts.get(tag, {}),
            "total": sum(self.counts.get(tag, {}).values()),
            "dups": self.dups,
            "garbage": self.garbage,
            "latencies_ms": self.latencies.get(tag, []),
            "waited": time.monotonic() - t0,
        }

    async def cmd_request(self, peer: str, protocol: str, n: int = 0, timeout: float = 10) -> dict:
        t0 = time.monotonic()
        try:
            data = await self.net.request(peer, protocol, json.dumps({"n": n}).encode(), timeout)
        except RequestError as exc:
            return {"error": type(exc).__name__, "detail": str(exc), "ms": (time.monotonic() - t0) * 1000}
        ok = data == (b"0123456789abcdef" * (n // 16 + 1))[:n]
        return {"len": len(data), "intact": ok, "ms": (time.monotonic() - t0) * 1000}

    async def cmd_publish_raw(self, topic: str, size: int, count: int = 1) -> dict:
        ok = sum(self.net.publish(topic, os.urandom(size)) for _ in range(count))
        return {"accepted": ok}

    async def cmd_inject(self, peer: str, kind: str, size: int = 1000) -> dict:
        """Send ``peer`` raw bad input below the gossip API (test of containment).

        kind: "frame" a pubsub frame of ``size`` random bytes (oversized if
        over the receiver's frame limit, else undecodable protobuf);
        "badkey" a well-formed pubsub RPC whose message carries a malformed
        signing key; "negotiation" random bytes on a fresh stream instead of
        multistream-select; "meshtopic" a mesh-protocol frame naming a
        topic that does not exist; "meshbig" a mesh frame header announcing
        more than the receiver's message limit.
        """
        import trio
        from libp2p.peer.id import ID
        from libp2p.pubsub.gossipsub import PROTOCOL_ID_V12
        from libp2p.pubsub.pb import rpc_pb2
        from libp2p.utils import encode_varint_prefixed

        loop = asyncio.get_running_loop()
        done = loop.create_future()
        run = self.net._run  # reaching inside: this command exists to misbehave
        service = run.service
        pid = ID.from_base58(peer)

        async def inject() -> None:
            result: dict = {}
            try:
                with trio.fail_after(5):
                    if kind in ("meshtopic", "meshbig"):
                        from node.p2p.mesh import MESH_PROTOCOL

                        stream = await service.host.new_stream(pid, [MESH_PROTOCOL])
                        if kind == "meshtopic":
                            await stream.write((1 + size).to_bytes(4, "big") + b"\xfe" + os.urandom(size))
                        else:
                            await stream.write((64 << 20).to_bytes(4, "big") + b"\x00" + os.urandom(size))
                    elif kind == "negotiation":
                        conn = service.host.get_network().connections[pid][0]
                        stream = await conn.muxed_conn.open_stream()
                        await stream.write(os.urandom(size))
                    else:
                        stream = await service.host.new_stream(pid, [PROTOCOL_ID_V12])
                        if kind == "frame":
                            payload = os.urandom(size)
                        else:
                            msg = rpc_pb2.Message(data=b"x", topicIDs=[self.cfg["topics"][0]], from_id=b"\x00\x01junk", seqno=os.urandom(8), signature=b"sig", key=os.urandom(40))
                            payload = rpc_pb2.RPC(publish=[msg]).SerializeToString()
                        await stream.write(encode_varint_prefixed(payload))
                    await trio.sleep(0.2)
                    await stream.reset()
                    result = {"written": size}
            except Exception as exc:
                result = {"error": repr(exc)}
            loop.call_soon_threadsafe(lambda: done.done() or done.set_result(result))

        run.token.run_sync_soon(lambda: service._nursery.start_soon(inject))
        return await done

    async def cmd_stats(self) -> dict:
        return {
            "stats": self.net.stats(),
            "peers": self.net.peers(),
            "banned": self.net.banned_peers(),
            "rss": rss_bytes(),
            "cpu_s": time.process_time(),  # all threads of this process
            "threads": [t.name for t in threading.enumerate()],
        }

    async def cmd_ping(self) -> dict:
        return {"pong": True}


# ---- the parent side: tests and benchmarks drive children with this -------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PeerProcess:
    """A p2p_peer.py child: JSON commands on stdin, one JSON reply per line."""

    def __init__(
        self, name: str, seed: bytes, port: int, allowed: dict, topics: list[str], limits: dict, log_dir: Path, relay: bool = True
    ) -> None:
        self.name, self.seed, self.port = name, seed, port
        self.peer_id = peer_id_from_seed(seed)
        self.cfg = {"name": name, "seed": seed.hex(), "port": port, "allowed": allowed, "topics": topics, "limits": limits, "relay": relay}
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen | None = None
        self._ids = 0
        self._lock = threading.Lock()

    def start(self) -> "PeerProcess":
        self._replies: queue.Queue = queue.Queue()
        script = os.environ.get("P2P_PEER_SCRIPT")
        child = [script] if script else ["-m", "bench.p2p_peer"]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, *child, json.dumps(self.cfg)], env=node_env(),
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True, bufsize=1,
            )
        threading.Thread(target=self._read, args=(self.proc, self._replies), daemon=True).start()
        return self

    @staticmethod
    def _read(proc: subprocess.Popen, replies: queue.Queue) -> None:
        for line in proc.stdout:
            replies.put(json.loads(line))
        replies.put(None)

    def wait_ready(self, timeout: float = 30) -> None:
        msg = self._replies.get(timeout=timeout)
        assert msg and msg.get("event") == "ready", f"{self.name} failed to start: {self.log_tail()}"

    def call(self, cmd: str, _timeout: float = 30, **args) -> dict:
        with self._lock:
            self._ids += 1
            rid = self._ids
            self.proc.stdin.write(json.dumps({"id": rid, "cmd": cmd, **args}) + "\n")
            self.proc.stdin.flush()
            deadline = time.monotonic() + _timeout
            while True:
                msg = self._replies.get(timeout=max(0.01, deadline - time.monotonic()))
                assert msg is not None, f"{self.name} exited: {self.log_tail()}"
                if msg.get("id") == rid:
                    assert "error" not in msg or cmd in ("request", "inject"), msg
                    return msg

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text()[-3000:]
        except OSError:
            return ""



# ---- the child side ------------------------------------------------------


async def main(cfg: dict) -> int:
    app = App(cfg)
    await app.net.start()
    out = sys.stdout
    out.write(json.dumps({"event": "ready", "peer_id": app.net.peer_id, "addrs": app.net.listen_addrs}) + "\n")
    out.flush()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    pending: set[asyncio.Task] = set()

    async def handle(req: dict) -> None:
        rid = req.pop("id")
        try:
            reply = await getattr(app, f"cmd_{req.pop('cmd')}")(**req)
        except Exception as exc:  # a test bug: report it, keep running
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        out.write(json.dumps({"id": rid, **reply}) + "\n")
        out.flush()

    while True:
        line = await reader.readline()
        if not line:
            break
        req = json.loads(line)
        if req.get("cmd") == "stop":
            await app.net.stop()
            threads = [t.name for t in threading.enumerate()]
            out.write(json.dumps({"id": req["id"], "threads": threads}) + "\n")
            out.flush()
            return 0
        task = asyncio.create_task(handle(req))
        pending.add(task)
        task.add_done_callback(pending.discard)
    await app.net.stop()
    return 0


if __name__ == "__main__":
    sys.exit(uvloop.run(main(json.loads(sys.argv[1]))))
