"""A seeded, lossy, reordering network between simulated nodes.

Owns: :class:`NetParams` and :class:`SimNetwork`.  Before the global
stabilisation time (GST) messages may be lost, delayed long, duplicated,
reordered, or dropped by partitions (Plenum ``sim_network.py``'s Discard /
Deliver / Stash, decided per message); from GST on every message arrives
within ``post_delay`` (still possibly duplicated and reordered) -- the
partial-synchrony model the Tendermint paper proves liveness in.

Never: draws randomness from anything but the world's one ``random.Random``,
or reads the clock (time is the :class:`~tests.sim.clock.Scheduler`'s).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Callable

from .clock import Scheduler


@dataclass(frozen=True)
class Status:
    """Sim-level gossip: "I am at this height and round".  Peers ahead answer with a
    catch-up; peers at the same height relay what it may lack."""

    height: int
    round: int


@dataclass
class NetParams:
    gst_ms: int = 0
    pre_delay: tuple[int, int] = (1, 100)
    post_delay: tuple[int, int] = (1, 100)
    loss: float = 0.0
    dup: float = 0.0
    # extra loss on some directed links (src, dst) before GST: uneven views split quorums
    link_loss: dict[tuple[int, int], float] = field(default_factory=dict)
    # scripted adversary for targeted tests: drop(now_ms, src, dst, payload) -> True drops it
    drop: Callable[[int, int, int, Any], bool] | None = None
    # (start_ms, end_ms, instance ids on one side); only before GST
    partitions: list[tuple[int, int, frozenset[int]]] = field(default_factory=list)


class SimNetwork:
    """Point-to-point sends with per-message fate drawn from the seeded rng."""

    def __init__(self, rng: random.Random, sched: Scheduler, params: NetParams,
                 deliver: Callable[[int, int, Any], None]):
        self.rng = rng
        self.sched = sched
        self.p = params
        self._deliver = deliver
        self.sent = 0
        self.dropped = 0

    def partitioned(self, a: int, b: int) -> bool:
        now = self.sched.now
        for start, end, side in self.p.partitions:
            if start <= now < end and ((a in side) != (b in side)):
                return True
        return False

    def send(self, src: int, dst: int, payload: Any) -> None:
        self.sent += 1
        rng, p = self.rng, self.p
        before_gst = self.sched.now < p.gst_ms
        if before_gst and (self.partitioned(src, dst) or (p.loss and rng.random() < p.loss)
                           or (p.link_loss and rng.random() < p.link_loss.get((src, dst), 0.0))):
            self.dropped += 1
            return
        if p.drop is not None and p.drop(self.sched.now, src, dst, payload):
            self.dropped += 1
            return
        lo, hi = p.pre_delay if before_gst else p.post_delay
        copies = 2 if p.dup and rng.random() < p.dup else 1
        for _ in range(copies):
            self.sched.after(rng.randint(lo, hi), self._deliver, dst, src, payload)
