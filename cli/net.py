"""``settle init``, ``settle testnet``, ``settle node`` and ``settle devnet``: creating and running networks.

Owns the argument parsing and output of these commands; the work is done by
``cli.testnet`` (homes and genesis), ``cli.devnet`` (the local supervisor)
and ``node.run`` (one node in the foreground).  The options' defaults are
those of ``configs/`` (through ``cli.testnet``).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from rich.table import Table


from sdk import Client, SettleError
from .common import CLIError, console, emit, home_dir, home_opt, json_opt
from .devnet import SUPERVISOR_ENV, die_with_parent, down, up
from .testnet import CHAIN_ID, HOST, P2P_PORT, RPC_PORT, SINGLE_NODE_CHAIN_ID, VALIDATORS, init_testnet, load_devnet

__all__ = ["devnet", "init", "node", "testnet"]


@click.command()
@home_opt
@click.option("--chain-id", default=SINGLE_NODE_CHAIN_ID)
@click.option("--rpc-port", default=RPC_PORT, show_default=True)
@click.option("--p2p-port", default=P2P_PORT, show_default=True)
def init(home: str | None, chain_id: str, rpc_port: int, p2p_port: int) -> None:
    """Create a single-validator node home (config, genesis, keys)."""
    h = home_dir(home)
    try:
        init_testnet(h, 1, chain_id=chain_id, rpc_port=rpc_port, p2p_port=p2p_port, single_home=True)
    except (FileExistsError, ValueError) as exc:
        raise CLIError(str(exc)) from None
    click.echo(f"initialised node home {h} (start it with: settle node start --home {h})")


@click.group()
def testnet() -> None:
    """Generate local networks."""


@testnet.command("init")
@click.option("--validators", "-n", default=VALIDATORS, show_default=True)
@click.option("--dir", "directory", required=True, type=click.Path(file_okay=False))
@click.option("--chain-id", default=CHAIN_ID, show_default=True)
@click.option("--rpc-port", default=RPC_PORT, show_default=True)
@click.option("--p2p-port", default=P2P_PORT, show_default=True)
@click.option("--accounts", "extra_accounts", default=0, help="extra funded load-test accounts")
@click.option("--host", default=HOST, show_default=True, help="address RPC and p2p listen on")
@click.option("--peer-host", default=None, help="DNS name template of node i for peers, e.g. 'node{i}' (containers)")
@click.option("--same-ports", is_flag=True, help="every node uses the same ports (one host per node, e.g. containers)")
@click.option("--if-missing", is_flag=True, help="do nothing (exit 0) when DIR already holds a network")
@click.option("--full-nodes", default=0, show_default=True, help="non-validator nodes that follow the chain and serve RPC")
def testnet_init(validators, directory, chain_id, rpc_port, p2p_port, extra_accounts, host, peer_host, same_ports, if_missing, full_nodes) -> None:
    """Write keys, genesis and node homes for N validators."""
    if if_missing and load_devnet(Path(directory)) is not None:
        click.echo(f"{directory} already holds a network; leaving it as it is")
        return
    try:
        meta = init_testnet(Path(directory), validators, chain_id=chain_id, rpc_port=rpc_port, p2p_port=p2p_port,
                            extra_accounts=extra_accounts, host=host, peer_host=peer_host, same_ports=same_ports,
                            full_nodes=full_nodes)
    except (FileExistsError, ValueError) as exc:
        raise CLIError(str(exc)) from None
    for n in meta["nodes"]:
        click.echo(f"{n['name']}: home {Path(directory) / n['home']}  rpc {n['rpc']}")


log_level_opt = click.option(
    "--log-level", type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False), default=None,
    help="instead of the node config's log_level (info: a line per block with txs, warnings and errors; "
         "debug: every block, peers, sync, libp2p's warnings)")


@click.group()
def node() -> None:
    """Run a node."""


@node.command("start")
@click.option("--home", required=True, type=click.Path(file_okay=False, exists=True))
@log_level_opt
def node_start(home: str, log_level: str | None) -> None:
    """Run a node in the foreground until Ctrl-C / SIGTERM."""
    if os.environ.get(SUPERVISOR_ENV):  # started by `settle devnet up`: never outlive it
        die_with_parent(int(os.environ[SUPERVISOR_ENV]))

    from node.run import run_node  # the node's runtime, only for the command that runs it

    rc = run_node(Path(home), log_level=log_level)
    if rc:
        sys.exit(rc)


@click.group()
def devnet() -> None:
    """A local network on 127.0.0.1."""


@devnet.command("up")
@click.option("--validators", "-n", default=VALIDATORS, show_default=True)
@home_opt
@click.option("--rpc-port", default=RPC_PORT, show_default=True)
@click.option("--p2p-port", default=P2P_PORT, show_default=True)
@log_level_opt
def devnet_up(validators: int, home: str | None, rpc_port: int, p2p_port: int, log_level: str | None) -> None:
    """Create (first time) and run the devnet in the foreground; Ctrl-C stops it."""
    rc = up(home_dir(home), validators, rpc_port=rpc_port, p2p_port=p2p_port, log_level=log_level)
    if rc:
        sys.exit(rc)


@devnet.command("down")
@home_opt
def devnet_down(home: str | None) -> None:
    """Stop the devnet running in the home (its supervisor, or nodes it left behind)."""
    try:
        click.echo(down(home_dir(home)))
    except TimeoutError as exc:
        raise CLIError(str(exc)) from None


@devnet.command("status")
@home_opt
@json_opt
def devnet_status(home: str | None, as_json: bool) -> None:
    """Height, block hash and state root of every devnet node."""
    h = home_dir(home)
    meta = load_devnet(h)
    if meta is None:
        raise CLIError(f"no devnet at {h} (run `settle devnet up`)")
    rows = []
    for n in meta["nodes"]:
        try:
            st = Client(n["rpc"], timeout=5).status()
            rows.append({"node": n["name"], "rpc": n["rpc"], "up": True, **{k: st[k] for k in ("height", "latest_block_hash", "state_root", "mempool_size", "peers")}})
        except SettleError as exc:
            rows.append({"node": n["name"], "rpc": n["rpc"], "up": False, "error": str(exc)})

    def render(rows):
        t = Table("node", "rpc", "height", "block", "state root", "peers", "mempool")
        for r in rows:
            if r["up"]:
                t.add_row(r["node"], r["rpc"], str(r["height"]), r["latest_block_hash"][:16], r["state_root"][:16], str(r["peers"]), str(r["mempool_size"]))
            else:
                t.add_row(r["node"], r["rpc"], "[red]down[/red]", "", "", "", "")
        console.print(t)

    emit(rows, as_json, render)
