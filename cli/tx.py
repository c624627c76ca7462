"""``settle tx transfer|register|create-asset|issue``: the ledger's own transactions.

Owns the argument parsing of these commands; signing and submitting is
``cli.common.submit``.  ``COMMANDS`` lists them for the ``tx`` group that
``cli.main`` builds (the risk engine's are in ``cli.risk``).
"""
from __future__ import annotations

import click

from ledger.txkinds import CreateAsset, Issue, RegisterAccount, Transfer

from .common import CLIError, home_dir, resolve_address, submit, tx_command

__all__ = ["COMMANDS"]


@click.command("transfer")
@click.option("--from", "sender", required=True, help="key name or key file")
@click.option("--to", "to", required=True, help="address or key name")
@click.option("--asset", required=True)
@click.option("--amount", required=True, type=int, help="amount in base units")
@click.option("--memo", default="")
@tx_command
def tx_transfer(sender, to, asset, amount, memo, home, rpc, as_json, wait):
    """Transfer an asset to another account."""
    h = home_dir(home)
    submit(h, rpc, sender, Transfer(resolve_address(h, to), asset, amount, memo), wait, as_json)


@click.command("register")
@click.option("--from", "sender", required=True, help="an admin key")
@click.option("--address", required=True, help="address or key name to admit")
@click.option("--role", required=True, type=click.Choice(["admin", "issuer", "oracle", "participant"]))
@tx_command
def tx_register(sender, address, role, home, rpc, as_json, wait):
    """Admit an account (admin only)."""
    h = home_dir(home)
    submit(h, rpc, sender, RegisterAccount(resolve_address(h, address), role), wait, as_json)


@click.command("create-asset")
@click.option("--from", "sender", required=True, help="an admin key")
@click.option("--symbol", required=True)
@click.option("--decimals", required=True, type=int)
@click.option("--issuer", required=True, help="address or key name")
@tx_command
def tx_create_asset(sender, symbol, decimals, issuer, home, rpc, as_json, wait):
    """Create an asset (admin only)."""
    h = home_dir(home)
    if not 0 <= decimals <= 18:
        raise CLIError("decimals must be 0..18")
    submit(h, rpc, sender, CreateAsset(symbol, decimals, resolve_address(h, issuer)), wait, as_json)


@click.command("issue")
@click.option("--from", "sender", required=True, help="the asset's issuer key")
@click.option("--asset", required=True)
@click.option("--amount", required=True, type=int)
@click.option("--to", "to", default=None, help="beneficiary (default: the issuer)")
@tx_command
def tx_issue(sender, asset, amount, to, home, rpc, as_json, wait):
    """Mint an asset (its issuer only)."""
    h = home_dir(home)
    beneficiary = resolve_address(h, to) if to else resolve_address(h, sender)
    submit(h, rpc, sender, Issue(asset, amount, beneficiary), wait, as_json)


COMMANDS = (tx_transfer, tx_register, tx_create_asset, tx_issue)
