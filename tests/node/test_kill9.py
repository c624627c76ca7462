"""A node SIGKILLed while committing under load restarts consistent, for several kill points.

A load thread keeps the node busy with batches of signed transfers over RPC;
the node is killed with SIGKILL at different moments; the store is then
opened offline and checked (no half-written block: the tip's block,
certificate, receipts and tx index are all there, nothing lies beyond it,
the state root recomputed from scratch equals the tip header's, supply
equals the sum of balances), and the node restarts from that tip and keeps
committing.
"""
from __future__ import annotations

import json
import threading
import time

from ledger.chainstore import ChainStore
from ledger.codec import decode
from ledger.commit import verify_commit
from ledger.keys import PrivateKey
from ledger.store_leveldb import LevelDBKV
from ledger.tx import sign_tx
from ledger.txkinds import Transfer
from sdk import Client, SettleError
from settlement.accounts import Asset
from settlement.genesis import Genesis
from ledger.statetree import StateTree, verify_state
from tests.nodeproc import NodeProcess

KILL_DELAYS = [0.15, 0.4, 0.7, 1.0, 1.3, 0.25]


class Load(threading.Thread):
    """Submits batches of transfers among the demo accounts until stopped."""

    def __init__(self, home, url: str):
        super().__init__(daemon=True)
        self.keys = [PrivateKey.load(home / "keys" / f"{n}.json") for n in ("alice", "bob", "carol", "dave")]
        self.client = Client(url, timeout=5)
        self.stop_flag = threading.Event()
        self.sent = 0

    def run(self) -> None:
        while not self.stop_flag.is_set():
            try:
                nonces = [self.client.call("account", {"address": "st" + k.address.hex()})["next_nonce"] for k in self.keys]
                txs = []
                for i in range(50):
                    for j, k in enumerate(self.keys):
                        to = self.keys[(j + 1) % 4].address
                        txs.append(sign_tx(k, "settle-local", nonces[j] + i, Transfer(to, "USD", 1 + i, "")).raw.hex())
                self.client.call("broadcast_tx_batch", {"txs": txs, "mode": "sync"})
                self.sent += len(txs)
            except SettleError:
                time.sleep(0.05)


def check_store(home) -> int:
    kv = LevelDBKV(str(home / "data"))
    try:
        store = ChainStore(kv)
        tip = store.latest_height()
        assert tip >= 1
        assert store.block(tip + 1) is None and store.commit_cert(tip + 1) is None
        genesis = Genesis.from_json(json.loads(store.genesis_doc()))
        for h in range(max(1, tip - 2), tip + 1):
            block = store.block(h)
            assert block is not None and block.height == h
            cert = store.commit_cert(h)
            verify_commit(cert, genesis.validator_set(), genesis.chain_id, height=h, block_id=block.id)
            receipts = store.receipts(h)
            assert len(receipts) >= len(block.txs)
            for i, tx in enumerate(block.txs):
                assert store.tx_location(tx.hash) == (h, i)
                assert receipts[i].tx_hash == tx.hash
        header = store.header(tip)
        assert store.root_acc() == header.state_root
        tree = StateTree.open(store, tip)  # the tree landed in the same write as the state
        state = dict(store.state_iter(b""))
        assert tree.root == header.state_root == StateTree.empty().update(state, 0).root
        for k in sorted(state)[:: max(1, len(state) // 50)]:
            verify_state(header.state_root, k, state[k], tree.prove(k))
        usd = [decode(v) for k, v in store.state_iter(b"b/") if k.endswith(b"/USD")]
        assert sum(usd) == Asset.decode(store.state_get(b"t/USD")).supply
        return tip
    finally:
        kv.close()


def test_sigkill_under_load_restarts_consistent(node_home):
    home, url = node_home
    node = NodeProcess(home, url).start()
    load = Load(home, url)
    load.start()
    last_tip = 0
    try:
        for delay in KILL_DELAYS:
            node.wait_height(last_tip + 2)
            time.sleep(delay)
            node.kill()
            tip = check_store(home)
            assert tip >= last_tip
            last_tip = tip
            node.start()
            st = node.client.call("status")
            assert st["height"] >= tip
        node.wait_height(last_tip + 2)
    finally:
        load.stop_flag.set()
        load.join(10)
        node.stop()
    assert load.sent > 0
    check_store(home)
    kv = LevelDBKV(str(home / "data"))
    try:
        store = ChainStore(kv)
        committed = sum(len(store.block(h).txs) for h in range(1, store.latest_height() + 1))
    finally:
        kv.close()
    assert committed > 0, "the load never reached a block: the kills hit an idle node"
