"""The benchmark run: a local network, a load generator process, measurements, checks.

Owns the order of a run and the lifetime of every process it starts:

1. measure the machine's limit (Ed25519 verifications/s on one core; again
   at the end with the nodes stopped, keeping the better figure);
2. write a devnet with K funded ``load-i`` accounts into a temp dir and start
   one node process per validator exactly as ``settle devnet up`` does
   (:mod:`.network`);
3. start the load generator (:mod:`.loadgen`, a spawned process) which
   pre-signs while the nodes come up, and let it go once every node answers;
4. sample each node's CPU and RSS from ``/proc`` while the load runs
   (:mod:`.procstat`), and libsodium's cost per verification on the loaded
   machine (:mod:`.probe`, a process of its own);
5. check that all nodes agree (block id and state root at a common height);
6. stop everything: SIGTERM, then SIGKILL after a timeout, whatever happened.

It reports progress through a callback and returns one result dict
(:mod:`.report` shapes it); it never prints.
"""
from __future__ import annotations

import json
import multiprocessing as mp
import os
import queue as queue_mod
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from .loadgen import LoadSpec, run_loadgen
from .machine import ed25519_verify_rate, limit_tx_per_s, machine_info
from .network import ROOT, BenchError, LocalNetwork, check_agreement
from .procstat import ProcSampler

__all__ = ["BenchConfig", "BenchError", "run_bench"]

CHAIN_ID = "settle-bench"


@dataclass
class BenchConfig:
    validators: int = 4
    accounts: int = 10_000
    duration: float = 30.0
    rate: float = 0.0  # offered tx/s; 0 = as fast as the nodes admit
    smoke: bool = False
    block_interval_ms: int | None = None  # None: the node's default
    batch: int | None = None  # None: chosen from the rate
    window: int = 10_000  # rate 0: accepted-but-uncommitted txs, all nodes together (two full blocks)
    concurrency: int | None = None  # rate 0: requests in flight per node (None: 8 for one validator, else 2)
    presign_rate: float | None = None  # rate 0: txs signed per second of duration (None: from the limit)
    drain: float = 30.0
    limit_seconds: float = 1.0
    sample: int = 200
    keep: bool = False  # keep the temp dir (node homes and logs)
    ready_timeout: float = 60.0

    @classmethod
    def smoke_defaults(cls, **overrides) -> "BenchConfig":
        base = dict(
            accounts=200, duration=3.0, rate=400.0, smoke=True, block_interval_ms=50, drain=20.0, limit_seconds=0.3, sample=50
        )
        base.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**base)


def code_version() -> str | None:
    """``<commit>`` or ``<commit>+dirty`` of the source tree the nodes run, when it is a git work tree."""
    try:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, timeout=10)
        return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def _load_spec(cfg: BenchConfig, urls: list[str], limit: float) -> LoadSpec:
    n = len(urls)
    if cfg.rate > 0:
        batch = cfg.batch or max(1, min(500, int(cfg.rate / 50)))
        txs = int(cfg.rate * cfg.duration) + batch * n
    else:
        batch = cfg.batch or 500
        per_s = cfg.presign_rate or min(limit, 15_000.0)
        txs = int(per_s * cfg.duration)
    return LoadSpec(
        chain_id=CHAIN_ID,
        rpc_urls=urls,
        accounts=cfg.accounts,
        duration_s=cfg.duration,
        rate=cfg.rate,
        txs=max(txs, n),
        batch=batch,
        window=cfg.window,
        # one validator has the machine's cores to itself: keep it fed; several
        # nodes on one machine choke on a deeper queue (measured: 2,937 -> 2,520 tx/s at 4)
        concurrency=cfg.concurrency or (8 if cfg.validators == 1 else 2),
        drain_s=cfg.drain,
        sample=cfg.sample,
        signers=max(1, min(4, os.cpu_count() or 1)),
    )


def _tell(probe: subprocess.Popen | None, line: str) -> None:
    """Send the probe ``go`` or ``stop`` (a probe that died is simply not heard from)."""
    if probe is None or probe.poll() is not None:
        return
    try:
        probe.stdin.write(line + "\n")
        probe.stdin.flush()
    except OSError:
        pass


def _probe_result(probe: subprocess.Popen | None) -> dict:
    """The probe's one JSON line, or {} if it has nothing to say."""
    if probe is None:
        return {}
    try:
        out, _ = probe.communicate(timeout=10)
        return json.loads(out.strip().splitlines()[-1])
    except (subprocess.TimeoutExpired, ValueError, IndexError, OSError):
        probe.kill()
        return {}


def run_bench(cfg: BenchConfig, on_event: Callable[..., None] = lambda *a, **k: None, stop: threading.Event | None = None) -> dict:
    """Run one benchmark; returns the raw measurements (see :func:`.report.build_result`).

    Args:
        cfg: what to run.
        on_event: ``on_event(kind, **info)`` for progress: ``phase`` (name),
            ``presign`` (done, total), ``tick`` (elapsed, duration, sent,
            accepted, committed, outstanding).
        stop: set it to abort the run (processes are still stopped cleanly).

    Raises:
        BenchError: a node died or never became ready, or the load generator failed.
    """
    stop = stop or threading.Event()
    phases: dict[str, float] = {}
    last_phase = ["", time.monotonic()]

    def emit(kind: str, **info) -> None:
        """Pass an event on to the caller, timing each phase on the way."""
        if kind == "phase":
            now = time.monotonic()
            if last_phase[0]:
                phases[last_phase[0]] = round(phases.get(last_phase[0], 0.0) + now - last_phase[1], 3)
            last_phase[:] = [info["name"], now]
        on_event(kind, **info)

    if cfg.validators < 1:
        raise BenchError("validators must be >= 1")
    if cfg.accounts < cfg.validators:
        raise BenchError("need at least one account per validator")
    emit("phase", name="limit")
    machine = machine_info()
    verify_rates = [ed25519_verify_rate(cfg.limit_seconds)]
    limit = limit_tx_per_s(verify_rates[0], machine["cores"], cfg.validators)

    tmp = Path(tempfile.mkdtemp(prefix="settle-bench-"))
    net = LocalNetwork(
        tmp / "devnet",
        cfg.validators,
        cfg.accounts,
        chain_id=CHAIN_ID,
        block_interval_ms=cfg.block_interval_ms,
        empty_interval_ms=1000 if cfg.smoke else None,
    )
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    go, lg_stop = ctx.Event(), ctx.Event()
    lg: mp.Process | None = None
    probe: subprocess.Popen | None = None
    probe_result: dict = {}
    sampler: ProcSampler | None = None
    load: dict | None = None
    error: str | None = None
    keep_logs = False
    try:
        emit("phase", name="network")
        net.create()
        net.start()
        spec = _load_spec(cfg, net.rpc_urls, limit)
        lg = ctx.Process(target=run_loadgen, args=(asdict(spec), q, go, lg_stop), name="settle-bench-loadgen")
        lg.start()
        net.wait_ready(cfg.ready_timeout, stop)
        emit("phase", name="presign")
        probe = subprocess.Popen(
            [sys.executable, "-m", "bench.probe"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT
        )
        sampler = ProcSampler(
            {**{f"node{i}": pid for i, pid in enumerate(net.pids)}, "loadgen": lg.pid, "harness": os.getpid(), "probe": probe.pid}
        )
        sampler.start()
        while load is None and error is None:
            if stop.is_set():
                raise BenchError("stopped")
            net.check_alive()
            try:
                msg = q.get(timeout=0.2)
            except queue_mod.Empty:
                if not lg.is_alive():
                    raise BenchError(f"the load generator exited with code {lg.exitcode}") from None
                continue
            kind = msg[0]
            if kind == "presign":
                emit("presign", done=msg[1], total=msg[2])
            elif kind == "ready":
                go.set()
            elif kind == "load":
                _tell(probe, "go")
                emit("phase", name="load")
            elif kind == "tick":
                emit("tick", elapsed=msg[1], duration=cfg.duration, sent=msg[2], accepted=msg[3], committed=msg[4], outstanding=msg[5])
            elif kind == "drain":
                _tell(probe, "stop")
                emit("phase", name="drain")
            elif kind == "verify":
                emit("phase", name="verify")
            elif kind == "done":
                load = msg[1]
            elif kind == "error":
                error = msg[1]
        if error is not None:
            raise BenchError(f"load generator failed:\n{error}")
        assert load is not None
        probe_result = _probe_result(probe)
        sampler.halt()
        net.check_alive()
        emit("phase", name="agreement")
        agreement = check_agreement(net.rpc_urls)
        exit_codes = net.stop()
        keep_logs = not (load["committed_exactly_once"] and agreement["all_nodes_agree"])
        # Again with the nodes stopped; the best of both is the machine's limit.
        emit("phase", name="limit")
        verify_rates.append(ed25519_verify_rate(cfg.limit_seconds))
        verify_rate = max(verify_rates)
        limit = limit_tx_per_s(verify_rate, machine["cores"], cfg.validators)
        emit("phase", name="done")
        t0, t1 = load["load_started_monotonic"], load["load_ended_monotonic"]
        nodes = []
        for i, url in enumerate(net.rpc_urls):
            nodes.append({"name": f"node{i}", "rpc": url, "pid": net.pids[i], **sampler.window(f"node{i}", t0, t1)})
        loadgen_proc = sampler.window("loadgen", t0, t1)
        ours = [n["cpu_percent"] for n in nodes] + [
            loadgen_proc["cpu_percent"],
            sampler.window("harness", t0, t1)["cpu_percent"],
            sampler.window("probe", t0, t1)["cpu_percent"] or 0.0,
        ]
        busy = sampler.window("machine", t0, t1)["cpu_percent"]
        foreign = None if busy is None or None in ours else round(max(0.0, busy - sum(ours)), 1)
        try:
            loadavg = [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
        except (OSError, ValueError):
            loadavg = None
        return {
            "config": asdict(cfg),
            "machine": machine,
            "code": code_version(),
            "ed25519_verify_per_s_core": verify_rate,
            "ed25519_verify_rounds": [round(v) for v in verify_rates],
            "limit_tx_per_s": limit,
            "verify_us_during_load": probe_result.get("us_per_verify"),
            "verify_samples_during_load": probe_result.get("samples"),
            "load": load,
            "nodes": nodes,
            "loadgen": loadgen_proc,
            "machine_busy_percent": busy,
            "foreign_cpu_percent": foreign,
            "loadavg_after": loadavg,
            "agreement": agreement,
            "workdir": str(tmp) if cfg.keep or keep_logs else None,  # a failed check keeps the node logs here
            "phase_seconds": phases,
            "node_exit_codes": exit_codes,  # 0 or -15 (SIGTERM): stopped cleanly
        }
    except BenchError as exc:
        error = error or str(exc)
        keep_logs = True
        raise BenchError(f"{exc} (node logs in {tmp})") from None
    finally:
        if sampler is not None and sampler.is_alive():
            sampler.halt()
        lg_stop.set()
        if probe is not None and probe.poll() is None:
            probe.kill()
            probe.wait(5)
        if lg is not None:
            lg.join(10)
            if lg.is_alive():
                lg.kill()
                lg.join(5)
        codes = net.stop()
        q.close()
        q.cancel_join_thread()
        if not cfg.keep and not keep_logs:
            shutil.rmtree(tmp, ignore_errors=True)
        elif not cfg.keep:
            # A failed run keeps its node logs and nothing else.
            for i, home in enumerate(net.homes):
                try:
                    shutil.copy(home / "node.log", tmp / f"node{i}.log")
                except OSError:
                    pass
            shutil.rmtree(tmp / "devnet", ignore_errors=True)
        emit("phase", name="stopped", exit_codes=codes)
