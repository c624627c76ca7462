"""``settle query status|block|tx|account|assets``: reading chain state over RPC.

Owns the argument parsing and output of these commands.  ``COMMANDS`` lists
them for the ``query`` group that ``cli.main`` builds (the risk engine's are
in ``cli.risk_query``).  Never signs or submits anything.
"""
from __future__ import annotations

import json

import click

from .common import address_text, kv_items, kv_table, print_table, query_command

__all__ = ["COMMANDS"]


def _result(r) -> str:
    return "ok" if r["ok"] else f"{r['error']}: {r['reason']}"


def _render_block(b, height):
    kv_table(f"block {b['header']['height']}", list(b["header"].items()) + [("txs", b["num_txs"])])
    if b["txs"]:
        rows = [(str(i), x["hash"][:16], x["sender"], x["kind"], _result(r)) for i, (x, r) in enumerate(zip(b["txs"], b["receipts"]))]
        print_table(("#", "hash", "sender", "kind", "result"), rows)


def _render_tx(o, tx_hash):
    rows = [("hash", o["hash"]), ("status", o["status"])]
    if o["status"] == "committed":
        rows += [("height", o["height"]), ("index", o["index"]), ("kind", o["tx"]["kind"]), ("sender", o["tx"]["sender"])]
        rows += [("result", _result(o["receipt"]))]
        rows += [("body", json.dumps(o["tx"]["body"]))]
    kv_table("transaction", rows)


def _render_account(o, who):
    kv_table(f"account {who}", [("address", o["address"]), ("roles", ", ".join(o["roles"])), ("nonce", o["nonce"])])
    print_table(("asset", "balance (base units)"), [(sym, f"{amt:,}") for sym, amt in sorted(o["balances"].items())])


query_status = query_command("status", "status", render=kv_items("status"))
query_block = query_command(
    "block", "block", click.argument("height", type=int, required=False),
    params=lambda h, height: {"receipts": True} | ({"height": height} if height is not None else {}), render=_render_block)
query_tx = query_command("tx", "tx", click.argument("tx_hash"), params=lambda h, tx_hash: {"hash": tx_hash}, render=_render_tx)
query_account = query_command(
    "account", "account", click.argument("who"),
    params=lambda h, who: {"address": address_text(h, who)}, render=_render_account)
query_assets = query_command(
    "assets", "assets",
    render=lambda rows: print_table(("symbol", "decimals", "issuer", "supply"), rows,
                                    lambda r: (r["symbol"], str(r["decimals"]), r["issuer"], f"{r['supply']:,}")))


COMMANDS = (query_status, query_block, query_tx, query_account, query_assets)
