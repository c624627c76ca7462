"""Portfolio margin end to end on a real devnet: four validator processes on 127.0.0.1, driven by the `settle` CLI.

An admin lists a perpetual market and a call on it (three of its four oracles
price it and report a vol); alice buys 3 lots of the perpetual from bob (the
perpetual set-up needs no CLI here), asks `settle pm whatif` what selling a
call against them would cost, switches to portfolio mode with `settle pm
mode`, sells the call through another node, and `settle pm scenarios` shows
the 16-scenario table with its binding scenario and an IMR below standard
mode's -- the numbers the node's margin checks use (`account_margin`).  Bad
input is one error line; every node ends with the same state root.
"""
from __future__ import annotations

import json

from ledger.keys import format_address
from ledger.txkinds_risk import ANY_TAKER, MarginDeposit, Order, PriceReport, RegisterMarket, Trade, sign_order
from settlement.risk.markets import default_params
from tests.nodeproc import run_cli
from tests.options.test_options_e2e import ORACLES, _key, _send, devnet  # noqa: F401 (devnet: the 4-node fixture)

U = "BTC-PERP"
SPOT = 100_000_000
STRIKE = 105_000_000
LOTS = 3
DAY_MS = 86_400_000


def _json(root, *args):
    return json.loads(run_cli(*args, "--json", home=root, check=True).stdout)


def _same_block(node, addr: str) -> None:
    """Asserts that ``pm_scenarios`` and ``account_margin`` agree on IMR and MMR, read at one height (marks move every block)."""
    for _ in range(50):
        h = node.client.call("status")["height"]
        acc = node.client.call("pm_scenarios", {"address": addr})["accounts"][0]
        margin = node.client.call("account_margin", {"address": addr})["accounts"][0]
        if node.client.call("status")["height"] == h:
            assert (margin["imr"], margin["mmr"]) == (acc["imr"], acc["mmr"]) and acc["imr"] < acc["standard"]["imr"]
            return
    raise AssertionError("a block was committed between every pair of reads")


def test_a_covered_call_in_portfolio_mode_shows_its_scenarios_and_needs_less_than_standard(devnet, tmp_path):
    root, nodes = devnet
    n0 = nodes[0]
    _send(root, n0, "admin", RegisterMarket(U, "BTC", "USD", default_params("large", oracle_fresh_ms=600_000),
                                            tuple(_key(root, o).address for o in ORACLES)))
    for o in ORACLES[:3]:
        _send(root, n0, o, PriceReport(U, SPOT))
    for who in ("alice", "bob"):
        _send(root, n0, who, MarginDeposit("USD", 10**11))
    st = n0.client.call("status")
    order = Order(U, "sell", LOTS, SPOT, st["height"] + 200, 1, ANY_TAKER)  # bob sells 3 lots, alice takes them
    _send(root, n0, "alice", Trade(sign_order(_key(root, "bob"), st["chain_id"], order), LOTS))

    run_cli("options", "params", "--from", "admin", "--underlying", U, "--wait", home=root, check=True)
    expiry = n0.client.call("status")["latest_block_time_ms"] + 30 * DAY_MS
    run_cli("options", "list-series", "--from", "admin", "--underlying", U, "--kind", "call", "--strike", str(STRIKE),
            "--expiry", str(expiry), "--contract-lots", str(LOTS), "--wait", home=root, check=True)
    for o in ORACLES[:3]:
        run_cli("options", "vol-report", "--from", o, "--underlying", U, f"{expiry}:{STRIKE}:60%", "--wait", home=root, check=True)
    sid = f"{U}-{expiry}-{STRIKE}-C"
    mark = _json(root, "options", "series", sid)["mark"]
    assert mark > 0

    sell = ("--series", sid, "--side", "sell", "--size", "1", "--price", str(mark))
    w = _json(root, "pm", "whatif", "alice", *sell)
    assert w["before"]["mode"] == "standard" and w["change"]["imr"] > 0 and w["accepted"]
    text = run_cli("pm", "whatif", "alice", *sell, home=root, check=True).stdout
    assert "IMR after" in text and "standard" in text

    run_cli("pm", "mode", "portfolio", "--from", "alice", "--wait", home=root, check=True)
    w = _json(root, "pm", "whatif", "alice", *sell)
    after = w["after"]["accounts"][0]
    assert w["after"]["mode"] == "portfolio" and after["imr"] < after["standard"]["imr"] and w["change"]["imr"] < 0

    path = tmp_path / "call.json"
    run_cli("options", "order", "--from", "bob", "--series", sid, "--side", "buy", "--size", "1", "--price", str(mark),
            "--expires-in", "200", "--nonce", "7", "--out", str(path), home=root, check=True)
    res = _json(root, "options", "trade", str(path), "--from", "alice", "--rpc", nodes[2].rpc_url, "--wait")
    assert res["receipt"]["ok"], res
    n0.wait_height(res["height"])

    view = _json(root, "pm", "scenarios", "alice")
    (acc,) = view["accounts"]
    (u,) = acc["underlyings"]
    assert view["mode"] == "portfolio" and [p["instrument"] for p in u["positions"]] == [U, sid]
    assert len(u["scenarios"]) == 16 and u["binding"] in {r["scenario"] for r in u["scenarios"]} | {"short_option_min"}
    assert acc["imr"] == u["requirement"] > 0 and acc["imr"] < acc["standard"]["imr"]
    _same_block(n0, format_address(_key(root, "alice").address))  # the node's own margin figures are the portfolio ones
    table = run_cli("pm", "scenarios", "alice", home=root, check=True).stdout
    assert "portfolio margin" in table and "scenario P&L" in table and "<-" in table

    bad = run_cli("pm", "whatif", "alice", "--market", "ETH-PERP", "--side", "buy", "--size", "1", "--price", "1", home=root, check=False)
    assert bad.returncode == 1 and len(bad.stderr.strip().splitlines()) == 1 and "not listed" in bad.stderr
    assert _json(root, "collateral", "list") == []

    h = n0.client.call("status")["height"]
    for n in nodes:
        n.wait_height(h)
    assert len({n.client.call("block", {"height": h})["header"]["state_root"] for n in nodes}) == 1
