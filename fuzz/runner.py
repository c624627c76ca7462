"""Running fuzz targets in subprocesses and reading libFuzzer's report.

Owns: :func:`run_target` (one target, one process, libFuzzer flags for a
bounded run, crash inputs written under the work directory) and
:func:`table`.  Imports neither atheris nor Settle: the default test run
collects ``tests/fuzz`` without the ``fuzz`` extra installed.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the repository: fuzz/ and the packages it fuzzes
TARGETS = ("codec", "tx", "block", "commit", "consensus", "mesh", "p2p", "rpc")


@dataclass
class Result:
    target: str
    executions: int
    edges: int
    features: int
    corpus: int
    crashes: int
    seconds: float
    returncode: int
    log: str


def run_target(target: str, work: Path, *, runs: int | None, seconds: int | None, timeout: float | None = None) -> Result:
    """Fuzz one target in a subprocess; never raises for a crash (it is counted)."""
    corpus, artifacts = work / "corpus" / target, work / "artifacts" / target
    corpus.mkdir(parents=True, exist_ok=True)
    artifacts.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", f"fuzz.{target}", "-print_final_stats=1", f"-artifact_prefix={artifacts}/", "-timeout=30"]
    if runs is not None:
        cmd.append(f"-atheris_runs={runs}")
    if seconds is not None:
        cmd.append(f"-max_total_time={seconds}")
    cmd.append(str(corpus))
    env = dict(os.environ, SETTLE_FUZZ_HOME=str(work / "homes"), PYTHONPATH=str(ROOT))
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout)
    log = proc.stderr + proc.stdout
    crashes = sum(1 for p in artifacts.iterdir() if p.name.split("-")[0] in ("crash", "timeout", "oom", "leak"))
    if proc.returncode != 0 and crashes == 0:
        crashes = 1  # died without writing an input (e.g. at start-up)
    return Result(
        target,
        executions=_last_int(r"stat::number_of_executed_units:\s*(\d+)", log) or _last_int(r"Done (\d+)", log),
        edges=_last_int(r"cov: (\d+)", log),
        features=_last_int(r"ft: (\d+)", log),
        corpus=sum(1 for _ in corpus.iterdir()),
        crashes=crashes,
        seconds=time.monotonic() - start,
        returncode=proc.returncode,
        log=log,
    )


def _last_int(pattern: str, text: str) -> int:
    found = re.findall(pattern, text)
    return int(found[-1]) if found else 0


def table(results: list[Result]) -> str:
    head = f"{'target':<10} {'executions':>11} {'edges':>6} {'features':>9} {'corpus':>7} {'seconds':>8} {'crashes':>8}"
    rows = [
        f"{r.target:<10} {r.executions:>11} {r.edges:>6} {r.features:>9} {r.corpus:>7} {r.seconds:>8.0f} {r.crashes:>8}"
        for r in results
    ]
    return "\n".join([head, *rows])
