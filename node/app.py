"""The node: wires store, chain, mempool, block production and RPC on one loop.

Owns the node's lifetime (open, run, stop cleanly), transaction submission
(mempool admission, commit waiters), and what happens after a block commits
(mempool eviction, waking waiters, WebSocket notifications, metrics, one log
line).  All tasks run under one TaskGroup; the store is closed last.

A write that fails (store, consensus WAL, safety data) halts the node
(:meth:`Node.halt`): one CRITICAL line with the cause, no further votes or
commits, submissions refused, ``/health`` 503 with the cause, and an exit
with :data:`EXIT_HALTED` after ``halt_linger_ms``.  Carrying on after a write
the node cannot trust would wedge consensus silently.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import socket
import time
from dataclasses import dataclass, field

from ledger.block import Block
from ledger.codec import DecodeError, decode, encode
from ledger.chainstore import ChainStore
from ledger.commit import CommitCertificate
from ledger.keys import PrivateKey, format_address
from ledger.receipt import Receipt
from ledger.store_leveldb import WRITE_BUFFER_BYTES, LevelDBKV
from ledger.tx import Tx
from settlement.checktx import check_tx
from settlement.errors import NotIncludable, SettlementError
from settlement.genesis import Genesis
from settlement.machine import BlockResult

from .chain import Chain
from .config import NodeConfig
from .mempool import Mempool, MempoolRejection
from .verifier import Verifier

__all__ = ["EXIT_HALTED", "Node", "NodeError", "NodeHalted"]

log = logging.getLogger("settle.node")


def _resolve(maddr: str) -> str | None:
    """Turn ``/dns4/NAME/...`` into ``/ip4/ADDR/...``; None if NAME does not resolve (yet)."""
    parts = maddr.split("/")
    if len(parts) > 2 and parts[1] in ("dns4", "dns"):
        try:
            addr = socket.getaddrinfo(parts[2], None, socket.AF_INET)[0][4][0]
        except OSError:
            return None
        parts[1:3] = ["ip4", addr]
    return "/".join(parts)


def memtable_bytes(pubkey: bytes, validators: list[bytes]) -> int:
    """This node's LevelDB memtable size: 16-32 MB, different on each validator.

    Validators write the same blocks, so with equal memtables they flush and
    compact at the same moment: a 4-node net on one machine stalled for
    seconds every ~90 s at 1,600 tx/s, all nodes at once.  Spread out, a
    compaction slows one node while the others (a quorum) go on.  Validator
    i of n (by sorted public key) gets 16 MB x (1 + i/n); other nodes a size
    fixed by their key.
    """
    ranked = sorted(validators)
    if pubkey in ranked:
        return WRITE_BUFFER_BYTES + WRITE_BUFFER_BYTES * ranked.index(pubkey) // len(ranked)
    spread = int.from_bytes(hashlib.sha256(b"settle/memtable/v1" + pubkey).digest()[:4], "big") % WRITE_BUFFER_BYTES
    return WRITE_BUFFER_BYTES + spread


EXIT_HALTED = 3  # the process's exit code after a halt


class NodeError(Exception):
    """The node cannot start (bad genesis, key, or a data dir in use)."""


class NodeHalted(Exception):
    """The node halted after a failed write; nothing more is committed or signed."""


@dataclass
class Metrics:
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


class Node:
    def __init__(self, cfg: NodeConfig):
        self.cfg = cfg
        try:
            genesis_doc = cfg.genesis_path.read_bytes()
            self.genesis = Genesis.from_json(json.loads(genesis_doc))
        except FileNotFoundError:
            raise NodeError(f"no genesis at {cfg.genesis_path}") from None
        except ValueError as exc:
            raise NodeError(f"bad genesis {cfg.genesis_path}: {exc}") from None
        try:
            self.key = PrivateKey.load(cfg.key_path)
        except ValueError as exc:
            raise NodeError(str(exc)) from None
        try:
            memtable = memtable_bytes(self.key.pubkey, [v.pubkey for v in self.genesis.validators])
            self.kv = LevelDBKV(str(cfg.data_dir), write_buffer_bytes=memtable)
        except Exception as exc:  # StoreLockedError and plyvel IO errors
            raise NodeError(str(exc)) from None
        self.store = ChainStore(self.kv)
        try:
            self.chain = Chain(self.store, self.genesis, genesis_doc)
        except Exception as exc:
            self.kv.close()
            raise NodeError(str(exc)) from None
        self.mempool = Mempool(
            cfg.mempool,
            check=self._check_tx,
            is_committed=lambda h: self.store.tx_location(h) is not None,
        )
        self.verifier = Verifier(cfg.verifier.workers or None, processes=cfg.verifier.pool == "processes")
        self.chain.verifier = self.verifier
        self.metrics = Metrics()
        self.new_tx = asyncio.Event()
        self.stopping = asyncio.Event()
        self._waiters: dict[bytes, list[asyncio.Future]] = {}
        self.subscribers: set = set()  # node.rpc.Subscription objects
        self.is_validator = self.key.address in self.chain.vset
        self.net = None  # the p2p transport, when the chain has peers
        self.gossip = None
        self.sync = None
        self.consensus = None
        self.halted: str | None = None  # why the node halted (see halt)

    def halt(self, reason: str) -> None:
        """Stop this node's part in the chain after a failed write, loudly (idempotent).

        From here on the consensus driver takes no input (no votes), commits
        and submissions are refused, ``/health`` answers 503 with ``reason``,
        and the process exits with :data:`EXIT_HALTED` after ``halt_linger_ms``
        (long enough for a monitor to read why).
        """
        if self.halted is not None:
            return
        self.halted = reason
        linger = self.cfg.halt_linger_ms / 1000
        log.critical("HALT: %s; no more votes, commits or submissions; exiting in %.0f s", reason, linger)
        try:
            asyncio.get_running_loop().call_later(linger, self.stopping.set)
        except RuntimeError:  # no loop running (an offline caller)
            self.stopping.set()

    # ------------------------------------------------------------------ submission

    def _check_tx(self, tx: Tx) -> int:
        """Mempool admission against committed state (every path: RPC, batch, gossip).

        Includability (chain, sender, nonce), then settlement's door checks
        (:func:`settlement.checktx.check_tx`): a tx any block would fail is
        refused here instead of burning a nonce on a failed receipt.
        """
        try:
            nonce = self.chain.check_tx(tx)
            check_tx(self.chain.view, tx)
        except NotIncludable as exc:
            raise MempoolRejection("not_includable", str(exc)) from None
        except SettlementError as exc:
            raise MempoolRejection(exc.name, str(exc)) from None
        return nonce

    def admit(self, tx: Tx, *, verified: bool = False) -> None:
        """Admit ``tx`` to the mempool; raises MempoolRejection.

        Args:
            verified: the signature was checked already (by :attr:`verifier`);
                otherwise the mempool checks it here, once, unless this node
                checked it before (``chain.verified``: any path, any time).
        """
        if self.halted is not None:
            raise MempoolRejection("halted", f"node halted: {self.halted}")
        try:
            self.mempool.add(tx, verified=verified or tx.hash in self.chain.verified)
        except MempoolRejection:
            self.metrics.mempool_rejections += 1
            raise
        self.chain.mark_verified(tx)
        self.new_tx.set()

    async def verify_batch(self, txs: list[Tx]) -> set[bytes]:
        """Hashes of the txs whose signatures verify, checked in the verifier pool.

        Txs whose signatures this node checked before (``chain.verified``, which
        :meth:`admit` consults for every tx), txs already in the mempool (a
        duplicate is refused as such anyway) and txs the mempool will refuse
        for their nonce (used, pending, beyond the nonce window: a future-nonce
        flood costs no signature work) are not sent to the pool; a tx left
        out and not in the memo is checked inline at mempool entry, so a bad
        signature is refused in the mempool's usual order.
        """
        seen, pool = self.chain.verified, self.mempool
        todo = []
        earlier: dict[bytes, int] = {}  # a sender's txs before this one in the batch
        for tx in txs:
            sender = tx.sender_address
            k = earlier.get(sender, 0)
            earlier[sender] = k + 1
            if tx.hash not in seen and tx.hash not in pool and not pool.nonce_hopeless(tx, self.chain.nonce_of, k):
                todo.append(tx)
        verdicts = await self.verifier.verify(todo)
        return {tx.hash for tx, ok in zip(todo, verdicts) if ok}

    def submit(self, tx: Tx, *, verified: bool = False) -> None:
        """A transaction from a client: admit it, then gossip it to the other nodes."""
        self.admit(tx, verified=verified)
        if self.gossip is not None:
            self.gossip.queue(tx)

    def request_sync(self) -> None:
        """Catch up from peers in the background (one sync at a time)."""
        if self.sync is None or self.sync.running or self.halted is not None:
            return

        async def run():
            if await self.sync.catch_up() and self.consensus is not None:
                self.consensus.reset_to_tip()

        asyncio.get_running_loop().create_task(run())

    def tx_result(self, tx_hash: bytes) -> tuple[int, int, Receipt] | None:
        return self.store.receipt(tx_hash)

    async def wait_commit(self, tx_hash: bytes, timeout: float) -> tuple[int, int, Receipt] | None:
        """Wait until ``tx_hash`` is committed; None on timeout."""
        found = self.tx_result(tx_hash)
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

    # ------------------------------------------------------------------ commit

    def commit(self, block: Block, result: BlockResult, cert: CommitCertificate) -> None:
        """Persist a decided block and tell everyone who waits for it.

        Raises:
            NodeHalted: the node is halted, or the store write failed (which halts it).
        """
        if self.halted is not None:
            raise NodeHalted(self.halted)
        try:
            self.chain.commit(block, result, cert)
        except Exception as exc:
            self.halt(f"store write failed at height {block.height}: {type(exc).__name__}: {exc}")
            raise NodeHalted(self.halted) from exc
        self.mempool.update(block.txs, self.chain.nonce_of)
        now = time.monotonic()
        m = self.metrics
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
        for sub in list(self.subscribers):
            sub.on_block(block, receipts)
        if block.txs or log.isEnabledFor(logging.DEBUG):
            log.info(
                "committed height=%d txs=%d failed=%d mempool=%d peers=%d root=%s",
                block.height,
                len(block.txs),
                sum(1 for r in receipts[: len(block.txs)] if not r.ok),
                len(self.mempool),
                len(self.net.peers()) if self.net is not None else 0,
                self.chain.state_root.hex()[:16],
            )

    # ------------------------------------------------------------------ lifetime

    async def run(self) -> None:
        """Serve until :attr:`stopping` is set; then shut down cleanly."""
        from .consensus_driver import ConsensusDriver
        from .rpc import RPCServer

        rpc = RPCServer(self)
        await rpc.start()
        tasks: list[asyncio.Task] = []
        try:
            if self.cfg.p2p.peers or self.cfg.p2p.allow:
                await self._start_p2p()
                tasks.append(asyncio.create_task(self.gossip.run()))
                tasks.append(asyncio.create_task(self._beacon()))
            self.consensus = ConsensusDriver(self, self.net)
            log.info(
                "node %s started: chain=%s height=%d validator=%s rpc=%s peers=%d",
                self.cfg.moniker,
                self.chain.chain_id,
                self.chain.height,
                format_address(self.key.address) if self.is_validator else "no",
                self.cfg.rpc_url,
                len(self.cfg.p2p.peers),
            )
            self.consensus.start()
            await self.stopping.wait()
        finally:
            for t in tasks:
                t.cancel()
            if self.gossip is not None:
                self.gossip.stop()
            if self.consensus is not None:
                try:
                    self.consensus.stop()
                except OSError as exc:  # closing the WAL syncs it: the disk may be what failed
                    log.error("closing the consensus WAL failed: %s", exc)
            if self.net is not None:
                await self.net.stop()
            await rpc.stop()
            self.close()
            log.info("node %s stopped at height %d", self.cfg.moniker, self.chain.height)

    # ------------------------------------------------------------------ peer-to-peer

    async def _start_p2p(self) -> None:
        from .gossip import TOPIC_CONSENSUS, TOPIC_STATUS, TOPIC_TXS, TxGossip
        from .p2p import P2PNetwork, load_or_create_seed, route_libp2p_logging
        from .sync import SYNC_PROTOCOL, BlockSync

        route_libp2p_logging()
        allowed: dict[str, str | None] = {}
        for maddr in self.cfg.p2p.peers:
            if "/p2p/" not in maddr:
                raise NodeError(f"p2p peer {maddr!r} must end in /p2p/<peer id>")
            allowed[maddr.rsplit("/p2p/", 1)[1]] = _resolve(maddr)
        for pid in self.cfg.p2p.allow:
            allowed.setdefault(pid, None)
        self.net = P2PNetwork(
            load_or_create_seed(self.cfg.p2p_seed_path),
            self.cfg.p2p.host,
            self.cfg.p2p.port,
            allowed,
            topics=[TOPIC_TXS, TOPIC_CONSENSUS, TOPIC_STATUS],
            on_message=self._on_p2p_message,
            request_handlers={SYNC_PROTOCOL: self._serve_sync},
            relay=self.cfg.p2p.relay,
        )
        self.gossip = TxGossip(self, self.net)
        self.sync = BlockSync(self, self.net)
        self._topics = (TOPIC_TXS, TOPIC_CONSENSUS, TOPIC_STATUS)
        await self.net.start()
        log.info("p2p listening on %s:%d as %s", self.cfg.p2p.host, self.cfg.p2p.port, self.net.peer_id)

    async def _serve_sync(self, peer_id: str, payload: bytes) -> bytes:
        return await self.sync.serve(peer_id, payload)

    async def _on_p2p_message(self, topic: str, peer_id: str, data: bytes) -> None:
        txs, cons, status = self._topics
        if topic == cons:
            if self.consensus is not None and self.halted is None:
                self.consensus.on_message(peer_id, data)
        elif topic == txs:
            self.gossip.on_batch(peer_id, data)
        elif topic == status:
            try:
                obj = decode(data, max_bytes=128)
                if type(obj) is not list or len(obj) != 2 or type(obj[0]) is not int:
                    raise DecodeError("status: expected [height, block id]")
            except DecodeError:
                self.metrics.garbage_messages += 1
                self.net.report_garbage(peer_id)
                return
            self.sync.note_peer_height(peer_id, obj[0])
            if obj[0] > self.chain.height + 1 or (obj[0] > self.chain.height and self.consensus_idle()):
                self.request_sync()

    def consensus_idle(self) -> bool:
        """True when this node's consensus has not moved for a while (it may have missed a decision)."""
        c = self.consensus
        return c is not None and time.monotonic() - c.decided_at > 2 * self.cfg.block.empty_interval_ms / 1000

    async def _beacon(self) -> None:
        """Tell peers our height once a second (drives block sync of laggards)."""
        while True:
            self.net.publish(self._topics[2], encode([self.chain.height, self.chain.last_block_id]))
            await asyncio.sleep(1.0)

    def close(self) -> None:
        for lst in self._waiters.values():
            for fut in lst:
                if not fut.done():
                    fut.cancel()
        self._waiters.clear()
        self.verifier.close()
        self.kv.close()
