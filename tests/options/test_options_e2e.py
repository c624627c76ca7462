"""Options end to end on a real devnet: four validator processes on 127.0.0.1, driven only by the `settle` CLI.

An admin lists a perpetual market, enables options on it and lists a chain
whose expiry is a few seconds of block time away; three of the market's four
oracles report prices and implied vols; a maker signs an option order offline
with `settle options order`, a taker fills part of it through another node with
`settle options trade`; `settle options positions` shows the premium moved and
the marks, `settle options series` the IV and greeks; once block time passes
the expiry the positions settle at the settlement price, intrinsic value moving
from the short to the long exactly, and every node ends with the same state root.
"""
from __future__ import annotations

import json

import pytest

from tests.nodeproc import network, run_cli, tune_fast

N = 4
U = "BTC-PERP"
SPOT = 100_000_000  # quote base units per lot (100 USD)
STRIKES = (90_000_000, 100_000_000, 110_000_000)
DEPOSIT = 100_000_000_000
EXPIRY_IN_MS = 20_000  # the chain expires this long after it is listed (block time)
WINDOW_MS = 3_000  # settlement price: time-weighted over the last 3 s before expiry
ORACLES = ("oracle", "oracle1", "oracle2", "oracle3")


@pytest.fixture
def devnet(tmp_path):
    root = tmp_path / "net"
    nodes = network(root, N, "settle-options", tune=lambda home: tune_fast(home, empty_interval_ms=500))
    for node in nodes:
        node.start(wait=False)
    for node in nodes:
        node.wait_ready()
    yield root, nodes
    for node in nodes:
        node.stop()


def _cli(root, *args, check=True):
    return run_cli(*args, home=root, check=check)


def _json(root, *args):
    return json.loads(_cli(root, *args, "--json").stdout)


def _block_time(node) -> int:
    return node.client.call("status")["latest_block_time_ms"]


def _cash(root, who) -> int:
    return _json(root, "query", "margin", who)["accounts"][0]["cash"]


def test_list_report_sign_trade_query_and_settle_options_on_four_nodes(devnet, tmp_path):
    root, nodes = devnet
    oracle_args = [a for o in ORACLES for a in ("--oracle", o)]
    _cli(root, "tx", "register-market", "--from", "admin", "--market", U, "--quote", "USD", *oracle_args,
         "--param", "oracle_fresh_ms=600000", "--wait")
    for o in ORACLES[:3]:  # oracle3 stays silent: 3 of 4 is the quorum
        _cli(root, "tx", "price", "--from", o, "--market", U, "--price", str(SPOT), "--wait")
    for who in ("alice", "bob"):
        _cli(root, "tx", "deposit", "--from", who, "--asset", "USD", "--amount", str(DEPOSIT), "--wait")
    _cli(root, "options", "params", "--from", "admin", "--underlying", U, "--param", f"settlement_window_ms={WINDOW_MS}", "--wait")
    assert _json(root, "options", "surface", U)["params"]["settlement_window_ms"] == WINDOW_MS

    expiry = _block_time(nodes[0]) + EXPIRY_IN_MS
    strike_args = [a for k in STRIKES for a in ("--strike", str(k))]
    _cli(root, "options", "list-chain", "--from", "admin", "--underlying", U, *strike_args, "--expiry", str(expiry), "--wait")
    for o, vols in (("oracle", (85, 80, 75)), ("oracle1", (86, 81, 76)), ("oracle2", (84, 79, 74))):
        points = [f"{expiry}:{k}:{v}%" for k, v in zip(STRIKES, vols)]
        _cli(root, "options", "vol-report", "--from", o, "--underlying", U, *points, "--wait")

    listed = _json(root, "options", "series-list", "--underlying", U)
    assert len(listed) == 2 * len(STRIKES)
    sid = f"{U}-{expiry}-{STRIKES[1]}-C"
    atm = next(s for s in listed if s["series"] == sid)
    assert (atm["kind"], atm["strike"], atm["expiry_ms"], atm["settled"]) == ("call", STRIKES[1], expiry, False)
    assert atm["iv_ppm"] == 800_000  # the lower median of 79 %, 80 %, 81 % at the listed point
    mark = atm["mark"]
    assert 0 < mark < SPOT
    surface = _json(root, "options", "surface", U)
    assert surface["fresh_reports"] == 3 and [r["points"] for r in surface["reports"]].count(None) == 1

    order_path = tmp_path / "order.json"
    _cli(root, "options", "order", "--from", "alice", "--series", sid, "--side", "sell", "--size", "10", "--price", str(mark),
         "--expires-in", "200", "--nonce", "11", "--out", str(order_path))
    assert json.loads(order_path.read_text())["order"]["series"] == sid
    alice_cash, bob_cash = _cash(root, "alice"), _cash(root, "bob")
    res = _json(root, "options", "trade", str(order_path), "--from", "bob", "--size", "4", "--rpc", nodes[2].rpc_url, "--wait")
    assert res["receipt"]["ok"]
    premium = 4 * mark
    assert (_cash(root, "alice") - alice_cash, _cash(root, "bob") - bob_cash) == (premium, -premium)

    bob = _json(root, "options", "positions", "bob")["accounts"][0]
    (pos,) = bob["positions"]
    assert (pos["series"], pos["size"], pos["premium_paid"]) == (sid, 4, premium)
    assert 0 < 4 * pos["mark"] <= pos["mark_value"] < 4 * pos["mark"] + 4  # floor(4 x mark6 / 10^6): a long's value rounds down
    assert pos["greeks"]["delta"] > 0 and bob["equity"] >= bob["cash"]
    alice = _json(root, "options", "positions", "alice")["accounts"][0]
    assert alice["positions"][0]["size"] == -4 and alice["positions"][0]["premium_paid"] == -premium
    assert alice["imr"] > 0 and alice["mmr"] > 0 and not alice["breached"]

    info = _json(root, "options", "series", sid)
    assert info["open_interest"] == 4 and info["iv_ppm"] > 0
    assert info["greeks"]["delta"] > 0 and info["greeks"]["gamma"] > 0 and info["greeks"]["vega"] > 0
    assert 0 < info["time_to_expiry_ms"] <= EXPIRY_IN_MS
    table = _cli(root, "options", "series", sid).stdout
    assert sid in table and "iv_ppm" in table
    missing = _cli(root, "options", "series", f"{U}-1-1-C", check=False)
    assert missing.returncode == 1 and len(missing.stderr.strip().splitlines()) == 1 and "not listed" in missing.stderr

    for o in ORACLES[:3]:  # the underlying rises before the settlement window opens
        _cli(root, "tx", "price", "--from", o, "--market", U, "--price", str(SPOT + 4_000_000))
    st = nodes[0].wait_status("latest_block_time_ms", expiry + 1_000, timeout=60)
    settled = _json(root, "options", "series", sid)
    assert settled["settled"] and SPOT <= settled["settle_price"] <= SPOT + 4_000_000
    payout = 4 * max(settled["settle_price"] - STRIKES[1], 0)
    assert _cash(root, "bob") - bob_cash == payout - premium
    assert _cash(root, "alice") - alice_cash == premium - payout
    assert _json(root, "options", "positions", "bob")["accounts"] == []
    assert _json(root, "options", "series-list", "--underlying", U) == []

    h = st["height"]
    for n in nodes:
        n.wait_height(h)
    roots = {n.client.call("block", {"height": h})["header"]["state_root"] for n in nodes}
    assert len(roots) == 1
