"""The history checker: what the clients were told against what every node stored.

Owns the safety verdicts of a chaos run, each a list of violations (every
one a bug):

* ``agreement``: every node has the same block id, state root and txs at
  every height up to the common height (each node's blocks read over RPC);
* ``acknowledged``: an op acknowledged as committed (``ok`` or ``failed``
  receipt) is on every node at the height the client was told, with the
  same receipt verdict;
* ``rejected``: an op refused at admission is on no node;
* ``unknown``: an op without an answer is committed on all nodes or none,
  at one height;
* ``applied_twice``: no tx hash and no (sender, nonce) twice in the chain;
* ``swap_settled_twice``: signed swap terms (retried by a client that got no
  answer) settle at most once;
* ``conservation``: per asset, supply == what is held (``settlement.audit``
  on each node's stopped store), and the supply is the genesis supply.

Liveness is measured, never judged here.  Reads nodes over RPC
(:func:`check_online`) and stores offline once they are stopped
(:func:`check_offline`); never changes either.
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ledger.chainstore import ChainStore
from ledger.store_leveldb import LevelDBKV
from sdk import Client, SettleError
from settlement.audit import conservation

__all__ = ["applied_twice", "check_offline", "check_online", "scan_chain", "swaps_settled_twice"]

ACKED = ("ok", "failed")
NO_COMMIT = ("rejected",)


def _lookup(client: Client, h: str) -> tuple[int, int, bool] | None:
    try:
        r = client.call("tx", {"hash": h})
    except SettleError as exc:
        if "not found" in str(exc):
            return None
        raise
    if r["status"] != "committed":
        return None
    return r["height"], r["index"], bool(r["receipt"]["ok"])


def scan_chain(client: Client, top: int) -> tuple[list[dict], dict[str, tuple[int, int, bool]]]:
    """Heights 1..top of one node: each block's (id, state root, tx hashes), and where each tx is (height, index, receipt ok)."""
    with ThreadPoolExecutor(8) as pool:
        blocks = list(pool.map(lambda h: client.call("block", {"height": h, "receipts": True}), range(1, top + 1)))
    views, where = [], {}
    for blk in blocks:
        height = blk["header"]["height"]
        hashes = [t["hash"] for t in blk.get("txs", [])]
        views.append({"id": blk["header"]["id"], "state_root": blk["header"]["state_root"], "txs": hashes, "senders": [(t["sender"], t["nonce"]) for t in blk.get("txs", [])]})
        for k, (h, r) in enumerate(zip(hashes, blk.get("receipts") or [])):
            where.setdefault(h, (height, k, bool(r["ok"])))
    return views, where


def applied_twice(views: list[dict]) -> list[str]:
    """A tx hash, or a (sender, nonce), in more than one place of the chain."""
    seen_hash: dict[str, int] = {}
    seen_nonce: dict[tuple[str, int], int] = {}
    out = []
    for height, view in enumerate(views, start=1):
        for h, key in zip(view["txs"], view["senders"]):
            if h in seen_hash:
                out.append(f"tx {h} at heights {seen_hash[h]} and {height}")
            if key in seen_nonce:
                out.append(f"{key[0]} nonce {key[1]} applied at heights {seen_nonce[key]} and {height}")
            seen_hash.setdefault(h, height)
            seen_nonce.setdefault(key, height)
    return out


def _judge(op: dict, locs: list) -> list[tuple[str, str]]:
    """(check, violation) pairs of one op given where each node has its tx."""
    out = []
    tag = f"op {op['id']} ({op['kind']} {op['tx_hash'][:16]} via node{op['node']}, {op['outcome']})"
    distinct = {loc for loc in locs if loc is not None}
    if len(distinct) > 1:
        out.append(("agreement", f"{tag}: stored differently on the nodes: {locs}"))
    if op["outcome"] in ACKED:
        want = (op["height"], op["outcome"] == "ok")
        for i, loc in enumerate(locs):
            if loc is None:
                out.append(("acknowledged", f"{tag}: acknowledged at height {op['height']} but missing on node{i}"))
            elif (loc[0], loc[2]) != want:
                out.append(("acknowledged", f"{tag}: acknowledged at height {want[0]} ok={want[1]} but node{i} has height {loc[0]} ok={loc[2]}"))
    elif op["outcome"] in NO_COMMIT:
        if distinct:
            out.append(("rejected", f"{tag}: refused ({op['detail']}) yet committed: {locs}"))
    elif distinct and any(loc is None for loc in locs):
        out.append(("unknown", f"{tag}: committed on some nodes only: {locs}"))
    return out


def swaps_settled_twice(ops: list[dict], committed: list[bool | None]) -> list[str]:
    """Signed swap terms (a swap and its retries) with more than one successful receipt."""
    settled: dict[str, list[int]] = {}
    for op, ok in zip(ops, committed):
        if op.get("swap") and ok:
            settled.setdefault(op["swap"], []).append(op["id"])
    return [f"swap {k} settled by ops {ids}" for k, ids in sorted(settled.items()) if len(ids) > 1]


def check_online(urls: list[str], ops: list[dict]) -> dict:
    """Agreement, acknowledged/rejected/unknown ops and applied-twice, over RPC.

    Returns the heights, the violations by check, and for each op its tx's receipt verdict
    (``committed``: True ok, False failed, None not in the chain).
    """
    clients = [Client(u, timeout=30) for u in urls]
    heights = [c.call("status")["height"] for c in clients]
    common = min(heights)
    v: dict[str, list[str]] = {k: [] for k in ("agreement", "acknowledged", "rejected", "unknown", "applied_twice", "swap_settled_twice")}

    scans = [scan_chain(c, common) for c in clients]
    for k in range(common):
        views = {(chain[k]["id"], chain[k]["state_root"], tuple(chain[k]["txs"])) for chain, _ in scans}
        if len(views) != 1:
            v["agreement"].append(f"height {k + 1}: nodes disagree: {sorted(x[:2] for x in views)}")

    def where(op: dict, fresh: bool = False) -> list[tuple[int, int, bool] | None]:
        """Where each node has the op's tx: from the scans up to the common height, else asked (it may be above)."""
        locs = []
        for c, (_, found) in zip(clients, scans):
            loc = None if fresh else found.get(op["tx_hash"])
            locs.append(loc if loc is not None else _lookup(c, op["tx_hash"]))
        return locs

    with ThreadPoolExecutor(8) as pool:
        found = list(pool.map(where, ops))
    judged = [_judge(op, locs) for op, locs in zip(ops, found)]
    if any(judged):  # a node may just be catching up: look once more at the suspects before calling it a violation
        time.sleep(5)
        for k, problems in enumerate(judged):
            if problems:
                found[k] = where(ops[k], fresh=True)
                judged[k] = _judge(ops[k], found[k])
    for problems in judged:
        for check, text in problems:
            v[check].append(text)
    committed = [next((loc[2] for loc in locs if loc is not None), None) for locs in found]
    v["applied_twice"] = applied_twice(scans[0][0])
    v["swap_settled_twice"] = swaps_settled_twice(ops, committed)
    return {"heights": heights, "common_height": common, "committed": committed, "violations": v}


def check_offline(homes: list[Path], genesis_supply: dict[str, int]) -> dict:
    """Conservation on each stopped node's store, and the supply against genesis."""
    violations, per_node = [], []
    for i, home in enumerate(homes):
        kv = LevelDBKV(str(Path(home) / "data"), create_if_missing=False)
        try:
            store = ChainStore(kv)
            rows = conservation(store.state_iter(b""))
            height = store.latest_height()
        finally:
            kv.close()
        per_node.append({"node": i, "height": height, "assets": rows})
        for asset, row in sorted(rows.items()):
            if not row["ok"]:
                violations.append(f"node{i} {asset}: held {sum(row[c] for c in row if c not in ('supply', 'ok'))} != supply {row['supply']}")
            if asset in genesis_supply and row["supply"] != genesis_supply[asset]:
                violations.append(f"node{i} {asset}: supply {row['supply']} != genesis supply {genesis_supply[asset]}")
    return {"nodes": per_node, "violations": violations}
