"""The chaos harness's parts that need no network: proxies, schedule, verdicts (default suite, fast)."""
from __future__ import annotations

import socket
import threading

import pytest

from bench.chaos.checker import _judge, applied_twice, swaps_settled_twice
from bench.chaos.nemesis import KINDS, make_schedule
from bench.chaos.proxy import LinkProxies


@pytest.fixture
def echo():
    srv = socket.create_server(("127.0.0.1", 0))

    def serve():
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            threading.Thread(target=lambda c=conn: [c.sendall(d) for d in iter(lambda: c.recv(4096), b"")], daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    yield srv.getsockname()[1]
    srv.close()


def _roundtrip(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
        try:
            s.sendall(b"ping")
            return s.recv(4)
        except ConnectionResetError:  # a cut link aborts
            return b""


def test_a_cut_link_drops_open_connections_and_refuses_new_ones_until_healed(echo):
    proxies = LinkProxies([echo, echo, echo])
    try:
        assert _roundtrip(proxies.port(0, 1)) == b"ping"
        held = socket.create_connection(("127.0.0.1", proxies.port(1, 0)), timeout=3)
        held.sendall(b"ping")
        assert held.recv(4) == b"ping"
        assert proxies.partition([[0], [1, 2]]) == [(0, 1), (0, 2)]
        assert held.recv(4) == b""  # the open connection is gone ...
        for src, dst in [(0, 1), (1, 0), (2, 0)]:  # ... and both directions of a cut link refuse
            assert _roundtrip(proxies.port(src, dst)) == b""
        assert _roundtrip(proxies.port(1, 2)) == b"ping"  # the majority still talks
        proxies.heal()
        assert _roundtrip(proxies.port(0, 1)) == b"ping"
    finally:
        proxies.close()


def test_the_schedule_is_a_function_of_the_seed_and_covers_every_kind():
    a = make_schedule(7, 130, 4, disk_node=2)
    assert [f.as_dict() for f in a] == [f.as_dict() for f in make_schedule(7, 130, 4, disk_node=2)]
    assert [f.as_dict() for f in a] != [f.as_dict() for f in make_schedule(8, 130, 4, disk_node=2)]
    assert {f.kind for f in a} == set(KINDS)
    assert all(f.nodes == [2] for f in a if f.kind == "disk_full")


def _op(outcome, height=None):
    return {"id": 1, "kind": "transfer", "tx_hash": "ab" * 32, "node": 0, "outcome": outcome, "height": height, "detail": ""}


@pytest.mark.parametrize("op, locs, check", [
    (_op("ok", 5), [(5, 0, True), (5, 0, True), None], "acknowledged"),          # lost on one node
    (_op("ok", 5), [(6, 0, True)] * 3, "acknowledged"),                           # at another height than acknowledged
    (_op("failed", 5), [(5, 0, True)] * 3, "acknowledged"),                       # receipt verdict differs
    (_op("rejected"), [None, (4, 1, True), None], "rejected"),                    # refused, yet committed
    (_op("unknown"), [(4, 1, True), None, None], "unknown"),                      # on some nodes only
    (_op("unknown"), [(4, 1, True), (4, 2, True), (4, 1, True)], "agreement"),    # stored differently
])
def test_each_kind_of_violation_is_caught(op, locs, check):
    assert check in {c for c, _ in _judge(op, locs)}


@pytest.mark.parametrize("op, locs", [
    (_op("ok", 5), [(5, 0, True)] * 3),
    (_op("failed", 5), [(5, 0, False)] * 3),
    (_op("rejected"), [None] * 3),
    (_op("unknown"), [None] * 3),
    (_op("unknown"), [(9, 0, True)] * 3),
])
def test_consistent_histories_pass(op, locs):
    assert _judge(op, locs) == []


def test_a_swap_settled_by_two_ops_is_caught_and_one_settlement_passes():
    ops = [dict(_op("unknown"), id=1, swap="stab:7"), dict(_op("ok", 9), id=2, swap="stab:7"), dict(_op("ok", 9), id=3, swap="stab:8")]
    assert swaps_settled_twice(ops, [True, True, True]) == ["swap stab:7 settled by ops [1, 2]"]
    assert swaps_settled_twice(ops, [False, True, True]) == []  # the retry's receipt failed (already settled)
    assert swaps_settled_twice(ops, [None, True, True]) == []


def test_a_tx_or_sender_nonce_twice_in_the_chain_is_caught():
    chain = [{"txs": ["aa"], "senders": [("st1", 0)]}, {"txs": ["bb", "cc"], "senders": [("st1", 1), ("st2", 0)]}]
    assert applied_twice(chain) == []
    assert applied_twice(chain + [{"txs": ["aa"], "senders": [("st3", 0)]}]) == ["tx aa at heights 1 and 3"]
    assert applied_twice(chain + [{"txs": ["dd"], "senders": [("st1", 1)]}]) == ["st1 nonce 1 applied at heights 2 and 3"]
