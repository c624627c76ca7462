"""Generating local networks: keys, genesis and node homes.

Owns the layout of a devnet home::

    D/devnet.json         the nodes (name, home, RPC URL) and the chain id
    D/keys/NAME.json      demo accounts: admin (admin+issuer), oracle, oracle1..3, alice, bob, carol, dave
    D/nodeI/              a node home per validator (config.toml, genesis.json, node_key.json)

Every default comes from ``configs/``: the genesis template
(``genesis.example.toml``: chain ids, validator count and power, assets, the
demo accounts with their roles and balances, consensus parameters) and the
node config (``node.example.toml``: every key, the base RPC and p2p ports).
Here only what differs per node is set: moniker, ports, peers, verifier pool.
Keys are generated fresh (never committed anywhere).

Four oracle accounts (:data:`DEMO_ORACLES`): a market listed with all four
needs 3 fresh reports (``floor(2n/3) + 1``), so one oracle may be down, or
one may lie, and the market keeps a price between honest reports -- the
``n = 3f + 1`` rule of Chainlink OCR.  With three oracles the same quorum
is all three, and a 2-of-3 rule would let a single liar among the two live
ones set the (lower) median.
"""
from __future__ import annotations

import copy
import json
import time
from pathlib import Path

import configs
from ledger.keys import PrivateKey, format_address

from node.config import NodeConfig, parse_config, save_config
from .keyring import Keyring

__all__ = [
    "CHAIN_ID",
    "DEMO_ACCOUNTS",
    "DEMO_ORACLES",
    "HOST",
    "P2P_PORT",
    "RPC_PORT",
    "SINGLE_NODE_CHAIN_ID",
    "VALIDATORS",
    "init_testnet",
    "load_devnet",
    "make_genesis",
    "node_config",
]

GENESIS_TEMPLATE = configs.load(configs.GENESIS)
NODE_TEMPLATE = configs.load(configs.NODE)

CHAIN_ID: str = GENESIS_TEMPLATE["chain_id"]
SINGLE_NODE_CHAIN_ID: str = GENESIS_TEMPLATE["single_node_chain_id"]
VALIDATORS: int = GENESIS_TEMPLATE["validators"]
HOST: str = NODE_TEMPLATE["rpc"]["host"]
RPC_PORT: int = NODE_TEMPLATE["rpc"]["port"]
P2P_PORT: int = NODE_TEMPLATE["p2p"]["port"]

DEMO_ACCOUNTS: dict[str, list[str]] = {name: spec["roles"] for name, spec in GENESIS_TEMPLATE["accounts"].items()}
DEMO_ORACLES = tuple(name for name, roles in DEMO_ACCOUNTS.items() if roles == ["oracle"])


def make_genesis(chain_id: str, validators: list[PrivateKey], accounts: dict[str, tuple[PrivateKey, list[str]]], *, extra_accounts: int = 0) -> dict:
    """A genesis document from the template: ``accounts`` are ``{name: (key, roles)}``, ``admin`` among them."""
    t = GENESIS_TEMPLATE
    doc_accounts = []
    for name, (key, roles) in accounts.items():
        entry = {"name": name, "address": format_address(key.address), "roles": roles}
        balances = t["accounts"].get(name, {}).get("balances")
        if balances:
            entry["balances"] = dict(balances)
        doc_accounts.append(entry)
    for i in range(extra_accounts):
        key = PrivateKey.from_name(f"load-{i}", chain_id)
        doc_accounts.append({"address": format_address(key.address), "roles": ["participant"], "balances": dict(t["load_account_balances"])})
    return {
        "chain_id": chain_id,
        "genesis_time_ms": time.time_ns() // 1_000_000,
        "validators": [{"name": f"node{i}", "pubkey": k.pubkey.hex(), "power": t["validator_power"]} for i, k in enumerate(validators)],
        "assets": [{"symbol": a["symbol"], "decimals": a["decimals"], "issuer": format_address(accounts[a["issuer"]][0].address)} for a in t["assets"]],
        "accounts": doc_accounts,
        "consensus_params": dict(sorted(t["consensus_params"].items())),
    }


def node_config(home: Path, moniker: str) -> NodeConfig:
    """A node's config as the template has it, before the per-node settings."""
    cfg = parse_config(copy.deepcopy(NODE_TEMPLATE), home)
    cfg.moniker = moniker
    return cfg


def init_testnet(
    directory: Path,
    validators: int = 1,
    *,
    chain_id: str = CHAIN_ID,
    rpc_port: int = RPC_PORT,
    p2p_port: int = P2P_PORT,
    extra_accounts: int = 0,
    host: str = HOST,
    single_home: bool = False,
    peer_host: str | None = None,
    same_ports: bool = False,
    rpc_ports: list[int] | None = None,
    p2p_ports: list[int] | None = None,
    full_nodes: int = 0,
) -> dict:
    """Write keys, genesis and node homes for ``validators`` nodes into ``directory``.

    Raises:
        FileExistsError: the directory already holds a devnet.
    """
    directory = Path(directory)
    if (directory / "devnet.json").exists():
        raise FileExistsError(f"{directory} already holds a devnet (devnet.json exists)")
    if single_home and validators != 1:
        raise ValueError("a single node home holds one validator")
    if validators < 1 or validators > 64:
        raise ValueError("validators must be 1..64")
    directory.mkdir(parents=True, exist_ok=True)
    ring = Keyring(directory)
    accounts = {name: (ring.create(name, overwrite=True), roles) for name, roles in DEMO_ACCOUNTS.items()}
    vkeys = [PrivateKey.generate() for _ in range(validators)]
    genesis = make_genesis(chain_id, vkeys, accounts, extra_accounts=extra_accounts)
    genesis_text = json.dumps(genesis, indent=2) + "\n"
    nodes = []
    from node.p2p import load_or_create_seed, peer_id_from_seed  # imports libp2p: only when needed

    total = validators + full_nodes
    homes = [directory if single_home else directory / f"node{i}" for i in range(validators)]
    homes += [directory / f"fullnode{j}" for j in range(full_nodes)]
    peer_ids = [peer_id_from_seed(load_or_create_seed(h / "p2p_seed")) for h in homes]

    def rpc_of(i: int) -> int:
        return rpc_ports[i] if rpc_ports else rpc_port if same_ports else rpc_port + i

    def p2p_of(i: int) -> int:
        return p2p_ports[i] if p2p_ports else p2p_port if same_ports else p2p_port + i

    def addr(i: int) -> str:
        # peer_host: e.g. "node{i}" for docker service names (resolved by the node at start)
        port = p2p_of(i)
        where = f"/dns4/{peer_host.format(i=i)}" if peer_host else f"/ip4/{host}"
        return f"{where}/tcp/{port}/p2p/{peer_ids[i]}"

    keys = vkeys + [PrivateKey.generate() for _ in range(full_nodes)]
    for i, key in enumerate(keys):
        home = homes[i]
        name = f"node{i}" if i < validators else f"fullnode{i - validators}"
        cfg = node_config(home, name)
        cfg.rpc.host = host
        cfg.rpc.port = rpc_of(i)
        cfg.p2p.host = host
        cfg.p2p.port = p2p_of(i)
        # validators dial everyone; a full node dials the validators
        cfg.p2p.peers = [addr(j) for j in range(total if i < validators else validators) if j != i]
        if total > 1:
            cfg.verifier.pool = "threads"  # the nodes of a local network share this machine's cores
        save_config(cfg)
        (home / "genesis.json").write_text(genesis_text)
        key.save(home / "node_key.json", name=name)
        nodes.append({"name": name, "home": "." if single_home else name, "rpc": cfg.rpc_url, "peer_id": peer_ids[i],
                      "validator": i < validators})
    meta = {"chain_id": chain_id, "nodes": nodes}
    (directory / "devnet.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def load_devnet(directory: Path) -> dict | None:
    path = Path(directory) / "devnet.json"
    if not path.exists():
        return None
    return json.loads(path.read_text())
