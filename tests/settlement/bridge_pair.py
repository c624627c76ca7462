"""Two in-process chains bridged to each other, and an honest relayer step by step (tests only).

``Pair.fresh()`` makes ``chain-a`` and ``chain-b`` (the builders' genesis:
alice, bob, carol hold USD and EUR), creates each one's client of the other
from the other's genesis validator set, and lets ``carol`` relay.  The
relayer helpers build the same txs ``cli/relay.py`` submits, from the real
stores: headers with their commit certificates, and state proofs from the
real state trees.
"""
from __future__ import annotations

from ledger.codec import decode
from ledger.lightclient import validator_set_bytes
from ledger.txkinds_bridge import BridgeAck, BridgeCreateClient, BridgeRecv, BridgeSend, BridgeTimeout, BridgeUpdateClient, Packet
from settlement.accounts import Asset, asset_key, balance_key
from settlement.audit import conservation
from settlement.bridge.records import (Client, ack_key, client_key, commitment_key, denom_trace, escrow_key, receipt_key,
                                      sequence_key, voucher_symbol)

from .builders import Chain, genesis_doc

RELAYER = "carol"


class Pair:
    def __init__(self, a: Chain, b: Chain):
        self.a, self.b = a, b
        self.by_id = {a.chain_id: a, b.chain_id: b}

    @classmethod
    def fresh(cls, a_id: str = "chain-a", b_id: str = "chain-b", *, spare_on_b: bool = False) -> "Pair":
        """Two chains, each with a client of the other; ``spare_on_b``: B first trusts a third chain ``chain-z``
        (so B's client of A is ``c1`` while A's client of B is ``c0``)."""
        p = cls(Chain(genesis_doc(a_id)), Chain(genesis_doc(b_id)))
        if spare_on_b:
            spare = BridgeCreateClient("chain-z", validator_set_bytes(p.a.genesis.validator_set()))
            _, res = p.b.commit_txs([p.b.sign("admin", spare)])
            assert res.receipts[0].ok, res.receipts[0]
        for here, there in ((p.a, p.b), (p.b, p.a)):
            vset = validator_set_bytes(there.genesis.validator_set())
            _, res = here.commit_txs([here.sign("admin", BridgeCreateClient(there.chain_id, vset))])
            assert res.receipts[0].ok, res.receipts[0]
        return p

    def other(self, c: Chain) -> Chain:
        return self.b if c is self.a else self.a

    # ------------------------------------------------------------------ reading state

    @staticmethod
    def get(c: Chain, key: bytes) -> bytes | None:
        return c.node.view.get(key)

    def balance(self, c: Chain, name: str, asset: str) -> int:
        raw = self.get(c, balance_key(c.addr(name), asset))
        return 0 if raw is None else decode(raw)

    def supply(self, c: Chain, asset: str) -> int:
        raw = self.get(c, asset_key(asset))
        return 0 if raw is None else Asset.decode(raw).supply

    def escrow(self, c: Chain, asset: str) -> int:
        raw = self.get(c, escrow_key(asset, self.other(c).chain_id))
        return 0 if raw is None else decode(raw)

    def sent(self, src: Chain) -> int:
        raw = self.get(src, sequence_key(self.other(src).chain_id))
        return 0 if raw is None else decode(raw)

    def packet(self, src: Chain, seq: int) -> Packet | None:
        raw = self.get(src, commitment_key(self.other(src).chain_id, seq))
        return None if raw is None else Packet.decode(raw)

    def received(self, dst: Chain, seq: int) -> bool:
        return self.get(dst, receipt_key(self.other(dst).chain_id, seq)) is not None

    def audit(self, c: Chain) -> dict[str, dict]:
        return conservation(c.store.state_iter(b""))

    # ------------------------------------------------------------------ txs

    def commit(self, c: Chain, name: str, body, *, step_ms: int = 1_000):
        """Commit one tx of ``name``; return its receipt."""
        _, res = c.commit_txs([c.sign(name, body)], step_ms=step_ms)
        return res.receipts[0]

    def send(self, src: Chain, name: str, asset: str, amount: int, *, to: str = "bob", timeout_ms: int | None = None):
        dst = self.other(src)
        timeout = dst.time_ms + 60_000 if timeout_ms is None else timeout_ms
        return self.commit(src, name, BridgeSend(dst.chain_id, dst.addr(to), asset, amount, timeout))

    def header_tx(self, src: Chain, height: int | None = None) -> BridgeUpdateClient:
        h = src.node.height if height is None else height
        return BridgeUpdateClient(src.store.header(h).encode(), src.store.commit_cert(h).encode())

    def update(self, dst: Chain, src: Chain):
        """``dst``'s client of ``src`` takes ``src``'s latest header (if it is newer); returns that height."""
        h = src.node.height
        if Client.decode(self.get(dst, client_key(src.chain_id))).latest_height == h:
            return h
        r = self.commit(dst, RELAYER, self.header_tx(src, h))
        assert r.ok, r
        return h

    @staticmethod
    def proof(c: Chain, height: int, key: bytes) -> bytes:
        return c.node.state_tree(height).prove(key).encode()

    def recv_tx(self, src: Chain, seq: int, height: int) -> BridgeRecv:
        dst = self.other(src)
        key = commitment_key(dst.chain_id, seq)
        return BridgeRecv(Packet.decode(self.get(src, key)), self.proof(src, height, key), height)

    def relay(self, src: Chain, seq: int):
        """Deliver packet ``seq`` of ``src`` honestly; return the receipt on the destination."""
        dst = self.other(src)
        h = self.update(dst, src)
        return self.commit(dst, RELAYER, self.recv_tx(src, seq, h))

    def timeout_tx(self, src: Chain, packet: Packet, height: int) -> BridgeTimeout:
        dst = self.other(src)
        return BridgeTimeout(packet, self.proof(dst, height, receipt_key(src.chain_id, packet.sequence)), height)

    def time_out(self, src: Chain, seq: int):
        """Refund packet ``seq`` of ``src`` (the destination's latest header must be past its timeout)."""
        dst = self.other(src)
        packet = self.packet(src, seq)
        h = self.update(src, dst)
        return self.commit(src, RELAYER, self.timeout_tx(src, packet, h))

    def ack_tx(self, src: Chain, packet: Packet, height: int) -> BridgeAck:
        dst = self.other(src)
        return BridgeAck(packet, self.proof(dst, height, ack_key(src.chain_id, packet.sequence)), height)

    def acknowledge(self, src: Chain, seq: int):
        """Close delivered packet ``seq`` of ``src`` with the destination's acknowledgement."""
        packet = self.packet(src, seq)
        h = self.update(src, self.other(src))
        return self.commit(src, RELAYER, self.ack_tx(src, packet, h))

    def voucher(self, origin: Chain, asset: str) -> str:
        """The voucher of ``origin``'s ``asset`` on the other chain: named by that chain's client id of ``origin``."""
        client = Client.decode(self.get(self.other(origin), client_key(origin.chain_id)))
        return voucher_symbol(client.client_id, asset)

    @staticmethod
    def trace(origin: Chain, asset: str) -> str:
        """How a packet names that voucher going home: ``<origin chain id>/<ASSET>``."""
        return denom_trace(origin.chain_id, asset)
