"""Pre-signing the load: every transfer is signed before the clock starts.

Owns the shape of the load.  Account ``load-i`` (key
``PrivateKey.from_name(f"load-{i}", chain_id)``, funded by ``init_testnet``)
belongs to node ``i % N``, so a sender's nonces all reach one node, in order;
it sends transfers of 1 USD base unit to ``load-(i+1)`` with nonces 0, 1, 2...
A node's stream is nonce 0 of all its accounts, then nonce 1, and so on.
Signing runs in a pool of spawned processes when there is much of it.

Never talks to a node.
"""
from __future__ import annotations

import collections
import multiprocessing as mp
from array import array
from dataclasses import dataclass, field

__all__ = ["Stopped", "Stream", "presign"]


class Stopped(Exception):
    """The harness asked the load generator to stop early."""

def _sign_accounts(chain_id: str, k: int, work: list[tuple[int, int]]) -> list[tuple[int, list[bytes], list[bytes]]]:
    """Sign ``count`` transfers (nonces 0..count-1) for each ``(account, count)``."""
    from ledger.keys import PrivateKey
    from ledger.tx import sign_tx
    from ledger.txkinds import Transfer

    out = []
    for acct, count in work:
        key = PrivateKey.from_name(f"load-{acct}", chain_id)
        to = PrivateKey.from_name(f"load-{(acct + 1) % k}", chain_id).address
        body = Transfer(to, "USD", 1, "")
        raws, hashes = [], []
        for nonce in range(count):
            tx = sign_tx(key, chain_id, nonce, body)
            raws.append(tx.raw)
            hashes.append(tx.hash)
        out.append((acct, raws, hashes))
    return out


def _sign_job(args):
    return _sign_accounts(*args)


@dataclass
class Stream:
    """One node's pre-signed transactions in submission order, and its send state."""

    node: int
    url: str
    raws: list[bytes] = field(default_factory=list)
    hashes: list[bytes] = field(default_factory=list)
    accts: array = field(default_factory=lambda: array("i"))
    pos: int = 0
    retry: collections.deque = field(default_factory=collections.deque)
    inflight: int = 0

    def take(self, n: int, dead: set[int]) -> list[int]:
        out: list[int] = []
        while self.retry and len(out) < n:
            out.append(self.retry.popleft())
        while self.pos < len(self.raws) and len(out) < n:
            i = self.pos
            self.pos += 1
            if self.accts[i] not in dead:
                out.append(i)
        return out

    def exhausted(self) -> bool:
        return not self.retry and self.pos >= len(self.raws)


def presign(chain_id: str, rpc_urls: list[str], accounts: int, txs: int, signers: int, report, stop=None) -> list[Stream]:
    """Sign ``txs`` transfers spread over the nodes; returns one stream per node.

    Args:
        report: called with ``("presign", done, total)`` as signing goes.
        stop: an Event; when set, signing stops and :class:`Stopped` is raised.
    """
    n = len(rpc_urls)
    k = accounts
    if k < n:
        raise ValueError(f"need at least one account per node ({k} accounts, {n} nodes)")
    streams = [Stream(j, url) for j, url in enumerate(rpc_urls)]
    per_node = [txs // n + (1 if j < txs % n else 0) for j in range(n)]
    owned = [list(range(j, k, n)) for j in range(n)]
    counts: dict[int, int] = {}
    for j in range(n):
        full, rem = divmod(per_node[j], len(owned[j]))
        for p, acct in enumerate(owned[j]):
            c = full + (1 if p < rem else 0)
            if c:
                counts[acct] = c
    work = sorted(counts.items())
    chunks = max(1, min(256, len(work) // 16))
    jobs = [(chain_id, k, work[i::chunks]) for i in range(chunks)]
    signed: dict[int, tuple[list[bytes], list[bytes]]] = {}
    done = 0
    report(("presign", 0, txs))
    if signers <= 1 or txs < 20_000:
        results = map(_sign_job, jobs)
        pool = None
    else:
        pool = mp.get_context("spawn").Pool(signers)
        results = pool.imap_unordered(_sign_job, jobs)
    try:
        for part in results:
            if stop is not None and stop.is_set():
                if pool is not None:
                    pool.terminate()
                raise Stopped()
            for acct, raws, hashes in part:
                signed[acct] = (raws, hashes)
                done += len(raws)
            report(("presign", done, txs))
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    for j, s in enumerate(streams):
        mine = [a for a in owned[j] if a in counts]
        rounds = max((counts[a] for a in mine), default=0)
        for r in range(rounds):
            for a in mine:
                if r < counts[a]:
                    raws, hashes = signed[a]
                    s.raws.append(raws[r])
                    s.hashes.append(hashes[r])
                    s.accts.append(a)
    return streams
