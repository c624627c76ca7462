"""CPU and memory of processes, and of the whole machine, from ``/proc`` (Linux).

Owns the sampler thread of a run: every ``interval`` seconds the CPU seconds
and RSS of each named process, and the machine's busy CPU seconds, so that a
window of the run can be summarised as CPU% (100 = one core) and RSS, and
CPU used by processes outside the run shows up in the result.
"""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

__all__ = ["ProcSampler"]

_TICK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int | str) -> list[str]:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rindex(")") + 2 :].split()


def _children_cpu(pid: int) -> float:
    """CPU seconds of the live child processes of ``pid`` (a node's verifier workers)."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            f = _stat_fields(entry)
            if int(f[1]) == pid:
                total += (int(f[11]) + int(f[12])) / _TICK
        except (OSError, ValueError, IndexError):
            continue
    return total


def _proc_sample(pid: int, children: bool = False) -> tuple[float, int] | None:
    """(CPU seconds used so far, RSS bytes) of a live process; ``children``: add its live children's CPU."""
    try:
        fields = _stat_fields(pid)
        cpu = (int(fields[11]) + int(fields[12])) / _TICK + (_children_cpu(pid) if children else 0.0)
        rss = 0
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
                break
        return cpu, rss
    except (OSError, ValueError, IndexError):
        return None


def _machine_busy_seconds() -> float | None:
    """CPU seconds all cores spent busy since boot (``/proc/stat``)."""
    try:
        f = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in f[:8])
        return (user + nice + system + irq + softirq + steal) / _TICK
    except (OSError, ValueError):
        return None


class ProcSampler(threading.Thread):
    """Samples CPU seconds and RSS of some processes (and the whole machine) every ``interval`` seconds.

    The machine's own busy time is sampled under the name ``machine`` so that
    CPU used by processes that are not part of the run (another benchmark,
    a test suite) shows up in the result instead of silently lowering it.
    """

    def __init__(self, pids: dict[str, int], interval: float = 0.5):
        super().__init__(daemon=True, name="bench-proc-sampler")
        self.pids = pids
        self.interval = interval
        self.samples: dict[str, list[tuple[float, float, int]]] = {name: [] for name in [*pids, "machine"]}
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            now = time.monotonic()
            for name, pid in self.pids.items():
                s = _proc_sample(pid, children=name.startswith("node"))  # a node's verifier processes are its CPU
                if s is not None:
                    self.samples[name].append((now, s[0], s[1]))
            busy = _machine_busy_seconds()
            if busy is not None:
                self.samples["machine"].append((now, busy, 0))
            self._halt.wait(self.interval)

    def halt(self) -> None:
        self._halt.set()
        self.join(5)

    def window(self, name: str, t0: float, t1: float) -> dict:
        """CPU% (100 = one core) and RSS over [t0, t1]; plus the series for the plot."""
        pts = [s for s in self.samples.get(name, []) if t0 - self.interval <= s[0] <= t1 + self.interval]
        if len(pts) < 2:
            return {"cpu_percent": None, "rss_mb_start": None, "rss_mb_end": None, "rss_mb_max": None, "series": []}
        a, b = pts[0], pts[-1]
        series = [{"t": round(q[0] - t0, 2), "cpu_percent": round(100 * (q[1] - p[1]) / (q[0] - p[0]), 1), "rss_mb": round(q[2] / 2**20, 1)} for p, q in zip(pts, pts[1:]) if q[0] > p[0]]
        return {
            "cpu_percent": round(100 * (b[1] - a[1]) / (b[0] - a[0]), 1),
            "rss_mb_start": round(a[2] / 2**20, 1),
            "rss_mb_end": round(b[2] / 2**20, 1),
            "rss_mb_max": round(max(p[2] for p in pts) / 2**20, 1),
            "series": series,
        }
