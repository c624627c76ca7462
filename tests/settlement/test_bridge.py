"""Bridged transfers between two in-process chains: the lifecycle, and every lie a relayer can tell refused."""
from __future__ import annotations

from ledger.txkinds_bridge import BridgeRecv, BridgeUpdateClient

from .bridge_pair import RELAYER, Pair


def test_lock_mint_transfer_burn_unlock_conserves_across_both_chains():
    p = Pair.fresh()
    a, b = p.a, p.b
    assert p.send(a, "alice", "USD", 300).ok
    assert p.balance(a, "alice", "USD") == 1_000_000 - 300 and p.escrow(a, "USD") == 300
    r = p.relay(a, 1)
    assert r.ok, r
    voucher = p.voucher(a, "USD")
    assert voucher == "chain-a/USD"
    assert p.balance(b, "bob", voucher) == 300 and p.supply(b, voucher) == 300
    from settlement.transfers import Transfer

    assert p.commit(b, "bob", Transfer(b.addr("carol"), voucher, 100, "")).ok
    assert p.send(b, "carol", voucher, 100, to="alice").ok
    assert p.supply(b, voucher) == 200
    assert p.relay(b, 1).ok
    assert p.balance(a, "alice", "USD") == 1_000_000 - 300 + 100
    assert p.escrow(a, "USD") == p.supply(b, voucher) == 200
    for c in (a, b):
        assert all(row["ok"] for row in p.audit(c).values()), p.audit(c)


def test_a_replayed_packet_is_refused_and_changes_nothing():
    p = Pair.fresh()
    a, b = p.a, p.b
    p.send(a, "alice", "USD", 50)
    h = p.update(b, a)
    tx = p.recv_tx(a, 1, h)
    assert p.commit(b, RELAYER, tx).ok
    r = p.commit(b, RELAYER, tx)
    assert r.error == "replayed"
    assert p.supply(b, p.voucher(a, "USD")) == 50


def test_forged_header_and_wrong_height_proof_are_refused():
    p = Pair.fresh()
    a, b = p.a, p.b
    p.send(a, "alice", "USD", 50)
    real = p.header_tx(a)
    from ledger.block import Header

    hdr = Header.decode(real.header)
    forged = Header(hdr.chain_id, hdr.height, hdr.time_ms, hdr.prev_hash, hdr.tx_root, bytes(32), hdr.receipts_root,
                    hdr.proposer, hdr.validators_hash)
    r = p.commit(b, RELAYER, BridgeUpdateClient(forged.encode(), real.certificate))
    assert r.error == "bad_proof", r
    h = p.update(b, a)
    a.commit_txs([])  # a newer height, not trusted by b
    tx = p.recv_tx(a, 1, h)
    r = p.commit(b, RELAYER, BridgeRecv(tx.packet, p.proof(a, h - 1, b"br/p/chain-b/" + bytes(7) + b"\x01"), h))
    assert r.error == "bad_proof", r
    r = p.commit(b, RELAYER, BridgeRecv(tx.packet, tx.proof, h + 1))
    assert r.error == "bad_proof", r
    assert p.supply(b, p.voucher(a, "USD")) == 0
    assert p.commit(b, RELAYER, tx).ok


def test_a_withheld_packet_times_out_and_is_refunded_once():
    p = Pair.fresh()
    a, b = p.a, p.b
    p.send(a, "alice", "USD", 70, timeout_ms=b.time_ms + 3_000)
    assert p.balance(a, "alice", "USD") == 1_000_000 - 70
    h = p.update(a, b)
    early = p.timeout_tx(a, p.packet(a, 1), h)
    assert p.commit(a, RELAYER, early).error == "invalid_parameter"
    for _ in range(3):
        b.commit_txs([])
    tx = p.recv_tx(a, 1, p.update(b, a))
    assert p.commit(b, RELAYER, tx).error == "expired"
    packet = p.packet(a, 1)
    r = p.time_out(a, 1)
    assert r.ok, r
    assert p.balance(a, "alice", "USD") == 1_000_000 and p.escrow(a, "USD") == 0
    assert p.commit(a, RELAYER, p.timeout_tx(a, packet, a.node.height)).error in ("not_found", "bad_proof")
