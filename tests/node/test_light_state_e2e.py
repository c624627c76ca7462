"""``settle light --balance / --htlc`` against a real node process: the answer is a state proof the client
checks against its trusted genesis, never the node's word.  A lying node (a proxy in front of the real one,
rewriting its ``proof`` answers) is refused with the reason."""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace

import pytest

from cli.proven import key_of_balance, proven_state
from cli.trust import Trust
from ledger.block import Header
from ledger.codec import encode
from ledger.commit import CommitCertificate, CommitSig
from ledger.keys import PrivateKey, format_address
from ledger.lightclient import validator_set_bytes
from ledger.proofs import ProofError
from ledger.statetree import StateProof
from ledger.tx import sign_tx
from ledger.txkinds_risk import HtlcLock
from ledger.validators import Validator, ValidatorSet
from settlement.swaps import htlc_id
from tests.node.test_receipt_e2e import settle
from tests.nodeproc import LyingProxy, local_node, run_cli

NAMES = ("alice", "bob", "carol", "dave")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A running node where alice sent bob 7 USD and locked 5 EUR for carol; a lying proxy in front of it."""
    root = tmp_path_factory.mktemp("light-state")
    home = root / "home"
    node = local_node(home)
    proxy = LyingProxy(node.rpc_url)
    try:
        keys = {n: PrivateKey.load(home / "keys" / f"{n}.json") for n in NAMES}
        addr = {n: format_address(k.address) for n, k in keys.items()}
        node.wait_height(2)  # so the transfer's block has a block before it
        sent = run_cli("tx", "transfer", "--from", "alice", "--to", "bob", "--asset", "USD", "--amount", "7",
                       "--wait", "--json", home=home, check=True)
        transfer_height = json.loads(sent.stdout)["height"]
        chain_id = node.client.call("status")["chain_id"]
        nonce = node.client.call("account", {"address": addr["alice"]})["next_nonce"]
        now_ms = Header.decode(bytes.fromhex(node.client.call("proof", {"kind": "header"})["header"])).time_ms
        lock = sign_tx(keys["alice"], chain_id, nonce, HtlcLock("EUR", 5, keys["carol"].address,
                                                                 hashlib.sha256(b"secret").digest(), 0, now_ms + 3_600_000))
        res = node.client.call("broadcast_tx_batch", {"txs": [lock.raw.hex()], "mode": "commit"}, timeout=60)
        assert res["accepted"] == 1, res
        hid = htlc_id(chain_id, keys["alice"].address, nonce).hex()
        node.wait_height(res["results"][0]["height"] + 1)
        yield {"home": home, "node": node, "proxy": proxy, "addr": addr, "hid": hid, "transfer_height": transfer_height,
               "genesis": str(home / "genesis.json"), "trust": Trust.from_options(str(home / "genesis.json"), None)}
    finally:
        proxy.close()
        node.stop()


def _light(world, *args, capsys, via_proxy=False):
    rpc = world["proxy"].url if via_proxy else world["node"].rpc_url
    return settle("light", "--trust", world["genesis"], "--rpc", rpc, *args, capsys=capsys)


def test_a_balance_is_answered_with_a_verified_proof_at_the_latest_and_an_older_height(world, capsys):
    alice, bob = world["addr"]["alice"], world["addr"]["bob"]
    want = world["node"].client.call("account", {"address": alice})["balances"]["USD"]
    code, out, err = _light(world, "--balance", alice, "USD", capsys=capsys)
    assert code == 0, err
    assert out.startswith(f"verified balance of {alice} in USD: {want} at height ") and "signed 10/10" in out
    h = world["transfer_height"]
    before = _light(world, "--balance", bob, "USD", "--until", str(h - 1), "--json", capsys=capsys)
    after = _light(world, "--balance", bob, "USD", "--until", str(h), "--json", capsys=capsys)
    assert before[0] == after[0] == 0, (before, after)
    b0, b1 = json.loads(before[1]), json.loads(after[1])
    assert (b0["height"], b1["height"]) == (h - 1, h) and b1["balance"] - b0["balance"] == 7 and b1["verified"]
    stranger = format_address(PrivateKey.from_name("stranger").address)
    code, out, err = _light(world, "--balance", stranger, "USD", "--json", capsys=capsys)
    assert code == 0 and json.loads(out)["balance"] == 0, err


def test_an_htlc_is_answered_with_a_verified_proof_present_or_absent(world, capsys):
    code, out, err = _light(world, "--htlc", world["hid"], "--json", capsys=capsys)
    record = json.loads(out)["record"]
    assert code == 0, err
    assert record["status"] == "open" and record["amount"] == 5 and record["asset"] == "EUR"
    assert record["receiver"] == world["addr"]["carol"] and record["hashlock"] == hashlib.sha256(b"secret").hexdigest()
    code, out, err = _light(world, "--htlc", "ab" * 32, capsys=capsys)
    assert code == 0 and f"verified htlc {'ab' * 32}: absent at height " in out, err


def _reproof(answer: dict, change) -> dict:
    """The answer with its StateProof re-encoded after ``change`` (the value field follows the proof's)."""
    proof = change(StateProof.decode(bytes.fromhex(answer["proof"]["state_proof"])))
    return answer | {"value": None if proof.value is None else proof.value.hex(),
                     "proof": answer["proof"] | {"state_proof": proof.encode().hex()}}


def _recode(answer: dict, field: str, decoder, change) -> dict:
    return answer | {field: change(decoder(bytes.fromhex(answer[field]))).encode().hex()}


def _flip_signature(c: CommitCertificate) -> CommitCertificate:
    s = c.signatures[0]
    return replace(c, signatures=(CommitSig(s.validator, s.signature[:-1] + bytes([s.signature[-1] ^ 1])),))


def _stranger_set(answer: dict) -> dict:
    stranger = PrivateKey.from_name("stranger").pubkey
    return answer | {"validators": validator_set_bytes(ValidatorSet([Validator(stranger, 10)])).hex()}


def _other_height(world):
    """Swap in the header, certificate and proof of height 1 (the node's own, genuinely signed)."""
    first = world["node"].client.call("proof", {"kind": "header", "height": 1})
    return lambda a: a | {k: first[k] for k in ("header", "certificate", "header_id", "height")}


LIES = {
    "inflated value": (lambda w: lambda a: a | {"value": encode(10**12).hex()}, "the proof is for another value"),
    "inflated value and proof": (lambda w: lambda a: _reproof(a, lambda p: replace(p, value=encode(10**12))),
                                 "the path does not lead to the state root"),
    "claims absent": (lambda w: lambda a: _reproof(a, lambda p: replace(p, value=None)),
                      "the path does not lead to the state root"),
    "another account's proof": (
        lambda w: lambda a: a | w["node"].client.call("proof", {"kind": "state", "key": key_of_balance(w["addr"]["bob"], "USD").hex(),
                                                                "height": a["height"]}),
        "the proof is for another key"),
    "header of another height": (_other_height, "the path does not lead to the state root"),
    "forged state root": (lambda w: lambda a: _recode(a, "header", Header.decode, lambda h: replace(h, state_root=bytes(32))),
                          "header: commit certificate is for block"),
    "flipped signature": (lambda w: lambda a: _recode(a, "certificate", CommitCertificate.decode, _flip_signature),
                          "header: commit certificate: invalid signature"),
    "stranger validator set": (lambda w: _stranger_set, "not trusted: its validator set .* is not the trusted one"),
    "a sibling changed": (lambda w: lambda a: _reproof(a, lambda p: replace(p, path=replace(
        p.path, siblings=[bytes([p.path.siblings[0][0] ^ 1]) + p.path.siblings[0][1:], *p.path.siblings[1:]]))),
        "the path does not lead to the state root"),
}


@pytest.mark.parametrize("case", list(LIES))
def test_a_lying_node_is_refused_with_the_reason(world, case, capsys):
    lie, reason = LIES[case]
    world["proxy"].lie = lie(world)
    try:
        code, out, err = _light(world, "--balance", world["addr"]["alice"], "USD", capsys=capsys, via_proxy=True)
    finally:
        world["proxy"].lie = None
    assert code == 1 and out == "" and len(err.strip().splitlines()) == 1, (code, out, err)
    assert err.startswith("error: the node's answer is refused: ")
    assert re.search(reason, err), err


def test_a_proof_for_another_height_than_asked_is_refused(world, capsys):
    world["proxy"].lie = lambda a: world["node"].client.call("proof", {"kind": "state", "key": a["proof"]["key"]})
    try:
        code, out, err = _light(world, "--htlc", world["hid"], "--until", "1", capsys=capsys, via_proxy=True)
    finally:
        world["proxy"].lie = None
    assert code == 1 and "the proof is for height " in err and "height 1 was asked" in err, err


def test_every_changed_byte_of_a_state_answer_is_refused(world):
    key = key_of_balance(world["addr"]["alice"], "USD")
    answer = world["node"].client.call("proof", {"kind": "state", "key": key.hex()})
    proven_state(answer, world["trust"], key)
    for field in ("value", "header", "certificate", "validators"):
        raw = bytes.fromhex(answer[field])
        for i in range(len(raw)):
            bad = raw[:i] + bytes([raw[i] ^ 0x01]) + raw[i + 1:]
            with pytest.raises(ProofError):
                proven_state(answer | {field: bad.hex()}, world["trust"], key)
    encoded = bytes.fromhex(answer["proof"]["state_proof"])
    for i in range(len(encoded)):
        bad = encoded[:i] + bytes([encoded[i] ^ 0x01]) + encoded[i + 1:]
        with pytest.raises(ProofError):
            proven_state(answer | {"proof": answer["proof"] | {"state_proof": bad.hex()}}, world["trust"], key)


@pytest.mark.parametrize("args, reason", [
    (("--balance", "st00", "USD"), "address must have 40 hex digits"),
    (("--htlc", "abcd"), "an HTLC id is 32 bytes"),
    (("--htlc", "ab" * 32, "--from", "2"), "a query (--balance, --htlc) follows no headers"),
])
def test_a_malformed_query_is_refused_before_asking(world, capsys, args, reason):
    code, out, err = _light(world, *args, capsys=capsys)
    assert code == 1 and out == "" and reason in err, err
