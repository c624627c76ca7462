"""The devnet's four oracles through a real node: a market listed with all four keeps its price with one silent."""
from __future__ import annotations

import json

from tests.nodeproc import run_cli


def cli_json(home, *args):
    return json.loads(run_cli(*args, "--json", home=home, check=True).stdout)


def test_market_with_one_silent_oracle_of_four_is_fresh(node):
    home = node.home
    oracles = ("oracle", "oracle1", "oracle2", "oracle3")
    args = [a for o in oracles for a in ("--oracle", o)]
    cli_json(home, "tx", "register-market", "--from", "admin", "--market", "ETH-PERP", "--quote", "USD", *args, "--wait")
    for o, px in (("oracle", 3_000), ("oracle1", 3_010), ("oracle2", 2_990)):  # oracle3 stays silent
        cli_json(home, "tx", "price", "--from", o, "--market", "ETH-PERP", "--price", str(px), "--wait")
    info = cli_json(home, "query", "oracle", "ETH-PERP")
    assert (info["quorum"], info["fresh_reports"], info["stale"]) == (3, 3, False)
    assert info["price"] == 3_000 and info["reference_price"] == 3_000  # lower median of 2,990, 3,000, 3,010
    assert [r["price"] for r in info["reports"]].count(None) == 1
