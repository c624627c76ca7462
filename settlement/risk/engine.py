"""Wiring of the risk engine into the block transition: tx handlers and the end-of-block step.

Owns the order of the risk engine's end-of-block work -- oracle prices, then
funding, then the liquidation sweep -- in one hook, so the sweep always sees
this block's prices.  ``machine.py`` lists ``HANDLERS`` and ``end_block`` in
its tables; never called by the node directly.  ``run_end_block`` takes an
optional ``timer`` (a function returning nanoseconds) only so the stress
replay can measure the liquidation step; the state machine itself never
reads a clock.
"""
from __future__ import annotations

from typing import Callable

from ledger.receipt import Event

from . import margin, markets, oracle, perps
from ..context import BlockContext
from .funding import apply_funding
from .liquidation import liquidation_sweep
from .records import MARKETS, Session
from ..state import State

__all__ = ["HANDLERS", "end_block", "run_end_block"]

HANDLERS = {**markets.HANDLERS, **oracle.HANDLERS, **margin.HANDLERS, **perps.HANDLERS}


def run_end_block(state: State, ctx: BlockContext, timer: Callable[[], int] | None = None) -> tuple[list[Event], int]:
    """Prices, funding and liquidations of one block.

    Returns:
        the block-level events and the nanoseconds spent in the liquidation
        step (sweep + write-back), 0 without a timer.
    """
    if state.get(MARKETS) is None:
        return [], 0
    sess = Session(state, ctx)
    events = oracle.update_prices(sess, ctx)
    events += apply_funding(sess, ctx)
    t0 = timer() if timer else 0
    events += liquidation_sweep(sess, ctx)
    sess.flush()
    return events, (timer() - t0) if timer else 0


def end_block(state: State, ctx: BlockContext) -> list[Event]:
    return run_end_block(state, ctx)[0]
