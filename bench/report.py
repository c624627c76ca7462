"""Turning a run's raw measurements into the result object, a table and a plot.

Owns the names and units of the published figures (``result.json`` and
``settle bench --json`` print the same object), the one-screen summary table,
and the PNG (throughput, finality latency and node CPU over time).  matplotlib
is optional (the ``bench`` extra): without it the plot is skipped and said so.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

__all__ = ["build_result", "print_summary", "write_outputs"]

FOREIGN_WARN_PERCENT = 20.0  # CPU used by processes outside the run above which figures are suspect



def steady_state(nodes: list[dict], mempool_series: list, load_s: float) -> dict:
    """Leak signs over a long run: RSS growth after warm-up, mempool first vs second half.

    RSS is compared from the first sample after 10% of the load (caches and
    the account set warm up first) to the last, and from the middle of the
    load to the last; the mempool's largest size in the second half of the
    load should not exceed the first half's by much.
    """
    rss_from, rss_to, growth, late = [], [], [], []
    for n in nodes:
        pts = [p for p in n.get("series") or [] if p["t"] <= load_s]
        warm = [p for p in pts if p["t"] >= 0.1 * load_s]
        if not warm:
            rss_from.append(None), rss_to.append(None), growth.append(None), late.append(None)
            continue
        a, b = warm[0]["rss_mb"], warm[-1]["rss_mb"]
        mid = next((p["rss_mb"] for p in warm if p["t"] >= 0.5 * load_s), b)
        rss_from.append(a), rss_to.append(b), growth.append(round(100 * (b - a) / a, 1) if a else None)
        late.append(round(100 * (b - mid) / mid, 1) if mid else None)
    half = load_s / 2
    first = [max(sizes) for t, sizes in mempool_series if t <= half]
    second = [max(sizes) for t, sizes in mempool_series if half < t <= load_s]
    return {
        "rss_mb_after_warmup": rss_from,
        "rss_mb_end": rss_to,
        "rss_growth_pct": growth,
        "rss_growth_second_half_pct": late,  # caches and the memtable fill for minutes: the leak signal
        "mempool_max_first_half": max(first) if first else None,
        "mempool_max_second_half": max(second) if second else None,
        "mempool_samples": len(mempool_series),
    }

def _r(x, nd=1):
    return None if x is None else round(x, nd)


def _load_speed(raw: dict, tps: float) -> dict:
    """libsodium during the load (:mod:`.probe`) against the limit's idle rounds.

    ``machine_speed_during_load`` is the limit's cost per verification over
    the probe's (1.0: as fast as when the limit was measured); the ratio at
    that speed is what ``ratio_to_limit`` would be had the limit been
    measured while the load ran.  Diagnostics: the headline ratio stays the
    one against the idle limit.
    """
    us = raw.get("verify_us_during_load")
    rate = raw["ed25519_verify_per_s_core"]
    if not us or not rate:
        return {"verify_us_during_load": None, "machine_speed_during_load": None, "ratio_to_limit_at_load_speed": None}
    speed = (1e6 / rate) / us
    limit = raw["limit_tx_per_s"]
    return {
        "verify_us_during_load": us,
        "verify_samples_during_load": raw.get("verify_samples_during_load"),
        "machine_speed_during_load": round(speed, 3),
        "ratio_to_limit_at_load_speed": round(tps / (limit * speed), 4) if limit else None,
    }


def build_result(raw: dict) -> dict:
    """The flat result: the issue's headline keys first, details after."""
    load = raw["load"]
    cfg = raw["config"]
    limit = raw["limit_tx_per_s"]
    tps = load["tx_per_s"]
    fin = load["finality_ms"]
    agree = raw["agreement"]
    m = raw["machine"]
    return {
        "validators": cfg["validators"],
        "accounts": cfg["accounts"],
        "mode": "max" if not cfg["rate"] else "rate",
        "offered_rate": cfg["rate"] or None,
        "duration_s": cfg["duration"],
        "tx_per_s": _r(tps),
        "limit_tx_per_s": _r(limit),
        "ratio_to_limit": round(tps / limit, 4) if limit else None,
        "finality_p50_ms": _r(fin["p50"]),
        "finality_p90_ms": _r(fin["p90"]),
        "finality_p99_ms": _r(fin["p99"]),
        "finality_mean_ms": _r(fin["mean"]),
        "finality_max_ms": _r(fin["max"]),
        "finality_samples": fin["count"],
        "submitted": load["submitted"],
        "accepted": load["accepted"],
        "committed": load["committed"],
        "committed_exactly_once": load["committed_exactly_once"],
        "all_nodes_agree": agree["all_nodes_agree"],
        "cores": m["cores"],
        "cpu_model": m["cpu_model"],
        "machine": m,
        "code": raw.get("code"),
        "ed25519_verify_per_s_core": _r(raw["ed25519_verify_per_s_core"]),
        "ed25519_verify_rounds": raw.get("ed25519_verify_rounds"),
        **_load_speed(raw, tps),
        "submitted_per_s": _r(load["submitted_per_s"]),
        "load_seconds": _r(load["load_seconds"], 2),
        "span_s": _r(load["span_s"], 3),
        "blocks": load["blocks"],
        "block_time_ms": {k: _r(v) for k, v in load["block_time_ms"].items()},
        "txs_per_block": {k: _r(v) for k, v in load["txs_per_block"].items()},
        "nodes": [{k: v for k, v in n.items() if k != "series"} for n in raw["nodes"]],
        "loadgen_cpu_percent": raw["loadgen"]["cpu_percent"],
        "machine_busy_percent": raw.get("machine_busy_percent"),
        "foreign_cpu_percent": raw.get("foreign_cpu_percent"),
        "loadavg_after": raw.get("loadavg_after"),
        "checks": {
            "duplicates": load["duplicates"],
            "missing": load["missing"],
            "unexpected": load["unexpected"],
            "rejected": load["rejected"],
            "retries_mempool_full": load["retries_mempool_full"],
            "http_errors": load["http_errors"],
            "last_error": load["last_error"],
            "tx_index_sample": load["tx_index_sample"],
            "tx_index_sample_bad": load["tx_index_sample_bad"],
            "committed_by_node": load["committed_by_node"],
            "ws_drops": load["ws_drops"],
            "gap_filled_blocks": load["gap_filled_blocks"],
            "common_height": agree["common_height"],
            "heights": agree["heights"],
            "block_id": agree["block_id"],
            "state_root": agree["state_root"],
        },
        "steady_state": steady_state(raw["nodes"], load.get("mempool_series", []), load["load_seconds"]),
        "presigned": load["presigned"],
        "exhausted": load["exhausted"],
        "paced_batches_behind": load["paced_batches_behind"],
        "settings": {k: v for k, v in load["spec"].items() if k in ("batch", "window", "concurrency", "drain_s", "txs")}
        | {"block_interval_ms": cfg["block_interval_ms"]},
        "workdir": raw["workdir"],
        "phase_seconds": raw.get("phase_seconds", {}),
        "node_exit_codes": raw.get("node_exit_codes"),
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "series": load["series"],
        "node_series": {n["name"]: n["series"] for n in raw["nodes"]},
    }


def write_outputs(result: dict, out_dir: Path) -> dict:
    """Write ``result.json`` and ``bench.png``; returns the paths (plot None if skipped)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plot_path: Path | None = out_dir / "bench.png"
    try:
        _plot(result, plot_path)
    except ImportError:
        plot_path = None
    paths = {"result": str(out_dir / "result.json"), "plot": str(plot_path) if plot_path else None}
    result["files"] = paths
    (out_dir / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    return paths


def _plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = result["series"]
    t = [p["t"] for p in series]
    mid = [x + 0.5 for x in t]  # a bucket [t, t+1) is drawn at its middle
    fig, axes = plt.subplots(3, 1, figsize=(10, 9), sharex=True)
    title = (
        f"settle bench: {result['validators']} validator(s), {result['mode']}"
        f"{'' if result['mode'] == 'max' else ' ' + str(int(result['offered_rate'])) + ' tx/s offered'}"
        f" — {result['tx_per_s']} tx/s ({result['ratio_to_limit']} of limit), {result['cores']} cores {result['cpu_model']}"
    )
    fig.suptitle(title, fontsize=10)
    ax = axes[0]
    ax.plot(mid, [p["committed"] for p in series], label="committed tx/s", marker=".")
    ax.plot(mid, [p["submitted"] for p in series], label="accepted (submitted) tx/s", alpha=0.6, marker=".")
    top = max([1.0, *[p["committed"] for p in series], *[p["submitted"] for p in series]]) * 1.3
    if result["limit_tx_per_s"] <= 3 * top:
        ax.axhline(result["limit_tx_per_s"], color="red", linestyle="--", linewidth=0.8, label="machine limit")
        top = max(top, result["limit_tx_per_s"] * 1.1)
    ax.set_ylabel("tx/s")
    ax.set_ylim(bottom=0, top=top)
    ax.legend(loc="upper right", fontsize=8)
    ax = axes[1]
    lt = [p["t"] + 0.5 for p in series if p["p50_ms"] is not None]
    ax.plot(lt, [p["p50_ms"] for p in series if p["p50_ms"] is not None], label="finality p50", marker=".")
    ax.plot(lt, [p["p99_ms"] for p in series if p["p99_ms"] is not None], label="finality p99", marker=".")
    ax.set_ylabel("ms")
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper right", fontsize=8)
    ax = axes[2]
    for name, pts in result.get("node_series", {}).items():
        ax.plot([p["t"] for p in pts], [p["cpu_percent"] for p in pts], label=f"{name} CPU%")
    ax.set_ylabel("CPU % (100 = 1 core)")
    ax.set_xlabel("seconds since the load started")
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _speed_rows(result: dict) -> list[tuple[str, str]]:
    speed = result.get("machine_speed_during_load")
    if speed is None:
        return []
    idle_us = round(1e6 / result["ed25519_verify_per_s_core"], 1)
    return [
        (
            "machine speed during load",
            f"{speed}  (libsodium {result['verify_us_during_load']} us per verification, {idle_us} us in the limit's rounds);"
            f" ratio at that speed {result['ratio_to_limit_at_load_speed']}",
        )
    ]


def print_summary(result: dict, console: Console | None = None) -> None:
    console = console or Console()
    ok = result["committed_exactly_once"] and result["all_nodes_agree"]
    t = Table(title=f"settle bench — {result['validators']} validator(s), {result['cores']} cores, {result['cpu_model']}", title_justify="left", show_header=False)
    t.add_column(style="bold cyan")
    t.add_column()
    mode = "open-loop max" if result["mode"] == "max" else f"{result['offered_rate']:,.0f} tx/s offered"
    bt, tb = result["block_time_ms"], result["txs_per_block"]
    rows = [
        ("load", f"{mode}, {result['load_seconds']} s, {result['accounts']:,} accounts (code {result.get('code')})"),
        ("settled tx/s", f"[bold]{result['tx_per_s']:,}[/bold]  (over {result['span_s']} s of blocks)"),
        ("machine limit", f"{result['limit_tx_per_s']:,} tx/s  ({result['ed25519_verify_per_s_core']:,} Ed25519 verify/s/core x {result['cores']} / {result['validators']})"),
        ("ratio to limit", f"[bold]{result['ratio_to_limit']}[/bold]"),
        *_speed_rows(result),
        ("finality p50 / p90 / p99", f"{result['finality_p50_ms']} / {result['finality_p90_ms']} / {result['finality_p99_ms']} ms  (max {result['finality_max_ms']})"),
        ("block time", f"mean {bt['mean']} ms, p99 {bt['p99']} ms, {result['blocks']} blocks"),
        ("txs per block", f"mean {tb['mean']}, max {tb['max']}"),
        ("submitted / accepted / committed", f"{result['submitted']:,} / {result['accepted']:,} / {result['committed']:,}"),
        ("committed exactly once", "[green]yes[/green]" if result["committed_exactly_once"] else f"[red]NO[/red] {result['checks']}"),
        ("all nodes agree", f"{'[green]yes[/green]' if result['all_nodes_agree'] else '[red]NO[/red]'} at height {result['checks']['common_height']}"),
    ]
    for n in result["nodes"]:
        rows.append((f"{n['name']} CPU / RSS", f"{n['cpu_percent']}% / {n['rss_mb_start']} -> {n['rss_mb_end']} MB (max {n['rss_mb_max']})"))
    ss = result.get("steady_state") or {}
    if ss.get("rss_growth_pct"):
        rows.append(("RSS growth after warm-up", ", ".join(f"{g}%" for g in ss["rss_growth_pct"])))
        rows.append(("RSS growth, 2nd half", ", ".join(f"{g}%" for g in ss.get("rss_growth_second_half_pct") or [])))
    if ss.get("mempool_samples"):
        rows.append(("mempool max, 1st / 2nd half", f"{ss['mempool_max_first_half']} / {ss['mempool_max_second_half']}"))
    rows.append(("load generator CPU", f"{result['loadgen_cpu_percent']}%"))
    foreign = result.get("foreign_cpu_percent")
    if foreign is not None:
        warn = foreign > FOREIGN_WARN_PERCENT
        rows.append(
            ("other processes' CPU", f"{'[yellow]' if warn else ''}{foreign}% of {100 * result['cores']}%{' — the machine was not idle: figures are low' if warn else ''}{'[/yellow]' if warn else ''}")
        )
    if result["exhausted"]:
        rows.append(("[yellow]note[/yellow]", "ran out of pre-signed transfers before the end: raise --presign-rate"))
    files = result.get("files") or {}
    if files:
        rows.append(("files", f"{files.get('result')}  {files.get('plot') or '(no plot: pip install matplotlib)'}"))
    for k, v in rows:
        t.add_row(k, str(v))
    console.print(t)
    if not ok:
        console.print("[red]correctness check failed[/red]")
