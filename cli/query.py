"""``settle query status|block|tx|account|assets``: reading chain state over RPC.

Owns the argument parsing and output of these commands.  ``COMMANDS`` lists
them for the ``query`` group that ``cli.main`` builds (the risk engine's are
in ``cli.risk_query``).  Never signs or submits anything.
"""
from __future__ import annotations

import json

import click
from rich.table import Table

from ledger.keys import format_address

from .common import console, emit, home_dir, home_opt, json_opt, kv_table, resolve_address, rpc_client, rpc_opt

__all__ = ["COMMANDS"]


@click.command("status")
@home_opt
@rpc_opt
@json_opt
def query_status(home, rpc, as_json):
    st = rpc_client(home_dir(home), rpc).call("status")
    emit(st, as_json, lambda o: kv_table("status", list(o.items())))


@click.command("block")
@click.argument("height", type=int, required=False)
@home_opt
@rpc_opt
@json_opt
def query_block(height, home, rpc, as_json):
    params = {"receipts": True} | ({"height": height} if height is not None else {})
    blk = rpc_client(home_dir(home), rpc).call("block", params)

    def render(b):
        kv_table(f"block {b['header']['height']}", list(b["header"].items()) + [("txs", b["num_txs"])])
        if b["txs"]:
            t = Table("#", "hash", "sender", "kind", "result")
            for i, (x, r) in enumerate(zip(b["txs"], b["receipts"])):
                t.add_row(str(i), x["hash"][:16], x["sender"], x["kind"], "ok" if r["ok"] else f"{r['error']}: {r['reason']}")
            console.print(t)

    emit(blk, as_json, render)


@click.command("tx")
@click.argument("tx_hash")
@home_opt
@rpc_opt
@json_opt
def query_tx(tx_hash, home, rpc, as_json):
    res = rpc_client(home_dir(home), rpc).call("tx", {"hash": tx_hash})

    def render(o):
        rows = [("hash", o["hash"]), ("status", o["status"])]
        if o["status"] == "committed":
            r = o["receipt"]
            rows += [("height", o["height"]), ("index", o["index"]), ("kind", o["tx"]["kind"]), ("sender", o["tx"]["sender"])]
            rows += [("result", "ok" if r["ok"] else f"{r['error']}: {r['reason']}")]
            rows += [("body", json.dumps(o["tx"]["body"]))]
        kv_table("transaction", rows)

    emit(res, as_json, render)


@click.command("account")
@click.argument("who")
@home_opt
@rpc_opt
@json_opt
def query_account(who, home, rpc, as_json):
    h = home_dir(home)
    res = rpc_client(h, rpc).call("account", {"address": format_address(resolve_address(h, who))})

    def render(o):
        kv_table(f"account {who}", [("address", o["address"]), ("roles", ", ".join(o["roles"])), ("nonce", o["nonce"])])
        t = Table("asset", "balance (base units)")
        for sym, amt in sorted(o["balances"].items()):
            t.add_row(sym, f"{amt:,}")
        console.print(t)

    emit(res, as_json, render)


@click.command("assets")
@home_opt
@rpc_opt
@json_opt
def query_assets(home, rpc, as_json):
    res = rpc_client(home_dir(home), rpc).call("assets")

    def render(rows):
        t = Table("symbol", "decimals", "issuer", "supply")
        for r in rows:
            t.add_row(r["symbol"], str(r["decimals"]), r["issuer"], f"{r['supply']:,}")
        console.print(t)

    emit(res, as_json, render)


COMMANDS = (query_status, query_block, query_tx, query_account, query_assets)
