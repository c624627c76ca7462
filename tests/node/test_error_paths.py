"""Each whose-fault branch of the error tree reaches its handling: a client's bad input
becomes a JSON-RPC error code or a failed receipt, a peer's garbage is counted against
it, and a halt error stops the node (the halt switch; the exit code is test_halt.py's)."""
from __future__ import annotations

import asyncio

import pytest

from consensus import StartHeight
from consensus.config import ConsensusConfig
from ledger.codec import encode
from ledger.errors import Halt, StateCorrupt, StoreError
from ledger.txkinds import Transfer
from node.commits import CommitPipeline
from node.config import BlockConfig, RPCConfig
from node.consensus_driver import ConsensusDriver
from node.gossip import StatusBeacon, TxGossip
from node.halt import HaltSwitch, NodeHalted
from node.mempool import MempoolRejection
from node.methods import CORE_METHODS, INVALID_PARAMS, TX_REJECTED, RpcApi, method_table
from node.methods_risk import RISK_METHODS
from node.metrics import MetricsSources, NodeCounters
from node.rpc import RPCServer
from node.sync import BlockSync
from settlement.errors import InsufficientBalance
from tests.node.test_ports import FakeChain, FakeNet, FakeSync
from tests.settlement.builders import Chain


# ---------------------------------------------------------------- a client's fault


class RefusingSink:
    def submit(self, tx, *, verified=False):
        raise MempoolRejection("bad_amount", "amount must be positive")

    async def verify_batch(self, txs):
        return set()


def _server(c: Chain, blocks=None) -> tuple[RPCServer, NodeCounters]:
    counters, halt, pool = NodeCounters(), HaltSwitch(0), c.mempool()
    api = RpcApi(chain=c.node, blocks=blocks or c.store, pool=pool, txs=RefusingSink(), commits=None, status=None, max_batch=10)
    metrics = MetricsSources(counters=counters, chain=c.node, halt=halt, mempool=pool, subscribers=set())
    server = RPCServer(cfg=RPCConfig(), api=api, methods=method_table(CORE_METHODS, RISK_METHODS), counters=counters,
                       halt=halt, subscribers=set(), metrics=metrics)
    return server, counters


def test_a_clients_bad_input_is_a_json_rpc_error_code():
    c = Chain.fresh()
    server, counters = _server(c)
    tx = c.sign("alice", Transfer(c.addr("bob"), "USD", 1, ""))

    async def call(params):
        return await server._one({"jsonrpc": "2.0", "id": 1, "method": "broadcast_tx", "params": params})

    refused = asyncio.run(call({"tx": tx.raw.hex()}))
    assert refused["error"]["code"] == TX_REJECTED and refused["error"]["data"]["code"] == "bad_amount"
    malformed = asyncio.run(call({"tx": "00ff"}))  # a DecodeError of the client's bytes
    assert malformed["error"]["code"] == INVALID_PARAMS and "malformed transaction" in malformed["error"]["message"]
    assert counters.rpc_errors == 2 and counters.rpc_requests == 2


def test_a_clients_tx_that_breaks_a_settlement_rule_gets_a_failed_receipt():
    c = Chain.fresh()
    _, result = c.commit_txs([c.sign("alice", Transfer(c.addr("bob"), "USD", 10**12, ""))])
    receipt = result.receipts[0]
    assert not receipt.ok and receipt.code == InsufficientBalance.code


# ---------------------------------------------------------------- a peer's fault


def test_a_peers_garbage_is_counted_against_it():
    net, counters = FakeNet(response=b"\xc1"), NodeCounters()
    StatusBeacon(FakeChain(), net, FakeSync(), counters).on_status("peer-a", b"\xc1")
    assert counters.garbage_messages == 1 and net.garbage == ["peer-a"]

    c = Chain.fresh()
    gossip = TxGossip(None, c.mempool(), net, is_validator=True)
    gossip.on_batch("peer-b", encode(["not a tx"]))
    assert gossip.garbage == 1 and net.garbage[-1] == "peer-b"

    sync = BlockSync(c.node, c.store, c.node, net)  # the peer answers a sync request with garbage
    sync.note_peer_height("peer-a", 3)
    assert asyncio.run(sync.catch_up()) == 0
    assert sync.bad_responses == 1 and net.garbage[-1] == "peer-a" and c.node.height == 0


# ---------------------------------------------------------------- our own store or state


class FailingStore:
    """A chain whose store write fails (the rest is the real chain)."""

    def __init__(self, chain):
        self._chain = chain
        self.store = chain.store
        self.height = chain.height

    def commit(self, block, result, cert):
        raise StoreError("writing the store failed: No space left on device")

    def __getattr__(self, name):
        return getattr(self._chain, name)


def test_a_failed_commit_halts_the_node_and_sets_it_stopping():
    c = Chain.fresh()
    prop = c.node.propose([], 2_000, c.addr("validator"), max_txs=10, max_bytes=1 << 20)
    halt = HaltSwitch(0)
    pipeline = CommitPipeline(chain=FailingStore(c.node), mempool=c.mempool(), counters=NodeCounters(), halt=halt,
                              subscribers=set())
    with pytest.raises(NodeHalted) as first:
        pipeline.commit(prop.block, prop.result, None)
    assert isinstance(first.value, Halt) and isinstance(first.value.__cause__, StoreError)
    assert "No space left" in halt.halted and halt.stopping.is_set()
    with pytest.raises(NodeHalted) as again:  # nothing more is committed
        pipeline.commit(prop.block, prop.result, None)
    assert str(again.value) == halt.halted


class CorruptCommitter:
    """Proposing reads state that turns out corrupt."""

    height = 0

    def propose(self, *args, **kwargs):
        raise StateCorrupt("account record out of range")


def test_a_halt_error_in_consensus_reaches_the_halt_switch_and_no_more_input(tmp_path):
    c = Chain.fresh()
    halt = HaltSwitch(0)
    driver = ConsensusDriver(config=ConsensusConfig(), block=BlockConfig(), consensus_dir=tmp_path,
                             key=c.keys["validator"], chain=c.node, committer=CorruptCommitter(), pool=c.mempool(),
                             new_tx=asyncio.Event(), halt=halt, counters=NodeCounters())

    async def start_height():
        driver.feed(StartHeight(1))  # this validator proposes: the committer raises
        assert halt.halted is not None
        core = driver.core
        driver.feed(StartHeight(1))
        assert driver.core is core and not driver._inputs
        await asyncio.sleep(0)
        driver.stop()

    asyncio.run(start_height())
    assert halt.halted.startswith("consensus: StateCorrupt") and halt.stopping.is_set()


def test_a_halt_error_in_block_sync_reaches_the_halt_switch(tmp_path):
    c = Chain.fresh()
    halt = HaltSwitch(0)

    class CorruptSync:
        running = False

        def note_peer_height(self, peer_id, height):
            pass

        async def catch_up(self, timeout=10.0):
            raise StateCorrupt("block 3 is missing", key=b"latest")

    driver = ConsensusDriver(config=ConsensusConfig(), block=BlockConfig(), consensus_dir=tmp_path, key=None,
                             chain=c.node, committer=c.node, pool=c.mempool(), new_tx=asyncio.Event(), halt=halt,
                             counters=NodeCounters(), sync=CorruptSync())

    async def sync():
        driver.request_sync()
        for _ in range(3):
            await asyncio.sleep(0)
        driver.stop()

    asyncio.run(sync())
    assert halt.halted.startswith("block sync: StateCorrupt") and halt.stopping.is_set()


def test_corrupt_state_met_at_tx_admission_halts_and_refuses_the_tx():
    from node.intake import TxIntake
    from node.mempool import Mempool

    c = Chain.fresh()

    def corrupt(tx):
        raise StateCorrupt("balance of alice in USD out of range")

    halt, counters = HaltSwitch(0), NodeCounters()
    intake = TxIntake(chain=c.node, mempool=Mempool(check=corrupt, is_committed=lambda h: False), verifier=None,
                      counters=counters, halt=halt, new_tx=asyncio.Event())
    with pytest.raises(MempoolRejection) as refused:
        intake.admit(c.sign("alice", Transfer(c.addr("bob"), "USD", 1, "")))
    assert refused.value.code == "halted" and halt.halted.startswith("tx admission: StateCorrupt")


def test_corrupt_store_met_by_an_rpc_read_halts_the_node():
    c = Chain.fresh()
    c.commit_txs([])

    class CorruptBlocks:
        def block(self, height):
            raise StateCorrupt("does not decode", key=b"block/1")

    server, counters = _server(c, blocks=CorruptBlocks())
    out = asyncio.run(server._one({"jsonrpc": "2.0", "id": 7, "method": "block", "params": {"height": 1}}))
    assert out["error"]["code"] == -32603 and "StateCorrupt" in out["error"]["message"]
    assert counters.rpc_errors == 1
    health = asyncio.run(server.handle_health(None))
    assert health.status == 503 and "rpc block: StateCorrupt" in health.text
