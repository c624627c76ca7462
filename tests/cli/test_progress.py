"""Long commands show progress on a terminal, a line per step elsewhere, nothing with --json.

``settle stress`` runs for real (a small population): piped, its stderr holds
one plain line per step and its stdout the same table; with ``--json`` stderr
is empty and stdout one JSON object; on a pseudo-terminal the live bar draws.
"""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from cli.progress import StepProgress
from tests.cli.terminal import on_terminal

ROOT = Path(__file__).resolve().parents[2]
STRESS = ["stress", "--accounts", "60", "--blocks", "3", "--scenario", "crash50"]


def _settle(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cli", *args], capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})


def test_stress_piped_says_one_line_per_step_on_stderr():
    run = _settle(*STRESS)
    assert run.returncode == 0, run.stderr
    assert run.stderr.splitlines() == ["building 60 accounts ...", "replaying the price path ..."]
    assert "stress crash50: 60 accounts" in run.stdout and "\x1b[" not in run.stdout + run.stderr


def test_stress_json_is_one_object_and_says_nothing_else():
    run = _settle(*STRESS, "--json")
    assert run.returncode == 0 and run.stderr == "", run.stderr
    res = json.loads(run.stdout)
    assert res["blocks"] == len(res["per_block"]) and res["conservation_ok"]


def test_stress_on_a_terminal_draws_a_live_bar():
    code, text = on_terminal(STRESS)
    assert code == 0, text[-2000:]
    assert "\x1b[?25l" in text  # the live display hides the cursor while it draws
    assert "replaying the price path" in text and "building 60 accounts ..." not in text
    assert "stress crash50: 60 accounts" in text


def test_step_progress_off_a_terminal_and_quiet():
    buf = io.StringIO()
    with StepProgress(console=Console(file=buf)) as p:
        p.step("one")
        p.update(1, total=2, info="not shown")
        p.step("two")
    assert buf.getvalue() == "one ...\ntwo ...\n"
    quiet = io.StringIO()
    with StepProgress(quiet=True, console=Console(file=quiet, force_terminal=True)) as p:
        p.step("one")
        p.update(1)
    assert quiet.getvalue() == ""
