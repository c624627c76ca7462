"""docs/tutorial.md as written: its bash blocks, in order, against a devnet started the way it says.

The tutorial's ``settle`` is this checkout's CLI (a two-line shim on PATH), its
home a temp directory (``SETTLE_HOME``), its terminal 80 columns wide.  Shell
variables carry from one block to the next, as in one terminal.  HTML comments
right above a fenced block (invisible when the page is rendered) say what to check:

* ``<!-- test: background -->``: the block is one long-running command
  (``settle devnet up``): started in the background on free ports (the only
  change to it: ``--rpc-port``/``--p2p-port`` appended), and waited for until
  it says it is up; the last block must stop it (``settle devnet down``).
* ``<!-- test: exit N -->``: the block's last command exits with N.  Without it
  the block runs under ``set -e``: every command must succeed.
* ``<!-- expect: TEXT -->``: TEXT appears in the block's output (stdout + stderr).
* A ```text block after a bash block is an excerpt of its output: every number
  of 4 or more digits in it (``1,000,000`` or ``1000000``) must be a number the
  block printed.  ``<!-- test: example -->`` above it: an illustration, not checked.

Besides: every relative link of the page resolves (files, and headings for
``#anchors``), and it shows the dashboard's five views by the names the
dashboard's screenshots have.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.nodeproc import ROOT, free_port_run

TUTORIAL = ROOT / "docs" / "tutorial.md"
DASHBOARD_IMAGES = ("dashboard-overview.png", "dashboard-account.png", "dashboard-tx.png", "dashboard-markets.png",
                    "dashboard-liquidations.png")

_FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.S | re.M)
_MARKER = re.compile(r"<!--\s*(test|expect):\s*(.*?)\s*-->")
_NUMBER = re.compile(r"-?\d[\d,]*")


@dataclass
class Step:
    """One bash block of the tutorial, what its markers ask, and the output excerpts after it."""

    code: str
    line: int
    background: bool = False
    exit_code: int = 0
    expect: list[str] = field(default_factory=list)
    excerpts: list[str] = field(default_factory=list)


def _markers_above(text: str, start: int) -> list[tuple[str, str]]:
    """The marker comments on the lines right above ``start`` (a fence), top to bottom."""
    found = []
    for line in reversed(text[:start].rstrip("\n").split("\n")):
        m = _MARKER.fullmatch(line.strip())
        if not m:
            break
        found.append((m.group(1), m.group(2)))
    return found[::-1]


def parse(text: str) -> list[Step]:
    steps: list[Step] = []
    for m in _FENCE.finditer(text):
        lang, body = m.group(1), m.group(2)
        markers = _markers_above(text, m.start())
        line = text.count("\n", 0, m.start()) + 1
        if lang == "bash":
            step = Step(body, line)
            for kind, value in markers:
                if kind == "expect":
                    step.expect.append(value)
                elif value == "background":
                    step.background = True
                elif value.startswith("exit "):
                    step.exit_code = int(value.split()[1])
                else:
                    raise AssertionError(f"tutorial line {line}: unknown marker {value!r}")
            steps.append(step)
        elif lang == "text" and ("test", "example") not in markers:
            assert steps, f"tutorial line {line}: an output excerpt before any command"
            steps[-1].excerpts.append(body)
    return steps


def numbers(text: str) -> set[int]:
    out = set()
    for token in _NUMBER.findall(text):
        digits = token.replace(",", "").rstrip("-")
        if digits.lstrip("-"):
            out.add(int(digits))
    return out


def excerpt_numbers(excerpt: str) -> set[int]:
    """The numbers an excerpt claims: those of 4 or more digits (heights, sizes and flags are not worth a claim)."""
    return {n for n in numbers(excerpt) if abs(n) >= 1000}


def anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_parse_reads_markers_and_excerpts():
    steps = parse("<!-- test: background -->\n```bash\nsettle devnet up\n```\n<!-- test: example -->\n```text\n26657\n```\n"
                  "<!-- test: exit 1 -->\n<!-- expect: no -->\n```bash\nfalse\n```\n```text\n│ USD │ 1,000,250 │ -70,000 │\n```\n")
    assert [(s.background, s.exit_code, s.expect, s.excerpts) for s in steps] == [
        (True, 0, [], []), (False, 1, ["no"], ["│ USD │ 1,000,250 │ -70,000 │\n"])]
    assert excerpt_numbers(steps[1].excerpts[0]) == {1_000_250, -70_000}
    assert numbers("cash │ -3,562,800,000 │ amount=250000000, h 12") == {-3_562_800_000, 250_000_000, 12}


def test_tutorial_links_resolve_and_show_each_dashboard_view():
    text = TUTORIAL.read_text()
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"\w+://", target):
            continue
        path, _, frag = target.partition("#")
        doc = (TUTORIAL.parent / path) if path else TUTORIAL
        assert doc.exists(), f"tutorial links to {target}: no such file"
        if frag:
            headings = [anchor(h) for h in re.findall(r"^#+ (.*)$", doc.read_text(), re.M)]
            assert frag in headings, f"tutorial links to {target}: no such heading"
    images = re.findall(r"!\[[^\]]*\]\(img/([^)]+)\)", text)
    assert sorted(set(images)) == sorted(DASHBOARD_IMAGES)
    for name in images:  # python -m bench.dashboard_shots writes them
        assert (TUTORIAL.parent / "img" / name).stat().st_size > 10_000, f"docs/img/{name} is missing or empty"


class _Devnet:
    """The background ``settle devnet up`` of the tutorial: its process and everything it printed."""

    def __init__(self, command: str, cwd: Path, env: dict):
        rpc = free_port_run(4)
        p2p = free_port_run(4, start=rpc + 200)
        argv = shlex.split(command) + ["--rpc-port", str(rpc), "--p2p-port", str(p2p)]
        self.proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True)
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def output(self) -> str:
        return "".join(self.lines)

    def wait_up(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any("is up (4 node(s))" in line for line in self.lines):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"the devnet did not come up:\n{self.output()[-3000:]}")

    def wait_output(self, texts: list[str], timeout: float = 10) -> str:
        """Its output once every one of ``texts`` is in it (the lines after "is up" may still be on their way), or at the timeout."""
        deadline = time.monotonic() + timeout
        while not all(t in self.output() for t in texts) and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.output()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # Ctrl-C, as the tutorial says
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.reader.join(5)


def _shell_env(tmp_path: Path) -> dict:
    """The reader's terminal: this checkout's ``settle`` on PATH, a temp home, 80 columns."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "settle"
    shim.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m cli "$@"\n')
    shim.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("SETTLE_HOME", "COLUMNS", "LINES")}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p),
               PYTHONUNBUFFERED="1", SETTLE_HOME=str(tmp_path / "devnet"), COLUMNS="80")
    return env


def _run_block(step: Step, cwd: Path, env: dict, state: Path) -> subprocess.CompletedProcess:
    script = "\n".join([
        "set -a",  # every variable a block sets is exported, then saved for the next block
        f"[ -f {shlex.quote(str(state))} ] && . {shlex.quote(str(state))}",
        "set -e" if step.exit_code == 0 else "",
        step.code,
        "__rc=$?",
        f"export -p > {shlex.quote(str(state))}",
        "exit $__rc",
    ])
    return subprocess.run(["bash", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=180)


def test_tutorial_runs_as_written(tmp_path):
    if shutil.which("jq") is None:
        if os.environ.get("CI"):
            raise AssertionError("jq is missing (apt-get install jq): the tutorial uses it")
        pytest.skip("jq not installed (the tutorial uses it)")
    steps = parse(TUTORIAL.read_text())
    assert steps[0].background and "settle devnet down" in steps[-1].code, "the tutorial starts the devnet first and stops it last"
    env = _shell_env(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    state = tmp_path / "shell-state"
    devnet = None
    try:
        for step in steps:
            where = f"tutorial line {step.line}: {step.code.strip()[:200]}"
            if step.background:
                assert devnet is None and "\n" not in step.code.strip(), where
                devnet = _Devnet(step.code.strip(), work, env)
                devnet.wait_up()
                output = devnet.wait_output(step.expect)
            else:
                res = _run_block(step, work, env, state)
                output = res.stdout + res.stderr
                assert res.returncode == step.exit_code, f"{where}\nexit {res.returncode}, expected {step.exit_code}:\n{output}"
            for text in step.expect:
                assert text in output, f"{where}\n{text!r} not in the output:\n{output}"
            printed = numbers(output)
            for excerpt in step.excerpts:
                missing = sorted(excerpt_numbers(excerpt) - printed)
                assert not missing, f"{where}\nthe excerpt shows {missing}, not printed:\n{output}"
        assert devnet is not None
        devnet.proc.wait(30)  # `settle devnet down` stopped it
        assert devnet.proc.returncode == 0 and "devnet stopped" in devnet.output(), devnet.output()[-3000:]
    finally:
        if devnet is not None:
            devnet.stop()
