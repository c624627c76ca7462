"""What happens when a decided block is committed, and who waits for it.

Owns the commit path of the node (the :class:`~node.ports.Committer` and
:class:`~node.ports.CommitWaiter` ports): persisting a decided block through
the chain, halting the node when that write fails, and everything after a
commit (mempool eviction, waking commit waiters, block notifications to
subscribers, counters, one log line).  Proposing and validating go straight
to the chain.

Never: decide whether a block is valid (the chain and consensus do), sign
anything, or carry on after a failed write.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Iterable

from ledger.block import Block
from ledger.commit import CommitCertificate
from ledger.receipt import Receipt
from ledger.tx import Tx
from settlement.machine import BlockResult

from .chain import Chain, Proposal
from .halt import NodeHalted
from .mempool import Mempool
from .ports import BlockListener, Halter, MetricsSink, Network

__all__ = ["CommitPipeline"]

log = logging.getLogger("settle.node")


class CommitPipeline:
    """The node's :class:`~node.ports.Committer`: the chain's, plus what follows a commit.

    Args:
        chain: builds, validates and persists blocks.
        mempool: evicts what a block made stale.
        counters: blocks and txs committed.
        halt: a failed write halts the node; a halted node commits nothing.
        subscribers: told of every block (WebSocket clients; the set is shared with RPC).
        net: the transport (for the peer count in the log line), None without peers.
    """

    def __init__(self, *, chain: Chain, mempool: Mempool, counters: MetricsSink, halt: Halter,
                 subscribers: set[BlockListener], net: Network | None = None):
        self._chain = chain
        self._pool = mempool
        self._counters = counters
        self._halt = halt
        self._subscribers = subscribers
        self._net = net
        self._waiters: dict[bytes, list[asyncio.Future]] = {}

    @property
    def height(self) -> int:
        return self._chain.height

    def propose(self, candidates: Iterable[Tx], time_ms: int, proposer: bytes, *, max_txs: int, max_bytes: int) -> Proposal:
        return self._chain.propose(candidates, time_ms, proposer, max_txs=max_txs, max_bytes=max_bytes)

    def validate(self, block: Block) -> BlockResult:
        return self._chain.validate(block)

    def commit(self, block: Block, result: BlockResult, cert: CommitCertificate) -> None:
        """Persist a decided block and tell everyone who waits for it.

        Raises:
            NodeHalted: the node is halted, or the store write failed (which halts it).
        """
        halted = self._halt.halted
        if halted is not None:
            raise NodeHalted(halted)
        try:
            self._chain.commit(block, result, cert)
        except Exception as exc:  # any failure of the one atomic write (disk, store rule, bug): trust nothing after it
            self._halt.halt(f"store write failed at height {block.height}: {type(exc).__name__}: {exc}")
            raise NodeHalted(self._halt.halted) from exc
        self._pool.update(block.txs, self._chain.nonce_of)
        now = time.monotonic()
        m = self._counters
        m.blocks_committed += 1
        m.txs_committed += len(block.txs)
        m.txs_failed += sum(1 for r in result.receipts[: len(block.txs)] if not r.ok)
        m.last_block_seconds = now - m.last_commit_monotonic
        m.last_commit_monotonic = now
        receipts = result.receipts
        for i, tx in enumerate(block.txs):
            waiters = self._waiters.get(tx.hash)
            if waiters:
                for fut in waiters:
                    if not fut.done():
                        fut.set_result((block.height, i, receipts[i]))
        for sub in list(self._subscribers):
            sub.on_block(block, receipts)
        # The node's one line per block, and only for a block with txs (an idle chain stays quiet) unless at debug level.
        if block.txs or log.isEnabledFor(logging.DEBUG):
            log.info(
                "committed height=%d txs=%d failed=%d hash=%s ms=%d mempool=%d peers=%d root=%s",
                block.height,
                len(block.txs),
                sum(1 for r in receipts[: len(block.txs)] if not r.ok),
                block.id.hex()[:12],
                round(m.last_block_seconds * 1000),  # since the previous commit (or the start)
                len(self._pool),
                len(self._net.peers()) if self._net is not None else 0,
                self._chain.state_root.hex()[:16],
            )

    async def wait_commit(self, tx_hash: bytes, timeout: float) -> tuple[int, int, Receipt] | None:
        """Wait until ``tx_hash`` is committed; None on timeout."""
        found = self._chain.store.receipt(tx_hash)
        if found is not None:
            return found
        fut = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(tx_hash, []).append(fut)
        try:
            async with asyncio.timeout(timeout):
                return await fut
        except TimeoutError:
            return None
        finally:
            lst = self._waiters.get(tx_hash)
            if lst is not None:
                if fut in lst:
                    lst.remove(fut)
                if not lst:
                    del self._waiters[tx_hash]

    def close(self) -> None:
        """Cancel every waiter (the node is stopping)."""
        for lst in self._waiters.values():
            for fut in lst:
                if not fut.done():
                    fut.cancel()
        self._waiters.clear()
