"""Process entry for one node: logging, uvloop, signals, exit codes.

Owns what happens between ``settle node start`` and :meth:`Node.run`:
SIGINT/SIGTERM set the node's stop event (clean shutdown, store closed), a
startup failure is one line on stderr and exit code 1.
"""
from __future__ import annotations

import asyncio
import gc
import logging
import signal
import sys
from pathlib import Path

import uvloop

from .app import Node, NodeError
from .config import ConfigError, load_config

__all__ = ["run_node"]


def setup_logging(level: str, moniker: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format=f"%(asctime)s {moniker} %(levelname).1s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stdout,
    )
    logging.getLogger("aiohttp").setLevel(logging.WARNING)
    logging.getLogger("libp2p").setLevel(logging.WARNING)


async def _main(home: Path) -> int:
    cfg = load_config(home)
    setup_logging(cfg.log_level, cfg.moniker)
    node = Node(cfg)
    gc.freeze()  # startup objects (imports, genesis, caches) never need rescanning by the GC
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, node.stopping.set)
    await node.run()
    return 0


def run_node(home: Path) -> int:
    try:
        return uvloop.run(_main(home))
    except (ConfigError, NodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # e.g. RPC port already in use
        print(f"error: {exc}", file=sys.stderr)
        return 1
