"""Two in-process networks and the parties of a cross-chain swap, stepped without a clock or a socket.

Owns nothing the code under test uses.  Each network is a settlement
``Harness`` (the real ``apply_block``, so the real HTLC rules); its blocks
follow a shared "real" time with a lag, as proposer-based timestamps do.  A
:class:`Party` is the shell of ``cli/xswap.py`` in miniature: observe, decide,
sign, persist, send; it can crash between any two of those and resume from
what it persisted, or vanish for good.
"""
from __future__ import annotations

import hashlib

from cli import xswap_plan as plan
from ledger.keys import address_from_pubkey, parse_address
from ledger.tx import Tx, sign_tx
from ledger.txkinds_risk import HtlcClaim, HtlcLock, HtlcRefund
from settlement.accounts import get_account, get_balance
from settlement.risk import queries as rq
from settlement.state import State
from settlement.swaps import htlc_id
from tests.settlement.harness import Harness

NAMES = ("alice", "bob")


class Net:
    """One network: blocks include every transaction sent since the last one (in nonce order)."""

    def __init__(self, label: str, chain_id: str):
        self.label, self.chain_id = label, chain_id
        self.h = Harness(names=NAMES, oracles=0, chain_id=chain_id)
        self.mempool: list = []
        self.committed: set[bytes] = set()
        self.receipt_ok: dict[bytes, bool] = {}
        self.lock_ids: list[bytes] = []

    def addr(self, name: str) -> bytes:
        return self.h.addr(name)

    def sign(self, name: str, body):
        return sign_tx(self.h.keys[name], self.chain_id, self.sign_nonce(self.addr(name)), body)

    def submit(self, tx) -> None:
        """Admit ``tx`` as a mempool would: once, and only with the sender's next nonce."""
        if tx.hash in self.committed or any(t.hash == tx.hash for t in self.mempool):
            return
        if tx.nonce == self.sign_nonce(address_from_pubkey(tx.sender)):
            self.mempool.append(tx)

    def sign_nonce(self, sender: bytes) -> int:
        pending = [t.nonce for t in self.mempool if address_from_pubkey(t.sender) == sender]
        return max(pending) + 1 if pending else get_account(State(self.h.view), sender).nonce

    def in_flight(self, tx_hash: bytes) -> bool:
        return any(t.hash == tx_hash for t in self.mempool)

    def block(self, time_ms: int) -> None:
        txs, self.mempool = self.mempool, []
        for r in self.h.block(*txs, dt_ms=max(0, time_ms - self.h.time_ms)):
            self.committed.add(r.tx_hash)
            self.receipt_ok[r.tx_hash] = r.ok
            for e in r.events:
                if e.kind == "htlc_locked":
                    self.lock_ids.append(e.attrs["id"])

    def htlcs(self, hashlock: bytes) -> list[plan.HtlcView]:
        out = []
        for hid in self.lock_ids:
            info = rq.htlc_info(self.h.view, hid)
            if bytes.fromhex(info["hashlock"]) == hashlock:
                out.append(view_of(self.label, info))
        return out

    def balance(self, name: str, asset: str) -> int:
        return get_balance(State(self.h.view), self.addr(name), asset)


def view_of(label: str, info: dict) -> plan.HtlcView:
    """An RPC-shaped ``htlc`` answer as the planner's view."""
    return plan.HtlcView(label, bytes.fromhex(info["id"]), parse_address(info["sender"]), parse_address(info["receiver"]),
                         info["asset"], info["amount"], bytes.fromhex(info["hashlock"]), info["timeout_height"],
                         info["timeout_ms"], info["status"], bytes.fromhex(info["preimage"] or ""))


class World:
    def __init__(self):
        self.a, self.b = Net("a", "swap-a"), Net("b", "swap-b")
        self.real_ms = 0

    def net(self, label: str) -> Net:
        return self.a if label == "a" else self.b

    def terms(self, secret: bytes) -> plan.Terms:
        return plan.Terms("swap-a", "swap-b", self.a.addr("alice"), self.b.addr("alice"), self.a.addr("bob"), self.b.addr("bob"),
                          "USD", 1_000, "EUR", 900, hashlib.sha256(secret).digest())

    def advance(self, real_dt_ms: int, lag_a_ms: int = 0, lag_b_ms: int = 0, blocks=(True, True)) -> None:
        """Real time moves on; each network makes a block (if asked) stamped ``real - lag`` (never going back)."""
        self.real_ms += real_dt_ms
        for net, lag, make in ((self.a, lag_a_ms, blocks[0]), (self.b, lag_b_ms, blocks[1])):
            if make:
                net.block(max(net.h.time_ms, self.real_ms - lag))


class Party:
    """The tool of one party: ``persisted`` is its state file; ``step`` is one round of the shell's loop."""

    def __init__(self, world: World, swap: plan.Swap, name: str = "alice"):
        self.world, self.persisted, self.name = world, swap, name
        self.seen: set = set()  # (from, to) phase pairs this party went through

    def observe(self, swap: plan.Swap) -> plan.Observation:
        w = swap.terms.hashlock
        in_flight = ok = False
        if swap.pending is not None:
            net = self.world.net(swap.pending.chain)
            if not (swap.pending.tx_hash in net.committed or net.in_flight(swap.pending.tx_hash)):
                net.submit(Tx.decode(swap.pending.raw))  # sent again after a crash (dropped if its nonce is gone)
            in_flight = net.in_flight(swap.pending.tx_hash)
            ok = net.receipt_ok.get(swap.pending.tx_hash, False)
        return plan.Observation(self.world.a.h.time_ms, self.world.b.h.time_ms,
                                tuple(self.world.a.htlcs(w) + self.world.b.htlcs(w)), in_flight, ok)

    def step(self, crash_at: int | None = None) -> plan.Action:
        """Observe, decide, sign, persist, send; ``crash_at`` 0 stops before persisting, 1 after persisting, before sending."""
        swap, act = plan.decide(self.persisted, self.observe(self.persisted))
        old = self.persisted.phase
        assert swap.phase is old or swap.phase in plan.TRANSITIONS[(swap.role, old)], f"{old} -> {swap.phase} not in TRANSITIONS"
        self.seen.add((old, swap.phase))
        tx = None
        if isinstance(act, (plan.Lock, plan.Claim, plan.Refund)):
            net = self.world.net(act.chain)
            body = body_of(act)
            tx = net.sign(self.name, body)
            lock_id = htlc_id(net.chain_id, address_from_pubkey(tx.sender), tx.nonce) if isinstance(act, plan.Lock) else b""
            swap = plan.sent(swap, tx.nonce, tx.hash, tx.raw, lock_id)
        if crash_at == 0:
            return act
        self.persisted = plan.from_doc(plan.to_doc(swap))  # what the state file would give back
        if crash_at == 1 or tx is None:
            return act
        self.world.net(act.chain).submit(tx)
        return act


def body_of(act):
    if isinstance(act, plan.Lock):
        return HtlcLock(act.asset, act.amount, act.receiver, act.hashlock, 0, act.timeout_ms)
    if isinstance(act, plan.Claim):
        return HtlcClaim(act.htlc_id, act.preimage)
    return HtlcRefund(act.htlc_id)


__all__ = ["NAMES", "Net", "Party", "World", "body_of", "view_of"]
