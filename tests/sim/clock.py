"""A fake clock and event queue: time jumps from one scheduled event to the next.

Owns: :class:`Scheduler` (the idea of trio ``_core/_mock_clock.py``: nothing
sleeps, the clock moves only when the next event is due).  Never: reads the
real clock or draws random numbers itself (the world passes one seeded rng).
"""
from __future__ import annotations

import heapq
from typing import Any, Callable


class Scheduler:
    """Events ordered by (due time, insertion order), so equal times replay identically."""

    def __init__(self) -> None:
        self.now = 0
        self._queue: list[tuple[int, int, Callable[..., Any], tuple]] = []
        self._seq = 0
        self.executed = 0

    def at(self, when_ms: int, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` at ``when_ms`` (never earlier than now)."""
        self._seq += 1
        heapq.heappush(self._queue, (max(when_ms, self.now), self._seq, fn, args))

    def after(self, delay_ms: int, fn: Callable[..., Any], *args: Any) -> None:
        self.at(self.now + delay_ms, fn, *args)

    def run(self, until_ms: int, stop: Callable[[], bool] = lambda: False) -> None:
        """Execute due events in order until ``until_ms``, an empty queue, or ``stop()``."""
        queue = self._queue
        while queue and queue[0][0] <= until_ms:
            when, _, fn, args = heapq.heappop(queue)
            self.now = when
            fn(*args)
            self.executed += 1
            if stop():
                return
        self.now = max(self.now, until_ms) if not queue else self.now
