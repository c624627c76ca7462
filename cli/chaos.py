"""``settle chaos``: fault injection with a history checker.

Owns the options and the output: ``--json`` prints one JSON object on stdout
(without the per-op history, which lands in ``result.json`` of a kept run);
otherwise a one-screen table.  Progress lines go to stderr.  Exit code 1 when
the checker finds a violation.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console

from bench.chaos import ChaosConfig, print_report, run_chaos

from .common import CLIError

__all__ = ["chaos"]


@click.command()
@click.option("--seed", default=1, show_default=True, help="seeds the fault schedule and the clients")
@click.option("--duration", "-d", default=120.0, show_default=True, help="seconds of faults")
@click.option("--overlap", default=0.0, show_default=True, help="share of faults still active when the next one starts (0..1)")
@click.option("--recovery-limit", default=60.0, show_default=True, help="seconds a heal may take before it counts as not recovered")
@click.option("--dir", "directory", default=None, type=click.Path(file_okay=False), help="where the network lives  [default: a temporary directory]")
@click.option("--keep", is_flag=True, help="keep node homes, logs and result.json (always kept after a violation)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
def chaos(seed, duration, overlap, recovery_limit, directory, keep, as_json) -> None:
    """Run 4 validators under a seeded schedule of faults and check the clients' history."""
    if duration <= 0 or not 0 <= overlap <= 1:
        raise CLIError("--duration must be > 0 and --overlap within 0..1")
    err = Console(stderr=True)
    cfg = ChaosConfig(seed=seed, duration=duration, overlap=overlap, recovery_limit_s=recovery_limit, directory=Path(directory) if directory else None, keep=keep)
    result = run_chaos(cfg, log=lambda msg: err.print(msg, markup=False, highlight=False))
    if as_json:
        click.echo(json.dumps({k: v for k, v in result.items() if k != "ops_history"}, default=str))
    else:
        print_report(result, Console())
    if result["violations_total"]:
        sys.exit(1)

