"""Partitions through the proxies are real: every p2p byte between two nodes passes through them.

Two against two leaves no side a quorum, so no block commits until the heal
(safety over liveness); nodes that learn each other's real listen addresses
(libp2p identify) must not dial around the proxies.
"""
from __future__ import annotations

import time

import pytest

from bench.chaos.cluster import ChaosNetwork
from sdk import Client

pytestmark = pytest.mark.chaos


@pytest.fixture
def net(tmp_path):
    net = ChaosNetwork(tmp_path / "net", 4, 0, chain_id="settle-chaos", block_interval_ms=100, empty_interval_ms=300)
    try:
        net.create()
        net.start()
        net.wait_ready(60)
        yield net
    finally:
        net.stop()


def _heights(net):
    return [Client(u, timeout=5).call("status")["height"] for u in net.rpc_urls]


def test_two_against_two_commits_nothing_until_healed(net):
    start = _heights(net)
    deadline = time.monotonic() + 30
    while min(_heights(net)) < max(start) + 3 and time.monotonic() < deadline:  # identify has run, peers know each other
        time.sleep(0.2)
    net.proxies.partition([[0, 1], [2, 3]])
    time.sleep(2)  # a block in flight may still commit
    stuck = _heights(net)
    time.sleep(4)  # empty blocks come every 0.3 s when the network is whole
    assert _heights(net) == stuck
    net.proxies.heal()
    deadline = time.monotonic() + 60
    while min(_heights(net)) <= max(stuck) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert min(_heights(net)) > max(stuck)
