"""What every ``settle`` command shares: finding the home and the node, output, errors, signing and submitting.

Owns the error convention (``CLIError``: one line on stderr, exit code 1), the
``--home``/``--rpc``/``--json`` options, the two output shapes (``--json``
for scripts, rich tables for people), ``query_command``, the one shape of a
command that reads one RPC method, and ``submit``, the one path by which a
command signs a transaction body and sends it to a node.  Defines no command.
"""
from __future__ import annotations

import datetime
import json
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

import sdk
from ledger.keys import format_address
from node.config import load_config

from .keyring import Keyring, default_home, passphrase_opt
from .testnet import HOST, RPC_PORT, load_devnet

console = Console()


class CLIError(click.ClickException):
    """A command failed for a reason the user can act on: printed as one ``error: ...`` line, exit code 1."""


def utc_time(ms: int) -> str:
    """A block time (ms since the epoch) as ISO 8601 UTC to the millisecond."""
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).isoformat(timespec="milliseconds")


def home_dir(home: str | None) -> Path:
    return default_home(home)


def rpc_url(home: Path, rpc: str | None) -> str:
    if rpc:
        return rpc
    meta = load_devnet(home)
    if meta and meta.get("nodes"):
        return meta["nodes"][0]["rpc"]
    if (home / "config.toml").exists():
        return load_config(home).rpc_url
    return f"http://{HOST}:{RPC_PORT}"


def rpc_client(home: Path, rpc: str | None) -> sdk.Client:
    return sdk.Client(rpc_url(home, rpc))


def emit(obj, as_json: bool, render) -> None:
    if as_json:
        click.echo(json.dumps(obj, indent=2))
    else:
        render(obj)


def kv_table(title: str, rows: list[tuple[str, object]]) -> None:
    t = Table(title=title, show_header=False, title_justify="left")
    t.add_column(style="bold cyan")
    t.add_column(overflow="fold")  # a hash or id too long for the terminal wraps whole instead of ending in "…"
    for k, v in rows:
        t.add_row(k, str(v))
    console.print(t)


home_opt = click.option("--home", envvar="SETTLE_HOME", default=None, help="devnet or node home (default $SETTLE_HOME or ~/.settle/devnet)")
rpc_opt = click.option("--rpc", default=None, help="node RPC URL (default: the home's first node)")
json_opt = click.option("--json", "as_json", is_flag=True, help="machine-readable JSON output")


def query_command(name: str, method: str, *arguments, params=None, render, help: str | None = None) -> click.Command:
    """A ``settle query`` command: call the RPC ``method``, print ``render(result, **args)``, or with ``--json`` the raw result.

    ``arguments`` are the command's own click arguments and options (listed
    before ``--home``/``--rpc``/``--json``); ``params(home, **args)`` builds
    the RPC parameters (none when omitted).
    """

    def command(home, rpc, as_json, **args):
        h = home_dir(home)
        res = rpc_client(h, rpc).call(method, params(h, **args) if params else None)
        emit(res, as_json, lambda o: render(o, **args))

    for decorate in reversed((*arguments, home_opt, rpc_opt, json_opt)):
        command = decorate(command)
    return click.command(name, help=help)(command)


def kv_items(title: str):
    """A ``render`` for ``query_command``: the result's keys and values as one key/value table."""
    return lambda o, **_: kv_table(title, list(o.items()))


def print_table(columns, rows, cells=tuple, **options) -> None:
    """One rich table: a row of ``cells(r)`` (strings; ``r`` itself by default) for each of ``rows``."""
    t = Table(*columns, **options)
    for r in rows:
        t.add_row(*cells(r))
    console.print(t)


def submit(home: Path, rpc: str | None, signer: str, body, wait: bool, as_json: bool) -> None:
    """Sign ``body`` with the keyring's ``signer`` and send it through the SDK; with ``wait``, show the final receipt."""
    try:
        sdk.checked(body)  # what needs no state is refused before any key is read or node asked
    except sdk.TxInvalid as exc:
        raise CLIError(str(exc)) from None
    ring = Keyring(home)
    try:
        key = ring.load(signer)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    client = rpc_client(home, rpc)
    try:
        t = client.sign(key, body, check=False)  # checked above, before the key was read
    except sdk.NotFound:
        raise CLIError(f"signer {format_address(key.address)} is not a registered account") from None
    res = client.submit(t, wait=wait)
    if wait and not res["receipt"]["ok"]:
        if as_json:
            click.echo(json.dumps(res, indent=2))
        try:
            sdk.ensure_ok(res)
        except sdk.TxFailed as exc:
            raise CLIError(str(exc)) from None

    def render(res):
        rows = [("hash", res["hash"]), ("kind", t.kind), ("nonce", t.nonce)]
        if wait:
            rows += [("height", res["height"]), ("result", "ok")]
            for e in res["receipt"]["events"]:
                rows.append(("event", ", ".join(f"{k}={ring.label(_addr(v)) if _is_addr(v) else v}" for k, v in e.items())))
        else:
            rows.append(("status", "accepted into the mempool (use --wait to wait for the commit)"))
        kv_table("transaction", rows)

    emit(res, as_json, render)


def _is_addr(v) -> bool:
    return isinstance(v, str) and v.startswith("st") and len(v) == 42


def _addr(v: str) -> bytes:
    return bytes.fromhex(v[2:])


def resolve_address(home: Path, text: str) -> bytes:
    try:
        return Keyring(home).address(text)
    except ValueError as exc:
        raise CLIError(str(exc)) from None


def address_text(home: Path, text: str) -> str:
    """``resolve_address`` in the ``st...`` form the RPC methods take."""
    return format_address(resolve_address(home, text))


tx_opts = [home_opt, rpc_opt, json_opt, click.option("--wait", is_flag=True, help="wait until committed and show the receipt"),
           passphrase_opt]


def tx_command(fn):
    for opt in reversed(tx_opts):
        fn = opt(fn)
    return fn
