"""Bridged transfers between two real networks (chain ids settle-devnet-a and settle-devnet-b, one validator each, 127.0.0.1).

Everything goes through the command line and RPC: the admins create the
clients from each other's genesis, alice sends with ``settle bridge send``,
``settle relay --once`` carries headers, packets with state proofs and
timeouts.  A lying relayer (forged header, proof for another height,
replay) is refused with a receipt error and changes nothing; a withheld
packet is refunded on A after its timeout.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli.relay import Relayer, Side
from ledger.codec import decode
from ledger.keys import PrivateKey, format_address
from ledger.txkinds_bridge import BridgeRecv, BridgeUpdateClient
from settlement.accounts import Asset, asset_key
from settlement.bridge.records import commitment_key, escrow_key
from tests.nodeproc import ROOT, network, run_cli, tune_fast

CHAINS = {"a": "settle-devnet-a", "b": "settle-devnet-b"}  # "<chain id>/USD" would not fit a 16-character symbol
VOUCHER = "c0/USD"  # A's USD on B: B's first client (of A) is c0
TRACE = "settle-devnet-a/USD"  # how packets going home name it
START = 1_000_000_000_000  # every demo participant's USD


def start_networks(root: Path, validators: int):
    """Networks A and B of ``validators`` each, started, each trusting the other's genesis; a user home whose
    keyring holds admin, alice, bob and carol (the relayer) of each as NAME-a, NAME-b: (procs, user)."""
    procs = {c: network(root / c, validators, CHAINS[c], tune=lambda home: tune_fast(home, empty_interval_ms=200)) for c in "ab"}
    for p in [*procs["a"], *procs["b"]]:
        p.start(wait=False)
    user = root / "user"
    (user / "keys").mkdir(parents=True)
    for c in "ab":
        for name in ("admin", "alice", "bob", "carol"):
            shutil.copy(root / c / "keys" / f"{name}.json", user / "keys" / f"{name}-{c}.json")
    try:
        for p in [*procs["a"], *procs["b"]]:
            p.wait_ready()
        for here, there in (("a", "b"), ("b", "a")):
            cli(user, "bridge", "create-client", "--from", f"admin-{here}", "--genesis",
                str(root / there / "node0" / "genesis.json"), "--rpc", procs[here][0].rpc_url, "--wait")
    except BaseException:
        stop(procs)
        raise
    return procs, user


def stop(procs) -> None:
    for p in [*procs["a"], *procs["b"]]:
        p.stop()


@pytest.fixture(scope="module")
def nets(tmp_path_factory):
    procs, user = start_networks(tmp_path_factory.mktemp("bridge"), 1)
    yield {c: procs[c][0] for c in "ab"}, user
    stop(procs)


def cli(user: Path, *args: str) -> str:
    return run_cli(*args, home=user, check=True, timeout=120).stdout


def addr(user: Path, key: str) -> str:
    return format_address(PrivateKey.load(user / "keys" / f"{key}.json").address)


def balance(nodes, user, c: str, who: str, asset: str) -> int:
    return nodes[c].client.call("account", {"address": addr(user, f"{who}-{c}")})["balances"].get(asset, 0)


def side(nodes, user, c: str) -> Side:
    return Side(c.upper(), nodes[c].rpc_url, PrivateKey.load(user / "keys" / f"carol-{c}.json"))


def relay_once(nodes, user) -> str:
    return cli(user, "relay", "--a", nodes["a"].rpc_url, "--b", nodes["b"].rpc_url, "--key-a", "carol-a", "--key-b", "carol-b", "--once")


def send(nodes, user, src: str, who: str, to: str, asset: str, amount: int, timeout_in: float = 120) -> None:
    dst = "b" if src == "a" else "a"
    cli(user, "bridge", "send", "--from", f"{who}-{src}", "--to-chain", CHAINS[dst], "--receiver", addr(user, f"{to}-{dst}"),
        "--asset", asset, "--amount", str(amount), "--timeout-in", str(timeout_in), "--rpc", nodes[src].rpc_url, "--wait")


def money(nodes, user) -> dict:
    """What the bridge moves: the parties' USD on A and vouchers on B, A's escrow for B, the voucher supply on B."""
    a = side(nodes, user, "a")
    b = side(nodes, user, "b")
    raw_escrow = a.value(escrow_key("USD", CHAINS["b"]))
    raw_asset = b.value(asset_key(VOUCHER))
    out = {"escrow": 0 if raw_escrow is None else decode(raw_escrow),
           "vouchers": 0 if raw_asset is None else Asset.decode(raw_asset).supply}
    for who in ("alice", "bob"):
        out[f"{who} USD on A"] = balance(nodes, user, "a", who, "USD")
        out[f"{who} vouchers on B"] = balance(nodes, user, "b", who, VOUCHER)
    return out


def test_lock_mint_transfer_burn_unlock_conserves_across_both_chains(nets):
    _lifecycle(*nets)


@pytest.mark.slow
def test_the_lifecycle_between_two_four_validator_networks(tmp_path):
    procs, user = start_networks(tmp_path, 4)
    try:
        _lifecycle({"a": procs["a"][1], "b": procs["b"][2]}, user)  # the tools talk to any node
    finally:
        stop(procs)


def _lifecycle(nodes, user):
    before = money(nodes, user)
    send(nodes, user, "a", "alice", "bob", "USD", 300)
    out = relay_once(nodes, user)
    assert "A->B: packet 1 received (300 USD)" in out and "A->B: packet 1 acknowledged, closed" in out, out
    assert side(nodes, user, "a").value(commitment_key(CHAINS["b"], 1)) is None  # closed on A
    m = money(nodes, user)
    assert m["alice USD on A"] == before["alice USD on A"] - 300
    assert m["bob vouchers on B"] == before["bob vouchers on B"] + 300
    assert m["escrow"] == m["vouchers"] == before["escrow"] + 300
    cli(user, "tx", "transfer", "--from", "bob-b", "--to", addr(user, "alice-b"), "--asset", VOUCHER, "--amount", "120",
        "--rpc", nodes["b"].rpc_url, "--wait")
    send(nodes, user, "b", "alice", "alice", VOUCHER, 100)  # burned on B, released on A
    assert money(nodes, user)["vouchers"] == before["vouchers"] + 200
    out = relay_once(nodes, user)
    assert f"B->A: packet 1 received (100 {TRACE})" in out, out
    m = money(nodes, user)
    assert m["alice USD on A"] == before["alice USD on A"] - 200
    assert m["escrow"] == m["vouchers"] == before["escrow"] + 200
    assert balance(nodes, user, "b", "alice", VOUCHER) == 20
    status = {c: json.loads(cli(user, "bridge", "status", "--rpc", nodes[c].rpc_url, "--json")) for c in "ab"}
    (a_client,), (b_client,) = status["a"]["clients"], status["b"]["clients"]
    assert a_client["chain_id"] == CHAINS["b"] and b_client["chain_id"] == CHAINS["a"]
    assert a_client["client_id"] == b_client["client_id"] == "c0"
    assert a_client["escrow"]["USD"] == b_client["vouchers"][VOUCHER] == m["escrow"]
    assert b_client["traces"] == [{"symbol": VOUCHER, "client_id": "c0", "chain_id": CHAINS["a"], "denom": "USD",
                                   "supply": m["escrow"]}]
    assert f"{m['escrow']} {VOUCHER} (= {TRACE})" in cli(user, "bridge", "status", "--rpc", nodes["b"].rpc_url)


def _pending_packet(nodes, user):
    """alice's next packet A -> B, committed on A and not delivered; the relayer's view of it."""
    send(nodes, user, "a", "alice", "bob", "USD", 40)
    a, b = side(nodes, user, "a"), side(nodes, user, "b")
    relayer = Relayer(a, b, echo=lambda line: None)
    (packet,) = relayer.pending(a, b)
    return a, b, relayer, packet


def _refused(nodes, user, dst: Side, body, error: str) -> None:
    before = money(nodes, user)
    r = dst.submit(body)
    assert not r["ok"] and r["error"] == error, r
    assert money(nodes, user) == before


def test_a_lying_relayer_is_refused_and_changes_nothing(nets):
    nodes, user = nets
    a, b, relayer, packet = _pending_packet(nodes, user)
    header, raw, cert = a.header()
    forged = dataclasses.replace(header, state_root=bytes(32))
    _refused(nodes, user, b, BridgeUpdateClient(forged.encode(), cert), "bad_proof")
    key = commitment_key(CHAINS["b"], packet.sequence)
    h1 = relayer.update(b, a)
    proof_h1 = a.state(key, height=h1)[2]
    relayer.update(a, b)  # a tx on A: A's state root moves on
    h = relayer.update(b, a)
    assert h > h1
    _refused(nodes, user, b, BridgeRecv(packet, proof_h1, h), "bad_proof")  # an honest proof, for another height
    # a proof of the right height and key, but for a packet that pays more
    _refused(nodes, user, b, BridgeRecv(dataclasses.replace(packet, amount=packet.amount + 1), a.state(key, height=h)[2], h),
             "bad_proof")
    honest = BridgeRecv(packet, a.state(key, height=h)[2], h)
    assert b.submit(honest)["ok"]
    _refused(nodes, user, b, honest, "replayed")
    m = money(nodes, user)
    assert m["escrow"] == m["vouchers"]


def _wait_past_timeout(nodes, user) -> None:
    """Until B's block time passes the timeout of A's one packet in flight."""
    a, b = side(nodes, user, "a"), side(nodes, user, "b")
    (packet,) = Relayer(a, b).pending(a, b)
    deadline = time.monotonic() + 30
    while b.header()[0].time_ms < packet.timeout_ms:
        assert time.monotonic() < deadline, "B's block time never passed the timeout"
        time.sleep(0.2)


def test_a_withheld_packet_is_refunded_on_a_after_its_timeout(nets):
    nodes, user = nets
    before = money(nodes, user)
    send(nodes, user, "a", "alice", "bob", "USD", 55, timeout_in=1.5)
    assert money(nodes, user)["escrow"] == before["escrow"] + 55
    _wait_past_timeout(nodes, user)  # withheld: nobody delivers it
    out = relay_once(nodes, user)
    assert "timed out, refunded (55 USD)" in out, out
    m = money(nodes, user)
    assert m == before, (m, before)
    assert "packet" not in relay_once(nodes, user)  # exactly once: nothing left to do


def test_a_packet_b_cannot_take_is_refunded_on_a(nets):
    """The receiver is no account on B: the delivery is refused (nothing written), the timeout refunds alice."""
    nodes, user = nets
    before = money(nodes, user)
    nobody = format_address(PrivateKey.generate().address)
    cli(user, "bridge", "send", "--from", "alice-a", "--to-chain", CHAINS["b"], "--receiver", nobody, "--asset", "USD",
        "--amount", "33", "--timeout-in", "8", "--rpc", nodes["a"].rpc_url, "--wait")
    lines: list[str] = []
    a, b = side(nodes, user, "a"), side(nodes, user, "b")
    Relayer(a, b, echo=lines.append).round()  # in this process: no start-up time eats into the 8 s
    assert any("refused by B: not_registered" in line for line in lines), lines
    _wait_past_timeout(nodes, user)
    out = relay_once(nodes, user)
    assert "timed out, refunded (33 USD)" in out, out
    assert money(nodes, user) == before


def test_a_running_relayer_carries_transfers_both_ways(nets):
    """``settle relay`` as a process (no ``--once``): what is sent on either side arrives, and it says so."""
    nodes, user = nets
    before = money(nodes, user)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "SETTLE_HOME": str(user)}
    proc = subprocess.Popen([sys.executable, "-m", "cli", "relay", "--a", nodes["a"].rpc_url, "--b", nodes["b"].rpc_url,
                             "--key-a", "carol-a", "--key-b", "carol-b", "--poll", "0.2"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        send(nodes, user, "a", "alice", "bob", "USD", 70)
        deadline = time.monotonic() + 30
        while money(nodes, user)["bob vouchers on B"] != before["bob vouchers on B"] + 70:
            assert time.monotonic() < deadline and proc.poll() is None, "the voucher never arrived"
            time.sleep(0.2)
        send(nodes, user, "b", "bob", "bob", VOUCHER, 70)
        while money(nodes, user)["bob USD on A"] != before["bob USD on A"] + 70:
            assert time.monotonic() < deadline and proc.poll() is None, "the USD never came back"
            time.sleep(0.2)
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert "received (70 USD)" in out and f"received (70 {TRACE})" in out, out
    m = money(nodes, user)
    assert m["escrow"] == m["vouchers"] == before["escrow"] and m["alice USD on A"] == before["alice USD on A"] - 70
