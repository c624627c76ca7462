"""Risk engine end to end through a real node: CLI txs, offline-signed orders and swap terms, RPC queries."""
from __future__ import annotations

import json

from ledger.keys import PrivateKey, format_address
from tests.nodeproc import run_cli


def _addr(home, name) -> str:
    return format_address(PrivateKey.load(home / "keys" / f"{name}.json").address)


def cli(home, *args, check=True):
    return run_cli(*args, home=home, check=check)


def cli_json(home, *args):
    return json.loads(cli(home, *args, "--json").stdout)


def test_market_trade_queries_htlc_and_swap(node, tmp_path):
    home = node.home
    cli(home, "tx", "register-market", "--from", "admin", "--market", "BTC-PERP", "--quote", "USD", "--oracle", "oracle",
        "--param", "margin_cap_ppm=1000000", "--wait")
    cli(home, "tx", "price", "--from", "oracle", "--market", "BTC-PERP", "--price", "100000", "--wait")
    for who in ("alice", "bob"):
        cli(home, "tx", "deposit", "--from", who, "--asset", "USD", "--amount", "1000000", "--wait")
    order = cli(home, "order", "sign", "--from", "alice", "--market", "BTC-PERP", "--side", "buy", "--size", "10",
                "--price", "100000", "--expires-in", "100", "--nonce", "7").stdout
    path = tmp_path / "order.json"
    path.write_text(order)
    res = cli_json(home, "tx", "trade", "--from", "bob", "--order", str(path), "--wait")
    trade = res["receipt"]["events"][0]
    assert trade["kind"] == "trade" and trade["maker_position"] == 10 and trade["taker_position"] == -10

    margin = cli_json(home, "query", "margin", "alice")["accounts"][0]
    assert (margin["equity"], margin["imr"], margin["mmr"]) == (1_000_000, 50_000, 30_000)
    assert margin["positions"][0]["size"] == 10
    assert cli_json(home, "query", "market", "BTC-PERP")["open_interest"] == 10
    assert [m["market"] for m in cli_json(home, "query", "markets")] == ["BTC-PERP"]
    assert cli_json(home, "query", "oracle", "BTC-PERP")["median_of_fresh"] == 100_000
    assert cli_json(home, "query", "insurance-fund")[0]["asset"] == "USD"
    assert cli_json(home, "query", "order", "alice", "7")["filled"] == 10
    evs = cli_json(home, "query", "events", str(res["height"]), "--kind", "trade")
    assert [e["kind"] for e in evs["events"]] == ["trade"]

    replay = cli(home, "tx", "trade", "--from", "bob", "--order", str(path), "--wait", check=False)
    assert replay.returncode == 1 and "replayed" in replay.stderr and len(replay.stderr.strip().splitlines()) == 1

    secret = json.loads(cli(home, "htlc", "secret").stdout)
    lock = cli_json(home, "tx", "htlc-lock", "--from", "alice", "--to", "bob", "--asset", "EUR", "--amount", "5",
                    "--hashlock", secret["hashlock"], "--timeout-blocks", "50", "--wait")
    hid = lock["receipt"]["events"][0]["id"]
    claim = cli_json(home, "tx", "htlc-claim", "--from", "bob", "--id", hid, "--preimage", secret["preimage"], "--wait")
    assert claim["receipt"]["events"][0]["preimage"] == secret["preimage"]
    assert cli_json(home, "query", "htlc", hid)["status"] == "claimed"

    terms = cli(home, "swap", "sign", "--from", "alice", "--taker", "bob", "--give", "EUR:100", "--get", "USD:90",
                "--expires-in", "50", "--nonce", "1").stdout
    tpath = tmp_path / "terms.json"
    tpath.write_text(terms)
    swap = cli_json(home, "tx", "swap", "--from", "bob", "--terms", str(tpath), "--wait")
    assert swap["receipt"]["events"][0]["kind"] == "swap"
    assert node.client.call("account_margin", {"address": _addr(home, "bob")})["accounts"][0]["positions"][0]["size"] == -10
