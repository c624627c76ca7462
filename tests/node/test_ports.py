"""Ports, not a hub: node components never import the assembly or receive the Node,
registries are built explicitly, and each component runs on small fakes of its ports."""
from __future__ import annotations

import ast
import asyncio
import inspect
import typing
from collections.abc import Sized
from pathlib import Path

import pytest

from ledger.codec import encode
from node.commits import CommitPipeline
from node.consensus_driver import ConsensusDriver
from node.gossip import TOPIC_STATUS, StatusBeacon, TxGossip
from node.intake import ClientTxs, TxIntake
from node.methods import CORE_METHODS, method_table
from node.methods_risk import RISK_METHODS
from node.metrics import NodeCounters
from node.rpc import RPCServer
from node.sync import BlockSync

NODE = Path(__file__).resolve().parents[2] / "node"
COMPONENTS = ("commits", "consensus_driver", "gossip", "halt", "intake", "methods", "methods_risk", "metrics", "ports",
              "rpc", "sync")


def _tree(name: str) -> ast.Module:
    return ast.parse((NODE / f"{name}.py").read_text())


def test_no_component_imports_the_assembly():
    for name in COMPONENTS:
        for node in ast.walk(_tree(name)):
            if isinstance(node, ast.ImportFrom):
                target = ("." * node.level) + (node.module or "")
                names = {a.name for a in node.names}
                assert target not in (".app", "node.app") and not (target in (".", "node") and "app" in names), (name, target)
            elif isinstance(node, ast.Import):
                assert all(a.name != "node.app" for a in node.names), name


def test_no_component_is_built_with_the_node():
    for cls in (CommitPipeline, ConsensusDriver, TxGossip, StatusBeacon, TxIntake, ClientTxs, RPCServer, BlockSync):
        params = inspect.signature(cls).parameters
        assert "node" not in params, cls.__name__


def test_no_import_inside_a_function_in_node_modules():
    """Imports sit at module level; the one exception (py-libp2p, ~1 s) says why in app.py."""
    for path in sorted(NODE.glob("*.py")):
        for fn in ast.walk(ast.parse(path.read_text())):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lazy = [n for n in ast.walk(fn) if isinstance(n, (ast.Import, ast.ImportFrom))]
                if path.name == "app.py" and fn.name == "_p2p_network":
                    continue
                assert not lazy, f"{path.name}:{fn.name} imports inside a function"


def test_the_rpc_method_table_is_explicit_sorted_and_refuses_duplicates():
    table = method_table(CORE_METHODS, RISK_METHODS)
    assert list(table) == sorted(table)
    assert {"status", "broadcast_tx", "account_margin", "events"} <= set(table)
    with pytest.raises(ValueError, match=CORE_METHODS[0].__name__):
        method_table(CORE_METHODS, CORE_METHODS[:1])
    source = (NODE / "methods.py").read_text()
    assert "import methods_risk" not in source and "from . import" not in source


# ---------------------------------------------------------------- a component on fakes


class FakeNet:
    def __init__(self, response: bytes = b""):
        self.published: list[tuple[str, bytes]] = []
        self.garbage: list[str] = []
        self.response = response

    def publish(self, topic: str, data: bytes) -> bool:
        self.published.append((topic, data))
        return True

    async def request(self, peer_id: str, protocol: str, payload: bytes, timeout: float) -> bytes:
        return self.response

    def peers(self) -> list[str]:
        return ["peer-a"]

    def report_garbage(self, peer_id: str) -> None:
        self.garbage.append(peer_id)


class FakeChain:
    height = 5
    last_block_id = b"\x11" * 32


class FakeSync:
    def __init__(self, stalled: bool = False):
        self.heights: list[tuple[str, int]] = []
        self.requests = 0
        self._stalled = stalled

    def note_peer_height(self, peer_id: str, height: int) -> None:
        self.heights.append((peer_id, height))

    def request_sync(self) -> None:
        self.requests += 1

    def stalled(self) -> bool:
        return self._stalled


def test_status_beacon_on_fakes_catches_up_only_from_a_peer_ahead():
    net, sync, counters = FakeNet(), FakeSync(), NodeCounters()
    beacon = StatusBeacon(FakeChain(), net, sync, counters)
    beacon.on_status("peer-a", encode([6, b""]))  # one ahead, consensus not stalled: wait for it
    assert sync.heights == [("peer-a", 6)] and sync.requests == 0
    beacon.on_status("peer-a", encode([7, b""]))  # two ahead: catch up
    assert sync.requests == 1
    stalled = FakeSync(stalled=True)
    StatusBeacon(FakeChain(), net, stalled, counters).on_status("peer-b", encode([6, b""]))
    assert stalled.requests == 1
    assert counters.garbage_messages == 0 and net.garbage == []


def test_status_beacon_publishes_our_tip():
    net = FakeNet()
    beacon = StatusBeacon(FakeChain(), net, FakeSync(), NodeCounters())

    async def one_beat():
        task = asyncio.get_running_loop().create_task(beacon.run())
        await asyncio.sleep(0)
        task.cancel()

    asyncio.run(one_beat())
    assert net.published == [(TOPIC_STATUS, encode([5, b"\x11" * 32]))]


# ---------------------------------------------------------------- every port has its provider


def _members(port: type) -> set[str]:
    """Attributes, properties and methods a Protocol names (its own and its protocol bases')."""
    names: set[str] = set()
    for cls in port.__mro__:
        if cls in (object, typing.Protocol, typing.Generic) or cls.__module__ == "collections.abc":
            continue
        names |= set(getattr(cls, "__annotations__", {}))
        names |= {n for n, v in vars(cls).items() if not n.startswith("_") and (callable(v) or isinstance(v, property))}
    if issubclass(port, Sized):
        names.add("__len__")
    return names


def test_every_port_is_satisfied_by_its_provider(node_home):
    from node import ports
    from node.app import Node, NodeStatus
    from node.config import load_config
    from node.p2p import P2PNetwork
    from node.rpc import Subscription

    cfg = load_config(node_home[0])
    cfg.verifier.pool = "threads"
    node = Node(cfg, net=FakeNet())
    try:
        providers = {
            ports.ChainReader: [node.chain],
            ports.BlockReader: [node.store],
            ports.Committer: [node.commits, node.chain],
            ports.PendingTxs: [node.mempool],
            ports.TxAdmission: [node.intake],
            ports.TxSink: [node.client_txs],
            ports.TxOutbox: [node.gossip],
            ports.CommitWaiter: [node.commits],
            ports.BlockListener: [Subscription(None, 1)],
            ports.Halter: [node.halting],
            ports.MetricsSink: [node.counters],
            ports.Network: [FakeNet(), P2PNetwork],  # the class: its methods are the port
            ports.PeerSync: [node.sync],
            ports.SyncTrigger: [node.consensus],
            ports.StatusView: [NodeStatus(moniker="m", validator=None, genesis_doc={}, net=None, consensus=node.consensus)],
        }
        assert set(providers) == {getattr(ports, n) for n in ports.__all__}
        for port, impls in providers.items():
            members = _members(port)
            assert members, port.__name__
            for impl in impls:
                missing = sorted(m for m in members if not hasattr(impl, m))
                assert not missing, f"{type(impl).__name__} lacks {missing} of {port.__name__}"
    finally:
        node.close()
