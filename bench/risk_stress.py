"""Benchmark: the risk engine's end-of-block step with 100,000 accounts.

Owns nothing the ledger uses; a measuring script (not a test: timings depend on the machine).
Runs ``settle stress`` in-process several times and prints one JSON object with every run's
figures and the min / median / max of the breach block's liquidation step (``breach1``: 1 %
breaching in one block) and of the heaviest block's end-of-block step (``crash50``: a 50 %
crash over a day), wall clock and CPU time (the machine is shared: the wall time also counts
the other jobs; the load average is printed with each run).

    python3 -m bench.risk_stress [--accounts 100000] [--runs 3] [--scenario breach1|crash50] [--default-gc]
    python3 -m bench.risk_stress --scenario volspike --accounts 2 --option-accounts 0 --pm-accounts 10000

``--option-accounts``, ``--pm-accounts``, ``--collateral-accounts``: the options book and the
mixed book of ``settle stress`` (0 unless given).

It runs under the node's collector policy (``node/gc_policy.py``, applied by ``node/run.py``
too: the population frozen, young generations automatic, no automatic full collection), as
``settle stress`` does.  ``--default-gc`` runs with the interpreter's default instead, under
which a crash block with 10^5 records in the session's caches pays for several full collections.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import sys
import time

from bench.stress import StressConfig, run_stress
from node.gc_policy import stress_housekeeping


def default_housekeeping(first: bool) -> None:
    gc.collect()
    if first:
        gc.freeze()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--scenario", default="breach1")
    ap.add_argument("--no-verify", action="store_true")
    ap.add_argument("--default-gc", action="store_true", help="the interpreter's collector setting instead of the node's")
    ap.add_argument("--option-accounts", type=int, default=0)
    ap.add_argument("--pm-accounts", type=int, default=0)
    ap.add_argument("--collateral-accounts", type=int, default=0)
    args = ap.parse_args()
    runs = []
    for seed in range(1, args.runs + 1):
        cfg = StressConfig(accounts=args.accounts, scenario=args.scenario, verify=not args.no_verify, option_accounts=args.option_accounts,
                           pm_accounts=args.pm_accounts, collateral_accounts=args.collateral_accounts)
        if args.default_gc:
            housekeeping, restore = default_housekeeping, gc.unfreeze
        else:
            housekeeping, restore = stress_housekeeping()
        try:
            res = run_stress(cfg, random.Random(seed), time.perf_counter_ns, housekeeping=housekeeping, cpu_timer=time.process_time_ns)
        finally:
            restore()
        res.pop("per_block")
        res["load_average"] = os.getloadavg()[0]
        runs.append(res)
        print(json.dumps({k: res[k] for k in ("accounts", "breached", "liquidated_in_breach_block", "missed",
                                               "max_liquidation_step_ms", "max_end_block_ms", "max_end_block_cpu_ms",
                                               "max_liquidations_in_a_block", "bad_debt", "socialized_loss",
                                               "conservation_ok", "setup_ms", "load_average")}), file=sys.stderr)

    def spread(key: str) -> dict:
        v = [r[key] for r in runs]
        return {"min": min(v), "median": statistics.median(v), "max": max(v)}

    print(json.dumps({
        "accounts": args.accounts, "scenario": args.scenario, "runs": len(runs), "node_gc": not args.default_gc,
        "breach_block_step_ms": spread("breach_block_liquidation_step_ms"),
        "max_end_block_ms": spread("max_end_block_ms"), "max_end_block_cpu_ms": spread("max_end_block_cpu_ms"),
        "all_conserved": all(r["conservation_ok"] for r in runs), "all_handled_in_breach_block": all(r["missed"] == 0 and
            r["liquidated_in_breach_block"] >= r["breached"] for r in runs),
        "per_run": runs,
    }, indent=2))


if __name__ == "__main__":
    main()
