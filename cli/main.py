"""The ``settle`` command line: the one place that assembles it, and its entry point.

Owns the command tree (``build_cli``: every group and command, from the
module that defines it) and the error convention: every failure is ONE line
on stderr (``error: ...``) and a non-zero exit code.  Commands find the
keyring and the first node's RPC URL through ``--home``/``$SETTLE_HOME``
(default: the devnet's home), so ``settle devnet up`` in one terminal and
``settle tx transfer --from alice --to bob ...`` in another just work.
Defines no command itself.
"""
from __future__ import annotations

import importlib
import sys

import click

from . import keys, light, net, options, pm, query, receipt, relay, risk, risk_query, tx, xswap
from sdk import SettleError

__all__ = ["build_cli", "cli", "main"]


# Commands whose modules are heavy to import (the load generator, the chaos harness), loaded
# only when they run or --help lists them: every other command starts about 0.25 s sooner.
LAZY_COMMANDS = {"bench": ("cli.bench", "bench"), "chaos": ("cli.chaos", "chaos")}


class _Root(click.Group):
    """The root group, with :data:`LAZY_COMMANDS` imported on first use."""

    def list_commands(self, ctx):
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx, name):
        if name in LAZY_COMMANDS and name not in self.commands:
            module, attr = LAZY_COMMANDS[name]
            self.add_command(getattr(importlib.import_module(module), attr))
        return super().get_command(ctx, name)


def build_cli() -> click.Group:
    """The root ``settle`` group with every command attached (click lists them sorted by name)."""
    root = _Root(help="Settle: a permissioned settlement ledger with BFT finality.")
    for command in (
        keys.keygen,
        keys.keys,
        net.init,
        net.testnet,
        net.node,
        net.devnet,
        click.Group("tx", help="Sign and submit transactions.", commands=[*tx.COMMANDS, *risk.TX_COMMANDS]),
        click.Group("query", help="Read chain state over RPC.", commands=[*query.COMMANDS, *risk_query.QUERY_COMMANDS]),
        risk.order,
        risk.swap,
        risk.htlc,
        options.options,
        pm.pm,
        pm.collateral,
        risk_query.stress,
        receipt.receipt,
        receipt.verify,
        light.light,
        relay.relay,
        relay.bridge,
        xswap.xswap,
    ):
        root.add_command(command)
    return root


cli = build_cli()


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; any failure is one line on stderr and exit code 1 (2 for usage)."""
    try:
        cli.main(args=argv, prog_name="settle", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("error: aborted", err=True)
        sys.exit(130)
    except click.UsageError as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(2)
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(1)
    except SettleError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except (OSError, ValueError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
