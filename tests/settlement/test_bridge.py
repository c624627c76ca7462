"""Bridged transfers between two in-process chains: the lifecycle, and every lie a relayer can tell refused."""
from __future__ import annotations

import dataclasses

import pytest

from ledger.block import Header
from ledger.commit import CommitCertificate, CommitSig, VoteType, vote_sign_bytes
from ledger.keys import PrivateKey
from ledger.lightclient import validator_set_bytes
from ledger.txkinds import RegisterAccount
from ledger.txkinds_bridge import BridgeCreateClient, BridgeMisbehaviour, BridgeRecv, BridgeSend, BridgeUpdateClient
from ledger.txkinds_pm import SetCollateral
from ledger.txkinds_risk import RegisterMarket
from settlement.bridge import client as bridge_client
from settlement.bridge import records as bridge_records
from settlement.bridge.queries import bridge_info
from settlement.bridge.records import commitment_key, get_consensus
from settlement.checktx import check_tx
from settlement.errors import BadAmount, UnknownAsset
from settlement.risk.collateral import default_collateral_params
from settlement.risk.markets import default_params
from settlement.state import State
from settlement.transfers import Transfer

from .bridge_pair import RELAYER, Pair
from .builders import Chain, genesis_doc


def test_lock_mint_transfer_burn_unlock_conserves_across_both_chains():
    p = Pair.fresh()
    a, b = p.a, p.b
    assert p.send(a, "alice", "USD", 300).ok
    assert p.balance(a, "alice", "USD") == 1_000_000 - 300 and p.escrow(a, "USD") == 300
    r = p.relay(a, 1)
    assert r.ok, r
    voucher = p.voucher(a, "USD")
    assert voucher == "c0/USD"  # B's first client, of chain-a
    assert p.balance(b, "bob", voucher) == 300 and p.supply(b, voucher) == 300
    assert p.commit(b, "bob", Transfer(b.addr("carol"), voucher, 100, "")).ok
    assert p.send(b, "carol", voucher, 100, to="alice").ok
    assert p.supply(b, voucher) == 200
    assert p.relay(b, 1).ok
    assert p.balance(a, "alice", "USD") == 1_000_000 - 300 + 100
    assert p.escrow(a, "USD") == p.supply(b, voucher) == 200
    for c in (a, b):
        assert all(row["ok"] for row in p.audit(c).values()), p.audit(c)
    (on_a,), (on_b,) = bridge_info(a.node.view), bridge_info(b.node.view)
    assert on_a["chain_id"] == "chain-b" and on_a["client_id"] == "c0" and on_a["sent"] == 1 and on_a["escrow"] == {"USD": 200} and on_a["vouchers"] == {}
    assert on_b["chain_id"] == "chain-a" and on_b["sent"] == 1 and on_b["vouchers"] == {voucher: 200} and on_b["escrow"] == {}


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


def _sent(amount: int):
    """A pair where alice sent ``amount`` USD from A; A's latest header as an update tx, and decoded."""
    p = Pair.fresh()
    assert p.send(p.a, "alice", "USD", amount).ok
    real = p.header_tx(p.a)
    return p, real, Header.decode(real.header)


def test_forged_header_and_wrong_height_proof_are_refused():
    p, real, hdr = _sent(50)
    a, b = p.a, p.b
    forged = dataclasses.replace(hdr, state_root=bytes(32))
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


def test_a_voucher_is_an_ordinary_asset_listable_as_collateral():

    p = Pair.fresh()
    a, b = p.a, p.b
    assert p.send(a, "alice", "EUR", 5_000).ok and p.relay(a, 1).ok
    voucher = p.voucher(a, "EUR")
    assert p.commit(b, "admin", RegisterAccount(b.addr("carol"), "oracle")).ok
    params = default_params("mid", lot_size=1_000, margin_cap_ppm=1_000_000)
    assert p.commit(b, "admin", RegisterMarket("AEUR-PERP", voucher, "USD", params, [b.addr("carol")])).ok
    r = p.commit(b, "admin", SetCollateral(voucher, default_collateral_params("USD", "AEUR-PERP")))
    assert r.ok, r
    assert p.balance(b, "bob", voucher) == 5_000


def test_clients_get_short_ids_in_order_up_to_the_most_a_chain_names(monkeypatch):
    p = Pair.fresh(spare_on_b=True)
    a, b = p.a, p.b
    ids = {c["chain_id"]: c["client_id"] for c in bridge_info(b.node.view)}
    assert ids == {"chain-z": "c0", "chain-a": "c1"}
    for module in (bridge_records, bridge_client):
        monkeypatch.setattr(module, "MAX_CLIENTS", 3)
    vset = validator_set_bytes(a.genesis.validator_set())
    assert p.commit(b, "admin", BridgeCreateClient("chain-y", vset)).ok
    r = p.commit(b, "admin", BridgeCreateClient("chain-x", vset))
    assert r.error == "invalid_parameter" and "3 bridge clients" in r.reason
    assert p.commit(b, "admin", BridgeCreateClient("x" * 64, vset)).error == "invalid_parameter"  # no c3
    assert p.commit(a, "admin", BridgeCreateClient("settle-devnet-" + "x" * 50, vset)).ok  # any genesis chain id


def test_the_client_trusts_only_the_genesis_validator_set_and_newer_heights():
    p = Pair.fresh()
    a, b = p.a, p.b
    vset = validator_set_bytes(a.genesis.validator_set())
    assert p.commit(b, "alice", BridgeCreateClient("chain-c", vset)).error == "not_permitted"
    assert p.commit(b, "admin", BridgeCreateClient("chain-a", vset)).error == "already_exists"
    assert p.commit(b, "admin", BridgeCreateClient("chain-b", vset)).error == "invalid_parameter"  # itself
    assert p.commit(b, "admin", BridgeCreateClient("Chain/C", vset)).error == "invalid_parameter"
    assert p.commit(b, "admin", BridgeCreateClient("chain-c", b"\x90")).error == "invalid_parameter"  # an empty set
    # an impostor "chain-a" run by other validators: its headers are refused
    keys = {n: PrivateKey.from_name(n) for n in ("admin", "alice", "bob", "carol", "mallory")}
    keys["validator"] = PrivateKey.from_name("mallory")
    impostor = Chain(genesis_doc("chain-a", keys))
    impostor.keys["validator"] = keys["validator"]
    impostor.commit_txs([])
    assert "validator set" in p.commit(b, RELAYER, p.header_tx(impostor)).reason
    a.commit_txs([])
    h = p.update(b, a)
    r = p.commit(b, RELAYER, p.header_tx(a, h))
    assert r.error == "bad_proof" and "not above" in r.reason
    older = p.commit(b, RELAYER, p.header_tx(a, h - 1))
    assert older.error == "bad_proof"
    unknown = Chain(genesis_doc("chain-z"))
    unknown.commit_txs([])
    assert p.commit(b, RELAYER, p.header_tx(unknown)).error == "not_found"


def test_send_refuses_unknown_chains_past_timeouts_and_vouchers_away_from_home():
    p = Pair.fresh()
    a, b = p.a, p.b

    assert p.commit(a, "alice", BridgeSend("chain-z", b.addr("bob"), "USD", 1, 10**12)).error == "not_found"
    p.update(a, b)
    late = p.commit(a, "alice", BridgeSend("chain-b", b.addr("bob"), "USD", 1, b.time_ms))
    assert late.error == "expired"
    assert p.send(a, "alice", "USD", 0).error == "bad_amount"
    assert p.send(a, "alice", "USD", 2_000_000).error == "insufficient_balance"
    assert p.send(a, "alice", "USD", 10).ok and p.relay(a, 1).ok
    # bob's voucher of chain-a's USD goes back only to chain-a, not on to a third chain

    assert p.commit(b, "admin", BridgeCreateClient("chain-z", validator_set_bytes(a.genesis.validator_set()))).ok
    away = p.commit(b, "bob", BridgeSend("chain-z", a.addr("bob"), p.voucher(a, "USD"), 1, 10**12))
    assert away.error == "invalid_parameter" and "goes back only" in away.reason
    assert p.sent(a) == 1 and p.escrow(a, "USD") == 10


def test_a_send_that_must_fail_is_refused_at_the_door():
    p = Pair.fresh()
    a, b = p.a, p.b
    state = State(a.node.view)
    for body, error in ((BridgeSend("chain-b", b.addr("bob"), "USD", 0, 10**12), BadAmount),
                        (BridgeSend("chain-b", b.addr("bob"), "c0/GBP", 1, 10**12), UnknownAsset)):
        with pytest.raises(error):
            check_tx(state, a.sign("alice", body))
    check_tx(state, a.sign("alice", BridgeSend("chain-b", b.addr("bob"), "USD", 1, 10**12)))


def test_an_acknowledgement_closes_a_delivered_packet_once():
    p = Pair.fresh()
    a, b = p.a, p.b
    assert p.send(a, "alice", "USD", 25).ok
    packet = p.packet(a, 1)
    h = p.update(a, b)
    assert p.commit(a, RELAYER, p.ack_tx(a, packet, h)).error == "bad_proof"  # not received yet
    assert p.relay(a, 1).ok
    assert p.acknowledge(a, 1).ok
    assert p.packet(a, 1) is None and p.escrow(a, "USD") == 25 == p.supply(b, p.voucher(a, "USD"))
    h = p.update(a, b)
    assert p.commit(a, RELAYER, p.ack_tx(a, packet, h)).error == "not_found"
    assert p.commit(a, RELAYER, p.timeout_tx(a, packet, h)).error == "not_found"


def test_two_headers_of_one_height_freeze_the_client_and_nothing_moves_through_it():
    p, real, header = _sent(10)
    a, b = p.a, p.b
    other = dataclasses.replace(header, state_root=bytes(range(32)))  # what the equivocating validators also signed
    vkey = a.keys["validator"]
    sig = vkey.sign(vote_sign_bytes(a.chain_id, VoteType.PRECOMMIT, other.height, 0, other.id))
    other_cert = CommitCertificate(other.height, 0, other.id, (CommitSig(vkey.address, sig),)).encode()
    same = BridgeMisbehaviour(real.header, real.certificate, real.header, real.certificate)
    assert p.commit(b, RELAYER, same).error == "invalid_parameter"
    unsigned = BridgeMisbehaviour(real.header, real.certificate, other.encode(), real.certificate)
    assert p.commit(b, RELAYER, unsigned).error == "bad_proof"
    r = p.commit(b, RELAYER, BridgeMisbehaviour(real.header, real.certificate, other.encode(), other_cert))
    assert r.ok, r
    (info,) = bridge_info(b.node.view)
    assert info["frozen_height"] == header.height
    refused = p.commit(b, RELAYER, real)
    assert refused.error == "not_permitted" and "frozen" in refused.reason
    assert p.commit(b, RELAYER, BridgeRecv(p.packet(a, 1), p.proof(a, header.height, b"x"), header.height)).error == "not_permitted"
    assert p.send(b, "bob", "EUR", 1).error == "not_permitted"


def test_a_client_keeps_its_latest_headers_only(monkeypatch):
    monkeypatch.setattr(bridge_client, "KEPT_HEADERS", 2)
    p, _, _ = _sent(10)
    a, b = p.a, p.b
    heights = []
    for _ in range(3):
        a.commit_txs([])
        heights.append(p.update(b, a))
    kept = [h for h in heights if get_consensus(State(b.node.view), "chain-a", h) is not None]
    assert kept == heights[1:]
    key = commitment_key("chain-b", 1)
    r = p.commit(b, RELAYER, BridgeRecv(p.packet(a, 1), p.proof(a, heights[0], key), heights[0]))
    assert r.error == "bad_proof" and "not a trusted height" in r.reason
    assert p.commit(b, RELAYER, BridgeRecv(p.packet(a, 1), p.proof(a, heights[2], key), heights[2])).ok


def test_two_networks_with_long_chain_ids_bridge_usd_there_and_back():
    """Vouchers are named by the local client id (``c1/USD``), not the counterparty's chain id, so any chain id fits."""
    p = Pair.fresh("settle-devnet-a", "settle-devnet-b", spare_on_b=True)
    a, b = p.a, p.b
    assert p.send(a, "alice", "USD", 300).ok
    r = p.relay(a, 1)
    assert r.ok, r
    assert p.balance(b, "bob", "c1/USD") == 300 and p.supply(b, "c1/USD") == 300  # B's client of A is c1 (c0: chain-z)
    assert p.send(b, "bob", "EUR", 40, to="alice").ok and p.relay(b, 1).ok
    assert p.balance(a, "alice", "c0/EUR") == 40  # A's client of B is c0
    assert p.send(b, "bob", "c1/USD", 100, to="alice").ok  # home: burned on B, released on A
    assert p.packet(b, 2).denom == "settle-devnet-a/USD"  # the packet carries the full trace
    assert p.relay(b, 2).ok
    assert p.balance(a, "alice", "USD") == 1_000_000 - 200 and p.escrow(a, "USD") == p.supply(b, "c1/USD") == 200
    for c in (a, b):
        assert all(row["ok"] for row in p.audit(c).values()), p.audit(c)
    on_b = {c["chain_id"]: c for c in bridge_info(b.node.view)}["settle-devnet-a"]
    assert on_b["client_id"] == "c1" and on_b["vouchers"] == {"c1/USD": 200}
    assert {"symbol": "c1/USD", "client_id": "c1", "chain_id": "settle-devnet-a", "denom": "USD",
            "supply": 200} in on_b["traces"]


def test_a_voucher_sent_home_and_withheld_is_re_minted_under_its_local_name():
    p = Pair.fresh("settle-devnet-a", "settle-devnet-b", spare_on_b=True)
    a, b = p.a, p.b
    assert p.send(a, "alice", "USD", 90).ok and p.relay(a, 1).ok
    assert p.send(b, "bob", "c1/USD", 60, to="alice", timeout_ms=a.time_ms + 2_000).ok
    assert p.supply(b, "c1/USD") == 30 and p.packet(b, 1).denom == "settle-devnet-a/USD"
    for _ in range(3):
        a.commit_txs([])
    r = p.time_out(b, 1)
    assert r.ok, r
    assert p.balance(b, "bob", "c1/USD") == p.supply(b, "c1/USD") == 90 == p.escrow(a, "USD")
    assert p.supply(b, "c0/USD") == 0  # not chain-z's client id
