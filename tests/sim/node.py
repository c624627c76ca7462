"""A simulated honest node: one ConsensusCore plus the duties ``node/`` will have.

Owns: :class:`SimNode` -- carries out the core's actions in order (WAL
append, "fsync" before broadcast, timers on the fake clock, block building and
validation by the scripted app, committing decisions), gossips what its core
knows to peers that have not been sent it yet, answers lagging peers with
catch-up (the decided proposal plus the certificate's precommits), and can be
killed between any two actions and restarted from its WAL and safety storage.
Its wall clock is the scheduler's time plus a fixed skew (``clock_skew_ms``,
drawn by the world within the precision): it dates the blocks it builds and
stamps the proposals it receives, as ``node/consensus_driver.py`` does.

Byzantine behaviour lives in ``byzantine.py`` as subclasses that change what
goes *out* (or never start); the core itself is never patched.

Never: reads the clock or its own randomness (everything comes from the
world's scheduler and seeded rng).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from consensus.events import (
    BlockProposal,
    BlockValidity,
    Broadcast,
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
)
from consensus.messages import Proposal
from consensus.safety import MemorySafetyStorage, SafetyRules
from consensus.wal import restore
from ledger.commit import Vote, VoteType
from ledger.keys import PrivateKey

from .app import judge, make_block
from .fakes import CHAIN_ID, GENESIS_TIME_MS, block_id_of, block_time_of
from .network import Status

__all__ = ["SimNode", "TICK_MS"]

if TYPE_CHECKING:
    from .world import World

TICK_MS = 500
CATCHUP_RESEND_MS = 2_000


class SimNode:
    """One node instance (a twin is two instances of one validator)."""

    byzantine = False
    kind = "honest"

    def __init__(self, world: "World", inst: int, vindex: int, key: PrivateKey):
        self.world = world
        self.inst = inst
        self.vindex = vindex
        self.key = key
        self.address = key.address
        self.clock_skew_ms = 0
        # durable: survive a crash
        self.safety_storage = MemorySafetyStorage()
        self.wal: list[Any] = []
        self.wal_synced = 0
        self.store: dict[int, tuple[Decide, Proposal | None]] = {}
        # volatile
        self.up = False
        self.incarnation = 0
        self.core = None
        self.crash_after: int | None = None
        self.proposals_seen: dict[tuple[int, bytes], Proposal] = {}
        self.sent: dict[int, tuple[int, set]] = {}
        self.catchup_sent: dict[tuple[int, int], int] = {}
        self.peer_status: dict[int, Status] = {}
        self.crashes = 0
        self.signing_failures = 0
        self.disk_loss = False

    # ------------------------------------------------------------------ life cycle

    @property
    def height(self) -> int:
        """Next height to decide (last stored + 1)."""
        return max(self.store, default=0) + 1

    def alive(self, incarnation: int) -> bool:
        return self.up and incarnation == self.incarnation

    def boot(self) -> None:
        """Start (or restart) from the durable WAL, safety storage and block store."""
        self.up = True
        self.incarnation += 1
        self.sent, self.catchup_sent, self.proposals_seen = {}, {}, {}
        self.peer_status = {}
        for rec in self.wal:
            self._note_record(rec)
        signer = SafetyRules(self.key, self.safety_storage, CHAIN_ID)
        self.core, actions = restore(
            self.wal, chain_id=CHAIN_ID, validators=self.world.vset, height=self.height,
            block_id_of=block_id_of, block_time_of=block_time_of, signer=signer, config=self.world.config,
            verify=self.world.verifier)
        self.process(actions)
        inc = self.incarnation
        if self.up:
            self.world.sched.after(self.world.rng.randint(0, 200), self._start, inc, self.core.height)
            self.world.sched.after(self.world.rng.randint(1, TICK_MS), self._tick, inc)

    def crash_now(self) -> None:
        """kill -9: drop volatile state; WAL records written after the last fsync may be lost.

        With ``disk_loss`` set (a disk that lied about fsync, a restored backup) any
        suffix of the WAL may vanish, synced or not; only the safety storage then
        stands between the node and a double signature.
        """
        self.up = False
        self.core = None
        self.crash_after = None
        self.crashes += 1
        keep_from = 0 if self.disk_loss else self.wal_synced
        del self.wal[self.world.rng.randint(keep_from, len(self.wal)):]
        self.wal_synced = len(self.wal)

    def restart(self) -> None:
        if self.up:
            self.crash_now()
        self.world.on_restart(self)
        self.boot()

    # ------------------------------------------------------------------ driving the core

    def feed(self, event: Any) -> None:
        if self.up:
            self.process(self.core.handle(event))

    def process(self, actions: list) -> None:
        """Carry out actions in order; an armed crash hits between two of them."""
        world, sched, inc = self.world, self.world.sched, self.incarnation
        for a in actions:
            t = type(a)
            if self.crash_after is not None:
                if self.crash_after == 0 or (self.crash_after < 0 and t is Broadcast):
                    self.crash_now()
                    return
                self.crash_after -= 1
            if t is WalWrite:
                self.wal.append(a.record)
                self._note_record(a.record)
                world.on_wal_write(self, a.record)
            elif t is Broadcast:
                self.wal_synced = len(self.wal)          # fsync before anything leaves the node
                world.on_own_message(self, a.message)
                self.send_out(a.message)
            elif t is ScheduleTimeout:
                if a.step is Step.PROPOSE:
                    world.on_round_entered(self, a.height, a.round)
                sched.after(a.duration_ms, self._timeout, inc, TimeoutElapsed(a.height, a.round, a.step))
            elif t is RequestProposal:
                sched.after(world.rng.randint(0, 30), self._build, inc, a.height, a.round)
            elif t is RequestValidation:
                sched.after(world.rng.randint(0, 30), self._validate, inc, a)
            elif t is Decide:
                self.store[a.height] = (a, self.proposals_seen.get((a.height, a.block_id)))
                world.on_decide(self, a)
                sched.after(world.sc.pace_ms + world.rng.randint(0, 300), self._start, inc, a.height + 1)
            elif t is EvidenceFound:
                world.on_evidence(self, a.evidence)
            elif t is SigningFailed:
                self.signing_failures += 1
            else:  # pragma: no cover
                raise AssertionError(f"unknown action {a!r}")

    def _note_record(self, rec: Any) -> None:
        p = rec.proposal if type(rec) is ProposalReceived else getattr(rec, "message", None)
        if type(p) is Proposal:
            self.proposals_seen.setdefault((p.height, p.block_id), p)

    def _start(self, inc: int, height: int) -> None:
        if self.alive(inc):
            self.feed(StartHeight(height))

    def _timeout(self, inc: int, ev: TimeoutElapsed) -> None:
        if self.alive(inc):
            self.feed(ev)

    def clock(self) -> int:
        """This node's wall clock (Unix ms): true time plus its skew."""
        return GENESIS_TIME_MS + self.world.sched.now + self.clock_skew_ms

    def parent_time(self, height: int) -> int | None:
        """Time of the decided block below ``height`` (genesis time for height 1; None if not stored)."""
        if height == 1:
            return GENESIS_TIME_MS
        stored = self.store.get(height - 1)
        return None if stored is None else block_time_of(stored[0].block)

    def _build(self, inc: int, height: int, round_: int) -> None:
        if self.alive(inc):
            block_id, block = self.make_block(height)
            self.feed(BlockProposal(height, round_, block_id, block, self.clock()))

    def _validate(self, inc: int, req: RequestValidation) -> None:
        if self.alive(inc):
            ok = judge(req.block, req.block_id, req.height, self.parent_time(req.height))
            self.feed(BlockValidity(req.height, req.round, req.block_id, ok))

    def block_time(self, height: int) -> int:
        """The time an honest proposer gives its block: its clock, never before the parent's."""
        return max(self.clock(), self.parent_time(height) or 0)

    def make_block(self, height: int) -> tuple[bytes, bytes]:
        return make_block(height, self.vindex, True, self.world.rng.getrandbits(32), self.block_time(height))

    # ------------------------------------------------------------------ network

    def peers(self) -> list["SimNode"]:
        return [p for p in self.world.instances if p is not self]

    def send(self, peer: "SimNode", message: Any) -> None:
        """Send one consensus message, remembering it was sent (gossip does not repeat it)."""
        entry = self.sent.get(peer.inst)
        if entry is None or entry[0] != message.height:
            entry = self.sent[peer.inst] = (message.height, set())
        entry[1].add(message)
        self.world.net.send(self.inst, peer.inst, message)

    def send_out(self, message: Any) -> None:
        """Broadcast an own message (Byzantine subclasses change this)."""
        for peer in self.peers():
            self.send(peer, message)

    def deliver(self, src: int, payload: Any) -> None:
        if not self.up:
            return
        t = type(payload)
        if t is Status:
            self.peer_status[src] = payload
            self._answer_status(src, payload.height)
            return
        entry = self.sent.get(src)
        if entry is not None and entry[0] == payload.height:
            entry[1].add(payload)  # the sender has it: never relay it back
        if t is Proposal:
            self.feed(ProposalReceived(payload, self.clock()))
        elif t is Vote:
            self.feed(VoteReceived(payload))

    def _tick(self, inc: int) -> None:
        """Gossip: tell peers where we are; relay to peers at our height what our core holds
        and they neither sent us nor were sent (CometBFT's gossip routines, coarse)."""
        if not self.alive(inc):
            return
        h = self.core.height
        status = Status(h, self.core.round)
        msgs = None
        net = self.world.net
        for peer in self.peers():
            net.send(self.inst, peer.inst, status)
            if self.peer_status.get(peer.inst, status).height != h:
                continue
            entry = self.sent.get(peer.inst)
            if entry is None or entry[0] != h:
                entry = self.sent[peer.inst] = (h, set())
            known = entry[1]
            msgs = self.core.messages_for_height() if msgs is None else msgs
            for m in msgs:
                if m not in known:
                    known.add(m)
                    net.send(self.inst, peer.inst, m)
        self.world.sched.after(TICK_MS, self._tick, inc)

    def _answer_status(self, src: int, height: int) -> None:
        """A peer is behind: send it the commit precommits, then the decided proposal, of a
        few heights (votes first: a second proposal of a round is kept only once votes back
        it).  Repeated every ``CATCHUP_RESEND_MS`` while the peer stays behind."""
        now = self.world.sched.now
        for h in range(height, min(height + 3, self.height)):
            last = self.catchup_sent.get((src, h))
            if last is not None and now - last < CATCHUP_RESEND_MS:
                continue
            self.catchup_sent[(src, h)] = now
            decide, proposal = self.store[h]
            cert = decide.certificate
            msgs = [Vote(VoteType.PRECOMMIT, h, cert.round, cert.block_id, cs.validator, cs.signature)
                    for cs in cert.signatures]
            msgs += [proposal] if proposal is not None else []
            for m in msgs:
                self.world.net.send(self.inst, src, m)

    def forget_peer(self, inst: int) -> None:
        """A peer restarted (or the network healed): re-send it everything."""
        self.sent.pop(inst, None)
        self.peer_status.pop(inst, None)
        self.catchup_sent = {k: t for k, t in self.catchup_sent.items() if k[0] != inst}

    def arm_crash(self, after_actions: int) -> None:
        """Crash after carrying out ``after_actions`` more actions (kill -9 mid-handling);
        a negative value crashes just before the next ``Broadcast``: the signature is
        persisted by the safety module but neither fsynced in the WAL nor sent."""
        if self.up:
            self.crash_after = after_actions
