"""Docker for tests: a running engine, a local base image, offline wheels.

No image registry is reachable here, so the base image is built with
debootstrap (Debian's packages) and ``docker import``, and the project and its
dependencies go into the image as wheels built on the host (``pip wheel``),
installed offline.  If no engine answers, one is started and stopped again
at the end; anything this module started it also stops.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

BASE_IMAGE = "local/debian-python:bookworm"
ROOT = Path(__file__).resolve().parents[2]


def sh(*args: str, check: bool = True, timeout: float = 600, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def tools_present() -> bool:
    return all(shutil.which(t) for t in ("docker", "dockerd", "docker-compose", "debootstrap"))


def engine_up() -> bool:
    return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0


class Engine:
    """A docker engine for the duration of a test session."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "Engine":
        if engine_up():
            return self
        log = open(self.workdir / "dockerd.log", "wb")
        self.proc = subprocess.Popen(["dockerd"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if engine_up():
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.5)
        raise AssertionError(f"dockerd did not come up:\n{(self.workdir / 'dockerd.log').read_text()[-3000:]}")

    def __exit__(self, *exc) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


# release: (image, mirror, debootstrap script (None: debootstrap's own), components, packages)
RELEASES = {
    "bookworm": (BASE_IMAGE, "http://deb.debian.org/debian", None, "main", "python3,python3-pip,python3-venv"),
    "noble": ("local/ubuntu-python:noble", "http://archive.ubuntu.com/ubuntu", "gutsy", "main,universe", "python3,python3-pip"),
}
UBUNTU_KEYRING = Path("/usr/share/keyrings/ubuntu-archive-keyring.gpg")


def ensure_base_image(cache: Path, release: str = "bookworm") -> str:
    """Build the release's python image with debootstrap unless it exists (bookworm: ``local/debian-python:bookworm``).

    Ubuntu's archive is checked with ubuntu-keyring's key when it is installed, else not
    (Debian 12's debootstrap has no noble script: gutsy's, which noble's is a link to).
    """
    image, mirror, script, components, packages = RELEASES[release]
    if sh("docker", "image", "inspect", image, check=False).returncode == 0:
        return image
    rootfs = cache / ("rootfs" if release == "bookworm" else f"rootfs-{release}")
    if not (rootfs / "usr" / "bin" / "python3").exists():
        shutil.rmtree(rootfs, ignore_errors=True)
        args = ["debootstrap", "--variant=minbase", f"--components={components}", f"--include={packages}"]
        if release != "bookworm":
            args.append(f"--keyring={UBUNTU_KEYRING}" if UBUNTU_KEYRING.exists() else "--no-check-gpg")
        args += [release, str(rootfs), mirror]
        if script:
            args.append(f"/usr/share/debootstrap/scripts/{script}")
        sh(*args, timeout=900)
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
    imp = subprocess.run(["docker", "import", "-", image], stdin=tar.stdout, capture_output=True, text=True, timeout=600)
    tar.wait()
    if imp.returncode != 0:
        raise AssertionError(f"docker import failed: {imp.stderr}")
    return image


def build_wheels() -> Path:
    """Wheels of the project and every dependency into ROOT/.docker-wheels."""
    out = ROOT / ".docker-wheels"
    for old in out.glob("settle-*.whl"):
        old.unlink()  # always rebuild the project's own wheel
    sh("python3", "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check", ".", "-w", str(out), cwd=ROOT, timeout=900)
    return out


def cache_dir() -> Path:
    d = Path(os.environ.get("SETTLE_DOCKER_CACHE", Path.home() / ".cache" / "settle-docker"))
    d.mkdir(parents=True, exist_ok=True)
    return d
