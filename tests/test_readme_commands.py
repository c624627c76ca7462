"""README's two first commands, ``.ci/run`` and ``./dev`` agree.

README's first screen gives two lines, the devnet and the tests, both through
``./dev`` (the checkout's virtual environment); CI runs exactly the test line.
tests/docker/test_readme_line.py runs both on a Debian with PEP 668.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    """The one-line ``bash`` blocks of README's first screen: the devnet line, then the test line."""
    text = (ROOT / "README.md").read_text()
    return [b.strip() for b in re.findall(r"```bash\n(.*?)```", text, re.S)[:2]]


def test_readme_first_commands_go_through_dev():
    devnet, tests = readme_commands()
    assert devnet == "./dev settle devnet up"
    assert tests == "./dev python3 -m pytest -q"


def test_ci_runs_exactly_the_readme_test_line():
    lines = [ln.strip() for ln in (ROOT / ".ci" / "run").read_text().splitlines()]
    commands = [ln for ln in lines if ln and not ln.startswith("#")]
    assert commands[-1] == readme_commands()[1]


@pytest.mark.parametrize("shell", ["sh", "dash"])
def test_dev_is_posix_sh(shell):
    if shutil.which(shell) is None:
        pytest.skip(f"no {shell}")
    assert subprocess.run([shell, "-n", str(ROOT / "dev")]).returncode == 0


def test_dev_reuses_an_installed_venv_and_runs_the_command_in_it(tmp_path):
    """An up-to-date .venv is used as it is: the command runs in it, in the caller's directory, with its exit code."""
    shutil.copy2(ROOT / "dev", tmp_path / "dev")
    (tmp_path / "pyproject.toml").write_text("")
    venv.create(tmp_path / ".venv", with_pip=False)
    (tmp_path / ".venv" / ".settle-installed").touch()  # newer than pyproject.toml: nothing to install
    work = tmp_path / "elsewhere"
    work.mkdir()
    probe = "import os, sys; print(sys.prefix, os.getcwd(), os.environ['VIRTUAL_ENV']); sys.exit(3)"
    run = subprocess.run([str(tmp_path / "dev"), "python3", "-c", probe], capture_output=True, text=True, cwd=work,
                         env={"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"}, timeout=60)
    assert run.returncode == 3, run.stderr
    venv_dir = str(tmp_path / ".venv")
    assert run.stdout.split() == [venv_dir, str(work), venv_dir]
    assert "installing" not in run.stderr
