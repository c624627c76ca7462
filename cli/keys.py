"""``settle keygen`` and ``settle keys``: the local keyring.

Owns the argument parsing and output of these commands; the keyring itself
is ``cli.keyring``.  Never talks to a node.
"""
from __future__ import annotations

import click
from rich.table import Table

from ledger.keys import format_address

from .common import CLIError, console, emit, home_dir, home_opt, json_opt, kv_table
from .keyring import Keyring

__all__ = ["keygen", "keys"]


@click.command()
@click.argument("name")
@home_opt
@json_opt
def keygen(name: str, home: str | None, as_json: bool) -> None:
    """Create a new named key in the keyring."""
    ring = Keyring(home_dir(home))
    try:
        key = ring.create(name)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    out = {"name": name, "address": format_address(key.address), "file": str(ring.path(name))}
    emit(out, as_json, lambda o: kv_table("new key", list(o.items())))


@click.group()
def keys() -> None:
    """Inspect the keyring."""


@keys.command("list")
@home_opt
@json_opt
def keys_list(home: str | None, as_json: bool) -> None:
    ring = Keyring(home_dir(home))
    rows = [{"name": n, "address": format_address(ring.load(n).address)} for n in ring.names()]

    def render(rows):
        t = Table("name", "address")
        for r in rows:
            t.add_row(r["name"], r["address"])
        console.print(t)

    emit(rows, as_json, render)
