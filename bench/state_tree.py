"""What the state tree costs: proof sizes at N entries, and its share of a block's work.

Run by hand from the repository root (the figures go into docs/interop.md "## State tree"):

    python3 -m bench.state_tree proofs --entries 100000 [--entries 1000000]
    python3 -m bench.state_tree blocks [--accounts 10000] [--block 2500] [--blocks 8] [--keep N]

``proofs`` builds a tree of N entries shaped like the settlement state (per
account an account record and a balance; keys as ``settlement/accounts.py``
spells them) and prints the encoded size of the proofs of a sample of
present and absent keys (max and mean) and the path depth.

``blocks`` commits blocks of transfers (the load of ``settle bench``: each
account sends to the next) through the node's own :class:`node.chain.Chain`
on a LevelDB store in a temp dir, as a proposer and a validating follower,
and prints per block the CPU time (``time.process_time``) of proposing, validating and committing
and, inside them, the time spent in the state tree's update (wrapping
``StateTree.update``), with the tree's share of the block's work.
Signatures count as verified (their cost is ``settle bench``'s limit).  The
node's collector policy (``node/gc_policy.py``) is applied once the chains
are open, and the first ``--warm`` blocks (which fill the node cache from
the store) are left out of the per-tx figures.  ``--keep N`` runs the chains
with ``node.chain.STATE_TREE_HEIGHTS = N`` (the node keeps 1,000), so a run
longer than N blocks shows what pruning adds to each block's commit
(``prune_keys``: the tree keys the commit deleted).
"""
from __future__ import annotations

import argparse
import json
import random
import tempfile
import time

from ledger.statetree import StateTree, verify_state
from settlement.accounts import account_key, balance_key


def proofs(entries: int, sample: int = 2000) -> dict:
    rnd = random.Random(1)
    data: dict[bytes, bytes] = {}
    i = 0
    while len(data) < entries:
        addr = rnd.randbytes(20)
        data[account_key(addr)] = rnd.randbytes(12)
        data[balance_key(addr, "USD")] = rnd.randbytes(9)
        i += 1
    t0 = time.process_time()
    tree = StateTree.empty().update(data, 0)
    build_s = time.process_time() - t0
    keys = rnd.sample(sorted(data), min(sample, len(data)))
    present = [tree.prove(k) for k in keys]
    absent = [tree.prove(balance_key(rnd.randbytes(20), "USD")) for _ in range(sample)]
    for k, p in zip(keys[:200], present):
        verify_state(tree.root, k, data[k], p)
    for p in absent[:200]:
        verify_state(tree.root, p.key, None, p)
    size = lambda ps: [len(p.path.encode()) for p in ps]  # noqa: E731
    whole = lambda ps: [len(p.encode()) for p in ps]  # noqa: E731
    return {
        "entries": len(data),
        "build_s": round(build_s, 1),
        "path_bytes_max": max(size(present + absent)),
        "path_bytes_mean": round(sum(size(present + absent)) / (2 * len(keys)), 1),
        "proof_bytes_max": max(whole(present + absent)),
        "depth_max": max(p.path.depth for p in present + absent),
        "depth_mean": round(sum(p.path.depth for p in present + absent) / (2 * len(keys)), 2),
        "siblings_carried_mean": round(sum(len(p.path.siblings) for p in present + absent) / (2 * len(keys)), 2),
    }


def mean(xs: list[float]) -> float | None:
    return round(sum(xs) / len(xs), 1) if xs else None


def stale_at(chain, version: int) -> int:
    """How many tree keys the commit that prunes through ``version`` deletes (that version's stale list, and its index key)."""
    from ledger import schema
    from ledger.codec import decode
    raw = chain.store._kv.get(schema.tree_stale_key(version)) if version > 0 else None
    return 0 if raw is None else len(decode(raw)) + 1


def blocks(accounts: int, block: int, nblocks: int, warm: int = 3, keep: int | None = None) -> dict:
    import node.chain
    from bench.block_exec import certify, make_chain_factory, transfer_blocks
    from ledger.block import Block
    from ledger.store_leveldb import LevelDBKV
    from node.gc_policy import apply_node_policy

    spent = [0.0]
    update = StateTree.update

    def timed(self, writes, version):
        t = time.process_time()
        try:
            return update(self, writes, version)
        finally:
            spent[0] += time.process_time() - t

    StateTree.update = timed  # type: ignore[method-assign]
    kept = node.chain.STATE_TREE_HEIGHTS
    if keep is not None:
        node.chain.STATE_TREE_HEIGHTS = keep
    rows = []
    with tempfile.TemporaryDirectory() as d1, tempfile.TemporaryDirectory() as d2:
        kv1, kv2 = LevelDBKV(d1, create_if_missing=True), LevelDBKV(d2, create_if_missing=True)
        try:
            make, keys, val = make_chain_factory(accounts)
            proposer, follower = make(kv1), make(kv2)
            undo_gc = apply_node_policy()
            txs_by_block = transfer_blocks(keys, block, nblocks)
            for i, txs in enumerate(txs_by_block):
                for c in (proposer, follower):  # block by block: the memo of verified txs is bounded
                    for tx in txs:
                        c.mark_verified(tx)
                spent[0] = 0.0
                t0 = time.process_time()
                prop = proposer.propose(txs, 2_000 + i * 1_000, val.address, max_txs=100_000, max_bytes=64 << 20)
                t1 = time.process_time()
                tree_propose = spent[0]
                blk = Block.decode(prop.block.encode(), known={tx.hash: tx for tx in txs})
                spent[0] = 0.0
                t2 = time.process_time()
                result = follower.validate(blk)
                t3 = time.process_time()
                tree_validate = spent[0]
                cert = certify(val, blk)
                prune_keys = stale_at(follower, blk.height - node.chain.STATE_TREE_HEIGHTS + 1)
                t4 = time.process_time()
                follower.commit(blk, result, cert)
                t5 = time.process_time()
                proposer.commit(prop.block, prop.result, cert)
                work = (t3 - t2) + (t5 - t4)  # a validator's block work: validate + commit
                rows.append({
                    "height": blk.height, "writes": len(result.writes), "tree_nodes": len(result.tree.batch.nodes),
                    "tree_bytes": sum(map(len, result.tree.batch.puts.values())),
                    "propose_ms": round(1e3 * (t1 - t0), 1), "tree_in_propose_ms": round(1e3 * tree_propose, 1),
                    "validate_ms": round(1e3 * (t3 - t2), 1), "tree_in_validate_ms": round(1e3 * tree_validate, 1),
                    "commit_ms": round(1e3 * (t5 - t4), 1),
                    "prune_keys": prune_keys,
                    "tree_share_of_validator_block_work": round(tree_validate / work, 3),
                })
            undo_gc()
        finally:
            kv1.close()
            kv2.close()
            StateTree.update = update  # type: ignore[method-assign]
            node.chain.STATE_TREE_HEIGHTS = kept
    steady = rows[warm:]
    return {
        "accounts": accounts, "txs_per_block": block, "blocks": rows,
        "tree_us_per_tx": round(1e6 * sum(r["tree_in_validate_ms"] for r in steady) / 1e3 / (block * len(steady)), 1),
        "commit_ms_mean_pruning_or_not": [mean([r["commit_ms"] for r in steady if bool(r["prune_keys"]) is p]) for p in (True, False)],
        "validate_plus_commit_us_per_tx": round(1e6 * sum(r["validate_ms"] + r["commit_ms"] for r in steady) / 1e3 / (block * len(steady)), 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("proofs")
    p.add_argument("--entries", type=int, action="append")
    b = sub.add_parser("blocks")
    b.add_argument("--accounts", type=int, default=10_000)
    b.add_argument("--block", type=int, default=2_500)
    b.add_argument("--blocks", type=int, default=10)
    b.add_argument("--warm", type=int, default=3)
    b.add_argument("--keep", type=int, default=None, help="heights of tree history kept (default: the node's)")
    args = ap.parse_args()
    if args.cmd == "proofs":
        for n in args.entries or [100_000]:
            print(json.dumps(proofs(n)))
    else:
        print(json.dumps(blocks(args.accounts, args.block, args.blocks, args.warm, args.keep), indent=1))


if __name__ == "__main__":
    main()
