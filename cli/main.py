"""The ``settle`` command line.

Owns argument parsing, output (rich tables for people, ``--json`` for
scripts) and the error convention: every failure is ONE line on stderr
(``error: ...``) and a non-zero exit code.  Commands find the keyring and the
first node's RPC URL through ``--home``/``$SETTLE_HOME`` (default: the
devnet's home), so ``settle devnet up`` in one terminal and ``settle tx
transfer --from alice --to bob ...`` in another just work.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from ledger.keys import format_address
from ledger.tx import sign_tx
from ledger.txkinds import CreateAsset, Issue, RegisterAccount, Transfer
from settlement.checktx import check_body
from settlement.errors import SettlementError

from .client import RPCClient, RPCClientError
from .keyring import Keyring, default_home
from .testnet import init_testnet, load_devnet

__all__ = ["main"]

console = Console()


class CLIError(click.ClickException):
    pass


def _home(home: str | None) -> Path:
    return default_home(home)


def _rpc_url(home: Path, rpc: str | None) -> str:
    if rpc:
        return rpc
    meta = load_devnet(home)
    if meta and meta.get("nodes"):
        return meta["nodes"][0]["rpc"]
    if (home / "config.toml").exists():
        from node.config import load_config

        return load_config(home).rpc_url
    return "http://127.0.0.1:26657"


def _client(home: Path, rpc: str | None) -> RPCClient:
    return RPCClient(_rpc_url(home, rpc))


def _emit(obj, as_json: bool, render) -> None:
    if as_json:
        click.echo(json.dumps(obj, indent=2))
    else:
        render(obj)


def _kv_table(title: str, rows: list[tuple[str, object]]) -> None:
    t = Table(title=title, show_header=False, title_justify="left")
    t.add_column(style="bold cyan")
    t.add_column()
    for k, v in rows:
        t.add_row(k, str(v))
    console.print(t)


home_opt = click.option("--home", envvar="SETTLE_HOME", default=None, help="devnet or node home (default $SETTLE_HOME or ~/.settle/devnet)")
rpc_opt = click.option("--rpc", default=None, help="node RPC URL (default: the home's first node)")
json_opt = click.option("--json", "as_json", is_flag=True, help="machine-readable JSON output")


@click.group()
def cli() -> None:
    """Settle: a permissioned settlement ledger with BFT finality."""


# --------------------------------------------------------------------------- keys / init


@cli.command()
@click.argument("name")
@home_opt
@json_opt
def keygen(name: str, home: str | None, as_json: bool) -> None:
    """Create a new named key in the keyring."""
    ring = Keyring(_home(home))
    try:
        key = ring.create(name)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    out = {"name": name, "address": format_address(key.address), "file": str(ring.path(name))}
    _emit(out, as_json, lambda o: _kv_table("new key", list(o.items())))


@cli.group()
def keys() -> None:
    """Inspect the keyring."""


@keys.command("list")
@home_opt
@json_opt
def keys_list(home: str | None, as_json: bool) -> None:
    ring = Keyring(_home(home))
    rows = [{"name": n, "address": format_address(ring.load(n).address)} for n in ring.names()]

    def render(rows):
        t = Table("name", "address")
        for r in rows:
            t.add_row(r["name"], r["address"])
        console.print(t)

    _emit(rows, as_json, render)


@cli.command()
@home_opt
@click.option("--chain-id", default="settle-local")
@click.option("--rpc-port", default=26657, show_default=True)
@click.option("--p2p-port", default=26756, show_default=True)
def init(home: str | None, chain_id: str, rpc_port: int, p2p_port: int) -> None:
    """Create a single-validator node home (config, genesis, keys)."""
    h = _home(home)
    try:
        init_testnet(h, 1, chain_id=chain_id, rpc_port=rpc_port, p2p_port=p2p_port, single_home=True)
    except (FileExistsError, ValueError) as exc:
        raise CLIError(str(exc)) from None
    click.echo(f"initialised node home {h} (start it with: settle node start --home {h})")


@cli.group()
def testnet() -> None:
    """Generate local networks."""


@testnet.command("init")
@click.option("--validators", "-n", default=4, show_default=True)
@click.option("--dir", "directory", required=True, type=click.Path(file_okay=False))
@click.option("--chain-id", default="settle-devnet", show_default=True)
@click.option("--rpc-port", default=26657, show_default=True)
@click.option("--p2p-port", default=26756, show_default=True)
@click.option("--accounts", "extra_accounts", default=0, help="extra funded load-test accounts")
@click.option("--host", default="127.0.0.1", show_default=True, help="address RPC and p2p listen on")
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


# --------------------------------------------------------------------------- node / devnet


@cli.group()
def node() -> None:
    """Run a node."""


@node.command("start")
@click.option("--home", required=True, type=click.Path(file_okay=False, exists=True))
def node_start(home: str) -> None:
    """Run a node in the foreground until Ctrl-C / SIGTERM."""
    from .devnet import SUPERVISOR_ENV, die_with_parent
    from node.run import run_node

    if os.environ.get(SUPERVISOR_ENV):  # started by `settle devnet up`: never outlive it
        die_with_parent(int(os.environ[SUPERVISOR_ENV]))

    rc = run_node(Path(home))
    if rc:
        sys.exit(rc)


@cli.group()
def devnet() -> None:
    """A local network on 127.0.0.1."""


@devnet.command("up")
@click.option("--validators", "-n", default=4, show_default=True)
@home_opt
@click.option("--rpc-port", default=26657, show_default=True)
@click.option("--p2p-port", default=26756, show_default=True)
def devnet_up(validators: int, home: str | None, rpc_port: int, p2p_port: int) -> None:
    """Create (first time) and run the devnet in the foreground; Ctrl-C stops it."""
    from .devnet import up

    rc = up(_home(home), validators, rpc_port=rpc_port, p2p_port=p2p_port)
    if rc:
        sys.exit(rc)


@devnet.command("down")
@home_opt
def devnet_down(home: str | None) -> None:
    """Stop the devnet running in the home (its supervisor, or nodes it left behind)."""
    from .devnet import down

    try:
        click.echo(down(_home(home)))
    except TimeoutError as exc:
        raise CLIError(str(exc)) from None


@devnet.command("status")
@home_opt
@json_opt
def devnet_status(home: str | None, as_json: bool) -> None:
    """Height, block hash and state root of every devnet node."""
    h = _home(home)
    meta = load_devnet(h)
    if meta is None:
        raise CLIError(f"no devnet at {h} (run `settle devnet up`)")
    rows = []
    for n in meta["nodes"]:
        try:
            st = RPCClient(n["rpc"], timeout=5).call("status")
            rows.append({"node": n["name"], "rpc": n["rpc"], "up": True, **{k: st[k] for k in ("height", "latest_block_hash", "state_root", "mempool_size", "peers")}})
        except RPCClientError as exc:
            rows.append({"node": n["name"], "rpc": n["rpc"], "up": False, "error": str(exc)})

    def render(rows):
        t = Table("node", "rpc", "height", "block", "state root", "peers", "mempool")
        for r in rows:
            if r["up"]:
                t.add_row(r["node"], r["rpc"], str(r["height"]), r["latest_block_hash"][:16], r["state_root"][:16], str(r["peers"]), str(r["mempool_size"]))
            else:
                t.add_row(r["node"], r["rpc"], "[red]down[/red]", "", "", "", "")
        console.print(t)

    _emit(rows, as_json, render)


# --------------------------------------------------------------------------- transactions


@cli.group()
def tx() -> None:
    """Sign and submit transactions."""


def _submit(home: Path, rpc: str | None, signer: str, body, wait: bool, as_json: bool) -> None:
    try:
        check_body(type(body).KIND, body)  # what needs no state is refused before anything is signed
    except SettlementError as exc:
        raise CLIError(str(exc)) from None
    ring = Keyring(home)
    try:
        key = ring.load(signer)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    client = _client(home, rpc)
    status = client.call("status")
    try:
        acct = client.call("account", {"address": format_address(key.address)})
    except RPCClientError as exc:
        if exc.code == -32001:
            raise CLIError(f"signer {format_address(key.address)} is not a registered account") from None
        raise
    t = sign_tx(key, status["chain_id"], acct["next_nonce"], body)
    res = client.call("broadcast_tx", {"tx": t.raw.hex(), "mode": "commit" if wait else "sync"}, timeout=90)
    if wait and not res["receipt"]["ok"]:
        if as_json:
            click.echo(json.dumps(res, indent=2))
        r = res["receipt"]
        raise CLIError(f"transaction {res['hash']} committed at height {res['height']} but failed: {r['error']}: {r['reason']}")

    def render(res):
        rows = [("hash", res["hash"]), ("kind", t.kind), ("nonce", t.nonce)]
        if wait:
            rows += [("height", res["height"]), ("result", "ok")]
            for e in res["receipt"]["events"]:
                rows.append(("event", ", ".join(f"{k}={ring.label(_addr(v)) if _is_addr(v) else v}" for k, v in e.items())))
        else:
            rows.append(("status", "accepted into the mempool (use --wait to wait for the commit)"))
        _kv_table("transaction", rows)

    _emit(res, as_json, render)


def _is_addr(v) -> bool:
    return isinstance(v, str) and v.startswith("st") and len(v) == 42


def _addr(v: str) -> bytes:
    return bytes.fromhex(v[2:])


def _address(home: Path, text: str) -> bytes:
    try:
        return Keyring(home).address(text)
    except ValueError as exc:
        raise CLIError(str(exc)) from None


tx_opts = [home_opt, rpc_opt, json_opt, click.option("--wait", is_flag=True, help="wait until committed and show the receipt")]


def _tx_command(fn):
    for opt in reversed(tx_opts):
        fn = opt(fn)
    return fn


@tx.command("transfer")
@click.option("--from", "sender", required=True, help="key name or key file")
@click.option("--to", "to", required=True, help="address or key name")
@click.option("--asset", required=True)
@click.option("--amount", required=True, type=int, help="amount in base units")
@click.option("--memo", default="")
@_tx_command
def tx_transfer(sender, to, asset, amount, memo, home, rpc, as_json, wait):
    """Transfer an asset to another account."""
    h = _home(home)
    _submit(h, rpc, sender, Transfer(_address(h, to), asset, amount, memo), wait, as_json)


@tx.command("register")
@click.option("--from", "sender", required=True, help="an admin key")
@click.option("--address", required=True, help="address or key name to admit")
@click.option("--role", required=True, type=click.Choice(["admin", "issuer", "oracle", "participant"]))
@_tx_command
def tx_register(sender, address, role, home, rpc, as_json, wait):
    """Admit an account (admin only)."""
    h = _home(home)
    _submit(h, rpc, sender, RegisterAccount(_address(h, address), role), wait, as_json)


@tx.command("create-asset")
@click.option("--from", "sender", required=True, help="an admin key")
@click.option("--symbol", required=True)
@click.option("--decimals", required=True, type=int)
@click.option("--issuer", required=True, help="address or key name")
@_tx_command
def tx_create_asset(sender, symbol, decimals, issuer, home, rpc, as_json, wait):
    """Create an asset (admin only)."""
    h = _home(home)
    if not 0 <= decimals <= 18:
        raise CLIError("decimals must be 0..18")
    _submit(h, rpc, sender, CreateAsset(symbol, decimals, _address(h, issuer)), wait, as_json)


@tx.command("issue")
@click.option("--from", "sender", required=True, help="the asset's issuer key")
@click.option("--asset", required=True)
@click.option("--amount", required=True, type=int)
@click.option("--to", "to", default=None, help="beneficiary (default: the issuer)")
@_tx_command
def tx_issue(sender, asset, amount, to, home, rpc, as_json, wait):
    """Mint an asset (its issuer only)."""
    h = _home(home)
    beneficiary = _address(h, to) if to else _address(h, sender)
    _submit(h, rpc, sender, Issue(asset, amount, beneficiary), wait, as_json)


# --------------------------------------------------------------------------- queries


@cli.group()
def query() -> None:
    """Read chain state over RPC."""


@query.command("status")
@home_opt
@rpc_opt
@json_opt
def query_status(home, rpc, as_json):
    st = _client(_home(home), rpc).call("status")
    _emit(st, as_json, lambda o: _kv_table("status", list(o.items())))


@query.command("block")
@click.argument("height", type=int, required=False)
@home_opt
@rpc_opt
@json_opt
def query_block(height, home, rpc, as_json):
    params = {"receipts": True} | ({"height": height} if height is not None else {})
    blk = _client(_home(home), rpc).call("block", params)

    def render(b):
        _kv_table(f"block {b['header']['height']}", list(b["header"].items()) + [("txs", b["num_txs"])])
        if b["txs"]:
            t = Table("#", "hash", "sender", "kind", "result")
            for i, (x, r) in enumerate(zip(b["txs"], b["receipts"])):
                t.add_row(str(i), x["hash"][:16], x["sender"], x["kind"], "ok" if r["ok"] else f"{r['error']}: {r['reason']}")
            console.print(t)

    _emit(blk, as_json, render)


@query.command("tx")
@click.argument("tx_hash")
@home_opt
@rpc_opt
@json_opt
def query_tx(tx_hash, home, rpc, as_json):
    res = _client(_home(home), rpc).call("tx", {"hash": tx_hash})

    def render(o):
        rows = [("hash", o["hash"]), ("status", o["status"])]
        if o["status"] == "committed":
            r = o["receipt"]
            rows += [("height", o["height"]), ("index", o["index"]), ("kind", o["tx"]["kind"]), ("sender", o["tx"]["sender"])]
            rows += [("result", "ok" if r["ok"] else f"{r['error']}: {r['reason']}")]
            rows += [("body", json.dumps(o["tx"]["body"]))]
        _kv_table("transaction", rows)

    _emit(res, as_json, render)


@query.command("account")
@click.argument("who")
@home_opt
@rpc_opt
@json_opt
def query_account(who, home, rpc, as_json):
    h = _home(home)
    res = _client(h, rpc).call("account", {"address": format_address(_address(h, who))})

    def render(o):
        _kv_table(f"account {who}", [("address", o["address"]), ("roles", ", ".join(o["roles"])), ("nonce", o["nonce"])])
        t = Table("asset", "balance (base units)")
        for sym, amt in sorted(o["balances"].items()):
            t.add_row(sym, f"{amt:,}")
        console.print(t)

    _emit(res, as_json, render)


@query.command("assets")
@home_opt
@rpc_opt
@json_opt
def query_assets(home, rpc, as_json):
    res = _client(_home(home), rpc).call("assets")

    def render(rows):
        t = Table("symbol", "decimals", "issuer", "supply")
        for r in rows:
            t.add_row(r["symbol"], str(r["decimals"]), r["issuer"], f"{r['supply']:,}")
        console.print(t)

    _emit(res, as_json, render)


from . import bench as cli_bench, chaos as cli_chaos, risk as cli_risk  # noqa: E402,F401  (their commands attach to the groups above)

# --------------------------------------------------------------------------- entry point


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
    except RPCClientError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except (OSError, ValueError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
