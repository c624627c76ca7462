"""``settle query market|markets|oracle|insurance-fund|htlc|margin|order|events`` and ``settle stress``.

Owns the argument parsing and output of the risk engine's queries and of the
stress replay command: ``QUERY_COMMANDS`` for the ``query`` group that
``cli.main`` builds, and ``stress`` for the top level.  Never signs or submits
anything; ``stress`` runs the state machine in-process and never talks to a node.
"""
from __future__ import annotations

import csv
import json
import random
import sys
import time

import click
from rich.table import Column, Table

from bench.stress import SCENARIOS, StressConfig, run_stress
from node.gc_policy import stress_housekeeping

from .common import CLIError, address_text, console, json_opt, kv_items, kv_table, print_table, query_command
from .progress import StepProgress

__all__ = ["QUERY_COMMANDS", "stress"]


# --------------------------------------------------------------------------- queries


def _render_oracle(o, market):
    kv_table(f"oracle {market}", [(k, v) for k, v in o.items() if k != "reports"])
    print_table(("oracle", "price", "height", "age ms", "fresh"), o["reports"],
                lambda r: (r["oracle"], str(r["price"]), str(r.get("height", "")), str(r.get("age_ms", "")), str(r.get("fresh", ""))))


def _num(v) -> str:
    """An integer with thousands separators (base units and ppm are long numbers); anything else as ``str``."""
    return f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v)


def _columns(*names: str) -> list[Column]:
    """Table columns that never wrap or crop: a number cut to ``100,000,…`` on an 80-column terminal reads as another number."""
    return [Column(n, no_wrap=True) for n in names]


_POSITION_ROWS = (("size", "size"), ("entry", "entry_price"), ("oracle", "oracle_price"), ("uPnL", "unrealized_pnl"),
                  ("funding", "unsettled_funding"), ("liq. price", "liquidation_price"))


def _render_margin(o, who):
    if not o["accounts"]:
        console.print(f"{who} has no margin account")
    for a in o["accounts"]:
        kv_table(f"margin {who} ({a['asset']})", [(k, _num(v)) for k, v in a.items() if k != "positions"])
        if a["positions"]:  # one column per market: the numbers stay whole on an 80-column terminal
            t = Table("position", *_columns(*(p["market"] for p in a["positions"])), title_justify="left")
            for label, key in _POSITION_ROWS:
                t.add_row(label, *(_num(p[key]) for p in a["positions"]))
            console.print(t)


def _render_events(o, height, kinds):
    def cells(e):
        attrs = {k: v for k, v in e.items() if k not in ("receipt", "event", "tx_hash", "block_level", "kind")}
        return f"{e['receipt']}.{e['event']}", e["kind"], "block" if e["block_level"] else e["tx_hash"][:12], json.dumps(attrs)

    print_table(("#", "kind", "tx", "attributes"), o["events"], cells, title=f"events at height {o['height']}", title_justify="left")


query_market = query_command(
    "market", "market", click.argument("market"), params=lambda h, market: {"market": market},
    render=lambda o, market: kv_table(f"market {market}", [(k, v) for k, v in o.items() if k != "params"] + list(o["params"].items())),
    help="A market's parameters, price, dynamic margin, funding and open interest.")
query_markets = query_command(
    "markets", "markets",
    render=lambda rows: print_table(["market", "quote", *_columns("price"), "stale", "imf", "mmf", "open interest", "funding rate"], rows,
                                    lambda r: (r["market"], r["quote"], f"{r['price']:,}", str(r["stale"]), str(r["imf_ppm"]), str(r["mmf_ppm"]),
                                               f"{r['open_interest']:,}", str(r["last_funding_rate_ppm"]))))
query_oracle = query_command(
    "oracle", "oracle", click.argument("market"), params=lambda h, market: {"market": market}, render=_render_oracle,
    help="Oracle reports of a market, their freshness, quorum and median.")
query_insurance_fund = query_command(
    "insurance-fund", "insurance_fund",
    render=lambda rows: print_table(("asset", "cash", "equity", "available", "positions"), rows,
                                    lambda r: (r["asset"], f"{r['cash']:,}", f"{r['equity']:,}", f"{r['available']:,}",
                                               ", ".join(f"{p['market']} {p['size']}" for p in r["positions"]))))
query_htlc = query_command("htlc", "htlc", click.argument("htlc_id"), params=lambda h, htlc_id: {"id": htlc_id}, render=kv_items("htlc"))
query_margin = query_command(
    "margin", "account_margin", click.argument("who"), params=lambda h, who: {"address": address_text(h, who)}, render=_render_margin,
    help="Collateral, positions, equity, IMR, MMR and liquidation distance of an account.")
query_order = query_command(
    "order", "order", click.argument("maker"), click.argument("nonce", type=int),
    params=lambda h, maker, nonce: {"maker": address_text(h, maker), "nonce": nonce}, render=kv_items("order"))
query_events = query_command(
    "events", "events", click.argument("height", type=int, required=False),
    click.option("--kind", "kinds", multiple=True, help="keep only these event kinds (repeat)"),
    params=lambda h, height, kinds: ({"height": height} if height is not None else {}) | ({"kinds": list(kinds)} if kinds else {}),
    render=_render_events, help="Every event of a block: liquidations, ADL, insurance payments, funding, prices, trades ...")


QUERY_COMMANDS = (query_market, query_markets, query_oracle, query_insurance_fund, query_htlc, query_margin, query_order, query_events)


# --------------------------------------------------------------------------- stress


def _read_csv(path: str) -> list[dict[str, int]]:
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as exc:
        raise CLIError(f"cannot read {path}: {exc}") from None
    if not rows:
        raise CLIError(f"{path} has no price rows (expected a header of market ids, one row per block)")
    out = []
    for i, r in enumerate(rows):
        try:
            out.append({k.strip(): int(v) for k, v in r.items() if k and k.strip().lower() not in ("block", "height")})
        except (TypeError, ValueError):
            raise CLIError(f"{path} row {i + 2}: prices must be integers") from None
    return out


@click.command("stress")
@click.option("--accounts", "-n", default=2_000, show_default=True, help="synthetic accounts")
@click.option("--scenario", type=click.Choice(list(SCENARIOS)), default="crash50", show_default=True)
@click.option("--csv", "csv_path", default=None, type=click.Path(dir_okay=False), help="price path: header of market ids, one row per block")
@click.option("--blocks", default=48, show_default=True, help="blocks of the built-in day scenarios")
@click.option("--seed", default=1, show_default=True)
@click.option("--fund-ppm", default=10_000, show_default=True, help="insurance fund seed, ppm of total collateral")
@click.option("--max-leverage", default=18, show_default=True)
@click.option("--no-verify", is_flag=True, help="skip the full-scan breach checks (faster for huge runs)")
@click.option("--option-accounts", "option_accounts", default=None, type=int,
              help="accounts of the options book (writer/buyer pairs on BTC-PERP options)  [default: volspike, allcrash 2000, else 0]")
@click.option("--pm-accounts", "pm_accounts", default=None, type=int,
              help="more option accounts (pairs), in portfolio margin mode  [default: allcrash 2000, else 0]")
@click.option("--collateral-accounts", "collateral_accounts", default=None, type=int,
              help="accounts holding half their margin in ETH collateral (listed by set_collateral)  [default: allcrash 2000, else 0]")
@json_opt
def stress(accounts, scenario, csv_path, blocks, seed, fund_ppm, max_leverage, no_verify, option_accounts, pm_accounts, collateral_accounts,
           as_json):
    """Replay the state machine in-process over a price path with N leveraged accounts (and an options book, portfolio and collateral accounts)."""
    builtin = not csv_path
    if option_accounts is None:
        option_accounts = 2_000 if scenario in ("volspike", "allcrash") and builtin else 0
    if pm_accounts is None:
        pm_accounts = 2_000 if scenario == "allcrash" and builtin else 0
    if collateral_accounts is None:
        collateral_accounts = 2_000 if scenario == "allcrash" and builtin else 0
    if accounts < 2 and not option_accounts and not pm_accounts:
        raise CLIError("--accounts must be at least 2")
    for name, n in (("--option-accounts", option_accounts), ("--pm-accounts", pm_accounts)):
        if n < 0 or n == 1:
            raise CLIError(f"{name} must be 0 or at least 2")
    if collateral_accounts < 0:
        raise CLIError("--collateral-accounts must be at least 0")
    cfg = StressConfig(accounts=accounts, scenario=scenario, blocks=blocks, fund_ppm=fund_ppm, max_leverage=max_leverage,
                       verify=not no_verify, csv_rows=_read_csv(csv_path) if csv_path else None, option_accounts=option_accounts,
                       pm_accounts=pm_accounts, collateral_accounts=collateral_accounts)
    table = None
    opt_cols = ("opt. breached", "opt. liquidated", "settled") if option_accounts or pm_accounts else ()
    pm_cols = (("pm breached", "pm liq.") if pm_accounts else ()) + (("col. liq.", "col. sales") if collateral_accounts else ())
    if not as_json:
        table = Table("height", "prices", "breached", "liquidated", *opt_cols, *pm_cols, "liq. step ms", "ADL", "bad debt", "fund cash",
                      "fund equity", "conserved", title=f"stress {scenario if not csv_path else csv_path}: {accounts:,} accounts"
                      + (f", {option_accounts:,} option accounts" if option_accounts else "")
                      + (f", {pm_accounts:,} portfolio accounts" if pm_accounts else "")
                      + (f", {collateral_accounts:,} with ETH collateral" if collateral_accounts else ""), title_justify="left")

    bar = StepProgress(quiet=as_json, transient=True)  # on stderr: stdout keeps the table, or the JSON
    blocks_done: list[int] = []

    def progress(r):
        if not blocks_done:
            bar.step("replaying the price path")
        blocks_done.append(r["height"])
        bar.update(len(blocks_done), info=f"height {r['height']}  liquidated {r['liquidated']}  step {r['liquidation_step_ms']:.1f} ms")
        if table is not None:
            opt = (str(r.get("option_breached", "-")), str(r["option_liquidated"]), str(r["settlement_events"])) if opt_cols else ()
            pm = ((str(r.get("pm_breached", "-")), str(r["pm_liquidated"])) if pm_accounts else ()) \
                + ((str(r["collateral_liquidated"]), str(r["collateral_sales"])) if collateral_accounts else ())
            table.add_row(str(r["height"]), " ".join(f"{k}={v}" for k, v in r["prices"].items()), str(r.get("breached", "-")),
                          str(r["liquidated"]), *opt, *pm, f"{r['liquidation_step_ms']:.2f}", str(r["adl_events"]), f"{r['bad_debt']:,}",
                          f"{r['insurance_fund_cash']:,}", f"{r['insurance_fund_equity']:,}", "yes" if r["conservation_ok"] else "[red]NO[/red]")

    housekeeping, restore = stress_housekeeping()
    try:
        with bar:
            bar.step(f"building {accounts + option_accounts + pm_accounts + collateral_accounts:,} accounts")
            res = run_stress(cfg, random.Random(seed), time.perf_counter_ns, progress, housekeeping, cpu_timer=time.process_time_ns)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    finally:
        restore()
    if as_json:
        click.echo(json.dumps(res))
        return
    console.print(table)
    kv_table("summary", [(k, v) for k, v in res.items() if k != "per_block"])
    if not res["conservation_ok"] or res["missed"]:
        sys.exit(1)
