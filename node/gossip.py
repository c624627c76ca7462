"""Transaction gossip in batches, and peer status beacons.

Owns the wire shape of the ``txs`` and ``status`` topics and the batching
policy: transactions admitted through this node's RPC are collected and sent
as ONE message of many transactions (a libp2p message costs ~3 ms of CPU per
receiving node, whatever its size) every ``flush_ms`` or when a batch holds
``max_batch`` transactions.  Received batches are decoded strictly; every
transaction goes through the same mempool admission as an RPC submission
(signature verified once, in the node's verifier pool).  A node that never
proposes (a full node) sends its clients' txs again every ``resend_s`` while
they wait in its mempool: nothing else would ever bring a tx it gossiped
before its links were up to a validator.  A batch that does
not decode is garbage: counted and reported to the transport, which
disconnects a repeat offender.

Never blocks the event loop on the network: ``publish`` is non-blocking and
a full outbound queue is a counted drop (mempools converge again through the
next proposals; a dropped tx is still in this node's mempool).

Status beacons (:class:`StatusBeacon`): once a second this node publishes
``[height, block id]``; a peer's beacon that is ahead of us (by two
heights, or by one while our consensus has stalled) asks consensus to catch
up by block sync.

Only *ready* transactions are sent (the sender's nonces run without gap from
its committed nonce; node/mempool.py): a local tx with a future nonce is held
here until it becomes ready (an earlier tx arrived or committed) and is sent
then, and dropped if the mempool drops it.  Future-nonce spam thus stays in
the one mempool it was sent to, bounded there by the nonce window.
"""
from __future__ import annotations

import asyncio
import logging
import time

from ledger.codec import DecodeError, decode, encode
from ledger.tx import MAX_TX_BYTES, Tx

from .mempool import MempoolRejection
from .ports import ChainReader, MetricsSink, Network, PendingTxs, SyncTrigger, TxAdmission

__all__ = ["StatusBeacon", "TxGossip", "TOPIC_TXS", "TOPIC_STATUS", "TOPIC_CONSENSUS"]

log = logging.getLogger("settle.gossip")

TOPIC_TXS = "settle/txs/1"
TOPIC_CONSENSUS = "settle/consensus/1"
TOPIC_STATUS = "settle/status/1"
MAX_BATCH_BYTES = 4 * 1024 * 1024


class TxGossip:
    """Batches of transactions out and in (the :class:`~node.ports.TxOutbox` port); see the module docstring.

    Args:
        admission: where a peer's txs go (the same door as RPC's).
        pool: which txs are ready, and which are still pending.
        net: the transport.
        is_validator: a full node (False) sends its clients' txs again while they wait.
    """

    def __init__(self, admission: TxAdmission, pool: PendingTxs, net: Network, *, is_validator: bool,
                 flush_ms: int = 20, max_batch: int = 2_000, resend_s: float = 2.0):
        self._admission = admission
        self._pool = pool
        self._is_validator = is_validator
        self.net = net
        self.flush_s = flush_ms / 1000
        self.max_batch = max_batch
        # A node that never proposes (a full node) sends its clients' txs
        # again while they wait in its mempool: a batch sent before its links
        # were up, or dropped on a full queue, would otherwise never commit.
        self.resend_s = resend_s
        self._unconfirmed: dict[bytes, float] = {}  # tx hash -> when last sent (full nodes only)
        self._held: dict[bytes, Tx] = {}  # local txs admitted with a future nonce, not sent yet
        self._held_promotions = 0  # mempool.promotions when the held txs were last looked at
        self._last_release = 0.0
        self._last_resend = 0.0
        self.resent_txs = 0
        self.pending: list[bytes] = []
        self.pending_bytes = 0
        self._wake = asyncio.Event()
        self.sent_batches = 0
        self.received_txs = 0
        self.rejected_txs = 0
        self.garbage = 0
        self.dropped_batches = 0
        self._tasks: set[asyncio.Task] = set()  # batches being verified

    def queue(self, tx: Tx) -> None:
        """Schedule a locally admitted transaction for gossip, or hold it while its nonce is in the future."""
        if tx.hash not in self._pool.ready:
            if len(self._held) < self._pool.max_txs:
                self._held[tx.hash] = tx
            return
        self._send(tx)

    def _send(self, tx: Tx) -> None:
        self.pending.append(tx.raw)
        self.pending_bytes += len(tx.raw)
        if not self._is_validator and len(self._unconfirmed) < self._pool.max_txs:
            self._unconfirmed[tx.hash] = time.monotonic()
        if len(self.pending) >= self.max_batch or self.pending_bytes >= MAX_BATCH_BYTES // 2:
            self._wake.set()

    def flush(self) -> None:
        if not self.pending:
            return
        batch, self.pending, self.pending_bytes = self.pending, [], 0
        if self.net.publish(TOPIC_TXS, encode(batch)):
            self.sent_batches += 1
        else:
            self.dropped_batches += 1

    async def run(self) -> None:
        while True:
            try:
                async with asyncio.timeout(self.flush_s):  # not wait_for: it can swallow cancellation on 3.11
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
            if self._held:
                self.release()
            if self._unconfirmed and time.monotonic() - self._last_resend >= self.resend_s / 4:
                self._resend()
            self.flush()

    def release(self) -> None:
        """Send the held txs that became ready; forget those the mempool dropped.

        Looks only when the mempool promoted a future tx since the last look,
        or once a second (to forget evicted and expired ones).
        """
        pool = self._pool
        now = time.monotonic()
        if pool.promotions == self._held_promotions and now - self._last_release < 1.0:
            return
        self._held_promotions, self._last_release = pool.promotions, now
        ready = [tx for h, tx in self._held.items() if h in pool.ready]
        gone = [h for h in self._held if h not in pool.by_hash]
        for h in gone:
            del self._held[h]
        for tx in sorted(ready, key=lambda t: (t.sender_address, t.nonce)):
            del self._held[tx.hash]
            self._send(tx)

    def _resend(self) -> None:
        """Queue again the local txs still in the mempool (and ready) ``resend_s`` after they were sent."""
        now = self._last_resend = time.monotonic()
        pool, ready = self._pool.by_hash, self._pool.ready
        for h, sent in list(self._unconfirmed.items()):
            tx = pool.get(h)
            if tx is None:
                del self._unconfirmed[h]  # committed, or evicted as stale
            elif now - sent >= self.resend_s and len(self.pending) < self.max_batch and h in ready:
                self._unconfirmed[h] = now
                self.pending.append(tx.raw)
                self.pending_bytes += len(tx.raw)
                self.resent_txs += 1

    def on_batch(self, peer_id: str, data: bytes) -> None:
        """Admit every transaction of a peer's batch; garbage is reported."""
        try:
            items = decode(data, max_bytes=MAX_BATCH_BYTES)
            if type(items) is not list:
                raise DecodeError("tx batch: expected a list")
            txs = []
            for raw in items:
                if type(raw) is not bytes or len(raw) > MAX_TX_BYTES:
                    raise DecodeError("tx batch: items must be transactions")
                txs.append(Tx.decode(raw))
        except DecodeError as exc:
            self.garbage += 1
            log.debug("garbage tx batch from %s: %s", peer_id, exc)
            self.net.report_garbage(peer_id)
            return
        self.received_txs += len(txs)
        task = asyncio.get_running_loop().create_task(self._admit(txs))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def stop(self) -> None:
        for task in self._tasks:
            task.cancel()

    async def _admit(self, txs: list[Tx]) -> None:
        """Verify a batch's signatures in the verifier pool, then admit in order."""
        admission = self._admission
        good = await admission.verify_batch(txs)
        for tx in txs:
            try:
                admission.admit(tx, verified=tx.hash in good)
            except MempoolRejection:
                self.rejected_txs += 1


class StatusBeacon:
    """The ``status`` topic: our height out once a second, peers' heights in.

    Args:
        chain: our committed height and block id.
        net: the transport.
        sync: told of peers' heights; asked to catch up when a peer is ahead.
        counters: an undecodable beacon counts as garbage.
    """

    def __init__(self, chain: ChainReader, net: Network, sync: SyncTrigger, counters: MetricsSink):
        self._chain = chain
        self._net = net
        self._sync = sync
        self._counters = counters

    def on_status(self, peer_id: str, data: bytes) -> None:
        """A peer's beacon: note its height; catch up if it is ahead.  Garbage is reported."""
        try:
            obj = decode(data, max_bytes=128)
            if type(obj) is not list or len(obj) != 2 or type(obj[0]) is not int:
                raise DecodeError("status: expected [height, block id]")
        except DecodeError:
            self._counters.garbage_messages += 1
            self._net.report_garbage(peer_id)
            return
        height = self._chain.height
        self._sync.note_peer_height(peer_id, obj[0])
        if obj[0] > height + 1 or (obj[0] > height and self._sync.stalled()):
            self._sync.request_sync()

    async def run(self) -> None:
        """Tell peers our height once a second (drives block sync of laggards)."""
        while True:
            self._net.publish(TOPIC_STATUS, encode([self._chain.height, self._chain.last_block_id]))
            await asyncio.sleep(1.0)
