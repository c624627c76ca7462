"""Wiring of the risk engine into the block transition: tx handlers and the end-of-block step.

Owns the order of the risk engine's end-of-block work -- oracle prices, then
options (vol surfaces, expiry settlement, marks), then funding, then the
liquidation sweep -- in one hook, so the sweep always sees this block's prices
and marks.  ``machine.py`` lists its handlers and
``end_block`` in its tables; never called by the node directly.  The step is also offered phase by phase
(:func:`end_block_phases`) so that the stress replay can time each from
outside; the state machine itself never reads a clock.
"""
from __future__ import annotations

from typing import Iterator

from ledger.receipt import Event

from . import collateral, margin, markets, oracle, perps
from ..context import BlockContext
from .funding import apply_funding
from .liquidation import liquidation_sweep
from .options import expiry, marks, series, surface, trading
from .pm import handlers as pm_handlers
from .records import MARKETS, Session
from ..state import State

__all__ = ["HANDLERS", "end_block", "end_block_phases", "run_end_block"]

HANDLERS = {**markets.HANDLERS, **oracle.HANDLERS, **margin.HANDLERS, **perps.HANDLERS,
            **series.HANDLERS, **surface.HANDLERS, **trading.HANDLERS, **collateral.HANDLERS, **pm_handlers.HANDLERS}


def options_phase(sess: Session, ctx: BlockContext) -> list[Event]:
    """Vol surfaces, then the settlement of expired series (at the block's price), then the marks of the live ones."""
    return surface.update_surfaces(sess, ctx) + expiry.settle_expiries(sess, ctx) + marks.update_marks(sess, ctx)


def end_block_phases(state: State, ctx: BlockContext) -> Iterator[tuple[str, list[Event]]]:
    """Prices, funding and liquidations of one block, one phase per step of the iterator.

    Yields ``("prices", events)``, ``("options", events)``, ``("funding", events)``
    and ``("liquidations", events)`` -- the sweep and the write-back of every
    changed record -- in this order; the block is done once the iterator is
    exhausted.  :func:`run_end_block` runs them all; the stress replay times
    each from outside (the state machine reads no clock).
    """
    if state.get(MARKETS) is None:
        return
    sess = Session(state, ctx)
    yield "prices", oracle.update_prices(sess, ctx)
    yield "options", options_phase(sess, ctx)
    yield "funding", apply_funding(sess, ctx)
    events = liquidation_sweep(sess, ctx)
    sess.flush()
    yield "liquidations", events


def run_end_block(state: State, ctx: BlockContext) -> list[Event]:
    """Every phase of :func:`end_block_phases`; returns the block-level events."""
    return [e for _, events in end_block_phases(state, ctx) for e in events]


def end_block(state: State, ctx: BlockContext) -> list[Event]:
    return run_end_block(state, ctx)
