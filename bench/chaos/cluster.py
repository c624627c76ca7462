"""The network under test: bench's :class:`LocalNetwork` with proxied links and per-node controls.

Owns what a nemesis does to one node: ``kill -9`` and restart, SIGSTOP /
SIGCONT, a restart under a skewed clock (libfaketime through ``LD_PRELOAD``,
the node's code untouched), and a small tmpfs under one node's data dir that
can be filled.  Peers are rewritten to reach each other through
:class:`~bench.chaos.proxy.LinkProxies`.  Never decides what to inject: that
is :mod:`bench.chaos.nemesis`.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

from bench.network import LocalNetwork
from node.config import load_config, save_config

from .proxy import LinkProxies

__all__ = ["ChaosNetwork", "faketime_library"]

FAKETIME_LIBS = ("/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1", "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1")
FILLER = "chaos-filler"


def faketime_library() -> str | None:
    """libfaketime's multithreaded library (Debian package ``faketime``), or None."""
    return next((p for p in FAKETIME_LIBS if os.path.exists(p)), None)


class ChaosNetwork(LocalNetwork):
    """Validators on 127.0.0.1 whose p2p links all pass through proxies; node ``disk_node`` keeps its data on a tmpfs."""

    def __init__(self, root: Path, validators: int, accounts: int, *, disk_node: int | None = None, disk_mb: int = 64, **kw):
        super().__init__(root, validators, accounts, **kw)
        self.proxies: LinkProxies | None = None
        self.disk_node = disk_node
        self.disk_mb = disk_mb
        self.mounted: Path | None = None
        self.paused: set[int] = set()
        self.skew: dict[int, float] = {}

    def create(self) -> None:
        super().create()
        real = [load_config(h).p2p.port for h in self.homes]
        self.proxies = LinkProxies(real)
        ids = {n["peer_id"]: j for j, n in enumerate(self.meta["nodes"])}
        for i, home in enumerate(self.homes):
            cfg = load_config(home)
            peers = []
            for addr in cfg.p2p.peers:
                j = ids[addr.rsplit("/p2p/", 1)[1]]
                peers.append(f"/ip4/127.0.0.1/tcp/{self.proxies.port(i, j)}/p2p/{self.meta['nodes'][j]['peer_id']}")
            cfg.p2p.peers = peers
            cfg.consensus.timeout_propose_ms = 1000
            cfg.consensus.timeout_delta_ms = 250
            save_config(cfg)
        if self.disk_node is not None:
            self._mount(self.homes[self.disk_node] / "data")

    # ------------------------------------------------------------------ processes

    def alive(self, i: int) -> bool:
        return self.procs[i].poll() is None

    def halted(self, i: int) -> str | None:
        """The cause a running node gives for its halt (``GET /health`` 503), or None."""
        try:
            with urllib.request.urlopen(self.rpc_urls[i] + "/health", timeout=5) as r:
                return None if r.status == 200 else f"health {r.status}"
        except urllib.error.HTTPError as exc:
            try:
                return json.loads(exc.read()).get("halted") or f"health {exc.code}"
            except ValueError:
                return f"health {exc.code}"
        except OSError:
            return None

    def kill(self, i: int) -> None:
        p = self.procs[i]
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            p.wait()
        self.paused.discard(i)

    def restart(self, i: int, *, skew_s: float | None = None) -> None:
        """(Re)start node ``i``, killing it first if it runs; ``skew_s``: its wall clock runs that many seconds off."""
        self.kill(i)
        env = None
        if skew_s:
            lib = faketime_library()
            if lib is None:
                raise RuntimeError("libfaketime is not installed (apt-get install faketime)")
            env = {"LD_PRELOAD": lib, "FAKETIME": f"{skew_s:+.3f}", "FAKETIME_DONT_FAKE_MONOTONIC": "1", "FAKETIME_NO_CACHE": "1"}
            self.skew[i] = skew_s
        else:
            self.skew.pop(i, None)
        self.procs[i] = self.spawn(i, env)

    def pause(self, i: int) -> None:
        if self.alive(i):
            os.kill(self.procs[i].pid, signal.SIGSTOP)
            self.paused.add(i)

    def resume(self, i: int) -> None:
        if i in self.paused:
            self.paused.discard(i)
            if self.alive(i):
                os.kill(self.procs[i].pid, signal.SIGCONT)

    # ------------------------------------------------------------------ disk

    def _mount(self, data: Path) -> None:
        data.mkdir(parents=True, exist_ok=True)
        res = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.disk_mb}m", "tmpfs", str(data)], capture_output=True, text=True)
        if res.returncode != 0:
            raise RuntimeError(f"cannot mount a tmpfs on {data}: {res.stderr.strip()}")
        self.mounted = data

    def fill_disk(self) -> int:
        """Fill the tmpfs of ``disk_node`` to the last byte; returns the bytes written."""
        assert self.mounted is not None
        written = 0
        block = b"\0" * (1 << 20)
        with open(self.mounted / FILLER, "ab", buffering=0) as f:
            for size in (1 << 20, 4096, 1):
                while True:
                    try:
                        written += f.write(block[:size])
                    except OSError:
                        break
        return written

    def free_disk(self) -> None:
        if self.mounted is not None:
            (self.mounted / FILLER).unlink(missing_ok=True)

    def unmount(self) -> None:
        """Copy the tmpfs data back to disk (for the offline audit) and unmount it."""
        if self.mounted is None:
            return
        data, self.mounted = self.mounted, None
        (data / FILLER).unlink(missing_ok=True)
        saved = data.with_name("data.tmpfs")
        shutil.copytree(data, saved, dirs_exist_ok=True)
        subprocess.run(["umount", "-l", str(data)], capture_output=True)
        shutil.rmtree(data, ignore_errors=True)
        saved.rename(data)

    def stop(self, timeout: float = 15.0) -> list[int | None]:
        for i in list(self.paused):
            self.resume(i)
        try:
            return super().stop(timeout)
        finally:
            if self.proxies is not None:
                self.proxies.close()
