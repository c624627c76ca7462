"""One participant floods every validator's mempool; the others still commit.

Four real validator processes on 127.0.0.1 with small mempool limits.  The
flooder (dave) sends every node thousands of transfers with nonces far above
the nonce window (refused at the door, without signature work), then more
ready transfers than its per-sender cap, then a few future-nonce transfers
inside the window to each node (kept by that node alone: never gossiped
until ready), and at last the missing nonces, after which the held ones are
gossiped and commit.  Meanwhile alice, bob and carol keep transferring; all
their transfers commit, and every node's mempool stays within its limits
(read from ``/metrics``) and its memory bounded.
"""
from __future__ import annotations

import threading
import time
import urllib.request

import pytest

from ledger.tx import sign_tx
from ledger.txkinds import Transfer
from sdk import SettleError
from node.config import load_config, save_config
from tests.node.test_network import _agree, _keys, _wait_all
from tests.nodeproc import TransferLoad, network, tune_fast

N = 4
CHAIN = "settle-net"
LIMITS = {"max_txs": 2_000, "max_bytes": 1 << 20, "max_txs_per_sender": 200, "max_bytes_per_sender": 64 << 10, "nonce_window": 40}
FAR = 5_000  # far-future transfers sent to each node
HELD = 8  # in-window future transfers sent to each node
HONEST = ("alice", "bob", "carol")


def _tune_limits(home):
    tune_fast(home)
    cfg = load_config(home)
    for k, v in LIMITS.items():
        setattr(cfg.mempool, k, v)
    save_config(cfg)


@pytest.fixture
def flood_net(tmp_path):
    nodes = network(tmp_path / "net", N, CHAIN, tune=_tune_limits)
    for node in nodes:
        node.start(wait=False)
    try:
        for node in nodes:
            node.wait_ready()
        yield tmp_path / "net", nodes
    finally:
        for node in nodes:
            node.stop()


def _metrics(node) -> dict[str, float]:
    text = urllib.request.urlopen(node.rpc_url + "/metrics", timeout=10).read().decode()
    return {k: float(v) for k, v in (line.split(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))}


def _rss(node) -> int:
    for line in open(f"/proc/{node.proc.pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _addr(key) -> str:
    return "st" + key.address.hex()


class Watch(threading.Thread):
    """Every node's mempool size and bytes (from /metrics), the largest seen, until stopped."""

    def __init__(self, nodes):
        super().__init__(daemon=True)
        self.nodes, self.stop, self.peak = nodes, threading.Event(), [(0.0, 0.0)] * len(nodes)
        self.polls = 0

    def run(self):
        while not self.stop.is_set():
            for i, n in enumerate(self.nodes):
                m = _metrics(n)
                size, nbytes = m["settle_mempool_size"], m["settle_mempool_bytes"]
                self.peak[i] = (max(self.peak[i][0], size), max(self.peak[i][1], nbytes))
            self.polls += 1
            time.sleep(0.05)


def _send(node, txs) -> list[dict]:
    out = []
    for k in range(0, len(txs), 2_000):
        res = node.client.call("broadcast_tx_batch", {"txs": [t.raw.hex() for t in txs[k : k + 2_000]], "mode": "sync"})
        out += res["results"]
    return out


def _until(what, cond, timeout=90):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        time.sleep(0.2)


def _dave_settled(nodes, dave) -> int | None:
    """dave's committed nonce when every node agrees on it and holds nothing of dave's; else None."""
    accts = [n.client.call("account", {"address": _addr(dave)}) for n in nodes]
    nonces = {(a["nonce"], a["next_nonce"]) for a in accts}
    if len(nonces) == 1:
        nonce, nxt = nonces.pop()
        if nonce == nxt:
            return nonce
    return None


def _committed(node, h: str) -> bool:
    try:
        return node.client.call("tx", {"hash": h})["status"] == "committed"
    except SettleError:
        return False


def test_one_participant_flooding_every_mempool_blocks_nobody(flood_net):
    root, nodes = flood_net
    keys = _keys(root)
    dave, alice = keys["dave"], keys["alice"]
    _wait_all(nodes, 1)
    rss0 = [_rss(n) for n in nodes]
    sigs0 = [_metrics(n)["settle_signatures_verified_total"] for n in nodes]
    watch, honest = Watch(nodes), TransferLoad(keys, HONEST, nodes, CHAIN, 4)  # alice, bob and carol in rounds to every node
    watch.start()
    honest.start()
    try:
        # 1. Far-future nonces to every node: all refused at the door, none verified.
        for j, node in enumerate(nodes):
            far = [sign_tx(dave, CHAIN, 1_000 + j * FAR + k, Transfer(alice.address, "USD", 1, "")) for k in range(FAR)]
            codes = {r["code"] for r in _send(node, far)}
            assert codes == {"nonce_too_far"}, codes
        # no signature work for them (what was verified meanwhile: honest transfers)
        sigs = [_metrics(n)["settle_signatures_verified_total"] - s0 for n, s0 in zip(nodes, sigs0)]
        assert max(sigs) < FAR // 2, sigs

        # 2. Ready nonces, more than the per-sender cap, to every node: each holds at most the cap.
        cap = LIMITS["max_txs_per_sender"]
        ready = [sign_tx(dave, CHAIN, k, Transfer(alice.address, "USD", 1, "")) for k in range(3 * cap)]
        for j, node in enumerate(nodes):  # one batch is admitted in one go: no commit in between
            results = _send(node, ready)
            assert sum(r["accepted"] for r in results) <= cap
            assert j > 0 or "sender_full" in {r["code"] for r in results if not r["accepted"]}
            a = node.client.call("account", {"address": _addr(dave)})
            assert a["next_nonce"] - a["nonce"] <= cap
        _until("dave's ready txs commit", lambda: _dave_settled(nodes, dave) is not None)
        base = _dave_settled(nodes, dave)
        assert cap <= base <= 3 * cap

        # 3. Future nonces inside the window (base + 1 is missing): each node keeps its own, gossips none.
        held = {}
        for j, node in enumerate(nodes):
            txs = [sign_tx(dave, CHAIN, base + 2 + HELD * j + k, Transfer(alice.address, "USD", 1, "")) for k in range(HELD)]
            assert all(r["accepted"] for r in _send(node, txs))
            held[j] = txs
        # honest transfers accepted after them commit: any gossip of the held ones would have gone before
        mark = len(honest.accepted)
        _until("honest transfers after the held ones", lambda: len(honest.accepted) >= mark + 30)
        last = honest.accepted[mark + 29]
        _until("they commit", lambda: all(_committed(n, last) for n in nodes))
        for j, txs in held.items():
            for t in txs:
                for k, node in enumerate(nodes):
                    if k == j:
                        assert node.client.call("tx", {"hash": t.hash.hex()})["status"] == "pending"
                    else:
                        with pytest.raises(SettleError, match="not found"):
                            node.client.call("tx", {"hash": t.hash.hex()})

        # 4. The missing nonces: the held txs become ready, are gossiped and commit on every node.
        gap = [sign_tx(dave, CHAIN, base + k, Transfer(alice.address, "USD", 1, "")) for k in range(2)]
        assert all(r["accepted"] for r in _send(nodes[0], gap))
        end = base + 2 + HELD * N
        _until("the held txs commit everywhere", lambda: _dave_settled(nodes, dave) == end)
    finally:
        honest.stop.set()
        honest.join(30)
        watch.stop.set()
        watch.join(30)

    # Everyone else's transfers committed; none was refused for room.
    assert len(honest.accepted) >= 60
    assert not [r for r in honest.refused if r["code"] in ("mempool_full", "sender_full")], honest.refused[:5]
    pending = set(honest.accepted)

    def all_committed() -> bool:
        pending.difference_update([h for h in pending if _committed(nodes[0], h)])
        return not pending

    _until("honest transfers commit", all_committed)
    # Bounds: the mempools, memory, and no signature work for the far-future flood.
    assert watch.polls > 0
    for i, node in enumerate(nodes):
        size, nbytes = watch.peak[i]
        assert size <= LIMITS["max_txs"] and nbytes <= LIMITS["max_bytes"], watch.peak
        assert size <= 4 * cap, watch.peak  # four senders, each within its cap (the honest ones never reached it)
        assert _rss(node) - rss0[i] < 64 << 20, (i, _rss(node), rss0[i])
    top = min(n.client.call("status")["height"] for n in nodes)
    _wait_all(nodes, top)
    _agree(nodes, top)
