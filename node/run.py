"""Process entry for one node: logging, uvloop, signals, exit codes.

Owns what happens between ``settle node start`` and :meth:`Node.run`:
SIGINT/SIGTERM set the node's stop event (clean shutdown, store closed), a
startup failure is one line on stderr and exit code 1.
"""
from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

import uvloop

from .app import Node, NodeError
from .config import ConfigError, load_config
from .halt import EXIT_HALTED
from .gc_policy import FULL_GC_EVERY_S, apply_node_policy, full_collection

__all__ = ["run_node"]


def setup_logging(level: str, moniker: str) -> None:
    """Settle's loggers (``settle.*``) at ``level``; other libraries' at INFO at most, aiohttp's at WARNING.

    At info (the default) a node logs one line per committed block with txs
    (``node.commits``), its start and stop, warnings and errors.  Debug adds
    Settle's own detail (every block, sync batches, p2p), not the libraries'
    (multiaddr logs every address it parses at debug level); py-libp2p is held
    to CRITICAL, or INFO at debug level (``node.app``).
    """
    settle_level = getattr(logging, level.upper(), logging.INFO)
    logging.basicConfig(
        level=max(settle_level, logging.INFO),
        format=f"%(asctime)s {moniker} %(levelname).1s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stdout,
    )
    logging.getLogger("settle").setLevel(settle_level)
    logging.getLogger("aiohttp").setLevel(logging.WARNING)
    logging.getLogger("libp2p").setLevel(logging.WARNING)


async def _collect_full() -> None:
    """A full collection once a minute (reference cycles still get freed; ``gc_policy.py``)."""
    while True:
        await asyncio.sleep(FULL_GC_EVERY_S)
        collected, ms = full_collection()
        if ms >= 50:  # it stops the node: shows up as a finality spike
            logging.getLogger("settle.node").warning("full GC took %.0f ms (%d objects collected)", ms, collected)


async def _main(home: Path, log_level: str | None) -> int:
    cfg = load_config(home)
    setup_logging(log_level or cfg.log_level, cfg.moniker)
    node = Node(cfg)
    apply_node_policy()  # startup objects frozen, no automatic full collection (gc_policy.py; settle stress measures under it)
    asyncio.get_running_loop().create_task(_collect_full())
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, node.halting.stopping.set)
    await node.run()
    if node.halting.halted is not None:
        # The store, WAL and sockets are closed.  A worker thread may still be stuck (on the failed
        # disk, in the p2p stack), and the loop's shutdown and the interpreter's would wait for it
        # forever (seen with 4 validators under fault injection: "stopped" logged, the process still
        # alive a minute later).  A halted node exits now.
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(EXIT_HALTED)
    return 0


def run_node(home: Path, log_level: str | None = None) -> int:
    """Run the node at ``home``; ``log_level`` (debug, info, warning, error) instead of its config's."""
    try:
        rc = uvloop.run(_main(home, log_level))
    except (ConfigError, NodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # e.g. RPC port already in use
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return rc

