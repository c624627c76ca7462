"""One seeded simulation: scenario, nodes, network, fault schedule, and the checks.

Owns: :class:`Scenario` (drawn from the seed by :func:`random_scenario`),
:class:`World` (builds everything from ONE ``random.Random(seed)``, runs it on
the fake clock) and the properties checked:

* agreement -- at every ``Decide`` of an honest node (so after every
  delivered message that causes one): same block as every other honest node;
* validity -- honest nodes decide only blocks the app judges valid, whose
  time does not go back from the previous decision's;
* block time (PBTS) -- every decided block was received, fresh, by some honest
  node at a time against which its block time is timely, and is dated no
  later than the true time of the decision plus the largest honest clock
  skew plus the precision (no block from the future);
* certificates -- every honest decision's certificate passes
  ``ledger.commit.verify_commit``;
* no honest equivocation -- honest nodes never sign two different messages
  for one (height, round, step), across crashes and restarts;
* evidence -- every reported equivocation names a Byzantine validator and
  carries valid signatures;
* liveness -- after GST (network healed, every honest node up, > 2/3 honest)
  every honest node decides ``target_heights`` new heights, entering at most
  ``n + ROUND_BOUND_SLACK`` rounds per height after GST.

A failure raises :class:`SimFailure` whose message starts with ``SEED=...``
and the command that replays it exactly.  Never: reads the clock or any
randomness but the one seeded generator.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

from consensus.config import ConsensusConfig
from consensus.events import BlockProposal, ProposalReceived
from consensus.messages import Proposal
from consensus.timeliness import message_delay_in_round
from ledger.commit import CertificateError, verify_commit

from .app import judge
from .byzantine import BYZANTINE_KINDS, TwinNode, node_class
from .clock import Scheduler
from .fakes import CHAIN_ID, GENESIS_TIME_MS, CachedVerifier, block_time_of, make_validators
from .network import NetParams, SimNetwork
from .node import SimNode

__all__ = ["ROUND_BOUND_SLACK", "Scenario", "SimFailure", "SimResult", "World", "random_scenario", "run_seed"]

#: Rounds an honest node may enter at one height after GST is ``n + ROUND_BOUND_SLACK``.
#: Theory: once honest nodes share a round, at the latest the round whose proposer
#: holds the highest valid round among honest nodes decides; with the rotation that
#: is within n rounds, plus a few round skips while they synchronise.  (Measured on
#: 2,000 schedules: at most 5 for n = 4, 4 for n = 7.)
ROUND_BOUND_SLACK = 3


class SimFailure(AssertionError):
    """A property broke; the message names the seed and how to replay it."""


@dataclass
class Scenario:
    seed: int
    n: int
    byzantine: dict[int, str] = field(default_factory=dict)          # validator index -> kind
    net: NetParams = field(default_factory=NetParams)
    crashes: list[tuple[int, int, int, int]] = field(default_factory=list)  # (instance, at, down, after)
    disk_loss: int | None = None      # validator whose crashes may lose synced WAL records
    target_heights: int = 3
    deadline_ms: int = 400_000
    powers: list[int] | None = None
    clock_skew_ms: dict[int, int] = field(default_factory=dict)   # instance -> clock skew (default 0)
    pace_ms: int = 0                  # extra wait after a decision before starting the next height

    def describe(self) -> str:
        p = self.net
        return (f"n={self.n} byzantine={self.byzantine} gst={p.gst_ms} loss={p.loss} dup={p.dup} "
                f"skews={self.clock_skew_ms} pace={self.pace_ms} "
                f"pre_delay={p.pre_delay} post_delay={p.post_delay} partitions={len(p.partitions)} "
                f"lossy_links={len(p.link_loss)} "
                f"crashes={self.crashes} disk_loss={self.disk_loss}")


def random_scenario(seed: int, n: int, rng: random.Random) -> Scenario:
    """Draw a scenario: up to f Byzantine validators, and (usually) a faulty period before GST."""
    f = (n - 1) // 3
    byz = {i: rng.choice(BYZANTINE_KINDS) for i in sorted(rng.sample(range(n), rng.randint(0, f)))}
    instances = n + sum(1 for k in byz.values() if k == "twin")
    sc = Scenario(seed, n, byz)
    half = ConsensusConfig().precision_ms // 2   # any two honest clocks differ by at most the precision
    sc.clock_skew_ms = {i: rng.randint(-half, half) for i in range(instances)}
    post = (1, rng.choice((20, 100, 200)))
    if rng.random() < 0.15:
        sc.net = NetParams(gst_ms=0, pre_delay=post, post_delay=post, dup=rng.choice((0.0, 0.05)))
        return sc
    gst = rng.randint(2_000, 20_000)
    parts = []
    for _ in range(rng.randint(0, 3)):
        start = rng.randint(0, gst - 500)
        side = frozenset(rng.sample(range(instances), rng.randint(1, instances - 1)))
        parts.append((start, min(gst, start + rng.randint(500, 8_000)), side))
    links = [(a, b) for a in range(instances) for b in range(instances) if a != b]
    lossy = rng.sample(links, rng.randint(0, len(links) // 2)) if rng.random() < 0.5 else []
    sc.net = NetParams(gst_ms=gst, pre_delay=(1, rng.choice((100, 500, 2_000))), post_delay=post,
                       loss=rng.choice((0.0, 0.05, 0.2, 0.4)), dup=rng.choice((0.0, 0.05, 0.2)),
                       partitions=parts, link_loss={link: rng.choice((0.5, 0.9)) for link in lossy})
    honest = [i for i in range(n) if i not in byz]
    for _ in range(rng.randint(0, 3)):
        at = rng.randint(0, gst - 200)
        sc.crashes.append((rng.choice(honest), at, rng.randint(50, gst - at), rng.randint(-3, 6)))
    if sc.crashes and len(byz) < f and rng.random() < 0.3:
        sc.disk_loss = sc.crashes[0][0]   # counts against f: it may forget its locks
    return sc


@dataclass
class SimResult:
    heights: int            # lowest decided height among honest nodes
    max_rounds_after_gst: int
    evidence: int
    deliveries: int
    events: int
    crashes: int


class World:
    """Everything of one run, driven by ``rng`` (which already drew the scenario)."""

    def __init__(self, scenario: Scenario, rng: random.Random, config: ConsensusConfig | None = None):
        self.sc = scenario
        self.rng = rng
        self.sched = Scheduler()
        self.config = config or ConsensusConfig()
        keys, self.vset = make_validators(scenario.n, scenario.powers)
        self.verifier = CachedVerifier()
        self.net = SimNetwork(rng, self.sched, scenario.net, self._deliver)
        self.instances: list[SimNode] = []
        for i in range(scenario.n):
            cls = node_class(scenario.byzantine.get(i, "honest"))
            self.instances.append(cls(self, i, i, keys[i]))
        for i, kind in scenario.byzantine.items():
            if kind == "twin":
                self.instances.append(TwinNode(self, len(self.instances), i, keys[i]))
        if scenario.disk_loss is not None:
            self.instances[scenario.disk_loss].disk_loss = True
        for node in self.instances:
            node.clock_skew_ms = scenario.clock_skew_ms.get(node.inst, 0)
        self.byzantine_addresses = {keys[i].address for i in scenario.byzantine}
        self.honest = [x for x in self.instances if not x.byzantine]
        self.round_bound = scenario.n + ROUND_BOUND_SLACK
        self.decided: dict[int, bytes] = {}
        self.decided_time: dict[int, int] = {0: GENESIS_TIME_MS}
        self.receipts: dict[tuple[int, bytes], list[tuple[int, int]]] = {}  # fresh proposals: (round, received)
        self.honest_prevotes: list[tuple[int, int, int, bytes]] = []          # (inst, height, round, block id)
        self.signed: dict[tuple[bytes, int, int, int], bytes] = {}
        self.certs_ok: set[bytes] = set()
        self.evidence: list = []
        self.rounds_after_gst: dict[tuple[int, int], set[int]] = {}
        self.h_gst: int | None = None
        self.deliveries = 0

    # ------------------------------------------------------------------ running

    def run(self) -> SimResult:
        sc = self.sc
        for node in self.instances:
            node.boot()
        for inst, at, down, after in sc.crashes:
            node = self.instances[inst]
            self.sched.at(at, node.arm_crash, after)
            self.sched.at(at + down, node.restart)
        self.sched.at(sc.net.gst_ms, self._at_gst)
        self.sched.run(sc.net.gst_ms + sc.deadline_ms, stop=self._done)
        return self._final_checks()

    def _at_gst(self) -> None:
        """The network heals: forget what was "sent" (it may have been lost) so gossip resends."""
        for node in self.instances:
            node.sent, node.catchup_sent = {}, {}
        self.h_gst = max(x.height - 1 for x in self.honest)

    def _done(self) -> bool:
        if self.h_gst is None:
            return False
        goal = self.h_gst + self.sc.target_heights
        return all(x.height - 1 >= goal for x in self.honest)

    def _deliver(self, dst: int, src: int, payload) -> None:
        self.deliveries += 1
        self.instances[dst].deliver(src, payload)

    def on_restart(self, node: SimNode) -> None:
        for other in self.instances:
            if other is not node:
                other.forget_peer(node.inst)

    # ------------------------------------------------------------------ checks

    def fail(self, what: str) -> None:
        sc = self.sc
        raise SimFailure(
            f"SEED={sc.seed} SIM_N={sc.n}: {what}\n  scenario: {sc.describe()}\n"
            f"  replay: SEED={sc.seed} SIM_N={sc.n} python -m pytest tests/consensus/test_sim.py -q"
            f" -k test_replay_seed")

    def on_decide(self, node: SimNode, d) -> None:
        if node.byzantine:
            return
        first = self.decided.setdefault(d.height, d.block_id)
        if first != d.block_id:
            self.fail(f"agreement: node {node.inst} decided another block at height {d.height}")
        if not judge(d.block, d.block_id, d.height, self.decided_time.get(d.height - 1)):
            self.fail(f"validity: node {node.inst} decided an invalid block at height {d.height}")
        self._check_block_time(node, d)
        key = d.certificate.encode()
        if key not in self.certs_ok:
            try:
                verify_commit(d.certificate, self.vset, CHAIN_ID, height=d.height, block_id=d.block_id)
            except CertificateError as exc:
                self.fail(f"certificate of node {node.inst} at height {d.height}: {exc}")
            self.certs_ok.add(key)

    def _check_block_time(self, node: SimNode, d) -> None:
        """PBTS: the decided block's time was timely for some honest receiver, and is not from the future."""
        t = self.decided_time.setdefault(d.height, block_time_of(d.block))
        precision, delay = self.config.precision_ms, self.config.message_delay_ms
        if not any(received - precision - message_delay_in_round(delay, r) <= t <= received + precision
                   for r, received in self.receipts.get((d.height, d.block_id), ())):
            self.fail(f"block time: node {node.inst} decided a block at height {d.height} that no honest "
                      f"node received in time (time {t}, receipts {self.receipts.get((d.height, d.block_id))})")
        fastest = max((x.clock_skew_ms for x in self.honest), default=0)
        if t > GENESIS_TIME_MS + self.sched.now + fastest + precision:
            self.fail(f"block time: height {d.height} decided at t={self.sched.now} is dated "
                      f"{t - GENESIS_TIME_MS} ms, in the future")

    def on_wal_write(self, node: SimNode, record) -> None:
        """Note when an honest node's core accepted a fresh proposal (or its own block)."""
        if node.byzantine:
            return
        if type(record) is ProposalReceived and record.proposal.pol_round == -1:
            p = record.proposal
            self.receipts.setdefault((p.height, p.block_id), []).append((p.round, record.received_ms))
        elif type(record) is BlockProposal:
            self.receipts.setdefault((record.height, record.block_id), []).append((record.round, record.received_ms))

    def on_own_message(self, node: SimNode, message) -> None:
        if node.byzantine:
            return
        if type(message) is not Proposal and message.type == 1:
            self.honest_prevotes.append((node.inst, message.height, message.round, message.block_id))
        step = 1 if type(message) is Proposal else 1 + message.type
        key = (node.address, message.height, message.round, step)
        sign_bytes = message.sign_bytes(CHAIN_ID)
        if self.signed.setdefault(key, sign_bytes) != sign_bytes:
            self.fail(f"honest node {node.inst} signed two different messages for {key[1:]}")

    def on_evidence(self, node: SimNode, ev) -> None:
        if node.byzantine:
            return
        if ev.validator not in self.byzantine_addresses:
            self.fail(f"node {node.inst} reported evidence against an honest validator")
        if not ev.verify(CHAIN_ID, self.vset, self.verifier):
            self.fail(f"node {node.inst} reported evidence with bad signatures")
        self.evidence.append((node.inst, ev))

    def on_round_entered(self, node: SimNode, height: int, round_: int) -> None:
        if self.sched.now >= self.sc.net.gst_ms and not node.byzantine:
            self.rounds_after_gst.setdefault((node.inst, height), set()).add(round_)

    def _final_checks(self) -> SimResult:
        if not self._done():
            lows = {x.inst: x.height - 1 for x in self.honest}
            self.fail(f"liveness: after GST at height {self.h_gst}, honest decided heights {lows} "
                      f"by t={self.sched.now} ms")
        worst = 0
        for (inst, h), rounds in self.rounds_after_gst.items():
            if h in self.instances[inst].store:
                worst = max(worst, len(rounds))
        if worst > self.round_bound:
            self.fail(f"liveness: an honest node entered {worst} rounds at one height after GST "
                      f"(bound {self.round_bound})")
        for x in self.honest:
            if sorted(x.store) != list(range(1, x.height)):
                self.fail(f"node {x.inst} has gaps in its decided heights")
        return SimResult(min(x.height - 1 for x in self.honest), worst, len(self.evidence), self.deliveries,
                         self.sched.executed, sum(x.crashes for x in self.instances))


def run_seed(seed: int, n: int) -> SimResult:
    """Draw the scenario for ``seed`` and run it; raises SimFailure naming the seed."""
    rng = random.Random(f"{n}/{seed}")
    return World(random_scenario(seed, n, rng), rng).run()
