"""``settle bench``: the benchmark command.

Owns the options, the progress display (``cli.progress``: live on a terminal,
a line per phase on stderr otherwise, none with ``--json``) and the output
convention: ``--json`` prints exactly one JSON object on stdout; otherwise a
one-screen summary.  Either way ``result.json`` and ``bench.png`` land in the
results folder.  Exit code 1 when a correctness check fails (a transaction
not committed exactly once, or nodes that disagree); the figures are printed
all the same.
"""
from __future__ import annotations

import json
import signal
import sys
import threading
import time
from pathlib import Path

import click
from rich.console import Console

from bench import BenchConfig, BenchError, build_result, print_summary, run_bench, write_outputs

from .common import CLIError
from .progress import StepProgress

__all__ = ["bench"]

PHASES = {
    "limit": "measuring the Ed25519 limit",
    "network": "starting the network",
    "presign": "pre-signing transfers",
    "load": "load",
    "drain": "waiting for the backlog to commit",
    "verify": "verifying",
    "agreement": "checking that all nodes agree",
}


class _ProgressUI:
    """Turns harness events into steps and figures of a :class:`~cli.progress.StepProgress`."""

    def __init__(self, progress: StepProgress):
        self.progress = progress
        self.last_committed = (0.0, 0)

    def __call__(self, kind: str, **info) -> None:
        p = self.progress
        if kind == "phase" and info["name"] in PHASES:
            p.step(PHASES[info["name"]])
        elif kind == "presign":
            p.update(info["done"], total=info["total"], info=f"{info['done']:,}/{info['total']:,}")
        elif kind == "tick":
            t, c = info["elapsed"], info["committed"]
            t0, c0 = self.last_committed
            rate = (c - c0) / (t - t0) if t > t0 else 0.0
            self.last_committed = (t, c)
            p.update(min(t, info["duration"]), total=info["duration"],
                     info=f"accepted {info['accepted']:,}  committed {c:,}  ({rate:,.0f} tx/s)  backlog {info['outstanding']:,}")


@click.command()
@click.option("--validators", "-n", default=4, show_default=True, help="validator processes")
@click.option("--accounts", "-k", default=None, type=int, help="funded load accounts  [default: 10000; smoke: 200]")
@click.option("--duration", "-d", default=None, type=float, help="seconds of load  [default: 30; smoke: 3]")
@click.option("--rate", "-r", default=None, type=float, help="offered tx/s over all nodes; 0 = open-loop max  [default: 0; smoke: 400]")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@click.option("--out", "out_dir", default=None, type=click.Path(file_okay=False), help="results folder  [default: ./results/bench-<timestamp>]")
@click.option("--smoke", is_flag=True, help="a few seconds, 200 accounts, 400 tx/s: proves the harness works")
@click.option("--block-interval-ms", default=None, type=int, help="override the nodes' block.interval_ms")
@click.option("--batch", default=None, type=int, help="txs per broadcast_tx_batch  [default: rate/50 (max 500); max mode: 500]")
@click.option("--window", default=10_000, show_default=True, help="max mode: accepted-but-uncommitted txs, all nodes together")
@click.option("--concurrency", default=None, type=int, help="max mode: batch requests in flight per node  [default: 8 for one validator, else 2]")
@click.option("--presign-rate", default=None, type=float, help="max mode: txs pre-signed per second of duration  [default: min(limit, 25000)]")
@click.option("--keep", is_flag=True, help="keep the node homes and logs (path in the result)")
def bench(validators, accounts, duration, rate, as_json, out_dir, smoke, block_interval_ms, batch, window, concurrency, presign_rate, keep) -> None:
    """Measure settled tx/s and finality latency of a local N-validator network."""
    opts = dict(
        validators=validators, accounts=accounts, duration=duration, rate=rate, block_interval_ms=block_interval_ms, batch=batch, window=window,
        concurrency=concurrency, presign_rate=presign_rate, keep=keep,
    )
    if smoke:
        cfg = BenchConfig.smoke_defaults(**opts)
    else:
        cfg = BenchConfig(**{k: v for k, v in opts.items() if v is not None})
    if cfg.duration <= 0 or cfg.rate < 0:
        raise CLIError("--duration must be > 0 and --rate >= 0")
    out = Path(out_dir) if out_dir else Path("results") / f"bench-{time.strftime('%Y%m%d-%H%M%S')}"
    console = Console(stderr=True)
    stop = threading.Event()

    def on_sigterm(signum, frame):  # stop like Ctrl-C: every process is still stopped cleanly
        stop.set()
        raise KeyboardInterrupt

    old_term = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        if as_json:
            raw = run_bench(cfg, stop=stop)
        else:
            with StepProgress(console=console) as progress:
                raw = run_bench(cfg, _ProgressUI(progress), stop=stop)
    except BenchError as exc:
        text = str(exc)
        if "\n" in text:  # a load generator traceback: the full text on stderr first, then one error line
            console.print(text, markup=False, highlight=False)
            text = text.strip().splitlines()[-1]
        raise CLIError(text) from None
    except KeyboardInterrupt:
        stop.set()
        raise
    finally:
        signal.signal(signal.SIGTERM, old_term)
    result = build_result(raw)
    write_outputs(result, out)
    if as_json:
        click.echo(json.dumps({k: v for k, v in result.items() if k not in ("series", "node_series")}))
    else:
        print_summary(result, Console())
    if not (result["committed_exactly_once"] and result["all_nodes_agree"]):
        sys.exit(1)

