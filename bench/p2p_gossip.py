"""Gossip throughput and latency of node/p2p between 4 local processes.

Usage: ``python -m bench.p2p_gossip [--size 20480] [--rates 50,100,150,200]
[--seconds 4] [--no-relay] [--publishers 4]``

Starts N ``bench/p2p_peer.py`` processes on 127.0.0.1 (full mesh, all
allowlisted), then for each aggregate rate R has the publishers publish
R msgs/s between them for ``--seconds`` and reports, per step: messages
delivered / expected, publish->on_message latency p50/p99 (wall clock,
one machine), publish refusals (flow control), CPU seconds per published
message summed over all processes, and RSS.  A step is *sustained* when
every message arrives within 2 s of the end and p99 < 250 ms.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from node.p2p import peer_id_from_seed

from .p2p_peer import PeerProcess, free_port

TOPIC = "bench/tx/1"


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=4)
    ap.add_argument("--publishers", type=int, default=0, help="default: all nodes")
    ap.add_argument("--size", type=int, default=20 * 1024)
    ap.add_argument("--rates", default="50,100,150,200,250")
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--no-relay", action="store_true")
    args = ap.parse_args()
    n = args.nodes
    pubs = args.publishers or n
    seeds = [os.urandom(32) for _ in range(n)]
    ports = [free_port() for _ in range(n)]
    allowed = {peer_id_from_seed(s): f"/ip4/127.0.0.1/tcp/{p}" for s, p in zip(seeds, ports)}
    logs = Path(tempfile.mkdtemp(prefix="p2p-bench-"))
    nodes = [PeerProcess(f"n{i}", seeds[i], ports[i], allowed, [TOPIC], {}, logs, relay=not args.no_relay) for i in range(n)]
    pool = ThreadPoolExecutor(2 * n)
    try:
        for node in nodes:
            node.start()
        for node in nodes:
            node.wait_ready()
        list(pool.map(lambda p: p.call("wait_peers", n=n - 1, timeout=20, _timeout=25), nodes))
        idle_rss = [p.call("stats")["rss"] >> 20 for p in nodes]
        print(json.dumps({"nodes": n, "publishers": pubs, "size": args.size, "relay": not args.no_relay, "idle_rss_mib": idle_rss, "loadavg": os.getloadavg()}))
        for step, rate in enumerate(int(r) for r in args.rates.split(",")):
            tag = f"r{step}"
            count = int(rate * args.seconds / pubs)
            cpu0 = [p.call("stats")["cpu_s"] for p in nodes]
            stats0 = [p.call("stats")["stats"] for p in nodes]
            t0 = time.monotonic()
            sent = list(pool.map(lambda p: p.call("publish", topic=TOPIC, count=count, size=args.size, tag=tag, rate=rate / pubs, _timeout=120), nodes[:pubs]))
            expect = [count * (pubs - (1 if i < pubs else 0)) for i in range(n)]
            got = list(pool.map(lambda ip: ip[1].call("received", tag=tag, expect=expect[ip[0]], timeout=2.0, _timeout=10), enumerate(nodes)))
            elapsed = time.monotonic() - t0
            cpu = sum(p.call("stats")["cpu_s"] for p in nodes) - sum(cpu0)
            lat = [x for g in got for x in g["latencies_ms"]]
            delivered, expected = sum(g["total"] for g in got), sum(expect)
            p99 = pct(lat, 0.99)
            if delivered < expected:  # slow or lost?  wait for the backlog to drain
                late = list(pool.map(lambda ip: ip[1].call("received", tag=tag, expect=expect[ip[0]], timeout=20.0, _timeout=30), enumerate(nodes)))
                eventually = sum(g["total"] for g in late)
            else:
                eventually = delivered
            stats = [p.call("stats")["stats"] for p in nodes]
            drops = {k: sum(s[k] - s0[k] for s, s0 in zip(stats, stats0)) for k in ("dropped_in", "peer_queue_drops", "publish_stalls", "dropped_out")}
            print(json.dumps({
                "rate": rate,
                "delivered_2s": f"{delivered}/{expected}",
                "delivered_eventually": eventually,
                **drops,
                "p50_ms": round(pct(lat, 0.5), 1),
                "p99_ms": round(p99, 1),
                "refused": sum(s["refused"] for s in sent),
                "cpu_ms_per_published": round(1000 * cpu / (count * pubs), 2),
                "wall_s": round(elapsed, 2),
                "sustained": delivered == expected and p99 < 250,
                "rss_mib": [p.call("stats")["rss"] >> 20 for p in nodes],
                "loadavg1": round(os.getloadavg()[0], 2),
            }), flush=True)
        for node in nodes:
            node.call("stop", _timeout=20)
    finally:
        for node in nodes:
            node.kill()
        pool.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
