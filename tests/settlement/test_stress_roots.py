"""Recorded state roots of small stress replays: a change made for speed must reproduce them byte for byte.

The roots were computed with the code before the one-pass liquidation and ADL paths
(commit bde3458): every node must compute the same state, so a faster path that changes
any record, index entry or rounding fails here.  Correctness of the figures themselves is
``test_stress.py``'s and the state machines' job.
"""
from __future__ import annotations

import random
import time

import pytest

from bench.stress import StressConfig, run_stress

RECORDED = [
    # scenario, overrides, final state root, liquidations, ADL closes, bad debt
    ("crash50", {}, "3521d900f7229ec4fd3b20b1e23f85823fb1ea1d677bb86454e91b142d915895", 570, 310, 0),
    ("alts80", {}, "00b3ebc5133d0a8411372449f4f8f4b2bf957eac006614bcd9b8cd247ba3593d", 456, 737, 40631707),
    ("breach1", {}, "92bb665abe190e64bf01fc93e8ca36d158d57cb08e523ab5925b9bfe5844172b", 6, 0, 0),
    ("squeeze100", {}, "8b7d118021231c9541727cd46813b29c96be85eb49789847a215909f7a32282f", 481, 409, 6094686),
    ("alts80", {"fund_ppm": 0, "max_leverage": 40}, "132e8576003aebf59052dbf410361e4a4c667c38f668fed162dc6859a9379f5a",
     392, 928, 55611184),
]


@pytest.mark.parametrize(("scenario", "overrides", "root", "liquidated", "adl", "bad_debt"), RECORDED)
def test_recorded_root(scenario, overrides, root, liquidated, adl, bad_debt):
    cfg = StressConfig(accounts=600, scenario=scenario, blocks=24, verify=False, **overrides)
    res = run_stress(cfg, random.Random(5), time.perf_counter_ns)
    assert (res["liquidated"], res["adl_events"], res["bad_debt"]) == (liquidated, adl, bad_debt)
    assert res["state_root"] == root
