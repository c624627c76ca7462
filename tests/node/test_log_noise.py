"""A node's log is quiet by default: a line per block with txs, warnings and errors.

Real validator processes over libp2p, one allowlisted peer never started (so
libp2p keeps redialling it): at the default level a node's output holds its
start and stop lines and at most one line per committed block, every line
formatted by the node (nothing from libp2p or aiohttp, nothing unformatted on
stderr); with ``--log-level debug`` every block has its line.
"""
from __future__ import annotations

import logging
import re
import time
from collections import Counter

from ledger.keys import PrivateKey
from ledger.tx import sign_tx
from ledger.txkinds import Transfer
from node.p2p import route_libp2p_logging
from tests.nodeproc import network

LINE = re.compile(r"^\d\d:\d\d:\d\d (\S+) ([DIWEC]) (\S+): (.*)$")
COMMITTED = re.compile(r"^committed height=(\d+) txs=(\d+) failed=\d+ hash=[0-9a-f]{12} ms=\d+ ")
LIFECYCLE = ("p2p listening on ", "node node0 started: ", "node node0 stopped at height ")


def test_auto_connector_dial_lines_are_not_logged():
    import libp2p.network.auto_connector  # noqa: F401  (it sets its own logger to INFO on import)

    route_libp2p_logging()
    # "... initiating N new dials", every 10 s per node, at INFO
    assert not logging.getLogger("libp2p.network.auto_connector").isEnabledFor(logging.INFO)
    assert logging.getLogger("libp2p.network.auto_connector").isEnabledFor(logging.CRITICAL)


def _parse(text: str) -> list[tuple[str, str, str]]:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    bad = [ln for ln in lines if not LINE.match(ln)]
    assert not bad, f"lines the node did not format: {bad[:10]}"
    return [LINE.match(ln).group(2, 3, 4) for ln in lines]


def test_a_node_logs_at_most_one_line_per_block_and_no_libp2p_chatter(tmp_path):
    root = tmp_path / "net"
    nodes = network(root, 2, "settle-quiet", full_nodes=1)  # the full node is never started
    nodes[1].log_level = "debug"  # settle node start --log-level debug
    for node in nodes[:2]:
        node.start(wait=False)
    try:
        for node in nodes[:2]:
            node.wait_ready()
        alice, bob = (PrivateKey.load(root / "keys" / f"{n}.json") for n in ("alice", "bob"))
        txs = [sign_tx(alice, "settle-quiet", k, Transfer(bob.address, "USD", 1, "")) for k in range(5)]
        nodes[0].client.call("broadcast_tx_batch", {"txs": [t.raw.hex() for t in txs], "mode": "commit"})
        top = nodes[0].wait_height(8, timeout=60)["height"]
        nodes[1].wait_height(top, timeout=60)
        time.sleep(0)  # the lines of those blocks are written before the RPC answers
    finally:
        for node in nodes[:2]:
            node.stop()

    quiet = _parse(nodes[0].log_path.read_text())
    assert not [r for r in quiet if r[1].startswith(("libp2p", "aiohttp"))], quiet
    assert not [r for r in quiet if r[0] == "D"], quiet
    info = [r[2] for r in quiet if r[0] == "I"]
    committed = [COMMITTED.match(m) for m in info if m.startswith("committed ")]
    assert all(committed), info
    heights = Counter(int(m.group(1)) for m in committed)
    assert heights and max(heights.values()) == 1, heights  # at most one line per block
    assert all(int(m.group(2)) > 0 for m in committed), info  # idle blocks are not logged
    assert len(heights) < top, (heights, top)
    others = [m for m in info if not m.startswith("committed ")]
    assert all(m.startswith(LIFECYCLE) for m in others), others
    assert len(others) <= len(LIFECYCLE), others

    # At debug level every block has its line; the debug lines are Settle's (libp2p's INFO lines may appear).
    loud = _parse(nodes[1].log_path.read_text())
    assert not [r for r in loud if r[0] == "D" and not r[1].startswith("settle.")], loud[:10]
    logged = {int(m.group(1)) for m in (COMMITTED.match(r[2]) for r in loud if r[1] == "settle.node") if m}
    assert set(range(1, top + 1)) <= logged


def test_a_long_catch_up_logs_progress_every_few_seconds_and_once_at_the_end(caplog):
    from node.sync import PROGRESS_EVERY_S, _Progress

    now = [100.0]
    progress = _Progress(10, clock=lambda: now[0])
    with caplog.at_level(logging.DEBUG, logger="settle.sync"):
        for height in range(11, 171):  # a block every 0.125 s for 20 s
            now[0] += 0.125
            progress.step(height, 500)
        progress.done(170)
    lines = [(r.levelno, r.getMessage()) for r in caplog.records]
    steps = [m for lvl, m in lines if m.startswith("sync: height ")]
    assert len(steps) == 20 / PROGRESS_EVERY_S
    assert steps[0] == f"sync: height {10 + int(8 * PROGRESS_EVERY_S)} of 500 (8 blocks/s)"
    assert lines[-1] == (logging.INFO, "sync: caught up at height 170 (160 blocks in 20.0 s, 8 blocks/s)")


def test_a_block_or_two_fetched_is_not_worth_an_info_line(caplog):
    from node.sync import _Progress

    with caplog.at_level(logging.DEBUG, logger="settle.sync"):
        progress = _Progress(10, clock=lambda: 0.0)
        progress.step(12, 12)
        progress.done(12)
        _Progress(12, clock=lambda: 0.0).done(12)  # nothing fetched: nothing said
    assert [r.levelno for r in caplog.records] == [logging.DEBUG]
