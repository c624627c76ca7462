"""Builders for settlement and node-core tests: a real chain over an in-memory store.

``Chain.fresh()`` makes a genesis (admin+issuer ``admin``, participants
``alice``, ``bob``, ``carol``, an unregistered ``mallory`` key), opens the
real :class:`node.chain.Chain` over :class:`ledger.store_memory.MemoryKV`, and
commits blocks exactly as the single-validator producer does (a real
one-signature commit certificate).  No mocks: only the disk is swapped.
"""
from __future__ import annotations

import json

from ledger.chainstore import ChainStore
from ledger.commit import CommitCertificate, CommitSig, VoteType, vote_sign_bytes
from ledger.keys import PrivateKey, format_address
from ledger.store_memory import MemoryKV
from ledger.tx import Tx, sign_tx
from node.chain import Chain as NodeChain
from node.mempool import Mempool, MempoolRejection
from settlement.errors import NotIncludable
from settlement.genesis import Genesis

NAMES = ("admin", "alice", "bob", "carol", "mallory", "validator")
START_BALANCE = {"USD": 1_000_000, "EUR": 500_000}


def genesis_doc(chain_id: str = "test-chain", keys: dict[str, PrivateKey] | None = None) -> dict:
    keys = keys or {n: PrivateKey.from_name(n) for n in NAMES}
    admin = format_address(keys["admin"].address)
    accounts = [{"address": admin, "roles": ["admin", "issuer"]}]
    for n in ("alice", "bob", "carol"):
        accounts.append({"address": format_address(keys[n].address), "roles": ["participant"], "balances": dict(START_BALANCE)})
    return {
        "chain_id": chain_id,
        "genesis_time_ms": 1_000,
        "validators": [{"pubkey": keys["validator"].pubkey.hex(), "power": 10}],
        "assets": [{"symbol": "USD", "decimals": 6, "issuer": admin}, {"symbol": "EUR", "decimals": 6, "issuer": admin}],
        "accounts": accounts,
    }


class Chain:
    """A test chain: keys by name, auto nonces, blocks committed like the producer."""

    def __init__(self, doc: dict, kv=None):
        self.keys = {n: PrivateKey.from_name(n) for n in NAMES}
        self.doc = doc
        self.genesis = Genesis.from_json(doc)
        self.chain_id = self.genesis.chain_id
        self.kv = kv or MemoryKV()
        self.store = ChainStore(self.kv)
        self.node = NodeChain(self.store, self.genesis, json.dumps(doc).encode())
        self.nonces: dict[str, int] = {}
        self.time_ms = 1_000

    @classmethod
    def fresh(cls, chain_id: str = "test-chain") -> "Chain":
        return cls(genesis_doc(chain_id))

    def addr(self, name: str) -> bytes:
        return self.keys[name].address

    def sign(self, name: str, body, nonce: int | None = None) -> Tx:
        if nonce is None:
            nonce = self.nonces.get(name, 0)
            self.nonces[name] = nonce + 1
        return sign_tx(self.keys[name], self.chain_id, nonce, body)

    def mempool(self) -> Mempool:
        def check(tx: Tx) -> int:
            try:
                return self.node.check_tx(tx)
            except NotIncludable as exc:
                raise MempoolRejection("not_includable", str(exc)) from None

        return Mempool(check=check, is_committed=lambda h: self.store.tx_location(h) is not None)

    def commit_txs(self, txs: list[Tx], *, step_ms: int = 1_000):
        """Propose a block from ``txs`` (in order), certify and commit it."""
        self.time_ms += step_ms
        vkey = self.keys["validator"]
        prop = self.node.propose(txs, self.time_ms, vkey.address, max_txs=100_000, max_bytes=64 << 20)
        block = prop.block
        sig = vkey.sign(vote_sign_bytes(self.chain_id, VoteType.PRECOMMIT, block.height, 0, block.id))
        cert = CommitCertificate(block.height, 0, block.id, (CommitSig(vkey.address, sig),))
        self.node.commit(block, prop.result, cert)
        return block, prop.result

    def commit_pool(self, pool: Mempool):
        block, result = self.commit_txs(pool.reap(100_000, 64 << 20))
        pool.update(block.txs, self.node.nonce_of)
        return block, result
