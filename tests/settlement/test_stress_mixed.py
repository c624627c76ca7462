"""The stress replay's mixed book (``bench/stress_pm.py``) at test size: correctness only, timings are not asserted.

Perpetual, option, portfolio-mode and ETH-collateral accounts through
``allcrash`` (every price -40 % in one block), ``crash50`` and ``volspike``:
every asset conserved, no breached account left after the block it breached
in, portfolio accounts and collateral holders liquidated (the collateral sold
to the fund), and a replay without any of it keeps its recorded state root.
"""
from __future__ import annotations

import json
import random
import time

import pytest
from click.testing import CliRunner

from bench.stress import VOLSPIKE_CALM, StressConfig, run_stress
from cli.main import cli

MIXED = dict(accounts=120, option_accounts=80, pm_accounts=120, collateral_accounts=60)


def run(scenario: str, seed: int = 3, **kw) -> dict:
    return run_stress(StressConfig(scenario=scenario, **kw), random.Random(seed), time.perf_counter_ns)


def test_allcrash_liquidates_every_breach_in_its_block_and_conserves_each_asset():
    res = run("allcrash", **MIXED)
    assert res["conservation_ok"] and res["conserved_by_asset"] == {"ETH": True, "USD": True}
    assert res["missed"] == 0 and res["option_missed"] == 0 and res["option_books_ok"]
    rows = res["per_block"]
    crash = rows[VOLSPIKE_CALM]
    assert res["markets"] == ["BTC-PERP", "ETH-PERP"]  # both underlyings; ETH-PERP also prices the ETH collateral
    assert all(59_000 < crash["prices"][m] < 61_000 for m in res["markets"])  # every price -40 % in one block
    assert all(99_000 < r["prices"][m] < 101_000 for r in rows[:VOLSPIKE_CALM] for m in res["markets"])
    assert all(r["breached"] == 0 and r["pm_breached"] == 0 for r in rows[:VOLSPIKE_CALM])  # opened with margin to spare
    assert crash["pm_breached"] > 0 and crash["pm_liquidated"] >= crash["pm_breached"]
    assert crash["collateral_liquidated"] > 0 and crash["collateral_sales"] > 0
    assert res["pm_accounts"] == 120 and res["collateral_accounts"] == 60
    assert res["bad_debt"] >= 0 and "uncovered_bad_debt" in res


@pytest.mark.parametrize("scenario", ["crash50", "volspike"])
def test_the_mixed_book_through_crash50_and_volspike(scenario):
    kw = dict(MIXED, blocks=12) if scenario == "crash50" else MIXED
    res = run(scenario, **kw)
    assert res["conservation_ok"] and all(res["conserved_by_asset"].values())
    assert res["missed"] == 0 and res["option_missed"] == 0
    assert res["pm_liquidated_accounts"] > 0


def test_the_mixed_book_is_deterministic():
    kw = dict(accounts=60, option_accounts=40, pm_accounts=60, collateral_accounts=30, verify=False)
    assert run("allcrash", **kw)["state_root"] == run("allcrash", **kw)["state_root"]


def test_without_the_mixed_book_volspike_keeps_its_root():
    # recorded before the mixed book existed (commit a6e81e8; re-recorded when the state tree replaced AdHash, the
    # final state checked byte-identical): no market, asset or tx of it may appear
    res = run("volspike", accounts=200, option_accounts=300, verify=False)
    assert res["state_root"] == "6c3f925de8bad11f256ab76cee5901f4c8391650a027a422e451c7fdae2ca02e"
    assert (res["liquidated"], res["bad_debt"]) == (151, 957610823)


def test_settle_stress_allcrash_json():
    res = CliRunner().invoke(cli, ["stress", "--scenario", "allcrash", "--accounts", "40", "--option-accounts", "20", "--pm-accounts", "40",
                                   "--collateral-accounts", "20", "--json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["scenario"] == "allcrash" and out["pm_accounts"] == 40 and out["collateral_accounts"] == 20
    assert out["conservation_ok"] and out["missed"] == 0
