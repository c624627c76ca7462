"""Bounded hand-off between the asyncio loop and the trio thread.

Owns: :class:`ThreadQueue`, a FIFO bounded by item count *and* total bytes
that any thread may put into without blocking (``put_nowait`` refuses and
counts when full) and one consumer drains; and the two waiters that let
each side sleep until the other puts something: :class:`TrioWaiter` (the
trio side) and :class:`AsyncioWaiter` (the asyncio side).

Never does: block a caller, grow without bound, or run application code.
Producers wake the consumer only when the queue goes from empty to
non-empty, so a burst costs one cross-thread wake-up, not one per item.
"""
from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

import trio

__all__ = ["AsyncioWaiter", "ThreadQueue", "TrioWaiter"]

T = TypeVar("T")


class ThreadQueue(Generic[T]):
    """A thread-safe FIFO bounded by items and bytes.

    Args:
        max_items: most items held at once.
        max_bytes: most total ``size`` held at once.
        wakeup: called (outside the lock) after a put into an empty queue;
            must be thread-safe and non-blocking.
    """

    def __init__(self, max_items: int, max_bytes: int, wakeup: Callable[[], None] | None = None) -> None:
        self.max_items = max_items
        self.max_bytes = max_bytes
        self.wakeup = wakeup
        self._lock = threading.Lock()
        self._items: deque[tuple[T, int]] = deque()
        self._bytes = 0
        self.accepted = 0
        self.refused = 0
        self.closed = False

    def __len__(self) -> int:
        return len(self._items)

    @property
    def nbytes(self) -> int:
        return self._bytes

    def put_nowait(self, item: T, size: int) -> bool:
        """Append ``item`` unless that would exceed a bound; never blocks.

        Returns:
            True if queued; False (and ``refused`` incremented) if the queue
            is full or closed.
        """
        with self._lock:
            if (
                self.closed
                or len(self._items) >= self.max_items
                or self._bytes + size > self.max_bytes
            ):
                self.refused += 1
                return False
            was_empty = not self._items
            self._items.append((item, size))
            self._bytes += size
            self.accepted += 1
        if was_empty and self.wakeup is not None:
            self.wakeup()
        return True

    def get_nowait(self) -> T | None:
        """The oldest item, or None if empty."""
        with self._lock:
            if not self._items:
                return None
            item, size = self._items.popleft()
            self._bytes -= size
            return item

    def close(self) -> int:
        """Refuse further puts and drop what is queued; returns items dropped."""
        with self._lock:
            self.closed = True
            dropped = len(self._items)
            self._items.clear()
            self._bytes = 0
        if self.wakeup is not None:
            self.wakeup()
        return dropped


class TrioWaiter:
    """Lets a trio task sleep until another thread calls :meth:`wake`.

    ``wake`` is thread-safe: it schedules the event's ``set`` on the trio
    run through its token, and does nothing once the run is over.
    """

    def __init__(self, token: trio.lowlevel.TrioToken) -> None:
        self._token = token
        self._event = trio.Event()

    def wake(self) -> None:
        try:
            self._token.run_sync_soon(self._set)
        except trio.RunFinishedError:
            pass

    def _set(self) -> None:
        self._event.set()

    def arm(self) -> trio.Event:
        """A fresh event to wait on; call before re-checking the queue."""
        self._event = trio.Event()
        return self._event


class AsyncioWaiter:
    """Lets an asyncio task sleep until another thread calls :meth:`wake`."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._event = asyncio.Event()

    def wake(self) -> None:
        try:
            self._loop.call_soon_threadsafe(self._event.set)
        except RuntimeError:  # loop closed during shutdown
            pass

    def arm(self) -> asyncio.Event:
        """Clear and return the event; call before re-checking the queue."""
        self._event.clear()
        return self._event
