"""Hypothesis state machine: two in-process chains, users sending both ways, and a relayer that lies.

The relayer delivers and refunds honestly when the rules pick it, withholds
whatever the rules do not pick (so timeouts happen), and lies: forged
headers, a tampered packet under an honest proof, a proof for another key,
a proof checked against another height, replays of received packets,
timeouts before the timeout or of received packets.  The relayer also
closes delivered packets with their acknowledgement, and lies about those
(an ack before the receipt, a second ack).  Every lie must be
refused with a receipt error and change no balance, supply or escrow.

Invariants after every step, for each chain X and its native asset U:

* conservation (``settlement.audit.conservation``) holds on both chains, the
  escrow counted as held money;
* escrow of U on X for Y == supply of Y's voucher ``<Y's client id of X>/U``
  + U in packets X -> Y in flight + the trace ``<X's chain id>/U`` in packets
  Y -> X in flight (in flight: committed on the source, not received, not
  refunded);
* exactly once: a packet is closed (commitment gone) iff it was refunded or
  acknowledged, never both; refunded ones were never received, acknowledged
  ones were.
"""
from __future__ import annotations

import dataclasses

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from ledger.block import Header
from ledger.txkinds_bridge import BridgeRecv, BridgeTimeout, BridgeUpdateClient
from settlement.bridge.records import commitment_key, receipt_key

from .bridge_pair import RELAYER, Pair

USERS = ("alice", "bob")
ASSETS = ("USD", "EUR")
sides = st.sampled_from(("a", "b"))


class BridgeMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        # long chain ids (vouchers are named by client id), and client ids differing between the chains
        self.p = Pair.fresh("settle-devnet-a", "settle-devnet-b", spare_on_b=True)
        self.refunded: set[tuple[str, int]] = set()
        self.acked: set[tuple[str, int]] = set()
        self.sent: dict[tuple[str, int], object] = {}  # every packet sent, as committed

    def chain(self, side: str):
        return self.p.a if side == "a" else self.p.b

    def money(self):
        """Every balance, supply and escrow on both chains (what a lie must leave unchanged)."""
        p, out = self.p, {}
        for c in (p.a, p.b):
            o = p.other(c)
            for u in ASSETS:
                for sym in (u, p.voucher(o, u)):
                    out[(c.chain_id, sym, "supply")] = p.supply(c, sym)
                    for n in ("alice", "bob", "carol"):
                        out[(c.chain_id, sym, n)] = p.balance(c, n, sym)
                out[(c.chain_id, u, "escrow")] = p.escrow(c, u)
        return out

    def refused(self, c, body, errors: tuple[str, ...]):
        before = self.money()
        r = self.p.commit(c, RELAYER, body)
        assert not r.ok and r.error in errors, r
        assert self.money() == before

    def any_pending(self) -> bool:
        return bool(self.pending(self.p.a) or self.pending(self.p.b))

    def with_pending(self, side: str):
        """The chain ``side`` names if it has packets in flight, else the other one."""
        src = self.chain(side)
        return src if self.pending(src) else self.p.other(src)

    def pending(self, src) -> list[int]:
        p = self.p
        return [s for s in range(1, p.sent(src) + 1) if p.packet(src, s) is not None and not p.received(p.other(src), s)]

    # ------------------------------------------------------------------ users

    @rule(side=sides, who=st.sampled_from(USERS), asset=st.sampled_from(ASSETS), voucher=st.booleans(),
          amount=st.integers(1, 400), timeout=st.sampled_from([2_000, 5_000, 60_000]))
    def send(self, side, who, asset, voucher, amount, timeout):
        src = self.chain(side)
        sym = self.p.voucher(self.p.other(src), asset)
        if not voucher or self.p.balance(src, who, sym) == 0:
            sym = asset
        have = self.p.balance(src, who, sym)
        r = self.p.send(src, who, sym, amount, to="bob" if who == "alice" else "alice",
                        timeout_ms=self.p.other(src).time_ms + timeout)
        assert r.ok == (amount <= have), r
        if r.ok:
            seq = self.p.sent(src)
            self.sent[(src.chain_id, seq)] = self.p.packet(src, seq)

    @rule(side=sides, blocks=st.integers(1, 4))
    def tick(self, side, blocks):
        for _ in range(blocks):
            self.chain(side).commit_txs([])

    # ------------------------------------------------------------------ honest relaying

    @precondition(lambda self: self.any_pending())
    @rule(side=sides, data=st.data())
    def deliver(self, side, data):
        src = self.with_pending(side)
        todo = self.pending(src)
        seq = data.draw(st.sampled_from(todo))
        packet = self.p.packet(src, seq)
        r = self.p.relay(src, seq)
        expired = self.p.other(src).time_ms >= packet.timeout_ms
        assert r.ok != expired and (r.ok or r.error == "expired"), r

    @precondition(lambda self: self.any_pending())
    @rule(side=sides, data=st.data())
    def refund(self, side, data):
        src, p = self.with_pending(side), self.p
        todo = self.pending(src)
        seq = data.draw(st.sampled_from(todo))
        packet = p.packet(src, seq)
        dst = p.other(src)
        h = p.update(src, dst)
        tx = p.timeout_tx(src, packet, h)
        if dst.store.header(h).time_ms >= packet.timeout_ms:
            assert p.commit(src, RELAYER, tx).ok
            self.refunded.add((src.chain_id, seq))
        else:
            self.refused(src, tx, ("invalid_parameter",))

    @precondition(lambda self: self.any_unacked())
    @rule(side=sides, data=st.data())
    def acknowledge(self, side, data):
        src, p = self.chain(side), self.p
        if not self.unacked(src):
            src = p.other(src)
        seq = data.draw(st.sampled_from(self.unacked(src)))
        r = p.acknowledge(src, seq)
        assert r.ok, r
        self.acked.add((src.chain_id, seq))

    def unacked(self, src) -> list[int]:
        """Packets of ``src`` received on the other chain whose commitment is still open."""
        p = self.p
        return [s for s in range(1, p.sent(src) + 1) if p.packet(src, s) is not None and p.received(p.other(src), s)]

    def any_unacked(self) -> bool:
        return bool(self.unacked(self.p.a) or self.unacked(self.p.b))

    # ------------------------------------------------------------------ lies

    @precondition(lambda self: self.any_pending())
    @rule(side=sides, data=st.data())
    def ack_before_receipt(self, side, data):
        src, p = self.with_pending(side), self.p
        seq = data.draw(st.sampled_from(self.pending(src)))
        h = p.update(src, p.other(src))
        self.refused(src, p.ack_tx(src, p.packet(src, seq), h), ("bad_proof",))

    @rule(side=sides, field=st.sampled_from(("state_root", "time_ms", "height")))
    def forged_header(self, side, field):
        dst = self.chain(side)
        src = self.p.other(dst)
        if src.node.height == 0:
            return
        real = self.p.header_tx(src)
        h = Header.decode(real.header)
        changes = {"state_root": {"state_root": bytes(32)}, "time_ms": {"time_ms": h.time_ms + 1},
                   "height": {"height": h.height + 1}}[field]
        forged = dataclasses.replace(h, **changes)
        self.refused(dst, BridgeUpdateClient(forged.encode(), real.certificate), ("bad_proof",))

    @precondition(lambda self: self.any_pending())
    @rule(side=sides, data=st.data(), lie=st.sampled_from(("amount", "receiver", "other_key", "other_height")))
    def lying_recv(self, side, data, lie):
        src, p = self.with_pending(side), self.p
        todo = self.pending(src)
        seq = data.draw(st.sampled_from(todo))
        dst = p.other(src)
        h = p.update(dst, src)
        honest = p.recv_tx(src, seq, h)
        pk = honest.packet
        if lie == "amount":
            body = BridgeRecv(dataclasses.replace(pk, amount=pk.amount + 1), honest.proof, h)
        elif lie == "receiver":
            body = BridgeRecv(dataclasses.replace(pk, receiver=dst.addr("carol")), honest.proof, h)
        elif lie == "other_key":
            body = BridgeRecv(pk, p.proof(src, h, commitment_key(dst.chain_id, seq + 1)), h)
        else:  # an honest proof made at trusted height h, presented as of a later trusted height (another root)
            p.update(src, dst)  # a tx on src: its state root changes
            body = BridgeRecv(pk, honest.proof, p.update(dst, src))
        self.refused(dst, body, ("bad_proof",))

    @rule(side=sides, data=st.data())
    def replay(self, side, data):
        src, p = self.chain(side), self.p
        dst = p.other(src)
        done = [s for s in range(1, p.sent(src) + 1) if p.received(dst, s)]
        if not done:
            return
        seq = data.draw(st.sampled_from(done))
        h = p.update(dst, src)
        key = commitment_key(dst.chain_id, seq)
        self.refused(dst, BridgeRecv(self.sent[(src.chain_id, seq)], p.proof(src, h, key), h), ("replayed",))
        # and its refund: the receipt is there, so no non-inclusion proof exists (or the packet is closed)
        h = p.update(src, dst)
        packet = self.sent[(src.chain_id, seq)]
        proof = p.proof(dst, h, receipt_key(src.chain_id, seq))
        self.refused(src, BridgeTimeout(packet, proof, h), ("bad_proof", "invalid_parameter", "not_found"))
        if (src.chain_id, seq) in self.acked:  # and a second acknowledgement
            self.refused(src, p.ack_tx(src, packet, h), ("not_found",))

    # ------------------------------------------------------------------ invariants

    @invariant()
    def conserved(self):
        for c in (self.p.a, self.p.b):
            bad = {k: v for k, v in self.p.audit(c).items() if not v["ok"]}
            assert not bad, bad

    @invariant()
    def escrow_backs_vouchers(self):
        p = self.p
        for x in (p.a, p.b):
            y = p.other(x)
            for u in ASSETS:
                v, trace = p.voucher(x, u), p.trace(x, u)
                out = sum(p.packet(x, s).amount for s in self.pending(x) if p.packet(x, s).denom == u)
                back = sum(p.packet(y, s).amount for s in self.pending(y) if p.packet(y, s).denom == trace)
                assert p.escrow(x, u) == p.supply(y, v) + out + back

    @invariant()
    def exactly_once(self):
        p = self.p
        for src in (p.a, p.b):
            dst = p.other(src)
            for s in range(1, p.sent(src) + 1):
                gone, received = p.packet(src, s) is None, p.received(dst, s)
                refunded, acked = (src.chain_id, s) in self.refunded, (src.chain_id, s) in self.acked
                assert gone == (refunded or acked) and not (refunded and acked)
                assert not (refunded and received) and not (acked and not received)


TestBridgeMachine = BridgeMachine.TestCase
TestBridgeMachine.settings = settings(max_examples=80, stateful_step_count=30, deadline=None,
                                      suppress_health_check=[HealthCheck.too_slow])
