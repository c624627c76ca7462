"""``GET /metrics``: a node's figures in the Prometheus exposition format, through ``prometheus-client``.

Owns the name, type and help text of every metric, and the node's own
counters (:class:`NodeCounters`, the :class:`~node.ports.MetricsSink` port).
The hot paths keep plain integer counters (:class:`NodeCounters`,
``P2PCounters``, the verifier's and sync's own); a custom collector reads them at scrape time, so counting costs
one integer add and the exposition format is the ecosystem library's (checked
with ``promtool check metrics`` in the tests).

Rules (Prometheus naming conventions): a counter only ever goes up and its
name ends in ``_total``; anything that can go down (peers, queue depths,
mempool size) is a gauge; each quantity is exported once.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from .ports import ChainReader, Halter

__all__ = ["CONTENT_TYPE", "MetricsSources", "NodeCounters", "exposition"]

CONTENT_TYPE = CONTENT_TYPE_LATEST  # text/plain; version=...; charset=utf-8 (the library's exposition version)

# p2p figures (node/p2p/config.py P2PCounters and P2PNetwork.stats): help texts; gauges named apart
P2P_HELP = {
    "published": "messages this node published",
    "dropped_out": "outbound messages dropped (queue full)",
    "msgs_out": "messages sent to peers",
    "bytes_out": "bytes sent to peers",
    "msgs_in": "messages received from peers",
    "bytes_in": "bytes received from peers",
    "dropped_in": "inbound messages dropped (queue full)",
    "oversized": "messages refused for their size",
    "garbage": "undecodable p2p frames",
    "relayed_dropped": "relayed messages from a peer other than their origin, refused",
    "peer_queue_drops": "messages a peer's libp2p queue refused",
    "publish_stalls": "times a publish waited on a full peer queue",
    "connects": "peer connections opened",
    "disconnects": "peer connections closed",
    "refused": "handshakes refused (stranger or banned peer)",
    "bans": "peers banned",
    "requests_in": "request/response exchanges answered",
    "requests_out": "request/response exchanges made",
    "request_errors": "request/response exchanges that failed",
    "handler_errors": "exceptions raised by a message handler",
    "restarts": "restarts of the p2p thread after an unexpected error",
}
P2P_GAUGES = {
    "banned": "peers banned now",
    "outbound_queue": "messages waiting to be sent",
    "inbound_queue": "messages waiting to be handled",
}


@dataclass
class NodeCounters:
    """The node's plain counters: one integer add on a hot path, read at scrape time."""

    txs_committed: int = 0
    txs_failed: int = 0
    blocks_committed: int = 0
    last_block_seconds: float = 0.0
    last_commit_monotonic: float = field(default_factory=time.monotonic)
    rpc_requests: int = 0
    rpc_errors: int = 0
    mempool_rejections: int = 0
    garbage_messages: int = 0
    evidence: int = 0


@dataclass(frozen=True)
class MetricsSources:
    """Everything ``/metrics`` reads, wired by the node's assembly; None where a node has no such part.

    ``mempool`` is a :class:`node.mempool.Mempool`, ``verifier`` a
    :class:`node.verifier.Verifier`, ``net`` a :class:`node.p2p.P2PNetwork`
    (``stats()``), ``sync`` a :class:`node.sync.BlockSync`, ``gossip`` a
    :class:`node.gossip.TxGossip`: only their counters are read.
    """

    counters: NodeCounters
    chain: ChainReader
    halt: Halter
    mempool: Any
    subscribers: set
    verifier: Any = None
    net: Any = None
    sync: Any = None
    gossip: Any = None


def _rows(src: MetricsSources, rpc) -> Iterator[tuple[str, str, str, float]]:
    """(name, 'counter' | 'gauge', help, value) of every metric of the node (and of its RPC server)."""
    m = src.counters
    yield "settle_height", "gauge", "latest committed height", src.chain.height
    yield "settle_halted", "gauge", "1 once a failed write halted this node", int(src.halt.halted is not None)
    yield "settle_blocks_committed_total", "counter", "blocks committed by this process", m.blocks_committed
    yield "settle_txs_committed_total", "counter", "transactions committed by this process", m.txs_committed
    yield "settle_txs_failed_total", "counter", "committed transactions whose receipt is a failure", m.txs_failed
    yield "settle_mempool_size", "gauge", "transactions in the mempool", len(src.mempool)
    yield "settle_mempool_bytes", "gauge", "bytes of transactions in the mempool", src.mempool.bytes
    yield "settle_mempool_rejections_total", "counter", "transactions refused at mempool entry", m.mempool_rejections
    yield "settle_mempool_evicted_total", "counter", "mempool transactions dropped to make room for a ready one", src.mempool.evicted
    yield "settle_mempool_expired_total", "counter", "mempool transactions dropped by their time to live", src.mempool.expired
    yield "settle_block_interval_seconds", "gauge", "time between the last two commits", m.last_block_seconds
    yield "settle_rpc_requests_total", "counter", "JSON-RPC requests", m.rpc_requests
    yield "settle_rpc_errors_total", "counter", "JSON-RPC requests answered with an error", m.rpc_errors
    yield "settle_ws_subscribers", "gauge", "WebSocket clients connected", len(src.subscribers)
    if rpc is not None:
        server = rpc.runner.server if rpc.runner is not None else None
        yield "settle_rpc_connections", "gauge", "open RPC connections", len(server.connections) if server else 0
        yield ("settle_rpc_connections_refused_total", "counter", "RPC connections closed at once: over rpc.max_connections",
               rpc.refused_connections)
    yield "settle_garbage_messages_total", "counter", "undecodable messages from peers", m.garbage_messages
    yield "settle_evidence_total", "counter", "equivocation evidence found", m.evidence
    verifier = src.verifier
    if verifier is not None:
        yield "settle_signatures_verified_total", "counter", "transaction signatures checked", verifier.verified
    net = src.net
    if net is None:
        return
    stats = net.stats()
    yield "settle_peers", "gauge", "connected peers", stats.pop("peers")
    for k in sorted(stats):
        if k in P2P_GAUGES:
            yield f"settle_p2p_{k}", "gauge", P2P_GAUGES[k], stats[k]
        else:
            yield f"settle_p2p_{k}_total", "counter", "p2p: " + P2P_HELP.get(k, k.replace("_", " ")), stats[k]
    yield "settle_sync_blocks_total", "counter", "blocks fetched by block sync", src.sync.fetched_blocks
    yield "settle_gossip_txs_received_total", "counter", "transactions received by gossip", src.gossip.received_txs


class _Collector:
    def __init__(self, src: MetricsSources, rpc):
        self.src, self.rpc = src, rpc

    def collect(self):
        for name, kind, help_, value in _rows(self.src, self.rpc):
            family = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
            yield family(name, help_, value=value)


def exposition(src: MetricsSources, rpc=None) -> bytes:
    """The node's metrics (and its RPC server's), rendered by prometheus-client (content type :data:`CONTENT_TYPE`)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(src, rpc))
    return generate_latest(registry)
