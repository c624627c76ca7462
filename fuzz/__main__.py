"""Run every fuzz target for a bounded time or number of executions and print a table.

Usage: ``python -m fuzz [--runs N] [--seconds S] [--targets a,b] [--keep DIR]``.

Each target runs in its own process (``python -m fuzz.<target>``) with
libFuzzer's final statistics switched on; the table gives, per target, the
executions, the coverage edges and features libFuzzer counted (Settle's
own packages are instrumented, not the libraries), the corpus size and the
crashes (an input written to ``crash-*``/``timeout-*``/``oom-*``, or a
process that ended badly).  Exit status 1 if any target crashed.
Corpora, crash files and node homes go to a temporary directory that is
removed afterwards unless ``--keep DIR`` is given.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from .runner import TARGETS, run_target, table


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fuzz", description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, help="executions per target (libFuzzer -atheris_runs)")
    ap.add_argument("--seconds", type=int, help="time per target (libFuzzer -max_total_time)")
    ap.add_argument("--targets", default=",".join(TARGETS), help=f"comma-separated subset of {','.join(TARGETS)}")
    ap.add_argument("--keep", type=Path, help="keep corpora, crash inputs and logs in this directory")
    args = ap.parse_args(argv)
    if args.runs is None and args.seconds is None:
        args.runs = 10_000
    targets = [t for t in args.targets.split(",") if t]
    unknown = sorted(set(targets) - set(TARGETS))
    if unknown:
        ap.error(f"unknown targets: {', '.join(unknown)}")
    with tempfile.TemporaryDirectory(prefix="settle-fuzz-") as tmp:
        work = args.keep or Path(tmp)
        results = []
        for t in targets:
            r = run_target(t, work, runs=args.runs, seconds=args.seconds)
            results.append(r)
            (work / f"{t}.log").write_text(r.log)
            print(f"{t}: {r.executions} executions, {r.crashes} crashes", file=sys.stderr, flush=True)
            if r.crashes:
                print(r.log[-4000:], file=sys.stderr)
        print(table(results))
    return 1 if any(r.crashes for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
