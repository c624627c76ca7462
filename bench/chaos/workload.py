"""The client workload and its history: every operation with the outcome the client saw.

Owns the clients: one thread per fixed account (the devnet's four
participants) sending transfers in USD, EUR or BTC to another of them, or
taking a swap (DvP) whose terms another of them signed, each through a node
picked at random, with ``broadcast_tx`` in ``commit`` mode.  A swap whose
outcome is unknown is retried once with the same signed terms in a new tx,
as a real client would: at most one of the two may settle.
The outcome of each op is what a client can know:

* ``ok``: committed at ``height`` with a successful receipt;
* ``failed``: committed at ``height`` with a failed receipt (the tx is in the chain);
* ``rejected``: the node refused it (mempool admission, or the node could not be
  reached at all) -- it must never commit;
* ``unknown``: no answer in time (a timeout, a reset connection): it may or may not commit.

Bursts (a flooding client) go through :func:`burst`: presigned transfers from
the funded ``load-i`` accounts, admitted with ``sync`` mode (``accepted`` or
``rejected``: nobody waits for their commit).  Never judges a history: that
is :mod:`bench.chaos.checker`.
"""
from __future__ import annotations

import random
import socket
import threading
import time
from dataclasses import asdict, dataclass, field

from ledger.keys import PrivateKey
from ledger.tx import sign_tx
from ledger.txkinds import Transfer
from ledger.txkinds_risk import SwapTerms, sign_swap_terms
from sdk import Client, SettleError
from node.methods import TIMEOUT, TX_REJECTED

__all__ = ["Op", "Workload", "burst", "hold_idle_connections"]

PARTICIPANTS = ("alice", "bob", "carol", "dave")
SWAP_SHARE = 0.3  # of client ops
SWAP_EXPIRY = 2**40  # height: the terms never expire during a run
AMOUNTS = {"USD": 1_000 * 10**6, "EUR": 1_000 * 10**6, "BTC": 10**6}  # at most this much per transfer


@dataclass
class Op:
    id: int
    client: str
    node: int
    kind: str
    tx_hash: str
    sender: str
    nonce: int
    start: float  # seconds since the run began (monotonic)
    end: float = 0.0
    outcome: str = "pending"
    height: int | None = None
    detail: str = ""
    swap: str | None = None  # "maker:terms nonce" of a swap (the same for its retries)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class History:
    ops: list[Op] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, op: Op) -> None:
        with self.lock:
            self.ops.append(op)

    def snapshot(self) -> list[Op]:
        with self.lock:
            return list(self.ops)


def _classify(exc: SettleError) -> tuple[str, str]:
    if exc.code == TX_REJECTED:
        return "rejected", str(exc)
    if exc.code == TIMEOUT:
        return "unknown", "commit timeout"
    if exc.code is None and "refused" in str(exc).lower():
        return "rejected", "node unreachable (connection refused)"
    return "unknown", str(exc)


class Workload:
    """Client threads, one per participant, until :meth:`stop`."""

    def __init__(self, keys: dict[str, PrivateKey], chain_id: str, rpc_urls: list[str], seed: int, t0: float, *, op_timeout_s: int = 8):
        self.keys = keys
        self.chain_id = chain_id
        self.urls = rpc_urls
        self.seed = seed
        self.t0 = t0
        self.op_timeout_s = op_timeout_s
        self.history = History()
        self._ids = iter(range(1 << 62))
        self._ids_lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._client, args=(name,), name=f"chaos-client-{name}", daemon=True) for name in sorted(keys)]

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(self.op_timeout_s + 15)

    def next_id(self) -> int:
        with self._ids_lock:
            return next(self._ids)

    def _client(self, name: str) -> None:
        rng = random.Random(f"{self.seed}/{name}")
        key = self.keys[name]
        others = [n for n in sorted(self.keys) if n != name]
        addr = "st" + key.address.hex()
        next_nonce = 0  # one past the last nonce this client saw committed
        retry = None  # (tx nonce, Swap body, swap id) of a swap whose outcome is unknown
        while not self._stop.is_set():
            i = rng.randrange(len(self.urls))
            client = Client(self.urls[i], timeout=self.op_timeout_s + 5)
            try:
                nonce = max(next_nonce, client.call("account", {"address": addr}, timeout=3)["nonce"])
            except SettleError:
                self._stop.wait(0.3)
                continue
            op_id = self.next_id()
            if retry is not None and retry[0] != nonce:  # a client retrying a swap it heard nothing about
                body, kind, swap = retry[1], "swap_retry", retry[2]
            elif rng.random() < SWAP_SHARE:
                maker = rng.choice(others)
                give, get = rng.sample(sorted(AMOUNTS), 2)
                terms = SwapTerms(self.keys[maker].address, key.address, give, rng.randint(1, AMOUNTS[give]), get, rng.randint(1, AMOUNTS[get]),
                                  SWAP_EXPIRY, op_id)
                body, kind, swap = sign_swap_terms(self.keys[maker], self.chain_id, terms), "swap", f"st{self.keys[maker].address.hex()}:{op_id}"
            else:
                asset = rng.choice(sorted(AMOUNTS))
                body, kind, swap = Transfer(self.keys[rng.choice(others)].address, asset, rng.randint(1, AMOUNTS[asset]), f"op{op_id}"), "transfer", None
            retry = None
            tx = sign_tx(key, self.chain_id, nonce, body)
            op = Op(op_id, name, i, kind, tx.hash.hex(), addr, nonce, time.monotonic() - self.t0, swap=swap)
            try:
                res = client.call("broadcast_tx", {"tx": tx.raw.hex(), "mode": "commit", "timeout": self.op_timeout_s})
                op.outcome = "ok" if res["receipt"]["ok"] else "failed"
                op.height = res["height"]
                op.detail = "" if res["receipt"]["ok"] else str(res["receipt"].get("reason") or res["receipt"].get("error"))
                next_nonce = nonce + 1
            except SettleError as exc:
                op.outcome, op.detail = _classify(exc)
                if op.outcome == "unknown" and swap is not None:
                    retry = (nonce, body, swap)
            op.end = time.monotonic() - self.t0
            self.history.add(op)
            if op.outcome != "ok":
                self._stop.wait(0.2)


def burst(url: str, keys: list[PrivateKey], chain_id: str, per_account: int, history: History, t0: float, node: int, next_id) -> int:
    """Flood one node with ``len(keys) * per_account`` presigned transfers in one batch; returns how many it admitted."""
    client = Client(url, timeout=30)
    txs = []
    for k, key in enumerate(keys):
        addr = "st" + key.address.hex()
        start = client.call("account", {"address": addr}, timeout=5)["next_nonce"]
        to = keys[(k + 1) % len(keys)].address
        for n in range(per_account):
            op_id = next_id()
            txs.append((op_id, addr, start + n, sign_tx(key, chain_id, start + n, Transfer(to, "USD", 1 + n, f"op{op_id}"))))
    now = time.monotonic() - t0
    try:
        res = client.call("broadcast_tx_batch", {"txs": [t.raw.hex() for *_, t in txs], "mode": "sync"})
        verdicts = res["results"]
    except SettleError as exc:
        outcome, detail = _classify(exc)
        verdicts = [{"accepted": None, "detail": detail, "outcome": outcome}] * len(txs)
    end = time.monotonic() - t0
    admitted = 0
    for (op_id, addr, nonce, tx), v in zip(txs, verdicts):
        outcome = v.get("outcome") or ("accepted" if v.get("accepted") else "rejected")
        admitted += outcome == "accepted"
        history.add(Op(op_id, "burst", node, "burst", tx.hash.hex(), addr, nonce, now, end, outcome, None, v.get("reason", "")))
    return admitted


def hold_idle_connections(port: int, count: int, stop: threading.Event, host: str = "127.0.0.1") -> int:
    """Open ``count`` TCP connections to a node's RPC port and keep them idle until ``stop``; returns how many opened."""
    socks = []
    try:
        for _ in range(count):
            try:
                socks.append(socket.create_connection((host, port), timeout=2))
            except OSError:
                break
        stop.wait()
        return len(socks)
    finally:
        for s in socks:
            s.close()
