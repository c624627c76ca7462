"""One chaos run: network up, workload and nemesis, heal, check, report.

Owns the sequence and the result (a JSON-able dict): start a
:class:`ChaosNetwork` of real validator processes, run the clients while the
nemesis works through its seeded schedule, heal everything, measure the last
recovery, let the clients run a little longer on the healed network, stop
them, wait for the mempools to drain, check the history over RPC, stop the
nodes and audit their stores offline.  Always stops every process and
unmounts the tmpfs, even when interrupted.
"""
from __future__ import annotations

import json
import random
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ledger.keys import PrivateKey
from sdk import Client, SettleError

from .checker import check_offline, check_online
from .cluster import ChaosNetwork
from .nemesis import KINDS, Nemesis, make_schedule
from .workload import PARTICIPANTS, Workload

__all__ = ["ChaosConfig", "print_report", "run_chaos"]

LOAD_ACCOUNTS = 8


@dataclass
class ChaosConfig:
    seed: int = 1
    overlap: float = 0.0  # share of faults still active when the next one starts
    duration: float = 120.0  # seconds of faults the schedule is planned for (recoveries may make it last longer)
    validators: int = 4
    op_timeout_s: int = 8
    recovery_limit_s: float = 60.0
    quiet_s: float = 5.0  # clients keep going this long after the last heal
    block_interval_ms: int = 100
    empty_interval_ms: int = 1000
    disk_mb: int = 64
    directory: Path | None = None  # default: a temporary directory, removed unless keep (or a violation)
    keep: bool = False


def _p50(xs: list[float]) -> float | None:
    xs = sorted(xs)
    return xs[(len(xs) - 1) // 2] if xs else None


def _wait(pred, timeout: float, step: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if pred():
                return True
        except SettleError:
            pass
        time.sleep(step)
    return False


def run_chaos(cfg: ChaosConfig, log=None) -> dict:
    log = log or (lambda msg: None)
    root = Path(cfg.directory) if cfg.directory else Path(tempfile.mkdtemp(prefix=f"settle-chaos-{cfg.seed}-"))
    disk_node = random.Random(f"{cfg.seed}/disk").randrange(cfg.validators)
    net = ChaosNetwork(root / "net", cfg.validators, LOAD_ACCOUNTS, chain_id="settle-chaos", block_interval_ms=cfg.block_interval_ms,
                       empty_interval_ms=cfg.empty_interval_ms, disk_node=disk_node, disk_mb=cfg.disk_mb)
    result: dict = {"seed": cfg.seed, "duration_s": cfg.duration, "overlap": cfg.overlap, "validators": cfg.validators, "directory": str(root)}
    workload = None
    started = time.monotonic()
    try:
        net.create()
        net.start()
        net.wait_ready(60)
        log(f"network up in {root} (node{disk_node} on a {cfg.disk_mb} MB tmpfs)")
        supply = {a["symbol"]: a["supply"] for a in Client(net.rpc_urls[0]).call("assets")}
        keys = {n: PrivateKey.load(net.root / "keys" / f"{n}.json") for n in PARTICIPANTS}
        load_keys = [PrivateKey.from_name(f"load-{i}", net.chain_id) for i in range(LOAD_ACCOUNTS)]
        t0 = time.monotonic()
        workload = Workload(keys, net.chain_id, net.rpc_urls, cfg.seed, t0, op_timeout_s=cfg.op_timeout_s)
        workload.start()
        nemesis = Nemesis(net, workload, load_keys, t0, recovery_limit_s=cfg.recovery_limit_s, log=log)
        schedule = make_schedule(cfg.seed, cfg.duration, cfg.validators, disk_node, overlap=cfg.overlap)
        faults = nemesis.run(schedule)

        # heal everything (each fault healed itself; this catches nodes that died on their own)
        net.proxies.heal()
        unexpected = []
        for i in range(cfg.validators):
            net.resume(i)
            if not net.alive(i):
                unexpected.append(f"node{i} exited on its own (code {net.procs[i].returncode}): {net.last_log_line(i)}")
                net.restart(i)
        top = max((h for h in nemesis.heights() if h is not None), default=0)
        healed_at = nemesis.now()
        final_recovery = nemesis.wait_recovery(top)
        log(f"{healed_at:7.1f}s  all healed; recovery {final_recovery}s")
        time.sleep(cfg.quiet_s)
        workload.stop()
        ops = [op.as_dict() for op in workload.history.snapshot()]
        ok_after_heal = sum(1 for op in ops if op["outcome"] == "ok" and op["start"] >= healed_at)

        clients = [Client(u, timeout=5) for u in net.rpc_urls]
        drained = _wait(lambda: all(c.call("mempool")["size"] == 0 for c in clients), 60)
        target = max(c.call("status")["height"] for c in clients)
        _wait(lambda: all(c.call("status")["height"] >= target for c in clients), 60)
        log(f"checking the history ({len(ops)} ops, mempools {'drained' if drained else 'NOT drained'}, height {target})")
        checked = time.monotonic()
        online = check_online(net.rpc_urls, ops)
        log(f"history checked in {time.monotonic() - checked:.1f}s")
        for i in range(cfg.validators):
            if not net.alive(i):
                unexpected.append(f"node{i} exited on its own after the heal (code {net.procs[i].returncode}): {net.last_log_line(i)}")
        net.stop()
        net.unmount()
        offline = check_offline(net.homes, supply)

        violations = dict(online["violations"])
        violations["conservation"] = offline["violations"]
        recoveries = [f.recovery_s for f in faults if f.recovery_s is not None]
        client_ops = [op for op in ops if op["kind"] != "burst"]
        bursts = [op for op in ops if op["kind"] == "burst"]
        status = dict(zip((op["id"] for op in ops), online["committed"]))
        result.update({
            "disk_node": disk_node,
            "faults_s": round(healed_at, 1),  # from the first injection to the last heal
            "faults": {k: sum(1 for f in faults if f.kind == k and not f.detail.startswith("skipped")) for k in KINDS},
            "faults_skipped": sorted({f.kind for f in faults if f.detail.startswith("skipped")}),
            "fault_log": [f.as_dict() for f in faults],
            "ops": {k: sum(1 for op in client_ops if op["outcome"] == k) for k in ("ok", "failed", "rejected", "unknown")},
            "ops_by_kind": {kind: sum(1 for op in client_ops if op["kind"] == kind) for kind in ("transfer", "swap", "swap_retry")},
            "burst_txs": {k: sum(1 for op in bursts if op["outcome"] == k) for k in ("accepted", "rejected", "unknown")},
            "unknown_committed": sum(1 for op in client_ops if op["outcome"] == "unknown" and status[op["id"]] is not None),
            "burst_committed": sum(1 for op in bursts if status[op["id"]] is not None),
            "ok_ops_after_last_heal": ok_after_heal,
            "mempools_drained": drained,
            "heights": online["heights"],
            "common_height": online["common_height"],
            "violations": {k: len(v) for k, v in violations.items()},
            "violation_details": {k: v[:20] for k, v in violations.items() if v},
            "violations_total": sum(len(v) for v in violations.values()),
            "recovery_s": {"max": max(recoveries, default=None), "p50": _p50(recoveries), "final": final_recovery,
                           "limit": cfg.recovery_limit_s, "not_recovered": [f.kind for f in faults if f.recovery_s is None and f.healed is not None]},
            "unexpected_exits": unexpected,
            "conservation": {f"node{n['node']}": {a: r["ok"] for a, r in sorted(n["assets"].items())} for n in offline["nodes"]},
        })
        result["wall_s"] = round(time.monotonic() - started, 1)
        result["ops_history"] = ops
        return result
    finally:
        if workload is not None:
            workload.stop()
        net.stop()
        net.unmount()
        bad = result.get("violations_total", 0) or result.get("recovery_s", {}).get("not_recovered") or result.get("unexpected_exits")
        if cfg.keep or bad or "violations" not in result:
            (root / "result.json").write_text(json.dumps(result, indent=1, default=str) + "\n")
            result["kept"] = True
        elif cfg.directory is None:
            shutil.rmtree(root, ignore_errors=True)


def print_report(result: dict, console) -> None:
    """One screen: faults, ops, violations, recovery."""
    from rich.table import Table

    title = f"settle chaos  seed {result['seed']}  {result['duration_s']:.0f} s  overlap {result['overlap']}  {result['validators']} validators"
    t = Table(title=title, title_justify="left")
    t.add_column("", style="bold cyan")
    t.add_column("")
    t.add_row("faults injected", ", ".join(f"{k} {v}" for k, v in result["faults"].items() if v) + f"  (total {sum(result['faults'].values())})")
    if result["faults_skipped"]:
        t.add_row("faults skipped", ", ".join(result["faults_skipped"]))
    ops = result["ops"]
    kinds = ", ".join(f"{k} {v}" for k, v in result["ops_by_kind"].items())
    t.add_row("client ops", f"ok {ops['ok']}, failed receipt {ops['failed']}, rejected {ops['rejected']}, unknown {ops['unknown']}  ({kinds})")
    b = result["burst_txs"]
    t.add_row("burst txs", f"accepted {b['accepted']}, rejected {b['rejected']}, unknown {b['unknown']}")
    t.add_row("committed later", f"unknown client ops {result['unknown_committed']} of {ops['unknown']}, burst txs {result['burst_committed']} of {sum(b.values())}")
    t.add_row("violations", f"{result['violations_total']}  (" + ", ".join(f"{k} {v}" for k, v in result["violations"].items()) + ")")
    r = result["recovery_s"]
    t.add_row("recovery after heal", f"max {r['max']} s, p50 {r['p50']} s, after the last heal {r['final']} s (limit {r['limit']:.0f} s)")
    if r["not_recovered"]:
        t.add_row("not recovered in time", ", ".join(r["not_recovered"]))
    t.add_row("ok ops after last heal", str(result["ok_ops_after_last_heal"]))
    t.add_row("heights", " ".join(map(str, result["heights"])) + f"  (all agree up to {result['common_height']})")
    if result["unexpected_exits"]:
        t.add_row("unexpected exits", "\n".join(result["unexpected_exits"]))
    for k, lines in result["violation_details"].items():
        t.add_row(f"[red]{k}[/red]", "\n".join(lines[:5]))
    if result.get("kept"):
        t.add_row("kept", result["directory"])
    console.print(t)
