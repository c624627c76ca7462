"""The node's garbage-collector policy, in one place: the node and the stress benchmark both apply it.

Owns the collector settings of a node process and nothing else (imports only
``gc``, so the stress command and ``bench/risk_stress.py`` use it without
pulling in the network stack).  ``settle stress`` measures the end-of-block
step under exactly this policy, so its figures are what a node pays.

Policy
------
* Everything alive once the node has started (imports, genesis, caches) is
  frozen (``gc.freeze``): no collection ever rescans it.
* Young generations stay automatic (the interpreter's thresholds).
* No automatic full collection: under load it ran every ~2 s, took
  60-120 ms and found nothing (measured, 4 nodes at 1,450 tx/s: mempool txs
  reach the old generation and trip its 25 % rule).  Instead the node runs
  one full collection every :data:`FULL_GC_EVERY_S` seconds
  (``node/run.py``); the stress replay runs one before each block's step
  (:func:`full_collection`), outside the measured time, which also frees its
  verifier's scratch state.
* No ``gc.callbacks`` hook: it would run on every young collection (~1 % of
  a validator's CPU at full load, measured).
"""
from __future__ import annotations

import gc
import time
from typing import Callable

__all__ = ["FULL_GC_EVERY_S", "FULL_GC_NEVER", "apply_node_policy", "full_collection", "stress_housekeeping"]

FULL_GC_NEVER = 1_000_000  # gen-1 collections between automatic full ones: in effect never
FULL_GC_EVERY_S = 60.0


def apply_node_policy() -> Callable[[], None]:
    """Freeze what is alive now and stop automatic full collections; returns a function that undoes both.

    A node applies it once after startup and never undoes it; the stress
    command applies it once its synthetic population is built (the
    population stands for a node's long-lived state cache) and undoes it when
    the replay ends.
    """
    gc.collect()
    gc.freeze()
    before = gc.get_threshold()
    gc.set_threshold(before[0], before[1], FULL_GC_NEVER)

    def undo() -> None:
        gc.set_threshold(*before)
        gc.unfreeze()

    return undo


def full_collection() -> tuple[int, float]:
    """One full collection, as the node runs it between blocks; returns (objects collected, wall ms)."""
    started = time.perf_counter()
    collected = gc.collect()
    return collected, 1000 * (time.perf_counter() - started)


def stress_housekeeping() -> tuple[Callable[[bool], None], Callable[[], None]]:
    """The stress replay's ``housekeeping`` under the node's collector policy, and its undo.

    Once the population is built it is frozen, like a node's state after
    startup, and automatic full collections stop; before each block's step a
    full collection runs outside the measured time (the node runs one a
    minute), freeing the verifier's scratch state.
    """
    undo: list[Callable[[], None]] = []

    def housekeeping(first: bool) -> None:
        if first:
            undo.append(apply_node_policy())
        else:
            full_collection()

    def restore() -> None:
        while undo:
            undo.pop()()

    return housekeeping, restore
