"""The node's halt switch: the one way a node stops after it can no longer trust itself.

Owns the halt state (why the node halted, None while it serves), the stop
event the node's lifetime waits on, and :data:`EXIT_HALTED`.  A failed write
(store, consensus WAL, safety data) or a :class:`ledger.errors.Halt` raised
anywhere below reaches :meth:`HaltSwitch.halt`: one CRITICAL line with the
cause, then every component that holds the switch refuses to go on (no
votes, commits or submissions; ``/health`` 503 with the cause), and the
stop event is set after ``linger_ms`` (long enough for a monitor to read
why).  ``node/run.py`` then exits with :data:`EXIT_HALTED`.

Never: decide what is a halt (the error tree in ``ledger/errors.py`` does),
or stop tasks itself (the node's lifetime does, once the event is set).
"""
from __future__ import annotations

import asyncio
import logging

from ledger.errors import Halt

__all__ = ["EXIT_HALTED", "HaltSwitch", "NodeHalted"]

log = logging.getLogger("settle.node")

EXIT_HALTED = 3  # the process's exit code after a halt


class NodeHalted(Halt):
    """The node halted after a failed write; nothing more is committed or signed."""


class HaltSwitch:
    """Why the node halted (:attr:`halted`), and the event its lifetime waits on (:attr:`stopping`).

    Args:
        linger_ms: how long a halted node keeps answering (``/health`` says
            why) before :attr:`stopping` is set.
    """

    def __init__(self, linger_ms: int):
        self.linger_s = linger_ms / 1000
        self.stopping = asyncio.Event()  # set by a signal, or linger_ms after a halt
        self.halted: str | None = None

    def halt(self, reason: str) -> None:
        """Stop this node's part in the chain, loudly (idempotent: the first reason stays)."""
        if self.halted is not None:
            return
        self.halted = reason
        log.critical("HALT: %s; no more votes, commits or submissions; exiting in %.0f s", reason, self.linger_s)
        try:
            asyncio.get_running_loop().call_later(self.linger_s, self.stopping.set)
        except RuntimeError:  # no loop running (an offline caller)
            self.stopping.set()
