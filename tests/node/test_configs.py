"""configs/ is the one source of the local network's defaults, and documents every key.

``settle testnet init`` (what ``settle devnet up`` and docker-compose.yml run)
and ``settle init`` must write exactly what configs/genesis.example.toml and
configs/node.example.toml say, apart from what differs per node; the node's
own defaults (a key absent from config.toml) must be the example's values;
docker-compose.yml and the Dockerfile must use the example's ports.
"""
from __future__ import annotations

import dataclasses
import json
import re
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

import configs
from cli.keyring import Keyring
from cli.main import cli
from consensus.config import GENESIS_PARAMS, ConsensusConfig
from ledger.keys import format_address
from node.config import NodeConfig

GENESIS = configs.load(configs.GENESIS)
NODE = configs.load(configs.NODE)
ROOT = Path(__file__).resolve().parents[2]
ASSIGNMENT = re.compile(r"^\s*[A-Za-z0-9_\-\"]+\s*=")


def _run(*args: str) -> None:
    res = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert res.exit_code == 0, res.output


def _node_defaults() -> dict:
    return {k: v for k, v in dataclasses.asdict(NodeConfig()).items() if k != "home"}


def test_the_node_example_holds_every_key_with_the_value_a_node_uses_when_it_is_absent():
    assert NODE == _node_defaults()


def test_the_genesis_example_consensus_params_are_the_consensus_defaults():
    assert GENESIS["consensus_params"] == {name: getattr(ConsensusConfig(), f) for name, f in GENESIS_PARAMS.items()}


@pytest.mark.parametrize("name", [configs.GENESIS, configs.NODE])
def test_every_key_is_documented_on_its_line(name):
    lines = configs.text(name).splitlines()
    keys = [ln for ln in lines if ASSIGNMENT.match(ln)]
    assert keys and all(" # " in ln for ln in keys), [ln for ln in keys if " # " not in ln]
    assert lines[0].startswith("# ")  # and the file says what it is for


def test_testnet_init_with_no_options_writes_the_examples(tmp_path):
    d = tmp_path / "net"
    _run("testnet", "init", "--dir", str(d))
    meta = json.loads((d / "devnet.json").read_text())
    ring = Keyring(d)
    assert meta["chain_id"] == GENESIS["chain_id"] and len(meta["nodes"]) == GENESIS["validators"]
    genesis_texts = {(d / n["home"] / "genesis.json").read_text() for n in meta["nodes"]}
    assert len(genesis_texts) == 1
    g = json.loads(genesis_texts.pop())
    assert g["chain_id"] == GENESIS["chain_id"]
    assert [v["power"] for v in g["validators"]] == [GENESIS["validator_power"]] * GENESIS["validators"]
    assert g["consensus_params"] == GENESIS["consensus_params"]
    assert g["assets"] == [{**a, "issuer": format_address(ring.address(a["issuer"]))} for a in GENESIS["assets"]]
    want_accounts = [{"name": name, "address": format_address(ring.address(name)), **spec} for name, spec in GENESIS["accounts"].items()]
    assert g["accounts"] == want_accounts
    for i, n in enumerate(meta["nodes"]):
        got = tomllib.loads((d / n["home"] / "config.toml").read_text())
        peer_ports = sorted(int(re.search(r"/tcp/(\d+)/", p).group(1)) for p in got["p2p"].pop("peers"))
        assert peer_ports == [NODE["p2p"]["port"] + j for j in range(GENESIS["validators"]) if j != i]
        want = json.loads(json.dumps(NODE))
        want["moniker"] = f"node{i}"
        want["rpc"]["port"] += i
        want["p2p"]["port"] += i
        want["verifier"]["pool"] = "threads"  # the nodes share one machine
        del want["p2p"]["peers"]
        assert got == want, n["name"]


def test_init_writes_a_single_node_home_from_the_examples(tmp_path):
    _run("init", "--home", str(tmp_path / "h"))
    g = json.loads((tmp_path / "h" / "genesis.json").read_text())
    assert g["chain_id"] == GENESIS["single_node_chain_id"] and len(g["validators"]) == 1
    got = tomllib.loads((tmp_path / "h" / "config.toml").read_text())
    assert got == {**NODE, "moniker": "node0"}


def test_the_commands_defaults_are_the_examples():
    params = {}
    for path in (("testnet", "init"), ("devnet", "up"), ("init",)):
        cmd = cli
        for part in path:
            cmd = cmd.commands[part]
        params[" ".join(path)] = {p.name: p.default for p in cmd.params}
    for name in ("testnet init", "devnet up", "init"):
        assert params[name]["rpc_port"] == NODE["rpc"]["port"] and params[name]["p2p_port"] == NODE["p2p"]["port"]
    for name in ("testnet init", "devnet up"):
        assert params[name]["validators"] == GENESIS["validators"]
    assert params["testnet init"]["chain_id"] == GENESIS["chain_id"]
    assert params["testnet init"]["host"] == NODE["rpc"]["host"] == NODE["p2p"]["host"]
    assert params["init"]["chain_id"] == GENESIS["single_node_chain_id"]


def test_compose_and_the_image_use_the_examples_ports():
    compose = (ROOT / "docker-compose.yml").read_text()
    container_rpc_ports = re.findall(r'ports: \["127\.0\.0\.1:\$\{SETTLE_RPC_PORT\d:-\d+\}:(\d+)"\]', compose)
    health_ports = re.findall(r"http://127\.0\.0\.1:(\d+)/health", compose)
    assert len(container_rpc_ports) == GENESIS["validators"] and health_ports
    assert {int(p) for p in container_rpc_ports + health_ports} == {NODE["rpc"]["port"]}
    init = re.search(r'command: \["settle", "testnet", "init",(.*?)\]', compose, re.S).group(1)
    options = set(re.findall(r'"(--[a-z-]+)"', init))
    # only what containers need differently, and this deployment's chain id
    assert options == {"--dir", "--chain-id", "--host", "--peer-host", "--same-ports", "--if-missing"}
    exposed = re.search(r"^EXPOSE (.*)$", (ROOT / "Dockerfile").read_text(), re.M).group(1).split()
    assert sorted(map(int, exposed)) == sorted([NODE["rpc"]["port"], NODE["p2p"]["port"]])
