"""``settle pm ...`` and ``settle collateral ...``: portfolio margin mode and grid, the scenario table, a what-if, collateral.

Owns the argument parsing and output of the ``pm`` and ``collateral`` groups
that ``cli.main`` attaches: the account's ``pm mode`` switch, the admin's
``pm params`` (the scenario grid of an underlying) and ``collateral set``,
and the queries ``pm scenarios`` (the risk officer's table: per underlying
every scenario's P&L, the binding one, the requirement, and the account's
figures beside standard mode's), ``pm whatif`` (the same after a proposed
fill, before signing anything) and ``collateral list``.  Signing and
submitting is ``cli.common.submit``; never talks to a node except through
``cli.common``'s RPC helpers.  Same conventions as every command: tables by
default, ``--json`` for scripts, one-line errors and a non-zero exit code.
"""
from __future__ import annotations

import dataclasses

import click

from ledger.txkinds_pm import SetCollateral, SetMarginMode, SetPmParams
from settlement.errors import SettlementError
from settlement.risk.collateral import COLLATERAL_DEFAULTS, default_collateral_params, validate_collateral_params
from settlement.risk.pm.handlers import validate_pm_params
from settlement.risk.pm.mode import PM_DEFAULTS

from .common import CLIError, address_text, console, emit, home_dir, home_opt, json_opt, kv_table, print_table, query_command, \
    rpc_client, rpc_opt, submit, tx_command
from .options import _overrides

__all__ = ["collateral", "pm"]

GRID_FIELDS = [f.name for f in dataclasses.fields(PM_DEFAULTS)]


def _checked(validate, params):
    """``params`` if ``validate`` (the chain's own bounds) accepts them: refused before anything is signed."""
    try:
        validate(params)
    except SettlementError as exc:
        raise CLIError(str(exc)) from None
    return params


# --------------------------------------------------------------------------- transactions


@click.command("mode")
@click.argument("mode", type=click.Choice(["standard", "portfolio"]))
@click.option("--from", "sender", required=True, help="the account's key")
@tx_command
def pm_mode(mode, sender, home, rpc, as_json, wait):
    """Switch your account to portfolio margin (scenario-based, per underlying) or back to standard margin."""
    submit(home_dir(home), rpc, sender, SetMarginMode(mode), wait, as_json)


@click.command("params")
@click.argument("underlying")
@click.option("--from", "sender", required=True, help="an admin key")
@click.option("--param", "overrides", multiple=True,
              help=f"NAME=INT to override a default ({', '.join(f'{k}={getattr(PM_DEFAULTS, k)}' for k in GRID_FIELDS)})")
@tx_command
def pm_params(underlying, sender, overrides, home, rpc, as_json, wait):
    """Set the scenario grid of an underlying (admin only): scan range, vol shocks, extreme moves, MMR fraction."""
    params = _checked(validate_pm_params, dataclasses.replace(PM_DEFAULTS, **_overrides(overrides, GRID_FIELDS, "grid parameter")))
    submit(home_dir(home), rpc, sender, SetPmParams(underlying, params), wait, as_json)


@click.command("set")
@click.argument("asset")
@click.option("--from", "sender", required=True, help="an admin key")
@click.option("--backs", required=True, help="the settlement asset it backs, e.g. USD")
@click.option("--price-market", required=True, help="the perpetual market pricing it in the backed asset (base = ASSET)")
@click.option("--param", "overrides", multiple=True,
              help=f"NAME=INT to override a default ({', '.join(f'{k}={v}' for k, v in COLLATERAL_DEFAULTS.items() if k != 'enabled')})")
@click.option("--disable", is_flag=True, help="list it disabled: counts nothing, holders may still withdraw")
@tx_command
def collateral_set(asset, sender, backs, price_market, overrides, disable, home, rpc, as_json, wait):
    """List an asset as collateral for positions settled in another, or replace its parameters (admin only)."""
    ints = [k for k in COLLATERAL_DEFAULTS if k != "enabled"]
    params = _checked(validate_collateral_params, default_collateral_params(
        backs, price_market, enabled=not disable, **_overrides(overrides, ints, "collateral parameter")))
    submit(home_dir(home), rpc, sender, SetCollateral(asset, params), wait, as_json)


# --------------------------------------------------------------------------- queries


def _money(v) -> str:
    return "" if v is None else f"{v:,}"


def _render_account(a: dict) -> None:
    std = a["standard"]
    kv_table(f"margin in {a['asset']}", [
        ("cash", _money(a["cash"])), ("collateral value", _money(a["collateral_value"])), ("equity", _money(a["equity"])),
        ("IMR", _money(a["imr"])), ("MMR", _money(a["mmr"])), ("free collateral", _money(a["free_collateral"])),
        ("standard IMR", _money(std["imr"])), ("standard MMR", _money(std["mmr"])), ("breached", a["breached"])])
    for u in a["underlyings"]:
        print_table(("instrument", "kind", "size", "strike", "expiry ms", "value"), u["positions"],
                    lambda p: (p["instrument"], p["kind"], str(p["size"]), _money(p.get("strike")), str(p.get("expiry_ms", "")),
                               _money(p["value"])), title=f"{u['underlying']}: positions", title_justify="left")
        if not u["scenarios"]:
            continue
        print_table(("scenario", "move", "price", "vol", "P&L", "binds"), u["scenarios"],
                    lambda r: (r["scenario"] + (" (extreme)" if r["extreme"] else ""), _money(r["move"]), _money(r["price"]),
                               r["vol"], _money(r["pnl"]), "<-" if r["scenario"] == u["binding"] else ""),
                    title=f"{u['underlying']}: scenario P&L (binding: {u['binding']}; requirement {_money(u['requirement'])},"
                          f" MMR {_money(u['mmr'])})", title_justify="left")
    c = a.get("collateral_shock")
    if c:
        print_table(("scenario", "prices", "collateral value", "P&L", "binds"), c["scenarios"],
                    lambda r: (r["scenario"], ", ".join(f"{x} {_money(p)}" for x, p in r["prices"].items()), _money(r["value"]),
                               _money(r["pnl"]), "<-" if r["scenario"] == c["binding"] else ""),
                    title=f"collateral: scenario P&L (binding: {c['binding']}; requirement {_money(c['requirement'])},"
                          f" MMR {_money(c['mmr'])}{'' if c['counted'] else '; not counted: no position'})", title_justify="left")


def _render_scenarios(o: dict, who: str) -> None:
    console.print(f"{who}: {o['mode']} margin")
    if not o["accounts"]:
        console.print(f"{who} has no margin account")
    for a in o["accounts"]:
        _render_account(a)


pm_scenarios = query_command(
    "scenarios", "pm_scenarios", click.argument("who"), params=lambda h, who: {"address": address_text(h, who)},
    render=_render_scenarios,
    help="An account's scenario P&L table per underlying, the binding scenario and requirement, beside standard margin.")


def _render_whatif(o: dict, title: str) -> None:
    b = next((a for a in o["before"]["accounts"] if a["asset"] == o["asset"]), None)
    a = next(x for x in o["after"]["accounts"] if x["asset"] == o["asset"])
    kv_table(title, [
        ("mode", o["after"]["mode"]), ("IMR before", _money(b["imr"] if b else 0)), ("IMR after", _money(a["imr"])),
        ("IMR change", _money(o["change"]["imr"])), ("standard IMR after", _money(a["standard"]["imr"])),
        ("equity after", _money(a["equity"])), ("accepted", o["accepted"])])
    _render_account(a)


@click.command("whatif")
@click.argument("who")
@click.option("--market", default=None, help="a perpetual market (size in lots, price per lot)")
@click.option("--series", default=None, help="an option series (size in contracts, price = premium per contract)")
@click.option("--side", required=True, type=click.Choice(["buy", "sell"]))
@click.option("--size", required=True, type=int)
@click.option("--price", required=True, type=int, help="quote base units")
@home_opt
@rpc_opt
@json_opt
def pm_whatif(who, market, series, side, size, price, home, rpc, as_json):
    """The account's requirement after a proposed fill, computed by the node on a scratch copy (nothing is signed)."""
    if (market is None) == (series is None):
        raise CLIError("give exactly one of --market or --series")
    if size <= 0 or price <= 0:
        raise CLIError("--size and --price must be positive")
    h = home_dir(home)
    params = {"address": address_text(h, who), "side": side, "size": size, "price": price,
              **({"market": market} if market is not None else {"series": series})}
    res = rpc_client(h, rpc).call("pm_whatif", params)
    emit(res, as_json, lambda o: _render_whatif(o, f"what if {who} {side}s {size} {market or series} at {price:,}"))


def _collateral_rows(rows, **_):
    print_table(("asset", "backs", "price market", "price", "haircut ppm", "cap ppm", "liq discount ppm", "enabled"), rows,
                lambda r: (r["asset"], r["backs"], r["price_market"], _money(r["price"]), str(r["haircut_ppm"]), str(r["cap_ppm"]),
                           str(r["liq_discount_ppm"]), str(r["enabled"])))


collateral_list = query_command("list", "collateral_params", render=_collateral_rows,
                                help="Every listed collateral asset: what it backs, its price, haircut, cap and liquidation discount.")

pm = click.Group("pm", help="Portfolio margin: switch mode, set an underlying's grid, read the scenario table, try a trade.",
                 commands=[pm_mode, pm_params, pm_scenarios, pm_whatif])
collateral = click.Group("collateral", help="Multi-asset collateral: list an asset (admin), read the listed ones.",
                         commands=[collateral_set, collateral_list])
