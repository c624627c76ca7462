"""README's first commands on a fresh Debian 12 (or Ubuntu 24.04) whose Python refuses ``pip install`` (PEP 668).

In a container of the compose test's base image (debootstrap bookworm: python3
and python3-pip) with python3-venv removed, as a non-root user, in a plain copy
of the checkout: plain ``pip install`` is refused (externally managed), then
README's devnet line, exactly as README gives it, makes ``.venv`` and reaches
a committed block; README's test line runs a few tests.  pip finds the
dependencies in a wheelhouse built on the host (no network in the container)
through PIP_NO_INDEX and PIP_FIND_LINKS, so the lines themselves are README's.
Needs what the compose test needs; skipped elsewhere unless CI is set.
Ubuntu 24.04 (noble, Python 3.12) is marked slow (a second debootstrap, from
Ubuntu's archive; wheels built by the host's python3.12):
``python3 -m pytest -m slow tests/docker/test_readme_line.py``.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.docker.dockerenv import ROOT, Engine, cache_dir, ensure_base_image, sh, tools_present
from tests.test_readme_commands import readme_commands

pytestmark = pytest.mark.docker

PYTHONS = {"bookworm": "python3.11", "noble": "python3.12"}
OS = {"bookworm": "debian 12", "noble": "ubuntu 24.04"}

if not tools_present() and not os.environ.get("CI"):
    pytest.skip("docker, docker-compose and debootstrap are not installed (CI installs them)", allow_module_level=True)


def _wheelhouse(release: str) -> str:
    """Wheels of every dependency (and the test extra, and the build backend) for an offline install by the release's Python."""
    name = PYTHONS[release]
    found = [shutil.which(name), *sorted(Path.home().glob(f".pyenv/versions/{name[6:]}.*/bin/{name}"))]  # a pyenv shim may refuse
    python = next((str(c) for c in found if c and subprocess.run([c, "-c", ""], capture_output=True).returncode == 0), None)
    if python is None:
        pytest.skip(f"no {name} here to build {release}'s wheels with")
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    reqs = [*meta["build-system"]["requires"], *meta["project"]["dependencies"], *meta["project"]["optional-dependencies"]["test"]]
    out = cache_dir() / f"wheels-dev-{release}"
    sh(python, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check", "-w", str(out), *reqs, timeout=900)
    return str(out)


def _checkout(dest) -> str:
    """The files a clone would have (tracked and new, not ignored: no .venv, no built extension)."""
    files = sh("git", "ls-files", "--cached", "--others", "--exclude-standard", "-z", cwd=ROOT).stdout.split("\0")
    files = [f for f in files if f and (ROOT / f).exists()]
    tar = subprocess.run(["tar", "-C", str(ROOT), "-cf", "-", "--null", "-T", "-"], input="\0".join(files).encode(),
                         capture_output=True, check=True)
    dest.mkdir()
    subprocess.run(["tar", "-C", str(dest), "-xf", "-"], input=tar.stdout, check=True)
    return str(dest)


# Root prepares the machine README speaks of; the user "dev" runs README's lines in their copy.
PREPARE = """set -e
dpkg --purge python3-venv python3.11-venv python3.12-venv >/dev/null 2>&1
useradd -m dev
cp -a /src /home/dev/settle && chown -R dev:dev /home/dev/settle
exec runuser -u dev -- env HOME=/home/dev USER=dev sh -c "$USER_SCRIPT"
"""

USER_SCRIPT = """set -u
cd ~/settle
echo "OS $(. /etc/os-release; echo $ID $VERSION_ID) $(python3 --version)"
if python3 -m pip install --disable-pip-version-check msgpack > pep668.out 2>&1; then echo "PIP-ALLOWED"; exit 1; fi
grep -q externally-managed-environment pep668.out && echo "PEP668-REFUSED"
python3 -m venv /tmp/probe > /dev/null 2>&1 || echo "NO-ENSUREPIP"
{devnet} > devnet.out 2>&1 &
for i in $(seq 1 600); do
    h=$(.venv/bin/settle query status --json 2>/dev/null | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["height"])' 2>/dev/null)
    if [ -n "$h" ] && [ "$h" -ge 1 ]; then echo "COMMITTED-HEIGHT $h"; break; fi
    sleep 0.5
done
[ -x .venv/bin/python ] && echo "VENV $(.venv/bin/python -c 'import sys; print(sys.prefix != sys.base_prefix)')"
.venv/bin/python -c 'from ledger.statetree import tree; print("NATIVE", tree.NATIVE)'
.venv/bin/settle devnet down > /dev/null 2>&1
{tests} tests/test_layering.py > tests.out 2>&1 && echo "TESTS-PASSED"
echo "--- devnet"; tail -20 devnet.out; echo "--- tests"; tail -5 tests.out
"""


@pytest.mark.parametrize("release", ["bookworm", pytest.param("noble", marks=pytest.mark.slow)])
def test_readme_lines_under_pep668(tmp_path, release):
    devnet, tests = readme_commands()
    assert devnet.endswith("settle devnet up") and tests.endswith("python3 -m pytest -q"), (devnet, tests)
    with Engine(tmp_path):
        image = ensure_base_image(cache_dir(), release)
        wheels = _wheelhouse(release)
        src = _checkout(tmp_path / "src")
        user_script = USER_SCRIPT.format(devnet=devnet, tests=tests)
        run = sh("docker", "run", "--rm", "--network", "none",
                 "-v", f"{src}:/src:ro", "-v", f"{wheels}:/wheels:ro",
                 "-e", "PIP_NO_INDEX=1", "-e", "PIP_FIND_LINKS=/wheels", "-e", f"USER_SCRIPT={user_script}",
                 image, "sh", "-c", PREPARE, check=False, timeout=900)
    out = run.stdout + run.stderr
    print(out)  # shown with -s or on failure
    assert f"OS {OS[release]} Python 3." in out, out
    assert "PEP668-REFUSED" in out, out  # the system Python is externally managed
    assert "NO-ENSUREPIP" in out, out  # and has no python3-venv
    assert "VENV True" in out, out  # README's line made .venv
    assert re.search(r"COMMITTED-HEIGHT [1-9]", out), out  # and its devnet committed a block
    assert "TESTS-PASSED" in out, out
