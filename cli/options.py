"""``settle options ...``: list and trade European options, report vols, read series, surfaces and positions.

Owns the argument parsing and output of the ``options`` group that
``cli.main`` attaches: the admin txs (``params``, ``list-series``,
``list-chain``), the oracles' ``vol-report``, the maker's offline ``order``
signing and the taker's ``trade``, and the queries (``series``,
``series-list``, ``surface``, ``positions``).  Signing and submitting is
``cli.common.submit``; never talks to a node except through ``cli.common``'s
RPC helpers.  Same conventions as every command: tables by default,
``--json`` for scripts, one-line errors and a non-zero exit code.

Times: an expiry is block time in ms, given absolute (``1767225600000``) or
relative to the latest block time as ``+DURATION`` (``+90s``, ``+5m``,
``+2h``, ``+7d``; asks the node).  Vols are percentages (``80%`` or ``80`` =
800,000 ppm, up to 4 decimals).  An offline order is JSON naming the chain id
it is signed for: ``settle options order ... --out order.json``, then
``settle options trade order.json --from TAKER``.
"""
from __future__ import annotations

import json
import os
from decimal import Decimal, InvalidOperation
from pathlib import Path

import click

from ledger.keys import format_address, parse_address
from ledger.txkinds_options import (
    OptionOrder,
    OptionTrade,
    RegisterOptionChain,
    RegisterOptionSeries,
    SetOptionParams,
    SignedOptionOrder,
    VolPoint,
    VolReport,
    sign_option_order,
)
from ledger.txkinds_risk import ANY_TAKER
from settlement.risk.options.series import OPTION_DEFAULTS, default_option_params

from .common import (
    CLIError,
    address_text,
    console,
    home_dir,
    home_opt,
    kv_table,
    print_table,
    query_command,
    resolve_address,
    rpc_client,
    rpc_opt,
    submit,
    tx_command,
)
from .keyring import Keyring

__all__ = ["options"]

UNITS = {"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def _int(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise CLIError(f"{what} must be an integer, got {text!r}") from None


def _block_time(home: Path, rpc: str | None) -> int:
    return rpc_client(home, rpc).status()["latest_block_time_ms"]


def _expiry(text: str, now: "callable") -> int:
    """``text`` as block time in ms: absolute, or ``+N<unit>`` after the latest block time (``now()``)."""
    if not text.startswith("+"):
        return _int(text, "expiry")
    for unit in sorted(UNITS, key=len, reverse=True):
        if text.endswith(unit):
            return now() + _int(text[1:-len(unit)], "expiry") * UNITS[unit]
    raise CLIError(f"relative expiry must end in one of {', '.join(UNITS)}, got {text!r}")


def _now(home: Path, rpc: str | None):
    cache: list[int] = []
    return lambda: cache[0] if cache else cache.append(_block_time(home, rpc)) or cache[0]


def _vol_ppm(text: str) -> int:
    try:
        v = Decimal(text.removesuffix("%")) * 10_000
    except InvalidOperation:
        raise CLIError(f"vol must be a percentage, got {text!r}") from None
    if v != v.to_integral_value() or v <= 0:
        raise CLIError(f"vol {text!r} must be positive with at most 4 decimals")
    return int(v)


def _point(text: str, now) -> VolPoint:
    parts = text.split(":")
    if len(parts) != 3:
        raise CLIError(f"expected EXPIRY:STRIKE:VOL%, got {text!r}")
    return VolPoint(_expiry(parts[0], now), _int(parts[1], "strike"), _vol_ppm(parts[2]))


def _overrides(pairs, fields, what: str) -> dict:
    kw = {}
    for o in pairs:
        name, _, value = o.partition("=")
        if name not in fields:
            raise CLIError(f"unknown {what} {name!r} (one of {', '.join(sorted(fields))})")
        kw[name] = _int(value, f"{what} {name}")
    return kw


# --------------------------------------------------------------------------- admin and oracle transactions


@click.command("params")
@click.option("--from", "sender", required=True, help="an admin key")
@click.option("--underlying", required=True, help="the perpetual market the options are on")
@click.option("--param", "overrides", multiple=True,
              help=f"NAME=INT to override a default ({', '.join(f'{k}={v}' for k, v in OPTION_DEFAULTS.items())})")
@tx_command
def options_params(sender, underlying, overrides, home, rpc, as_json, wait):
    """Enable options on a perpetual market, or replace their parameters (admin only)."""
    params = default_option_params(**_overrides(overrides, OPTION_DEFAULTS, "option parameter"))
    submit(home_dir(home), rpc, sender, SetOptionParams(underlying, params), wait, as_json)


@click.command("list-series")
@click.option("--from", "sender", required=True, help="an admin key")
@click.option("--underlying", required=True)
@click.option("--kind", required=True, type=click.Choice(["call", "put"]))
@click.option("--strike", required=True, type=int, help="quote base units per lot")
@click.option("--expiry", required=True, help="block time in ms, or +DURATION from the latest block (+90s, +2h, +7d)")
@click.option("--contract-lots", default=1, show_default=True, help="lots of the underlying per contract")
@tx_command
def options_list_series(sender, underlying, kind, strike, expiry, contract_lots, home, rpc, as_json, wait):
    """List one option series (admin only)."""
    h = home_dir(home)
    body = RegisterOptionSeries(underlying, kind, strike, _expiry(expiry, _now(h, rpc)), contract_lots)
    submit(h, rpc, sender, body, wait, as_json)


@click.command("list-chain")
@click.option("--from", "sender", required=True, help="an admin key")
@click.option("--underlying", required=True)
@click.option("--strike", "strikes", multiple=True, required=True, type=int, help="quote base units per lot (repeat)")
@click.option("--expiry", "expiries", multiple=True, required=True, help="block time in ms or +DURATION (repeat)")
@click.option("--contract-lots", default=1, show_default=True, help="lots of the underlying per contract")
@tx_command
def options_list_chain(sender, underlying, strikes, expiries, contract_lots, home, rpc, as_json, wait):
    """List a call and a put for every strike x expiry (admin only)."""
    h = home_dir(home)
    now = _now(h, rpc)
    body = RegisterOptionChain(underlying, sorted(set(strikes)), sorted({_expiry(e, now) for e in expiries}), contract_lots)
    submit(h, rpc, sender, body, wait, as_json)


@click.command("vol-report")
@click.option("--from", "sender", required=True, help="an oracle key of the underlying market")
@click.option("--underlying", required=True)
@click.option("--file", "path", type=click.Path(dir_okay=False), default=None,
              help="points, one EXPIRY:STRIKE:VOL% a line (# comments)")
@click.argument("points", nargs=-1)
@tx_command
def options_vol_report(sender, underlying, path, points, home, rpc, as_json, wait):
    """Report implied volatilities: POINTS are EXPIRY:STRIKE:VOL% (e.g. +1h:100000:80%), replacing your last report."""
    h = home_dir(home)
    texts = list(points)
    if path is not None:
        try:
            lines = Path(path).read_text().splitlines()
        except OSError as exc:
            raise CLIError(f"cannot read {path}: {exc}") from None
        texts += [ln.split("#")[0].strip() for ln in lines if ln.split("#")[0].strip()]
    if not texts:
        raise CLIError("no vol points (give EXPIRY:STRIKE:VOL% arguments or --file)")
    now = _now(h, rpc)
    pts = sorted((_point(t, now) for t in texts), key=lambda p: (p.expiry_ms, p.strike))
    submit(h, rpc, sender, VolReport(underlying, pts), wait, as_json)


# --------------------------------------------------------------------------- orders and trades


@click.command("order")
@click.option("--from", "maker", required=True, help="the maker's key")
@click.option("--series", required=True, help="series id, e.g. BTC-PERP-1767225600000-100000-C")
@click.option("--side", required=True, type=click.Choice(["buy", "sell"]), help="the maker's side")
@click.option("--size", required=True, type=int, help="contracts")
@click.option("--price", required=True, type=int, help="premium per contract, quote base units")
@click.option("--expiry-height", type=int, default=None, help="last height at which the order may be filled")
@click.option("--expires-in", type=int, default=None, help="blocks from now (default 100; needs the node)")
@click.option("--nonce", type=int, default=None, help="order id, shared with perpetual orders (default: random)")
@click.option("--taker", default=None, help="only this address/key may fill (default: anyone)")
@click.option("--chain-id", default=None, help="chain to sign for (default: ask the node)")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="write the order here (default: stdout)")
@home_opt
@rpc_opt
def options_order(maker, series, side, size, price, expiry_height, expires_in, nonce, taker, chain_id, out, home, rpc):
    """Sign an option order offline, as JSON (a taker fills it with `settle options trade`)."""
    h = home_dir(home)
    try:
        key = Keyring(h).load(maker)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    if chain_id is None or expiry_height is None:
        st = rpc_client(h, rpc).status()
        chain_id = chain_id or st["chain_id"]
        expiry_height = expiry_height if expiry_height is not None else st["height"] + (expires_in or 100)
    nonce = nonce if nonce is not None else int.from_bytes(os.urandom(8), "big") >> 1
    o = OptionOrder(series, side, size, price, expiry_height, nonce, resolve_address(h, taker) if taker else ANY_TAKER)
    so = sign_option_order(key, chain_id, o)
    doc = {"chain_id": chain_id, "maker": format_address(key.address), "order": dict(
        series=series, side=side, size=size, price=price, expiry_height=expiry_height, nonce=nonce,
        taker=format_address(o.taker) if o.taker != ANY_TAKER else "any"), "maker_pubkey": so.maker.hex(), "signature": so.signature.hex()}
    text = json.dumps(doc, indent=2)
    if out is None:
        click.echo(text)
        return
    try:
        Path(out).write_text(text + "\n")
    except OSError as exc:
        raise CLIError(f"cannot write {out}: {exc}") from None


def _read_order(path: str) -> SignedOptionOrder:
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise CLIError(f"cannot read order {path}: {exc}") from None
    try:
        o = doc["order"]
        order = OptionOrder(o["series"], o["side"], int(o["size"]), int(o["price"]), int(o["expiry_height"]), int(o["nonce"]),
                            ANY_TAKER if o.get("taker") in (None, "", "any") else parse_address(o["taker"]))
        so = SignedOptionOrder(order, bytes.fromhex(doc["maker_pubkey"]), bytes.fromhex(doc["signature"]))
        ok = so.verify(doc.get("chain_id", ""))
    except (KeyError, TypeError, ValueError) as exc:
        raise CLIError(f"malformed option order file {path}: {exc}") from None
    if not ok:
        raise CLIError(f"option order signature in {path} does not verify for chain {doc.get('chain_id')!r}")
    return so


@click.command("trade")
@click.argument("order_file", type=click.Path(dir_okay=False))
@click.option("--from", "sender", required=True, help="the taker's key")
@click.option("--size", type=int, default=None, help="contracts to fill (default: the whole order)")
@tx_command
def options_trade(order_file, sender, size, home, rpc, as_json, wait):
    """Fill a maker-signed option order (you take the other side; the buyer pays the premium)."""
    so = _read_order(order_file)
    submit(home_dir(home), rpc, sender, OptionTrade(so, size or so.order.size), wait, as_json)


# --------------------------------------------------------------------------- queries


def _render_series(o, series):
    kv_table(f"option series {series}", [(k, v) for k, v in o.items() if k != "greeks"] + list(o["greeks"].items()))


def _series_rows(rows, **_):
    print_table(("series", "kind", "strike", "expiry ms", "to expiry ms", "spot", "mark", "IV %", "delta", "OI", "settled"), rows,
                lambda r: (r["series"], r["kind"], f"{r['strike']:,}", str(r["expiry_ms"]), f"{r['time_to_expiry_ms']:,}",
                           f"{r['spot']:,}", f"{r['mark']:,}", f"{r['iv_ppm'] / 10_000:.4f}", str(r["greeks"]["delta"]),
                           f"{r['open_interest']:,}", str(r["settle_price"]) if r["settled"] else "no"))


def _vol_points(points) -> str:
    return " ".join(f"{p['expiry_ms']}:{p['strike']}:{p['vol_ppm'] / 10_000:g}%" for p in points)


def _render_surface(o, underlying):
    sf = o["surface"]
    kv_table(f"vol surface {underlying}", [(k, v) for k, v in o.items() if k not in ("params", "reports", "surface", "series")]
             + [("surface epoch", sf and sf["epoch"]), ("surface time ms", sf and sf["time_ms"]),
                ("surface points", sf and _vol_points(sf["points"]))] + list(o["params"].items()))
    print_table(("oracle", "points", "age ms", "fresh"), o["reports"],
                lambda r: (r["oracle"], _vol_points(r["points"] or ()), str(r.get("age_ms", "")), str(r.get("fresh", ""))))
    print_table(("series", "expiry ms", "strike", "kind", "IV %"), o["series"],
                lambda p: (p["series"], str(p["expiry_ms"]), f"{p['strike']:,}", p["kind"], f"{p['iv_ppm'] / 10_000:.4f}"))


def _render_positions(o, who):
    if not o["accounts"]:
        console.print(f"{who} has no option position")
    for a in o["accounts"]:
        kv_table(f"options {who} ({a['asset']})", [(k, v) for k, v in a.items() if k not in ("positions", "greeks")]
                 + list(a["greeks"].items()))
        print_table(("series", "size", "premium paid", "mark value", "uPnL", "IV %", "delta x size"), a["positions"],
                    lambda p: (p["series"], str(p["size"]), f"{p['premium_paid']:,}", f"{p['mark_value']:,}",
                               f"{p['unrealized_pnl']:,}", f"{p['iv_ppm'] / 10_000:.4f}", str(p["greeks"]["delta"])))


options_series = query_command(
    "series", "option_series", click.argument("series"), params=lambda h, series: {"series": series}, render=_render_series,
    help="A series' terms, mark, IV, greeks per contract, open interest and time to expiry.")
options_series_list = query_command(
    "series-list", "option_series_list", click.option("--underlying", default=None, help="only this underlying"),
    params=lambda h, underlying: {"underlying": underlying} if underlying else {}, render=_series_rows,
    help="Every live option series: mark, IV, delta, open interest.")
options_surface = query_command(
    "surface", "vol_surface", click.argument("underlying"), params=lambda h, underlying: {"underlying": underlying},
    render=_render_surface, help="Option parameters, the oracles' vol points and the IV of every live series.")
options_positions = query_command(
    "positions", "option_positions", click.argument("who"), params=lambda h, who: {"address": address_text(h, who)},
    render=_render_positions, help="An account's option positions (premium, mark value, greeks) and its margin.")


options = click.Group("options", help="European options: list series, report vols, sign and trade orders, query.", commands=[
    options_params, options_list_series, options_list_chain, options_vol_report, options_order, options_trade,
    options_series, options_series_list, options_surface, options_positions,
])
