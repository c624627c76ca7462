"""Benchmark: the options engine's margin and end-of-block figures (issue 16's targets).

Owns nothing the ledger uses; a measuring script, not a test (timings depend on the machine).
Prints one JSON object:

* ``margin_50``: ``margin.evaluate`` of an account holding 50 option positions (a writer
  short every series of a 5-expiry x 5-strike chain, calls and puts), per call, from a fresh
  risk session (the records read from state, as a trade's margin check reads them) and from a
  warm one; target <= 2 ms;
* ``volspike``: ``settle stress --scenario volspike`` over ``--option-accounts`` accounts
  (10,000 by default) beside ``--accounts`` perpetual accounts: the heaviest block's
  end-of-block step, wall clock and CPU time, per run; target <= 500 ms.

    python3 -m bench.options_bench [--option-accounts 10000] [--accounts 2000] [--runs 3] [--repeat 500]

It runs under the node's collector policy, as ``settle stress`` does.  The machine is shared:
the load average is printed with each figure.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time

from bench.stress import ASSET, CHAIN_ID, StressConfig, build, run_stress
from node.gc_policy import stress_housekeeping
from settlement.context import BlockContext
from settlement.risk.margin import evaluate
from settlement.risk.records import Session
from settlement.state import State


def spread(values: list[float]) -> dict:
    return {"min": round(min(values), 4), "median": round(statistics.median(values), 4), "max": round(max(values), 4)}


def margin_50(repeat: int) -> dict:
    """Per-call time of ``evaluate`` for the writer of a pair holding all 50 series of the chain."""
    cfg = StressConfig(accounts=0, scenario="volspike", option_accounts=2, option_expiries=5, option_series_min=50,
                       option_series_max=50, verify=False)
    sim, _, _ = build(cfg, random.Random(1), time.perf_counter_ns)
    writer = sim.book.addrs[0]
    ctx = BlockContext(CHAIN_ID, sim.height, sim.time_ms)
    state = State(sim.view)
    held = len(Session(state, ctx).macc(writer, ASSET).series)
    cold, warm = [], []
    ev = None
    for _ in range(repeat):
        sess = Session(state, ctx)
        t0 = time.perf_counter_ns()
        ev = evaluate(sess, writer, ASSET)
        t1 = time.perf_counter_ns()
        evaluate(sess, writer, ASSET)
        t2 = time.perf_counter_ns()
        cold.append((t1 - t0) / 1e6)
        warm.append((t2 - t1) / 1e6)
    return {"positions": held, "repeat": repeat, "fresh_session_ms": spread(cold), "warm_session_ms": spread(warm),
            "equity": ev.equity, "imr": ev.imr, "mmr": ev.mmr, "load_average": os.getloadavg()[0]}


def volspike(accounts: int, option_accounts: int, seed: int) -> dict:
    housekeeping, restore = stress_housekeeping()
    try:
        res = run_stress(StressConfig(accounts=accounts, scenario="volspike", option_accounts=option_accounts), random.Random(seed),
                         time.perf_counter_ns, housekeeping=housekeeping, cpu_timer=time.process_time_ns)
    finally:
        restore()
    rows = res.pop("per_block")
    res["per_block_end_block_cpu_ms"] = [r["end_block_cpu_ms"] for r in rows]
    res["load_average"] = os.getloadavg()[0]
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--option-accounts", type=int, default=10_000)
    ap.add_argument("--accounts", type=int, default=2_000, help="perpetual accounts beside the options book")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=500, help="margin evaluations timed")
    args = ap.parse_args()
    margin = margin_50(args.repeat)
    print(json.dumps({"margin_50": margin}), file=sys.stderr)
    runs = []
    for seed in range(1, args.runs + 1):
        r = volspike(args.accounts, args.option_accounts, seed)
        print(json.dumps({k: r[k] for k in ("option_accounts", "option_breached", "option_liquidated", "settlement_events", "missed",
                                             "max_end_block_ms", "max_end_block_cpu_ms", "bad_debt", "socialized_loss",
                                             "conservation_ok", "setup_ms", "load_average")}), file=sys.stderr)
        runs.append(r)
    print(json.dumps({
        "margin_50": margin,
        "volspike": {"accounts": args.accounts, "option_accounts": args.option_accounts, "runs": len(runs),
                     "max_end_block_ms": spread([r["max_end_block_ms"] for r in runs]),
                     "max_end_block_cpu_ms": spread([r["max_end_block_cpu_ms"] for r in runs]),
                     "all_conserved": all(r["conservation_ok"] for r in runs), "all_missed_zero": all(r["missed"] == 0 for r in runs),
                     "per_run": runs},
    }, indent=2))


if __name__ == "__main__":
    main()
