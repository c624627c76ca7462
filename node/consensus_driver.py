"""Drives the sans-I/O consensus core: timers, WAL, network, proposals, commits.

Owns the loop between :class:`consensus.ConsensusCore` and the world, in the
shape of httpcore's ``_receive_event``: feed one input, carry out the actions
it returns in order, and feed back the answers they produce (a built block, a
validity verdict) through a FIFO, never by recursion.

Durability order (CometBFT ``writeInternalMsgToWAL``): every ``WalWrite`` is
appended to the WAL file, and the file is fsynced before any ``Broadcast``
leaves the node or a ``Decide`` is committed; the safety module has already
persisted its own state before it released a signature.  After a decided
block is in the store the WAL is emptied.

Pacing: after a decision, the next height starts (``StartHeight``) once
``block.interval_ms`` has passed and the mempool has ready transactions, or
after ``block.empty_interval_ms`` on an idle chain; the core also starts by
itself when it sees peers moving on.  Block production for any number of
validators, including one, goes through here.

Clock: the core never reads one.  This driver stamps every proposal it feeds
with the wall clock (``ProposalReceived.received_ms``: when the message came
off the network; ``BlockProposal.received_ms``: when our own block was
built) and dates the blocks it builds with the same clock; the core judges
whether a fresh block's time is timely (PBTS, ``consensus/timeliness.py``).
"""
from __future__ import annotations

import asyncio
import collections
import logging
import time
from pathlib import Path

from consensus import (
    BlockProposal,
    BlockValidity,
    Broadcast,
    ConsensusConfig,
    Decide,
    EvidenceFound,
    ProposalReceived,
    RequestProposal,
    RequestValidation,
    ScheduleTimeout,
    SigningFailed,
    StartHeight,
    Step,
    TimeoutElapsed,
    VoteReceived,
    WalWrite,
    decode_message,
    encode_message,
)
from consensus.config import genesis_overrides
from consensus.interfaces import SafetyStorageError
from consensus.messages import DuplicateVoteEvidence, Proposal
from consensus.safety import SafetyRules
from consensus.timeliness import message_delay_in_round
from consensus.wal import decode_record, encode_record, restore
from ledger.block import Block
from ledger.codec import DecodeError
from ledger.errors import Halt
from ledger.hashing import sha256
from ledger.keys import PrivateKey

from .chain import InvalidProposal
from .config import BlockConfig, NodeConfig
from .gossip import TOPIC_CONSENSUS
from .halt import NodeHalted
from .ports import ChainReader, Committer, Halter, MetricsSink, Network, PeerSync, PendingTxs
from .safety_store import FileSafetyStorage
from .wal_file import WalFile

__all__ = ["ConsensusDriver", "consensus_config"]

log = logging.getLogger("settle.consensus")
MAX_EVIDENCE = 10_000


def wall_clock_ms() -> int:
    """Unix time in milliseconds: block times and proposal receive times."""
    return time.time_ns() // 1_000_000


def _block_time_of(raw: bytes) -> int:
    """The header time of an encoded block (ValueError, as DecodeError, if it is not one)."""
    return Block.decode_header(raw).time_ms


def _block_id_of(raw: bytes) -> bytes:
    """The id of an encoded block (hash of its header); garbage gets a hash that matches nothing."""
    try:
        return Block.decode_header(raw).id
    except DecodeError:
        return sha256(b"settle/garbage-block\x00" + raw)


def consensus_config(cfg: NodeConfig, genesis_params: tuple[tuple[str, int], ...]) -> ConsensusConfig:
    """The core's configuration: the node's timeouts and block limits, then the genesis overrides."""
    return ConsensusConfig(
        timeout_propose_ms=cfg.consensus.timeout_propose_ms,
        timeout_prevote_ms=cfg.consensus.timeout_prevote_ms,
        timeout_precommit_ms=cfg.consensus.timeout_precommit_ms,
        timeout_propose_delta_ms=cfg.consensus.timeout_delta_ms,
        timeout_prevote_delta_ms=cfg.consensus.timeout_delta_ms,
        timeout_precommit_delta_ms=cfg.consensus.timeout_delta_ms,
        timeout_commit_ms=cfg.block.interval_ms,
        empty_block_interval_ms=cfg.block.empty_interval_ms,
        max_block_txs=cfg.block.max_txs,
        max_block_bytes=cfg.block.max_bytes,
        **genesis_overrides(genesis_params),
    )


class ConsensusDriver:
    """The loop around one :class:`consensus.ConsensusCore`; see the module docstring.

    Args:
        config: the core's timeouts and limits (the node's, with genesis overrides).
        block: pacing (``interval_ms``, ``empty_interval_ms``) and proposal limits.
        consensus_dir: where the WAL, the safety data and the evidence live.
        key: this node's signing key, handed to the safety module only; None on a full node.
        chain: the committed tip (height, validators, chain id).
        committer: builds, validates and commits blocks.
        pool: pending txs (proposals, pacing); ``new_tx`` is set when one is admitted.
        halt: a failed write halts the node; a halted node takes no input.
        counters: garbage and evidence are counted here.
        net: the transport, None on a node without peers.
        sync: block sync, None without peers.
    """

    def __init__(self, *, config: ConsensusConfig, block: BlockConfig, consensus_dir: Path, key: PrivateKey | None,
                 chain: ChainReader, committer: Committer, pool: PendingTxs, new_tx: asyncio.Event, halt: Halter,
                 counters: MetricsSink, net: Network | None = None, sync: PeerSync | None = None):
        self.config = config
        self.net = net
        self._block = block
        self._chain = chain
        self._committer = committer
        self._pool = pool
        self._new_tx = new_tx
        self._halt = halt
        self._counters = counters
        self._sync = sync
        self._proposer = key.address if key is not None else b""
        consensus_dir.mkdir(parents=True, exist_ok=True)
        self.signer = SafetyRules(key, FileSafetyStorage(consensus_dir / "safety.bin"), chain.chain_id) if key is not None else None
        self.wal = WalFile(consensus_dir / "wal.bin")
        self._inputs: collections.deque = collections.deque()
        self._timers: dict[tuple, asyncio.TimerHandle] = {}
        self._results: dict[bytes, tuple] = {}  # block id -> (Block, BlockResult) we built or validated
        self._busy = False
        self._started = False
        self._stopped = False
        self._start_task: asyncio.Task | None = None
        self.decided_at = time.monotonic()
        self.evidence: list = []  # DuplicateVoteEvidence, persisted in consensus/evidence.bin
        self._evidence_file = WalFile(consensus_dir / "evidence.bin")
        self._evidence_seen: set[bytes] = set()
        for payload in self._evidence_file.read_all():
            try:
                self._keep_evidence(DuplicateVoteEvidence.decode(payload))
            except DecodeError:
                continue
        self._last_regossip = 0.0
        self.core = None
        self._restore()

    # ------------------------------------------------------------------ setup

    def _core_args(self, height: int) -> dict:
        chain = self._chain
        return dict(
            chain_id=chain.chain_id,
            validators=chain.vset,
            height=height,
            block_id_of=_block_id_of,
            block_time_of=_block_time_of,
            signer=self.signer,
            config=self.config,
        )

    def _restore(self) -> None:
        records = []
        for payload in self.wal.read_all():
            try:
                records.append(decode_record(payload))
            except DecodeError:
                log.warning("ignoring an undecodable WAL record")
        self.core, actions = restore(records, **self._core_args(self._chain.height + 1))
        self._pending_actions = actions
        if records:
            log.info("replayed %d WAL record(s) for height %d", len(records), self._chain.height + 1)

    def start(self) -> None:
        """Carry out what replay left to do, then pace the first height.

        Replays the WAL again if block sync moved the chain on since it was
        read (the driver is built before the network starts).
        """
        if self.core.height != self._chain.height + 1:
            self._restore()
        self._started = True
        actions, self._pending_actions = self._pending_actions, []
        self._execute(actions)
        self._drain()
        self._schedule_start()

    def stop(self) -> None:
        """Cancel timers and pacing, close the WAL and evidence files (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        for h in self._timers.values():
            h.cancel()
        self._timers.clear()
        if self._start_task:
            self._start_task.cancel()
        self.wal.close()
        self._evidence_file.close()

    def reset_to_tip(self) -> None:
        """After block sync moved the chain on: a fresh core at the next height."""
        if self.core.height == self._chain.height + 1:
            return
        for h in self._timers.values():
            h.cancel()
        self._timers.clear()
        self._results.clear()
        self.wal.reset()
        self.core, actions = restore([], **self._core_args(self._chain.height + 1))
        self._execute(actions)
        self._schedule_start()

    def stalled(self) -> bool:
        """True when consensus has not decided for a while (it may have missed a decision)."""
        return self._started and time.monotonic() - self.decided_at > 2 * self._block.empty_interval_ms / 1000

    # ------------------------------------------------------------------ block sync

    def note_peer_height(self, peer_id: str, height: int) -> None:
        """A peer says it has committed ``height`` (remembered for block sync)."""
        if self._sync is not None:
            self._sync.note_peer_height(peer_id, height)

    def request_sync(self) -> None:
        """Catch up from peers in the background (one sync at a time), then restart the core at the tip."""
        sync = self._sync
        if sync is None or sync.running or self._halt.halted is not None:
            return

        async def run():
            try:
                caught_up = await sync.catch_up()
            except Halt as exc:  # a fetched block's commit failed: the halt path, not a lost task
                self._halt.halt(f"block sync: {type(exc).__name__}: {exc}")
                return
            if caught_up and self._started:
                self.reset_to_tip()

        asyncio.get_running_loop().create_task(run())

    # ------------------------------------------------------------------ inputs

    def feed(self, event) -> None:
        if self._halt.halted is not None:
            return  # a halted node takes no input: it must not vote
        self._inputs.append(event)
        self._drain()

    def _drain(self) -> None:
        if self._busy:
            return
        self._busy = True
        try:
            while self._inputs:
                event = self._inputs.popleft()
                if log.isEnabledFor(logging.DEBUG):
                    log.debug("input %s", event)
                self._execute(self.core.handle(event))
        except NodeHalted:
            pass  # the commit pipeline halted the node already, naming the failed write
        except (Halt, OSError) as exc:  # a failed write (WAL, safety data, store): nothing after it can be trusted
            self._halt.halt(f"consensus: {type(exc).__name__}: {exc}")
        except Exception as exc:  # a bug in the core or here: carrying on would wedge consensus silently
            log.exception("consensus: unexpected error")
            self._halt.halt(f"consensus: {type(exc).__name__}: {exc}")
        finally:
            self._busy = False

    def on_message(self, peer_id: str, data: bytes) -> None:
        """A consensus message from the network; garbage is reported to the transport.

        Dropped before :meth:`start` and once the node halted.
        """
        if not self._started or self._halt.halted is not None:
            return
        received_ms = wall_clock_ms()
        try:
            msg = decode_message(data)
        except DecodeError:
            if self.net is not None:
                self.net.report_garbage(peer_id)
            self._counters.garbage_messages += 1
            return
        if msg.height > self.core.height and self._sync is not None:
            self._sync.note_peer_height(peer_id, msg.height - 1)
            self.request_sync()
        if type(msg) is Proposal:
            if msg.pol_round == -1:
                self._warn_if_untimely(msg, received_ms)
            self.feed(ProposalReceived(msg, received_ms))
        elif hasattr(msg, "type"):
            self.feed(VoteReceived(msg))

    def _warn_if_untimely(self, p: Proposal, received_ms: int) -> None:
        """Tell the operator when a fresh proposal's time is outside the PBTS window of our clock
        (the core will prevote nil): a lying proposer, or a clock or network out of bounds."""
        try:
            block_time = _block_time_of(p.block)
        except DecodeError:
            return
        if not self.config.timely(block_time, received_ms, p.round):
            log.warning("untimely proposal at height %d round %d: block dated %+d ms from our clock "
                        "(timely: -%d ms to +%d ms in this round); prevoting nil", p.height, p.round,
                        block_time - received_ms, self.config.precision_ms + message_delay_in_round(
                            self.config.message_delay_ms, p.round), self.config.precision_ms)

    def _on_timeout(self, key: tuple) -> None:
        self._timers.pop(key, None)
        height, round_, step = key
        self.feed(TimeoutElapsed(height, round_, step))
        self._regossip()

    def _regossip(self) -> None:
        """A timeout means progress stalled: re-send this height's messages (votes first).

        libp2p does not retransmit to a peer that was disconnected when a
        message went out; this does, at most once a second.
        """
        now = time.monotonic()
        if self.net is None or now - self._last_regossip < 1.0:
            return
        self._last_regossip = now
        msgs = self.core.messages_for_height()
        msgs.sort(key=lambda m: type(m) is Proposal)
        for m in msgs:
            self.net.publish(TOPIC_CONSENSUS, encode_message(m))

    # ------------------------------------------------------------------ actions

    def _execute(self, actions) -> None:
        debug = log.isEnabledFor(logging.DEBUG)
        for a in actions:
            t = type(a)
            if debug and t is not WalWrite:
                log.debug("action %s", a)
            if t is WalWrite:
                self.wal.append(encode_record(a.record))
            elif t is Broadcast:
                self.wal.sync()
                if self.net is not None:
                    self.net.publish(TOPIC_CONSENSUS, encode_message(a.message))
            elif t is ScheduleTimeout:
                key = (a.height, a.round, a.step)
                old = self._timers.pop(key, None)
                if old:
                    old.cancel()
                loop = asyncio.get_running_loop()
                self._timers[key] = loop.call_later(a.duration_ms / 1000, self._on_timeout, key)
            elif t is RequestProposal:
                self._propose(a)
            elif t is RequestValidation:
                self._validate(a)
            elif t is Decide:
                self.wal.sync()
                self._decide(a)
            elif t is EvidenceFound:
                if self._keep_evidence(a.evidence):
                    self._evidence_file.append(a.evidence.encode())
                    self._evidence_file.sync()
                log.warning("equivocation evidence against %s at height %d", a.evidence.validator.hex()[:16], a.evidence.height)
            elif t is SigningFailed:
                log.warning("safety module refused to sign h=%d r=%d step=%s: %s", a.height, a.round, a.step.name, a.reason)
                if a.reason.startswith("could not persist"):  # a storage failure, not a refusal
                    raise SafetyStorageError(f"safety module: {a.reason}")

    def _keep_evidence(self, ev: DuplicateVoteEvidence) -> bool:
        key = ev.encode()
        if key in self._evidence_seen or len(self.evidence) >= MAX_EVIDENCE:
            return False
        self._evidence_seen.add(key)
        self.evidence.append(ev)
        self._counters.evidence += 1
        return True

    def _propose(self, a: RequestProposal) -> None:
        if a.height != self._chain.height + 1:
            return
        cfg = self._block
        candidates = self._pool.reap(cfg.max_txs, cfg.max_bytes)
        prop = self._committer.propose(candidates, wall_clock_ms(), self._proposer, max_txs=cfg.max_txs, max_bytes=cfg.max_bytes)
        block = prop.block
        self._results[block.id] = (block, prop.result)
        self._inputs.append(BlockProposal(a.height, a.round, block.id, block.encode(), wall_clock_ms()))

    def _validate(self, a: RequestValidation) -> None:
        valid = False
        if self._known(a.block_id, a.block) is not None:
            valid = True  # our own proposal (built by build_block), or validated already
        elif a.height == self._chain.height + 1:
            try:
                block = Block.decode(a.block, known=self._pool.by_hash)
                if block.id == a.block_id:
                    self._results[block.id] = (block, self._committer.validate(block))
                    valid = True
            except (DecodeError, InvalidProposal) as exc:
                log.warning("invalid proposal at height %d round %d: %s", a.height, a.round, exc)
        self._inputs.append(BlockValidity(a.height, a.round, a.block_id, valid))

    def _known(self, block_id: bytes, raw: bytes) -> tuple | None:
        """(Block, BlockResult) of exactly these block bytes, if built or validated here."""
        known = self._results.get(block_id)
        return known if known is not None and known[0].raw == raw else None

    def _decide(self, a: Decide) -> None:
        chain = self._chain
        if a.height <= chain.height:
            return  # already committed (e.g. replayed after a crash, or synced)
        if a.height != chain.height + 1:
            log.error("decided height %d but the chain is at %d", a.height, chain.height)
            return
        known = self._known(a.block_id, a.block)
        if known is not None:
            block, result = known
        else:
            block = Block.decode(a.block, known=self._pool.by_hash)
            result = self._committer.validate(block)
        self._committer.commit(block, result, a.certificate)
        self.wal.reset()
        self._results.clear()
        for key in [k for k in self._timers if k[0] <= a.height]:
            self._timers.pop(key).cancel()
        self.decided_at = time.monotonic()
        self._schedule_start()

    # ------------------------------------------------------------------ pacing

    def _schedule_start(self) -> None:
        task = self._start_task
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()  # it paces a height the core has already left
        self._start_task = asyncio.get_running_loop().create_task(self._pace_start())

    async def _pace_start(self) -> None:
        chain, pool, new_tx = self._chain, self._pool, self._new_tx
        height = chain.height + 1
        cfg = self._block
        first = chain.height == 0 and self.core.height == 1
        start_at = self.decided_at + (0 if first else cfg.interval_ms / 1000)
        idle_at = self.decided_at + cfg.empty_interval_ms / 1000
        while self.core.height == height and not self._core_started():
            now = time.monotonic()
            if now >= idle_at or (now >= start_at and pool.ready):
                break
            new_tx.clear()
            wait = (idle_at if not pool.ready else start_at) - now
            try:
                # not asyncio.wait_for: on 3.11 it can swallow a cancellation (shutdown hangs)
                async with asyncio.timeout(max(0.001, wait)):
                    await new_tx.wait()
            except TimeoutError:
                pass
        if self.core.height == height and not self._core_started():
            self.feed(StartHeight(height))

    def _core_started(self) -> bool:
        return self.core.step is not Step.NEW_HEIGHT
