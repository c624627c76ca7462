"""The ``volspike`` stress replay with an options book at test size: correctness only, timings are not asserted.

Spot -30 % and implied vols x3 in one block, then the near expiry settles: the
block transition must conserve every asset and every series' contracts, leave
no breached account (perpetual or option) after the block it breached in, and
produce the same state root from the same seed.
"""
from __future__ import annotations

import json
import random
import time

from click.testing import CliRunner

from bench.stress import VOLSPIKE_CALM, StressConfig, run_stress
from cli.main import cli


def run(seed: int = 3, **kw) -> dict:
    cfg = StressConfig(scenario="volspike", **kw)
    return run_stress(cfg, random.Random(seed), time.perf_counter_ns)


def test_volspike_conserves_liquidates_in_the_block_and_settles():
    res = run(accounts=200, option_accounts=300)
    assert res["conservation_ok"] and res["option_books_ok"]
    assert res["missed"] == 0 and res["option_missed"] == 0
    assert res["option_accounts"] == 300 and res["option_series"] == 20
    rows = res["per_block"]
    spike = rows[VOLSPIKE_CALM]
    assert spike["prices"]["BTC-PERP"] < 72_000
    assert spike["option_breached"] > 0  # the spike breaches option writers ...
    assert spike["option_liquidated"] >= spike["option_breached"]  # ... and every one is handled in that block
    assert all(r["option_breached"] == 0 for r in rows[:VOLSPIKE_CALM])  # opened with margin to spare
    assert res["option_liquidation_events"] > 0
    settled = [r["height"] for r in rows if r["settlement_events"]]
    assert len(settled) == 1 and res["settlement_events"] > 0  # the near expiry settles in one block
    for key in ("bad_debt", "insurance_fund_end", "socialized_loss", "insurance_fund_equity_end"):
        assert key in res


def test_volspike_same_seed_same_root():
    a = run(accounts=100, option_accounts=200)
    b = run(accounts=100, option_accounts=200)
    assert a["state_root"] == b["state_root"]
    assert (a["option_liquidated"], a["settlement_events"]) == (b["option_liquidated"], b["settlement_events"])
    c = run(seed=4, accounts=100, option_accounts=200)
    assert c["state_root"] != a["state_root"]


def test_settle_stress_volspike_json():
    res = CliRunner().invoke(cli, ["stress", "--scenario", "volspike", "--accounts", "40", "--option-accounts", "60", "--json"],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["scenario"] == "volspike" and out["option_accounts"] == 60 and out["blocks"] == len(out["per_block"])
    assert out["conservation_ok"] and out["missed"] == 0 and out["settlement_events"] > 0
