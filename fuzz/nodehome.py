"""A real node for the p2p and RPC targets: LevelDB home, genesis, keys; no sockets.

Owns: :func:`make_node`, which initialises a single-validator home (the same
``init_testnet`` as ``settle init``), opens a :class:`node.app.Node` on it,
commits one block that the validator built and certified (so there is a
block, a certificate, receipts and state to serve), and connects the
node's p2p handlers (gossip, block sync, status beacon) to
:class:`RecordingNet`, a transport that records what the node would have
sent.  Never opens a socket or starts consensus.

The home lives in ``$SETTLE_FUZZ_HOME`` if set (the runner and the test
set it to a directory they remove), else in a new temporary directory.
"""
from __future__ import annotations

import asyncio
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Awaitable, Callable, Sequence

from ledger.codec import encode
from ledger.commit import CommitCertificate, CommitSig, VoteType, vote_sign_bytes
from ledger.keys import PrivateKey
from ledger.tx import Tx, sign_tx
from ledger.txkinds import Transfer
from node.app import Node
from node.config import load_config
from cli.keyring import Keyring
from cli.testnet import init_testnet

PEER = "12D3KooWFuzzPeer"


@dataclass
class RecordingNet:
    """The node's transport port (``node.ports.Network``), answering sync requests with ``response``."""

    response: bytes = encode([])
    published: list = field(default_factory=list)
    garbage: list = field(default_factory=list)

    def publish(self, topic: str, data: bytes) -> bool:
        self.published.append((topic, data))
        del self.published[:-16]
        return True

    async def request(self, peer_id: str, protocol: str, payload: bytes, timeout: float) -> bytes:
        return self.response

    def peers(self) -> list[str]:
        return [PEER]

    def report_garbage(self, peer_id: str) -> None:
        self.garbage.append(peer_id)
        del self.garbage[:-16]


@dataclass
class FuzzNode:
    node: Node
    net: RecordingNet
    alice: PrivateKey
    txs: list[Tx]  # valid transfers from alice, not yet committed
    next_block: bytes  # encoded [[block, certificate]] of height 2: a sync response that verifies
    loop: asyncio.AbstractEventLoop

    def entry_points(self, handlers: Sequence[Callable[[bytes], Awaitable[None]]]) -> Callable[[bytes], None]:
        """A libFuzzer ``TestOneInput``: the first byte picks a handler, which gets the rest.

        After the handler, every task it started (mempool admission, a
        requested sync) runs to its end on the node's loop: an exception
        there is a crash too.
        """

        async def run(handler, payload: bytes) -> None:
            await handler(payload)
            me = asyncio.current_task()
            await asyncio.gather(*[t for t in asyncio.all_tasks() if t is not me])

        def test_one_input(data: bytes) -> None:
            if data:
                self.loop.run_until_complete(run(handlers[data[0] % len(handlers)], data[1:]))

        return test_one_input


def make_node(*, peers: bool = True) -> FuzzNode:
    """A node at height 1 (``peers``: with gossip and sync on a RecordingNet, else none, as a node alone)."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    root = Path(os.environ.get("SETTLE_FUZZ_HOME") or tempfile.mkdtemp(prefix="settle-fuzz-node-"))
    home = root / f"home-{os.getpid()}"
    init_testnet(home, 1, chain_id="settle-fuzz", single_home=True)
    cfg = load_config(home)
    cfg.verifier.pool = "threads"
    cfg.verifier.workers = 1
    net = RecordingNet()
    node = Node(cfg, net=net if peers else None)
    ring = Keyring(home)
    alice, bob = ring.load("alice"), ring.load("bob")
    txs = [sign_tx(alice, node.chain.chain_id, n, Transfer(bob.address, "USD", 1 + n, "fuzz")) for n in range(4)]
    _commit_next(node, txs[:1])
    # the next block is built but not committed: the sync seed that carries it verifies
    block, cert = _next(node, txs[1:2])
    return FuzzNode(node, net, alice, txs[1:], encode([[block.encode(), cert.encode()]]), loop)


def _next(node: Node, txs: list[Tx]):
    chain = node.chain
    built = chain.propose(txs, time.time_ns() // 1_000_000, node.key.address, max_txs=100, max_bytes=1 << 20)
    block = built.block
    msg = vote_sign_bytes(chain.chain_id, VoteType.PRECOMMIT, block.height, 0, block.id)
    cert = CommitCertificate(block.height, 0, block.id, (CommitSig(node.key.address, node.key.sign(msg)),))
    return block, cert


def _commit_next(node: Node, txs: list[Tx]) -> None:
    block, cert = _next(node, txs)
    node.commits.commit(block, node.chain.validate(block), cert)
