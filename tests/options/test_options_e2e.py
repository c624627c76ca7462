"""Options end to end on a real devnet: four validator processes on 127.0.0.1, the options driven by the `settle` CLI.

An admin lists a perpetual market (three of its four oracles price it), enables
options on it and lists a chain a day out; the oracles report implied vols; a
maker signs an option order offline with `settle options order` and a taker
fills part of it through another node with `settle options trade`;
`settle options positions` shows the premium moved and the marks, `settle
options series` the IV and greeks, `settle options surface` the lower medians.
Then a series expiring a few seconds of block time later is listed and traded;
once block time passes its expiry the positions settle at the settlement price,
intrinsic value moving from the short to the long exactly (the block's events
say so), the rest of the order is refused, and every node ends with the same
state root.  (The short-lived series is listed last, so that no
query races its expiry on a loaded machine.)
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ledger.keys import PrivateKey, format_address
from ledger.tx import sign_tx
from ledger.txkinds_risk import MarginDeposit, PriceReport, RegisterMarket
from settlement.risk.markets import default_params
from tests.nodeproc import ROOT, network, run_cli, tune_fast

N = 4
U = "BTC-PERP"
SPOT = 100_000_000  # quote base units per lot (100 USD)
STRIKES = (90_000_000, 100_000_000, 110_000_000)
DEPOSIT = 100_000_000_000
DAY_MS = 86_400_000
SHORT_EXPIRY_MS = 10_000  # the short-lived series expires this long (block time) after it is listed
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


def _cli_together(root, *commands):
    """Run the CLI ``commands`` at the same time (each its own process); every one must succeed."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "SETTLE_HOME": str(root)}
    procs = [subprocess.Popen([sys.executable, "-m", "cli", *c], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for c in commands]
    for c, p in zip(commands, procs):
        out, err = p.communicate(timeout=90)
        assert p.returncode == 0, f"settle {' '.join(c)} failed ({p.returncode}):\n{out}\n{err}"


def _key(root, who) -> PrivateKey:
    return PrivateKey.load(root / "keys" / f"{who}.json")


def _send(root, node, who, body) -> dict:
    """``body`` signed by ``who`` and committed through ``node``'s RPC (the perpetual set-up needs no CLI here)."""
    key = _key(root, who)
    st = node.client.call("status")
    nonce = node.client.call("account", {"address": format_address(key.address)})["next_nonce"]
    res = node.client.call("broadcast_tx", {"tx": sign_tx(key, st["chain_id"], nonce, body).raw.hex(), "mode": "commit"}, timeout=90)
    assert res["receipt"]["ok"], res
    return res


def _cash(root, node, who) -> int:
    return node.client.call("account_margin", {"address": format_address(_key(root, who).address)})["accounts"][0]["cash"]


def _sign_and_take(root, tmp_path, node, series, size, price, nonce) -> dict:
    """alice signs (offline, with the CLI) a sell of 10 ``series`` at ``price``; bob takes ``size`` through ``node``."""
    path = tmp_path / f"order-{nonce}.json"
    _cli(root, "options", "order", "--from", "alice", "--series", series, "--side", "sell", "--size", "10", "--price", str(price),
         "--expires-in", "200", "--nonce", str(nonce), "--out", str(path))
    assert json.loads(path.read_text())["order"]["series"] == series
    res = _json(root, "options", "trade", str(path), "--from", "bob", "--size", str(size), "--rpc", node.rpc_url, "--wait")
    assert res["receipt"]["ok"]
    return res


def test_list_report_sign_trade_query_and_settle_options_on_four_nodes(devnet, tmp_path):
    root, nodes = devnet
    n0 = nodes[0]
    oracles = tuple(_key(root, o).address for o in ORACLES)
    _send(root, n0, "admin", RegisterMarket(U, "BTC", "USD", default_params("large", oracle_fresh_ms=600_000), oracles))
    for o in ORACLES[:3]:  # oracle3 stays silent: 3 of 4 is the quorum
        _send(root, n0, o, PriceReport(U, SPOT))
    for who in ("alice", "bob"):
        _send(root, n0, who, MarginDeposit("USD", DEPOSIT))

    _cli(root, "options", "params", "--from", "admin", "--underlying", U, "--param", f"settlement_window_ms={WINDOW_MS}", "--wait")
    expiry = n0.client.call("status")["latest_block_time_ms"] + DAY_MS
    strike_args = [a for k in STRIKES for a in ("--strike", str(k))]
    _cli(root, "options", "list-chain", "--from", "admin", "--underlying", U, *strike_args, "--expiry", str(expiry), "--wait")
    _cli_together(root, *[("options", "vol-report", "--from", o, "--underlying", U, "--wait",
                           *[f"{expiry}:{k}:{v}%" for k, v in zip(STRIKES, vols)])
                          for o, vols in (("oracle", (85, 80, 75)), ("oracle1", (86, 81, 76)), ("oracle2", (84, 79, 74)))])

    listed = _json(root, "options", "series-list", "--underlying", U)
    sid = f"{U}-{expiry}-{STRIKES[1]}-C"
    assert sorted(s["series"] for s in listed) == sorted(f"{U}-{expiry}-{k}-{c}" for k in STRIKES for c in "CP")
    atm = next(s for s in listed if s["series"] == sid)
    assert (atm["kind"], atm["strike"], atm["expiry_ms"], atm["settled"]) == ("call", STRIKES[1], expiry, False)
    assert atm["iv_ppm"] == 800_000 and atm["mark_state"] == "marked"  # the lower median of 79 %, 80 %, 81 % at the point
    surface = _json(root, "options", "surface", U)
    assert surface["params"]["settlement_window_ms"] == WINDOW_MS
    assert surface["fresh_reports"] == 3 and [r["points"] for r in surface["reports"]].count(None) == 1
    assert [(p["strike"], p["vol_ppm"]) for p in surface["surface"]["points"]] == list(zip(STRIKES, (850_000, 800_000, 750_000)))

    mark = atm["mark"]
    assert 0 < mark < SPOT
    alice_cash, bob_cash = _cash(root, n0, "alice"), _cash(root, n0, "bob")
    res = _sign_and_take(root, tmp_path, nodes[2], sid, 4, mark, nonce=11)
    n0.wait_height(res["height"])
    premium = 4 * mark
    assert (_cash(root, n0, "alice") - alice_cash, _cash(root, n0, "bob") - bob_cash) == (premium, -premium)

    bob = _json(root, "options", "positions", "bob")["accounts"][0]
    (pos,) = bob["positions"]
    assert (pos["series"], pos["size"], pos["premium_paid"]) == (sid, 4, premium)
    assert 0 < 4 * pos["mark"] <= pos["mark_value"] < 4 * pos["mark"] + 4  # floor(4 x mark6 / 10^6): a long's value rounds down
    assert pos["greeks"]["delta"] > 0 and bob["equity"] > bob["cash"]
    alice = _json(root, "options", "positions", "alice")["accounts"][0]
    assert alice["positions"][0]["size"] == -4 and alice["positions"][0]["premium_paid"] == -premium
    assert alice["imr"] > alice["mmr"] > 0 and not alice["breached"]
    info = _json(root, "options", "series", sid)
    assert info["open_interest"] == 4 and info["iv_ppm"] > 0 and info["mark_state"] == "marked"
    assert 0 < info["greeks"]["delta"] < 4 * 10**9 and info["greeks"]["gamma"] > 0 and info["greeks"]["vega"] > 0
    assert 0 < info["time_to_expiry_ms"] <= DAY_MS

    # a series a few seconds from expiry (marked at the chain's vols: flat before the first surface expiry)
    res = _json(root, "options", "list-series", "--from", "admin", "--underlying", U, "--kind", "call", "--strike", str(STRIKES[1]),
                "--expiry", f"+{SHORT_EXPIRY_MS}ms", "--wait")
    (listed_ev,) = res["receipt"]["events"]
    assert (listed_ev["kind"], listed_ev["option_kind"]) == ("option_series_listed", "call")
    short_sid = listed_ev["series"]
    short_mark = n0.client.call("option_series", {"series": short_sid})["mark"]
    alice_cash, bob_cash = _cash(root, n0, "alice"), _cash(root, n0, "bob")
    short_trade = _sign_and_take(root, tmp_path, nodes[1], short_sid, 3, short_mark, nonce=12)
    for o in ORACLES[:3]:  # the underlying rises, before the settlement window opens if the machine keeps up
        _send(root, n0, o, PriceReport(U, SPOT + 4_000_000))

    table = _cli(root, "options", "series", sid).stdout
    assert sid in table and "iv_ppm" in table
    missing = _cli(root, "options", "series", f"{U}-1-1-C", check=False)
    assert missing.returncode == 1 and len(missing.stderr.strip().splitlines()) == 1 and "not listed" in missing.stderr

    short_expiry = int(short_sid.split("-")[2])
    st = n0.wait_status("latest_block_time_ms", short_expiry + 1_000, timeout=60)
    settled = _json(root, "options", "series", short_sid)
    assert settled["settled"] and SPOT <= settled["settle_price"] <= SPOT + 4_000_000 and settled["open_interest"] == 0
    payout = 3 * max(settled["settle_price"] - STRIKES[1], 0)
    short_premium = 3 * short_mark
    assert _cash(root, n0, "bob") - bob_cash == payout - short_premium
    assert _cash(root, n0, "alice") - alice_cash == short_premium - payout
    assert [p["series"] for p in _json(root, "options", "positions", "bob")["accounts"][0]["positions"]] == [sid]
    assert short_sid not in [s["series"] for s in _json(root, "options", "series-list")]
    (h_settle,) = [h for h in range(short_trade["height"], st["height"] + 1)
                   if n0.client.call("events", {"height": h, "kinds": ["option_expired"]})["count"]]
    evs = _json(root, "query", "events", str(h_settle), "--kind", "option_expired", "--kind", "option_settled")["events"]
    assert [e["kind"] for e in evs] == ["option_expired", "option_settled", "option_settled"]
    assert evs[0]["settle_price"] == settled["settle_price"] and evs[0]["paid"] == payout
    assert sorted((e["size"], e["payout"]) for e in evs[1:]) == [(-3, -payout), (3, payout)]
    late = _cli(root, "options", "trade", str(tmp_path / "order-12.json"), "--from", "bob", "--size", "1", "--wait", check=False)
    assert late.returncode == 1 and len(late.stderr.strip().splitlines()) == 1 and "settled" in late.stderr  # the rest of the order

    h = st["height"]
    for n in nodes:
        n.wait_height(h)
    roots = {n.client.call("block", {"height": h})["header"]["state_root"] for n in nodes}
    assert len(roots) == 1
