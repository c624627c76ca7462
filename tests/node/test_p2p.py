"""The p2p layer (node/p2p) between real processes on 127.0.0.1, plus in-process checks.

The module's cluster is four OS processes (``bench/p2p_peer.py``), each
one P2PNetwork on a free port, all allowlisting each other.  Tests run in
file order against it: gossip on two topics, 20 KB bursts, request/response,
a stranger, garbage and bans, SIGKILL and restart, and last a clean stop.
In-process tests (each network on its own trio thread) cover the pieces
and the outbound direction: queues, the ban book, the allowlist and seed
file, publish never blocking, an impostor or banned peer never connected,
a plaintext-only peer refused, a port in use, a crashed trio thread
restarted, and stop leaving no threads or ports behind.  Measurements are
printed as ``P2P-MEASURE`` lines (run with ``-s`` to see them).
"""
from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import trio

from node.p2p import (
    P2PLimits,
    P2PNetwork,
    P2PStartError,
    RequestError,
    RequestTimeout,
    load_or_create_seed,
    peer_id_from_seed,
)
from node.p2p.bridge import ThreadQueue
from node.p2p.gate import PeerGate, parse_allowlist
from bench.p2p_peer import PeerProcess, free_port

TOPICS = ["settle/tx/1", "settle/consensus/1"]
KiB = 1024
# Small enough to make the misbehaviour tests quick; n3 may send larger messages.
CLUSTER_LIMITS = {"max_message_bytes": 256 * KiB, "strikes_to_ban": 8, "ban_seconds": 2.0}
BIG_SENDER_LIMITS = {**CLUSTER_LIMITS, "max_message_bytes": 1024 * KiB}


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def measure(label: str, **values) -> None:
    print(f"P2P-MEASURE {label}: " + ", ".join(f"{k}={v}" for k, v in values.items()))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


class Cluster:
    def __init__(self, tmp: Path, n: int = 4, relay: bool = True) -> None:
        self.relay = relay
        seeds = [os.urandom(32) for _ in range(n)]
        ports = [free_port() for _ in range(n)]
        self.allowed = {peer_id_from_seed(s): f"/ip4/127.0.0.1/tcp/{p}" for s, p in zip(seeds, ports)}
        self.nodes = [
            PeerProcess(f"n{i}", seeds[i], ports[i], self.allowed, TOPICS, BIG_SENDER_LIMITS if i == n - 1 else CLUSTER_LIMITS, tmp, relay=relay)
            for i in range(n)
        ]
        self.pool = ThreadPoolExecutor(2 * n)

    def all(self, fn) -> list:
        """fn(node) on every node concurrently, results in node order."""
        return list(self.pool.map(fn, self.nodes))

    def wait_mesh(self, timeout: float = 20) -> None:
        replies = self.all(lambda p: p.call("wait_peers", n=len(self.nodes) - 1, timeout=timeout, _timeout=timeout + 5))
        for node, reply in zip(self.nodes, replies):
            assert len(reply["peers"]) == len(self.nodes) - 1, f"{node.name} sees only {reply['peers']}"


@pytest.fixture(scope="module", params=["pubsub", "mesh"])
def cluster(request, tmp_path_factory):
    """The same tests over gossipsub with relay, and over the direct mesh (relay off, node default)."""
    c = Cluster(tmp_path_factory.mktemp("p2p"), relay=request.param == "pubsub")
    t0 = time.monotonic()
    for node in c.nodes:
        node.start()
    for node in c.nodes:
        node.wait_ready()
    c.wait_mesh()
    measure("cluster up", seconds=round(time.monotonic() - t0, 2))
    yield c
    for node in c.nodes:
        node.kill()
    c.pool.shutdown()


# ---- separate processes --------------------------------------------------


def test_gossip_reaches_every_other_peer_exactly_once_on_two_topics(cluster):
    count = 20
    others = len(cluster.nodes) - 1
    for topic in TOPICS:
        cluster.all(lambda p: p.call("publish", topic=topic, count=count, size=300, tag="once", rate=10.0, start=TOPICS.index(topic) * 1000))
    replies = cluster.all(lambda p: p.call("received", tag="once", expect=2 * count * others, timeout=10, _timeout=15))
    for node, reply in zip(cluster.nodes, replies):
        expected = {f"{o.name}/{t}": count for o in cluster.nodes if o is not node for t in TOPICS}
        assert reply["counts"] == expected, node.name
        assert reply["dups"] == 0, f"{node.name} got duplicates"
    lat = [x for r in replies for x in r["latencies_ms"]]
    measure("latency 300 B, 4 nodes x 2 topics x 10 msg/s", n=len(lat), p50_ms=round(percentile(lat, 0.5), 1), p99_ms=round(percentile(lat, 0.99), 1))


def test_bursts_of_200_batches_of_20kb_arrive_completely(cluster):
    """Each node publishes 200 x 20 KB at once; the app retries when publish says False."""
    count, size = 200, 20 * KiB
    senders = cluster.nodes[:2]
    t0 = time.monotonic()
    published = list(cluster.pool.map(lambda p: p.call("publish", topic=TOPICS[0], count=count, size=size, tag="burst", _timeout=60), senders))
    replies = cluster.all(lambda p: p.call("received", tag="burst", expect=count * (2 if p not in senders else 1), timeout=40, _timeout=45))
    elapsed = time.monotonic() - t0
    for node, reply in zip(cluster.nodes, replies):
        expected = {f"{s.name}/{TOPICS[0]}": count for s in senders if s is not node}
        assert reply["counts"] == expected, f"{node.name}: {reply['total']} of {sum(expected.values())}"
    stats = cluster.all(lambda p: p.call("stats")["stats"])
    for node, s in zip(cluster.nodes, stats):
        assert s["dropped_in"] == 0 and s["peer_queue_drops"] == 0, (node.name, s)
    measure(
        "burst 2 senders x 200 x 20 KB",
        seconds=round(elapsed, 2),
        delivered_msgs_per_s=round(2 * count / elapsed, 1),
        publish_refused=[p["refused"] for p in published],
        publish_stalls=[s["publish_stalls"] for s in stats],
    )


def test_request_response_including_a_3mb_response(cluster):
    a, b = cluster.nodes[0], cluster.nodes[1]
    small = a.call("request", peer=b.peer_id, protocol="/test/blobs/1", n=100)
    assert small["len"] == 100 and small["intact"], small
    big = a.call("request", peer=b.peer_id, protocol="/test/blobs/1", n=3 * 1024 * 1024, timeout=20, _timeout=30)
    assert big["len"] == 3 * 1024 * 1024 and big["intact"], big
    failing = a.call("request", peer=b.peer_id, protocol="/test/fail/1")
    assert failing["error"] == "RequestError", failing
    slow = a.call("request", peer=b.peer_id, protocol="/test/slow/1", timeout=1.0)
    assert slow["error"] == "RequestTimeout" and slow["ms"] < 3000, slow
    unknown = a.call("request", peer=b.peer_id, protocol="/test/nope/1")
    assert unknown["error"] in ("RequestRefused", "RequestError"), unknown
    assert a.call("ping")["pong"] and b.call("ping")["pong"]
    again = a.call("request", peer=b.peer_id, protocol="/test/blobs/1", n=1000)
    assert again["intact"]
    measure("request/response", small_ms=round(small["ms"], 1), response_3mib_ms=round(big["ms"], 1))


def test_stranger_cannot_connect_or_inject(cluster, tmp_path):
    target = cluster.nodes[0]
    refused_before = target.call("stats")["stats"]["refused"]
    seed = os.urandom(32)
    port = free_port()
    # The stranger knows (and dials) the target; nobody allowlists the stranger.
    allowed = {target.peer_id: cluster.allowed[target.peer_id], peer_id_from_seed(seed): None}
    stranger = PeerProcess("stranger", seed, port, allowed, TOPICS, {}, tmp_path).start()
    try:
        stranger.wait_ready()
        time.sleep(2.0)  # several dial attempts
        s = stranger.call("stats")
        assert s["peers"] == [] and s["stats"]["msgs_in"] == 0
        stranger.call("publish", topic=TOPICS[0], count=5, size=100, tag="stranger")
        time.sleep(0.5)
        t = target.call("stats")
        assert stranger.peer_id not in t["peers"]
        assert t["stats"]["refused"] > refused_before
        assert target.call("received", tag="stranger")["total"] == 0
        assert target.call("ping")["pong"]
    finally:
        stranger.kill()


def _heard(sender, receiver, tag: str, count: int, attempts: int = 3) -> int:
    """Publish ``count`` messages until ``receiver`` has them; how many it has.

    The mesh is best effort (a stream that fails drops what it held and the
    next publish opens a new one; the application resends), so on a loaded
    machine a first publish may be lost without anything being wrong.
    """
    total = 0
    for _ in range(attempts):
        sender.call("publish", topic=TOPICS[1], count=count, size=100, tag=tag)
        total = receiver.call("received", tag=tag, expect=count, timeout=5)["total"]
        if total >= count:
            break
    return total


def test_garbage_and_oversized_input_gets_the_peer_banned_then_released(cluster):
    good, others, bad = cluster.nodes[0], cluster.nodes[1:3], cluster.nodes[3]
    before = good.call("stats")["stats"]

    def wait_for(pred, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s = good.call("stats")
            if pred(s):
                return s
            time.sleep(0.05)
        return good.call("stats")

    # Over the size limit (n3 may send 1 MiB; the others accept 256 KiB).
    bad.call("publish", topic=TOPICS[0], count=2, size=300 * KiB, tag="big")
    s = wait_for(lambda s: s["stats"]["oversized"] >= before["oversized"] + 2)
    # pubsub refuses each message; the mesh resets the stream at the first
    # oversized frame: the second one is gone with it if it travelled on that
    # stream, or refused too if the sender had already opened a new one (a
    # clean-clone CI run under load saw the latter)
    seen = s["stats"]["oversized"] - before["oversized"]
    assert (seen == 2 if cluster.relay else seen in (1, 2)) and not s["banned"], s
    before = s["stats"]
    # Below the gossip API: an undecodable pubsub frame, a message with a bad
    # key, junk instead of protocol negotiation.  None may crash the receiver.
    kinds = ["frame", "badkey", "negotiation"] + ([] if cluster.relay else ["meshtopic", "meshbig"])
    for kind in kinds:
        assert "error" not in bad.call("inject", peer=good.peer_id, kind=kind)
    s = wait_for(lambda s: s["stats"]["garbage"] >= before["garbage"] + len(kinds) - 1)
    assert s["stats"]["garbage"] >= before["garbage"] + len(kinds) - 1 and good.call("ping")["pong"]
    if not cluster.relay:  # the announced 64 MiB frame counts as oversized
        assert s["stats"]["oversized"] == before["oversized"] + 1, s
    # Undecodable for the application, which reports it, up to the ban.
    bad.call("publish_raw", topic=TOPICS[0], size=200, count=CLUSTER_LIMITS["strikes_to_ban"])
    s = wait_for(lambda s: bad.peer_id in s["banned"])
    assert s["banned"] == [bad.peer_id] and bad.peer_id not in s["peers"], s
    assert s["stats"]["bans"] == before["bans"] + 1
    assert good.call("received", tag="big")["total"] == 0
    # The rest of the network is unaffected.
    for other in others:
        assert _heard(good, other, "still-fine", 5) >= 5
    # After ban_seconds the peer is let back in and is heard again.
    t0 = time.monotonic()
    while time.monotonic() - t0 < 10 and bad.peer_id not in good.call("stats")["peers"]:
        time.sleep(0.05)
    back = time.monotonic() - t0
    assert bad.peer_id in good.call("stats")["peers"]
    assert _heard(bad, good, "after-ban", 3) >= 3
    measure("ban", readmitted_after_s=round(back, 2), ban_seconds=CLUSTER_LIMITS["ban_seconds"])


def test_sigkilled_peer_restarts_and_is_reconnected(cluster):
    victim, witness = cluster.nodes[2], cluster.nodes[0]
    victim.kill()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and victim.peer_id in witness.call("stats")["peers"]:
        time.sleep(0.05)
    assert victim.peer_id not in witness.call("stats")["peers"]
    t0 = time.monotonic()
    victim.start()
    victim.wait_ready()
    started = time.monotonic() - t0
    cluster.wait_mesh()
    meshed = time.monotonic() - t0
    witness.call("publish", topic=TOPICS[1], count=3, size=100, tag="after-restart")
    victim.call("publish", topic=TOPICS[1], count=3, size=100, tag="from-restarted")
    assert victim.call("received", tag="after-restart", expect=3, timeout=5)["total"] == 3
    assert witness.call("received", tag="from-restarted", expect=3, timeout=5)["total"] == 3
    flowing = time.monotonic() - t0
    measure("restart after SIGKILL", process_ready_s=round(started, 2), full_mesh_s=round(meshed, 2), messages_both_ways_s=round(flowing, 2))


def test_clean_stop_leaves_no_threads_and_frees_ports(cluster):
    rss = [p.call("stats")["rss"] // (1024 * 1024) for p in cluster.nodes]
    measure("RSS per process after the tests", mib=rss)
    replies = cluster.all(lambda p: p.call("stop", _timeout=20))
    for node, reply in zip(cluster.nodes, replies):
        assert reply["threads"] == ["MainThread"], (node.name, reply["threads"])
        assert node.proc.wait(timeout=10) == 0
        assert port_is_free(node.port), f"{node.name} still holds {node.port}"


# ---- in process ----------------------------------------------------------


def test_thread_queue_bounds_items_and_bytes_and_wakes_once():
    wakes = []
    q = ThreadQueue(max_items=3, max_bytes=100, wakeup=lambda: wakes.append(1))
    assert q.put_nowait("a", 40) and q.put_nowait("b", 40)
    assert not q.put_nowait("c", 40)  # bytes
    assert q.put_nowait("d", 20)
    assert not q.put_nowait("e", 0)  # items
    assert wakes == [1]  # only the put into an empty queue wakes the consumer
    assert [q.get_nowait() for _ in range(4)] == ["a", "b", "d", None]
    assert q.refused == 2 and q.nbytes == 0
    q.close()
    assert not q.put_nowait("f", 1)


def test_ban_book_strikes_window_and_expiry():
    now = [0.0]
    a, b = (parse_allowlist({peer_id_from_seed(bytes([i]) * 32): None}).popitem()[0] for i in (1, 2))
    gate = PeerGate({a}, strikes_to_ban=3, strike_window_s=10, ban_seconds=5, clock=lambda: now[0])
    assert not gate.strike(a) and not gate.strike(a)
    now[0] = 11.0  # the first two strikes fall out of the window
    assert not gate.strike(a) and not gate.strike(a)
    assert gate.strike(a) and gate.is_banned(a) and not gate.admits(a)
    assert gate.banned_snapshot == {a.to_base58()}
    assert not gate.strike(b) and not gate.admits(b)  # strangers: never admitted, never recorded
    now[0] = 16.1
    assert gate.expire_bans() == [a] and gate.admits(a)


def test_allowlist_parsing_rejects_bad_entries():
    a, b = peer_id_from_seed(b"\x01" * 32), peer_id_from_seed(b"\x02" * 32)
    parsed = parse_allowlist({a: f"/ip4/127.0.0.1/tcp/26656/p2p/{a}", b: None})
    assert [str(x) for x in parsed[next(iter(parsed))].addrs] == ["/ip4/127.0.0.1/tcp/26656"]
    assert list(parsed.values())[1] is None
    with pytest.raises(ValueError, match="names another peer"):
        parse_allowlist({a: f"/ip4/127.0.0.1/tcp/1/p2p/{b}"})
    with pytest.raises(ValueError, match="bad peer ID"):
        parse_allowlist({"not-a-peer-id": None})
    with pytest.raises(ValueError, match="bad address"):
        parse_allowlist({a: "127.0.0.1:26656"})
    assert peer_id_from_seed(b"\x01" * 32) == a and a.startswith("12D3KooW")
    with pytest.raises(ValueError):
        peer_id_from_seed(b"short")


def test_identity_seed_file_is_created_private_and_reused(tmp_path):
    path = tmp_path / "home" / "p2p_seed"
    seed = load_or_create_seed(path)
    assert len(seed) == 32 and path.stat().st_mode & 0o777 == 0o600
    assert load_or_create_seed(path) == seed
    path.write_text("zz")
    with pytest.raises(ValueError):
        load_or_create_seed(path)


def _pair(limits: P2PLimits | None = None, received: list | None = None):
    seeds = [os.urandom(32) for _ in range(2)]
    ports = [free_port() for _ in range(2)]
    allowed = {peer_id_from_seed(s): f"/ip4/127.0.0.1/tcp/{p}" for s, p in zip(seeds, ports)}

    async def on_message(topic, peer, data):
        if received is not None:
            received.append((topic, peer, data))

    return [P2PNetwork(s, "127.0.0.1", p, allowed, TOPICS, on_message, limits=limits) for s, p in zip(seeds, ports)], ports


async def test_publish_never_blocks_and_counts_what_it_refuses():
    limits = P2PLimits(max_message_bytes=64 * KiB, outbound_queue_items=8, outbound_queue_bytes=64 * KiB)
    (net, _), ports = _pair(limits)
    assert not net.publish(TOPICS[0], b"x")  # not started
    await net.start()
    try:
        assert not net.publish(TOPICS[0], b"x" * (64 * KiB + 1))
        t0 = time.perf_counter()
        results = [net.publish(TOPICS[0], b"y" * 1000) for _ in range(500)]
        assert time.perf_counter() - t0 < 0.5
        refused = results.count(False)
        assert refused > 0 and net.counters.dropped_out == refused + 2
        assert net.counters.published == results.count(True)
        with pytest.raises(ValueError):
            net.publish("not-joined", b"z")
    finally:
        await net.stop()


async def test_stop_joins_threads_and_frees_ports_in_process():
    received: list = []
    nets, ports = _pair(received=received)
    before = {t.ident for t in threading.enumerate()}
    await asyncio.gather(*(n.start() for n in nets))
    await _eventually(lambda: all(n.peers() for n in nets))
    assert nets[0].peers() == [nets[1].peer_id]
    assert nets[0].publish(TOPICS[0], b"hello")
    await _eventually(lambda: received, timeout=2.0)
    assert received == [(TOPICS[0], nets[0].peer_id, b"hello")]  # no echo to the publisher
    with pytest.raises(RequestError):
        await nets[0].request(nets[1].peer_id, "/none/1", b"", timeout=2)
    await asyncio.gather(*(n.stop() for n in nets))
    leftover = [t.name for t in threading.enumerate() if t.ident not in before]
    assert leftover == []
    assert all(port_is_free(p) for p in ports)
    assert not nets[0].publish(TOPICS[0], b"late")
    await nets[0].stop()  # idempotent


async def _on_trio(net: P2PNetwork, async_fn, timeout: float = 60.0):
    """Run ``async_fn(service)`` on ``net``'s trio thread; return its result (TimeoutError after ``timeout`` s)."""
    loop = asyncio.get_running_loop()
    fut = loop.create_future()
    run = net._run  # test-only reach inside

    async def task():
        try:
            result, exc = await async_fn(run.service), None
        except Exception as e:
            result, exc = None, e
        loop.call_soon_threadsafe(lambda: fut.done() or (fut.set_exception(exc) if exc else fut.set_result(result)))

    run.token.run_sync_soon(lambda: run.service._nursery.start_soon(task))
    return await asyncio.wait_for(fut, timeout)


async def _eventually(cond, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        await asyncio.sleep(0.05)
    return cond()


async def test_we_never_connect_to_an_impostor_or_a_banned_peer():
    """Outbound direction: the dialled side must prove the allowlisted identity and not be banned."""
    seeds = [os.urandom(32) for _ in range(3)]
    ports = [free_port() for _ in range(3)]
    ids = [peer_id_from_seed(s) for s in seeds]

    async def ignore(topic, peer, data):
        pass

    limits = P2PLimits(strikes_to_ban=2, ban_seconds=30)
    # a allowlists b at c's address: whoever answers there is not b.
    a = P2PNetwork(seeds[0], "127.0.0.1", ports[0], {ids[0]: None, ids[1]: f"/ip4/127.0.0.1/tcp/{ports[2]}"}, TOPICS, ignore, limits=limits)
    c = P2PNetwork(seeds[2], "127.0.0.1", ports[2], {ids[2]: None, ids[0]: None}, TOPICS, ignore)
    await asyncio.gather(a.start(), c.start())
    try:
        await asyncio.sleep(1.5)  # a has tried to dial "b" (really c) more than once
        assert a.peers() == [] and c.peers() == []
        assert await _on_trio(a, _connected) == []
    finally:
        await asyncio.gather(a.stop(), c.stop())

    # a bans b: a refuses b's dials and does not dial b itself.
    allowed = {ids[0]: f"/ip4/127.0.0.1/tcp/{ports[0]}", ids[1]: f"/ip4/127.0.0.1/tcp/{ports[1]}"}
    a = P2PNetwork(seeds[0], "127.0.0.1", ports[0], allowed, TOPICS, ignore, limits=limits)
    b = P2PNetwork(seeds[1], "127.0.0.1", ports[1], allowed, TOPICS, ignore)
    await asyncio.gather(a.start(), b.start())
    try:
        assert await _eventually(lambda: a.peers() == [b.peer_id]), a.stats()
        a.report_garbage(b.peer_id)
        a.report_garbage(b.peer_id)
        assert await _eventually(lambda: a.banned_peers() == [b.peer_id] and not a.peers()), a.stats()
        # (b's own view may show a for a moment on each redial, until a's refusal closes it:
        # the property is a's side, which holds no connection and refuses every dial)
        refused = a.counters.refused
        # b keeps dialling a, and is refused each time
        # (b redials once it sees the connection gone, which can take a while on a busy machine)
        assert await _eventually(lambda: a.counters.refused > refused + 1, timeout=30), (refused, a.stats(), b.stats())
        assert a.peers() == []

        async def dial_b(svc):
            try:
                with trio.fail_after(svc.limits.dial_timeout_s):  # as the node's own dials: a stalled handshake is not a connection
                    await svc.host.connect(svc.dialable[_dialable_id(svc, b.peer_id)])
            except Exception as exc:
                return type(exc).__name__
            return "connected"

        assert await _on_trio(a, dial_b) != "connected"
        assert await _on_trio(a, _connected) == []
    finally:
        await asyncio.gather(a.stop(), b.stop())


def _dialable_id(svc, peer: str):
    return next(p for p in svc.dialable if p.to_base58() == peer)


async def _connected(svc) -> list[str]:
    return [str(p) for p, conns in svc.host.get_network().connections.items() if conns]


def _dial_with_plaintext(seed: bytes, target_peer: str, port: int) -> str:
    """A libp2p host offering only /plaintext/2.0.0 dials the target (in its own trio run)."""
    import multiaddr
    import trio
    from libp2p import new_host
    from libp2p.crypto.ed25519 import create_new_key_pair
    from libp2p.custom_types import TProtocol
    from libp2p.peer.peerinfo import info_from_p2p_addr
    from libp2p.security.insecure.transport import PLAINTEXT_PROTOCOL_ID, InsecureTransport
    from libp2p.stream_muxer.yamux.yamux import PROTOCOL_ID as YAMUX, Yamux

    async def main() -> str:
        kp = create_new_key_pair(seed)
        host = new_host(key_pair=kp, sec_opt={PLAINTEXT_PROTOCOL_ID: InsecureTransport(kp)}, muxer_opt={TProtocol(YAMUX): Yamux})
        async with host.run([multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/0")]):
            try:
                with trio.fail_after(10):
                    await host.connect(info_from_p2p_addr(multiaddr.Multiaddr(f"/ip4/127.0.0.1/tcp/{port}/p2p/{target_peer}")))
                result = "connected"
            except Exception as exc:
                result = type(exc).__name__
            await host.close()
            return result

    return trio.run(main)


async def test_only_noise_is_offered_even_to_an_allowlisted_peer():
    (a, b), ports = _pair()
    await a.start()
    try:
        # b's own identity (allowlisted by a), but speaking plaintext.
        result = await asyncio.to_thread(_dial_with_plaintext, b._key_pair.private_key.to_bytes()[:32], a.peer_id, ports[0])
        assert result != "connected"
        assert a.peers() == []
    finally:
        await a.stop()


async def test_request_timeout_is_enforced():
    (a, b), _ = _pair()
    # b serves nothing; a request to a peer that is not up times out or fails fast.
    await a.start()
    try:
        t0 = time.monotonic()
        with pytest.raises((RequestTimeout, RequestError)):
            await a.request(b.peer_id, "/test/blobs/1", b"{}", timeout=1.0)
        assert time.monotonic() - t0 < 7
        with pytest.raises(ValueError):
            await a.request("12D3KooWNotAllowed", "/x/1", b"")
    finally:
        await a.stop()


async def test_a_crashed_trio_thread_is_restarted_and_reconnects():
    received: list = []
    nets, _ = _pair(received=received)
    await asyncio.gather(*(n.start() for n in nets))
    try:
        await _eventually(lambda: all(n.peers() for n in nets))
        first_run = nets[1]._run

        async def bug(svc):
            raise RuntimeError("simulated bug in the trio thread")

        first_run.token.run_sync_soon(lambda: first_run.service._nursery.start_soon(bug, first_run.service))
        await _eventually(lambda: nets[1]._run is not first_run and all(n.peers() for n in nets))
        assert nets[1].counters.restarts == 1 and nets[1].peers() == [nets[0].peer_id]
        assert nets[0].peers() == [nets[1].peer_id]
        assert nets[0].publish(TOPICS[1], b"after the restart")
        await _eventually(lambda: received, timeout=2.0)
        assert received == [(TOPICS[1], nets[0].peer_id, b"after the restart")]
    finally:
        await asyncio.gather(*(n.stop() for n in nets))
    assert not [t for t in threading.enumerate() if t.name.startswith("p2p-trio")]


async def test_a_port_in_use_is_a_start_error_not_a_shared_listener():
    (a, b), ports = _pair()
    b_on_a_port = P2PNetwork(os.urandom(32), "127.0.0.1", ports[0], {}, TOPICS, a._on_message)
    await a.start()
    try:
        before = {t.ident for t in threading.enumerate()}
        with pytest.raises(P2PStartError, match="cannot listen"):
            await b_on_a_port.start()
        assert [t.name for t in threading.enumerate() if t.ident not in before] == []
    finally:
        await a.stop()


async def test_an_unsigned_message_is_accepted_only_from_its_origin():
    """Without relay, pubsub messages are unsigned: one claiming another origin is refused, not delivered."""
    seeds = [os.urandom(32) for _ in range(3)]
    ports = [free_port() for _ in range(3)]
    ids = [peer_id_from_seed(s) for s in seeds]
    got: list[tuple[str, bytes]] = []

    async def collect(topic, peer, data):
        got.append((peer, data))

    async def ignore(topic, peer, data):
        pass

    allowed = {ids[i]: f"/ip4/127.0.0.1/tcp/{ports[i]}" for i in range(2)} | {ids[2]: None}
    a = P2PNetwork(seeds[0], "127.0.0.1", ports[0], allowed, TOPICS, collect, relay=False)
    b = P2PNetwork(seeds[1], "127.0.0.1", ports[1], allowed, TOPICS, ignore, relay=False)
    await asyncio.gather(a.start(), b.start())
    try:
        assert await _eventually(lambda: a.peers() == [b.peer_id] and b.peers() == [a.peer_id])

        async def send_as(svc, origin: str, data: bytes) -> None:
            from libp2p.peer.id import ID
            from libp2p.pubsub.pb import rpc_pb2

            msg = rpc_pb2.Message(data=data, topicIDs=[TOPICS[0]], from_id=ID.from_base58(origin).to_bytes(), seqno=os.urandom(8))
            await svc.router.publish(svc.pubsub.my_id, msg)

        await _on_trio(b, lambda svc: send_as(svc, ids[2], b"spoofed"))  # claims to come from the third peer
        assert await _eventually(lambda: a.counters.relayed_dropped == 1), a.stats()
        b.publish(TOPICS[0], b"honest")
        assert await _eventually(lambda: got == [(b.peer_id, b"honest")]), got
        assert a.banned_peers() == [] and a.peers() == [b.peer_id]  # refused, not held against b
    finally:
        await asyncio.gather(a.stop(), b.stop())
