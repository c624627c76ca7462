"""Per-transaction cost of the block path on one core, without the network.

Proposes, validates (as another node would) and commits blocks of transfers
over an in-memory store with the node's own Chain: the work every validator
does per transaction besides verifying its signature.  A profiling aid
(run by hand; prints microseconds per tx for each step).

    python3 -m bench.block_exec [--accounts 4000] [--block 2000] [--blocks 6]
"""
from __future__ import annotations

import argparse
import json
import time

from ledger.block import Block
from ledger.chainstore import ChainStore
from ledger.commit import CommitCertificate, CommitSig, VoteType, vote_sign_bytes
from ledger.keys import PrivateKey, format_address
from ledger.store_memory import MemoryKV
from ledger.tx import Tx, sign_tx
from node.chain import Chain
from settlement.genesis import Genesis
from settlement.transfers import Transfer


def make_chain_factory(accounts: int):
    """``(make(kv) -> Chain, account keys, validator key)``: chains of one genesis with ``accounts`` funded accounts."""
    keys = [PrivateKey.from_name(f"acct{i}") for i in range(accounts)]
    admin, val = PrivateKey.from_name("admin"), PrivateKey.from_name("validator")
    doc = {
        "chain_id": "bench",
        "genesis_time_ms": 1_000,
        "validators": [{"pubkey": val.pubkey.hex(), "power": 10}],
        "assets": [{"symbol": "USD", "decimals": 6, "issuer": format_address(admin.address)}],
        "accounts": [{"address": format_address(admin.address), "roles": ["admin", "issuer"]}]
        + [{"address": format_address(k.address), "roles": ["participant"], "balances": {"USD": 10**12}} for k in keys],
    }
    raw_doc = json.dumps(doc).encode()

    def make(kv=None) -> Chain:
        return Chain(ChainStore(kv if kv is not None else MemoryKV()), Genesis.from_json(doc), raw_doc)

    return make, keys, val


def transfer_blocks(keys: list, block: int, blocks: int) -> list[list[Tx]]:
    """``blocks`` blocks of ``block`` 1-unit transfers, account i to account i + 1, nonces in order."""
    n = len(keys)
    return [
        [
            sign_tx(keys[(b * block + i) % n], "bench", (b * block + i) // n,
                    Transfer(keys[(b * block + i + 1) % n].address, "USD", 1, ""))
            for i in range(block)
        ]
        for b in range(blocks)
    ]


def certify(val: PrivateKey, block: Block) -> CommitCertificate:
    """The one validator's commit certificate for ``block``."""
    sig = val.sign(vote_sign_bytes("bench", VoteType.PRECOMMIT, block.height, 0, block.id))
    return CommitCertificate(block.height, 0, block.id, (CommitSig(val.address, sig),))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", type=int, default=4000)
    ap.add_argument("--block", type=int, default=2000)
    ap.add_argument("--blocks", type=int, default=6)
    ap.add_argument("--profile", action="store_true", help="print cProfile's top functions of the measured part")
    args = ap.parse_args()
    make, keys, val = make_chain_factory(args.accounts)
    blocks_txs = transfer_blocks(keys, args.block, args.blocks)
    proposer, follower = make(), make()
    for c in (proposer, follower):  # signatures count as verified: that cost is measured elsewhere
        for txs in blocks_txs:
            for tx in txs:
                c.mark_verified(tx)
    t = {"propose": 0.0, "decode": 0.0, "validate": 0.0, "commit (proposer)": 0.0, "commit (follower)": 0.0}
    n = 0
    prof = None
    for i, txs in enumerate(blocks_txs):
        if i == 1 and args.profile:
            import cProfile

            prof = cProfile.Profile()
            prof.enable()
        t0 = time.perf_counter()
        prop = proposer.propose(txs, 2_000 + i * 1_000, val.address, max_txs=100_000, max_bytes=64 << 20)
        t1 = time.perf_counter()
        raw = prop.block.encode()
        by_hash = {tx.hash: tx for tx in txs}
        t2 = time.perf_counter()
        block = Block.decode(raw, known=by_hash)
        t3 = time.perf_counter()
        result = follower.validate(block)
        t4 = time.perf_counter()
        assert result.state_root == prop.result.state_root
        cert = certify(val, block)
        t5 = time.perf_counter()
        proposer.commit(prop.block, prop.result, cert)
        t6 = time.perf_counter()
        follower.commit(block, result, cert)
        t7 = time.perf_counter()
        if i == 0:
            continue  # warm-up: caches fill
        n += len(txs)
        t["propose"] += t1 - t0
        t["decode"] += t3 - t2
        t["validate"] += t4 - t3
        t["commit (proposer)"] += t6 - t5
        t["commit (follower)"] += t7 - t6
    if prof is not None:
        prof.disable()
        import pstats

        pstats.Stats(prof).sort_stats("tottime").print_stats(30)
    for k, v in t.items():
        print(f"{k:20s} {v / n * 1e6:7.2f} us/tx")


if __name__ == "__main__":
    main()
