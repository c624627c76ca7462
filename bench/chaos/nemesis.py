"""The nemesis: a seeded schedule of faults, injected and healed one after the other.

Owns the fault kinds and what each one does to a :class:`ChaosNetwork`:

=====================  =========================================================  ===========================
kind                   inject                                                     heal
=====================  =========================================================  ===========================
``kill``               ``kill -9`` one node                                       start it again
``kill_two``           ``kill -9`` two nodes at once (no quorum left)             start both again
``pause``              SIGSTOP one node                                           SIGCONT
``partition_minority`` cut one node from the other three                         reconnect
``partition_halves``   two against two (no side has a quorum)                     reconnect
``bridge``             halves {a} and {c, d}; b reaches both, a reaches only b    reconnect
``isolate_proposer``   cut the proposer of the next height from everyone         reconnect
``disk_full``          fill the small tmpfs under one node's data dir            free it; restart the node (as an operator would)
``clock_skew_small``   restart one node with its clock +-0.3 s off (< precision)  restart it on the true clock
``clock_skew_large``   restart one node +2 s, -8 s or +30 s off (> precision)     restart it on the true clock
``flood_idle``         hold 500 idle TCP connections to one node's RPC port      close them
``flood_burst``        2,000 presigned transfers in one batch to one node         (nothing to heal)
=====================  =========================================================  ===========================

The schedule (kinds, order, targets, durations, gaps, which faults overlap)
is a pure function of the seed (:func:`make_schedule`); with ``overlap`` > 0
some faults start while the previous one is still active (a partition
during a kill, a skewed clock during a full disk, ...) and are healed
together; which node proposes next is looked up when
the fault is injected.  After each heal the nemesis measures *recovery*: the
time until every node has committed a block above the highest height seen at
the heal.  Every fault runs from the thread that created the network, as the
nodes' parent-death signal requires.
"""
from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import asdict, dataclass, field

from ledger.validators import Validator, ValidatorSet
from consensus.proposer import ProposerSchedule
from sdk import Client, SettleError
from node.config import load_config

from .cluster import ChaosNetwork, faketime_library
from .workload import burst, hold_idle_connections

__all__ = ["KINDS", "Fault", "Nemesis", "make_schedule"]

KINDS = (
    "kill", "kill_two", "pause", "partition_minority", "partition_halves", "bridge", "isolate_proposer",
    "disk_full", "clock_skew_small", "clock_skew_large", "flood_idle", "flood_burst",
)
NEEDS_FAKETIME = ("clock_skew_small", "clock_skew_large")
IDLE_CONNECTIONS = 500
BURST_PER_ACCOUNT = 250


@dataclass
class Fault:
    kind: str
    nodes: list[int]
    duration_s: float
    gap_s: float
    skew_s: float | None = None
    overlaps_next: bool = False  # the next fault starts while this one is active; both are healed together
    # filled in when it runs
    start: float | None = None
    healed: float | None = None
    recovery_s: float | None = None
    detail: str = ""
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def make_schedule(seed: int, duration_s: float, n: int, disk_node: int, *, overlap: float = 0.0, expected_recovery_s: float = 2.0) -> list[Fault]:
    """Faults for about ``duration_s`` seconds: every kind once in a seeded order, then again in a new order, ...

    ``expected_recovery_s`` is what planning counts for each recovery: about
    2 minutes cover the twelve kinds once.  ``overlap``: the share of faults
    that the next one starts during (so two or more are active at once).
    """
    rng = random.Random(seed)
    out: list[Fault] = []
    planned = 0.0
    while True:
        kinds = list(KINDS)
        rng.shuffle(kinds)
        for kind in kinds:
            if planned >= duration_s:
                return out
            nodes = list(range(n))
            rng.shuffle(nodes)
            if kind == "disk_full":
                nodes = [disk_node]
            elif kind in ("kill", "pause", "partition_minority", "clock_skew_small", "clock_skew_large", "flood_idle", "flood_burst"):
                nodes = nodes[:1]
            elif kind == "isolate_proposer":
                nodes = []
            elif kind == "kill_two":
                nodes = sorted(nodes[:2])
            skew = None
            if kind == "clock_skew_small":
                skew = rng.choice([0.3, -0.3])
            elif kind == "clock_skew_large":
                skew = rng.choice([2.0, -8.0, 30.0])
            f = Fault(kind, nodes, round(rng.uniform(3.0, 8.0), 1), round(rng.uniform(1.0, 3.0), 1), skew, rng.random() < overlap)
            out.append(f)
            planned += f.duration_s + f.gap_s + expected_recovery_s


class Nemesis:
    """Runs a schedule against ``net`` while ``workload`` runs; every fault is healed before the next one."""

    def __init__(self, net: ChaosNetwork, workload, load_keys: list, t0: float, *, recovery_limit_s: float = 60.0, log=None):
        self.net = net
        self.workload = workload
        self.load_keys = load_keys
        self.t0 = t0
        self.recovery_limit_s = recovery_limit_s
        self.log = log or (lambda msg: None)
        self.clients = [Client(u, timeout=2) for u in net.rpc_urls]
        genesis = json.loads((net.homes[0] / "genesis.json").read_text())
        vset = ValidatorSet([Validator(bytes.fromhex(v["pubkey"]), v["power"]) for v in genesis["validators"]])
        self.schedule = ProposerSchedule(vset)
        by_name = {v["name"]: Validator(bytes.fromhex(v["pubkey"]), v["power"]).address for v in genesis["validators"]}
        self.node_of = {by_name[n["name"]]: i for i, n in enumerate(net.meta["nodes"])}
        self._idle: dict[int, tuple[threading.Event, threading.Thread]] = {}  # by id(fault)

    def now(self) -> float:
        return time.monotonic() - self.t0

    def heights(self) -> list[int | None]:
        out = []
        for c in self.clients:
            try:
                out.append(c.call("status")["height"])
            except SettleError:
                out.append(None)
        return out

    def run(self, faults: list[Fault]) -> list[Fault]:
        """Inject, wait, heal, measure recovery, pause; a fault marked ``overlaps_next`` is still active when the next one starts."""
        done: list[Fault] = []
        k = 0
        while k < len(faults):
            group = [faults[k]]
            while group[-1].overlaps_next and k + len(group) < len(faults):
                group.append(faults[k + len(group)])
            k += len(group)
            active = []
            for f in group:  # each fault starts halfway through the previous one
                if f.kind in NEEDS_FAKETIME and faketime_library() is None:
                    f.detail = "skipped: libfaketime not installed"
                    done.append(f)
                    continue
                f.start = self.now()
                self.inject(f)
                self.log(f"{f.start:7.1f}s  inject {f.kind} {f.nodes} {f.detail}")
                active.append(f)
                time.sleep(f.duration_s / 2 if f is not group[-1] else f.duration_s)
            if not active:
                continue
            top = max((h for h in self.heights() if h is not None), default=0)
            for f in active:  # healed in the order they came
                self.heal(f)
                f.healed = self.now()
            recovery = self.wait_recovery(top)
            for f in active:
                f.recovery_s = recovery
            self.log(f"{self.now():7.1f}s  healed {' + '.join(f.kind for f in active)}; recovery {recovery}s {' '.join(f.detail for f in active)}")
            done += active
            time.sleep(active[-1].gap_s)
        return done

    def wait_recovery(self, top: int) -> float | None:
        """Seconds until every node has a block above ``top``; None if that takes longer than the limit."""
        start = time.monotonic()
        while time.monotonic() - start < self.recovery_limit_s:
            hs = self.heights()
            if all(h is not None and h > top for h in hs):
                return round(time.monotonic() - start, 2)
            time.sleep(0.1)
        return None

    # ------------------------------------------------------------------ faults

    def inject(self, f: Fault) -> None:
        net, n = self.net, self.net.validators
        if f.kind in ("kill", "kill_two"):
            for i in f.nodes:
                net.kill(i)
        elif f.kind == "pause":
            net.pause(f.nodes[0])
        elif f.kind == "partition_minority":
            net.proxies.partition([f.nodes, [i for i in range(n) if i not in f.nodes]])
        elif f.kind == "partition_halves":
            net.proxies.partition([f.nodes[:2], f.nodes[2:]])
        elif f.kind == "bridge":
            a, _bridge, *rest = f.nodes
            net.proxies.cut([(a, c) for c in rest])
        elif f.kind == "isolate_proposer":
            top = max((h for h in self.heights() if h is not None), default=0)
            p = self.node_of[self.schedule.proposer(top + 1, 0)]
            f.nodes = [p]
            f.extra["height"] = top + 1
            net.proxies.partition([[p], [i for i in range(n) if i != p]])
        elif f.kind == "disk_full":
            f.extra["filled_bytes"] = net.fill_disk()
        elif f.kind in NEEDS_FAKETIME:
            net.restart(f.nodes[0], skew_s=f.skew_s)
        elif f.kind == "flood_idle":
            stop = threading.Event()
            port = load_config(net.homes[f.nodes[0]]).rpc.port
            t = threading.Thread(target=hold_idle_connections, args=(port, IDLE_CONNECTIONS, stop), daemon=True)
            t.start()
            self._idle[id(f)] = (stop, t)
        elif f.kind == "flood_burst":
            i = f.nodes[0]
            try:
                f.extra["admitted"] = burst(net.rpc_urls[i], self.load_keys, net.chain_id, BURST_PER_ACCOUNT, self.workload.history, self.t0, i,
                                            self.workload.next_id)
            except SettleError as exc:
                f.detail = f"burst failed: {exc}"
        else:
            raise ValueError(f"unknown fault kind {f.kind}")

    def heal(self, f: Fault) -> None:
        net = self.net
        if f.kind in ("kill", "kill_two"):
            for i in f.nodes:
                net.restart(i)
        elif f.kind == "pause":
            net.resume(f.nodes[0])
        elif f.kind in ("partition_minority", "partition_halves", "bridge", "isolate_proposer"):
            net.proxies.heal()
        elif f.kind == "disk_full":
            i = f.nodes[0]
            net.free_disk()
            if not net.alive(i):
                f.detail = f"node{i} halted (exit code {net.procs[i].returncode}): {net.last_log_line(i)}"
            else:  # halted and lingering (still saying why on /health), or not yet: the operator restarts it
                halted = net.halted(i)
                f.detail = f"node{i} halted ({halted}), restarted" if halted else f"node{i} still up, restarted"
            net.restart(i)
        elif f.kind in NEEDS_FAKETIME:
            i = f.nodes[0]
            f.detail = "" if net.alive(i) else f"node{i} exited under skew (code {net.procs[i].returncode}): {net.last_log_line(i)}"
            net.restart(i)
        elif f.kind == "flood_idle" and id(f) in self._idle:
            stop, t = self._idle.pop(id(f))
            stop.set()
            t.join(10)
