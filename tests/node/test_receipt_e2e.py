"""Portable receipts end to end: a real node, a transfer made with the CLI, ``settle receipt export``,
the node stopped, then ``settle verify`` offline; and every tampering of the document refused
with its reason.  ``settle light`` follows the same node's headers."""
from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli.main import main
from cli.receipt import build_document, verify_document
from cli.trust import Trust
from ledger.block import Header
from ledger.commit import CommitCertificate, CommitSig
from ledger.keys import PrivateKey
from ledger.lightclient import decode_validator_set, validator_set_bytes
from ledger.proofs import ProofError
from ledger.receipt import Event, Receipt
from ledger.tx import Tx, sign_tx
from ledger.txkinds import Transfer
from ledger.validators import Validator, ValidatorSet
from settlement.genesis import Genesis
from tests.node.test_proof_rpc import api_of, call
from tests.nodeproc import NodeProcess, free_port, network, run_cli, tune_fast
from tests.settlement.builders import Chain


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """``(home, {"cli": doc path, "batch": doc path}, light output)``: exported while the node ran, read after it stopped."""
    root = tmp_path_factory.mktemp("receipts")
    home, port = root / "home", free_port()
    run_cli("init", "--home", str(home), "--rpc-port", str(port), "--p2p-port", str(free_port()), check=True)
    tune_fast(home)
    node = NodeProcess(home, f"http://127.0.0.1:{port}").start()
    try:
        sent = run_cli("tx", "transfer", "--from", "alice", "--to", "bob", "--asset", "USD", "--amount", "7",
                       "--memo", "invoice 42", "--wait", "--json", home=home, check=True)
        cli_hash = json.loads(sent.stdout)["hash"]
        batch_hash = _batch_of_transfers(node, home)
        docs = {"cli": root / "cli.json", "batch": root / "batch.json"}
        for name, h in (("cli", cli_hash), ("batch", batch_hash)):
            run_cli("receipt", "export", h, "--out", str(docs[name]), home=home, check=True)
        light = run_cli("light", "--trust", str(home / "genesis.json"), "--rpc", node.rpc_url, "--until", "3", check=True)
        other_genesis = json.loads((home / "genesis.json").read_text()) | {"chain_id": "another-chain"}
        (root / "other.json").write_text(json.dumps(other_genesis))
        refused = [run_cli("light", "--trust", str(root / "other.json"), "--rpc", node.rpc_url, "--until", "1")]
        stranger = {"pubkey": PrivateKey.from_name("stranger").pubkey.hex(), "power": 10}
        other_set = json.loads((home / "genesis.json").read_text()) | {"validators": [stranger]}
        (root / "other-set.json").write_text(json.dumps(other_set))
        refused.append(run_cli("light", "--trust", str(root / "other-set.json"), "--rpc", node.rpc_url, "--until", "1"))
    finally:
        node.stop()
    return home, docs, light, refused


def _batch_of_transfers(node: NodeProcess, home) -> str:
    """Four transfers admitted in one call (so one block holds them all); the hash of the third."""
    keys = {n: PrivateKey.load(home / "keys" / f"{n}.json") for n in ("alice", "bob", "carol", "dave")}
    chain_id = node.client.call("status")["chain_id"]
    txs = []
    for n, key in keys.items():
        nonce = node.client.call("account", {"address": "st" + key.address.hex()})["next_nonce"]
        txs.append(sign_tx(key, chain_id, nonce, Transfer(keys["alice"].address, "USD", 3, "")))
    res = node.client.call("broadcast_tx_batch", {"txs": [t.raw.hex() for t in txs], "mode": "commit"}, timeout=60)
    assert res["accepted"] == 4, res
    assert len({r["height"] for r in res["results"]}) == 1, res
    return txs[2].hash.hex()


def settle(*argv, capsys) -> tuple[int, str, str]:
    """``settle ARGV`` in this process: (exit code, stdout, stderr)."""
    try:
        main(list(argv))
        code = 0
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_a_cli_transfer_exported_while_the_node_ran_verifies_offline_after_it_stopped(exported, capsys):
    home, docs, _, _ = exported
    code, out, err = settle("verify", str(docs["cli"]), "--trust", str(home / "genesis.json"), capsys=capsys)
    assert code == 0, err
    alice = PrivateKey.load(home / "keys" / "alice.json").address.hex()
    bob = PrivateKey.load(home / "keys" / "bob.json").address.hex()
    assert f"settled    transfer by st{alice}" in out
    assert "amount   7" in out and "invoice 42" in out and f"to=st{bob}" in out
    assert "signed by  power 10 of 10" in out and "height     " in out and "time       " in out

    vset_hash = Genesis.from_json(json.loads((home / "genesis.json").read_text())).validator_set().hash.hex()
    code, out, err = settle("verify", str(docs["batch"]), "--trust-vset", vset_hash, "--json", capsys=capsys)
    summary = json.loads(out)
    assert code == 0 and summary["verified"] and summary["kind"] == "transfer" and summary["index"] == 2
    assert summary["body"]["amount"] == 3 and summary["events"][0]["amount"] == 3


def test_the_light_client_followed_the_node_and_refused_another_chain_or_validator_set(exported):
    _, _, light, refused = exported
    lines = light.stdout.splitlines()
    assert [line.split()[2] for line in lines] == ["1", "2", "3"] and all(line.endswith("signed 10/10") for line in lines)
    for run in refused:
        assert run.returncode == 1 and run.stdout == "" and len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert "header 1 refused: it is for chain 'settle-local', the trusted genesis is chain 'another-chain'" in refused[0].stderr
    assert "header 1 refused: its validator set " in refused[1].stderr and "is not the trusted one" in refused[1].stderr


@pytest.mark.parametrize("trust, reason", [
    ((), "give exactly one of --trust GENESIS.json and --trust-vset HASH"),
    (("--trust", "G", "--trust-vset", "00" * 32), "give exactly one of"),
    (("--trust-vset", "abc"), "--trust-vset must be a validator-set hash of 64 hex digits"),
    (("--trust", "missing.json"), "cannot use missing.json as the trusted genesis"),
])
def test_verify_needs_exactly_one_usable_trust_root(exported, capsys, trust, reason):
    _, docs, _, _ = exported
    code, out, err = settle("verify", str(docs["cli"]), *trust, capsys=capsys)
    assert code == 1 and out == "" and len(err.strip().splitlines()) == 1 and reason in err, err


def _recode(doc: dict, field: str, decoder, change) -> dict:
    return doc | {field: change(decoder(bytes.fromhex(doc[field]))).hex()}


def _resign(doc: dict, home) -> dict:
    """The tx re-signed by its real sender with another amount; tx_hash and summary follow it."""
    tx = Tx.decode(bytes.fromhex(doc["tx"]))
    sender = next(k for n in ("alice", "bob", "carol", "dave")
                  if (k := PrivateKey.load(home / "keys" / f"{n}.json")).pubkey == tx.sender)
    forged = sign_tx(sender, tx.chain_id, tx.nonce, replace(tx.body, amount=tx.body.amount + 1))
    summary = doc["summary"] | {"body": doc["summary"]["body"] | {"amount": tx.body.amount + 1}}
    return doc | {"tx": forged.raw.hex(), "tx_hash": forged.hash.hex(), "summary": summary}


def _receipt_amount(r: Receipt) -> Receipt:
    e = r.events[0]
    return replace(r, events=(Event(e.kind, e.attrs | {"amount": e.attrs["amount"] + 1}), *r.events[1:]))


def _power(raw: bytes) -> bytes:
    vs = decode_validator_set(raw).validators
    return validator_set_bytes(ValidatorSet([Validator(vs[0].pubkey, vs[0].power + 1), *vs[1:]]))


def _signature(c: CommitCertificate) -> CommitCertificate:
    s = c.signatures[0]
    return replace(c, signatures=(CommitSig(s.validator, s.signature[:-1] + bytes([s.signature[-1] ^ 1])), *c.signatures[1:]))


def _path(doc: dict, field: str) -> dict:
    proof = doc[field]
    return doc | {field: proof | {"path": [("0" if proof["path"][0][0] != "0" else "1") + proof["path"][0][1:],
                                            *proof["path"][1:]]}}


TAMPERINGS = {
    "tx byte": (lambda d, h: d | {"tx": d["tx"][:-2] + ("00" if d["tx"][-2:] != "00" else "01")}, "tx_hash .* is not the hash"),
    "tx re-signed with another amount": (_resign, "tx inclusion: the leaf and path do not hash"),
    "receipt byte": (lambda d, h: _recode(d, "receipt", bytes, lambda b: b[:-1] + bytes([b[-1] ^ 1])),
                     "receipt (does not decode|inclusion)"),
    "receipt event amount": (lambda d, h: _recode(d, "receipt", Receipt.decode, lambda r: _receipt_amount(r).encode()),
                             "receipt inclusion: the leaf and path do not hash"),
    "tx path node": (lambda d, h: _path(d, "tx_proof"), "tx inclusion"),
    "receipt path node": (lambda d, h: _path(d, "receipt_proof"), "receipt inclusion"),
    "tx proof index": (lambda d, h: d | {"tx_proof": d["tx_proof"] | {"index": 1}}, "tx inclusion"),
    "receipt proof size": (lambda d, h: d | {"receipt_proof": d["receipt_proof"] | {"size": 5}}, "receipt inclusion"),
    "header time": (lambda d, h: _recode(d, "header", Header.decode, lambda x: replace(x, time_ms=x.time_ms + 1).encode()),
                    "header: commit certificate is for block"),
    "header state root": (lambda d, h: _recode(d, "header", Header.decode, lambda x: replace(x, state_root=bytes(32)).encode()),
                          "header: commit certificate is for block"),
    "signature": (lambda d, h: _recode(d, "certificate", CommitCertificate.decode, lambda c: _signature(c).encode()),
                  "header: commit certificate: invalid signature"),
    "validator power": (lambda d, h: _recode(d, "validators", bytes, _power), "not trusted: its validator set .* is not the trusted one"),
    "chain id": (lambda d, h: d | {"chain_id": "settle-other"}, "not trusted: it is for chain 'settle-other'"),
    "height": (lambda d, h: d | {"height": d["height"] + 1}, "height .* is not the header's height"),
    "summary amount": (lambda d, h: d | {"summary": d["summary"] | {"body": d["summary"]["body"] | {"amount": 4}}},
                       r"summary does not match the proven contents \(body\)"),
    "summary signing power": (lambda d, h: d | {"summary": d["summary"] | {"signing_power": 7}}, r"\(signing_power\)"),
    "upper-case hex": (lambda d, h: d | {"header": d["header"].upper()}, "header: expected lowercase hex"),
    "unknown field": (lambda d, h: d | {"note": "trust me"}, r"unknown \['note'\]"),
    "format": (lambda d, h: d | {"format": "settle-receipt/0"}, "not a settle receipt"),
}


@pytest.mark.parametrize("case", list(TAMPERINGS))
def test_each_tampering_fails_verify_with_one_line_naming_its_reason(exported, case, capsys):
    home, docs, _, _ = exported
    change, reason = TAMPERINGS[case]
    doc = change(json.loads(docs["batch"].read_text()), home)
    path = docs["batch"].with_name(f"tampered-{case.replace(' ', '-')}.json")
    path.write_text(json.dumps(doc))
    code, out, err = settle("verify", str(path), "--trust", str(home / "genesis.json"), capsys=capsys)
    assert code == 1 and out == "" and len(err.strip().splitlines()) == 1, (code, out, err)
    assert err.startswith("error: receipt does not verify: ")
    assert re.search(reason, err), err


def test_any_changed_byte_of_any_proven_field_fails(exported):
    home, docs, _, _ = exported
    trust = Trust.from_options(str(home / "genesis.json"), None)
    doc = json.loads(docs["batch"].read_text())
    verify_document(doc, trust)
    failures = 0
    for field in ("tx", "receipt", "header", "certificate", "validators"):
        raw = bytes.fromhex(doc[field])
        for i in range(len(raw)):
            for mask in (0x01, 0x80):
                bad = raw[:i] + bytes([raw[i] ^ mask]) + raw[i + 1:]
                with pytest.raises(ProofError):
                    verify_document(doc | {field: bad.hex()}, trust)
                failures += 1
    for field in ("tx_proof", "receipt_proof"):
        for k, node in enumerate(doc[field]["path"]):
            for i in range(32):
                bad = bytes.fromhex(node)
                bad = (bad[:i] + bytes([bad[i] ^ 0x40]) + bad[i + 1:]).hex()
                path = [*doc[field]["path"][:k], bad, *doc[field]["path"][k + 1:]]
                with pytest.raises(ProofError):
                    verify_document(doc | {field: doc[field] | {"path": path}}, trust)
    assert failures > 500 and doc["tx_proof"]["size"] >= 4 and doc["tx_proof"]["path"]


def test_a_proven_failed_tx_settled_nothing_and_says_so():
    c = Chain.fresh("receipt-failed")
    block, _ = c.commit_txs([c.sign("alice", Transfer(c.addr("bob"), "USD", 10**15, ""))])
    h = block.txs[0].hash.hex()
    doc = build_document(call(api_of(c), {"kind": "tx", "hash": h}), call(api_of(c), {"kind": "receipt", "hash": h}))
    assert doc["summary"]["result"].startswith("failed: ")
    with pytest.raises(ProofError, match="proven committed at height 1 but it failed .*nothing settled"):
        verify_document(doc, Trust(c.genesis.validator_set().hash, c.chain_id, source="test"))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.text(max_size=80)
    | st.sampled_from(["", "00", "ab" * 32, "AB" * 32, "zz"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_value_in_any_field_is_refused_with_a_proof_error_and_nothing_else(exported, data):
    home, docs, _, _ = exported
    trust = Trust.from_options(str(home / "genesis.json"), None)
    doc = json.loads(docs["batch"].read_text())
    field = data.draw(st.sampled_from(sorted(doc)))
    value = data.draw(JSON_VALUES)
    if isinstance(doc[field], dict) and data.draw(st.booleans()):
        key = data.draw(st.sampled_from(sorted(doc[field])))
        value = doc[field] | {key: value}
    if value == doc[field]:
        return
    with pytest.raises(ProofError):
        verify_document(doc | {field: value}, trust)


@pytest.mark.slow
def test_four_validators_a_receipt_from_one_node_verifies_offline_with_the_quorum_it_carries(tmp_path, capsys):
    nodes = network(tmp_path / "net", 4, "settle-receipts-4")
    root = tmp_path / "net"
    for node in nodes:
        node.start(wait=False)
    try:
        for node in nodes:
            node.wait_ready()
        sent = run_cli("tx", "transfer", "--from", "bob", "--to", "carol", "--asset", "USD", "--amount", "11",
                       "--wait", "--json", home=root, check=True)
        tx_hash = json.loads(sent.stdout)["hash"]
        nodes[2].wait_height(json.loads(sent.stdout)["height"])
        run_cli("receipt", "export", tx_hash, "--out", str(tmp_path / "r.json"), "--rpc", nodes[2].rpc_url, home=root,
                check=True)
        light = run_cli("light", "--trust", str(nodes[3].home / "genesis.json"), "--rpc", nodes[3].rpc_url,
                        "--until", "3", check=True)
    finally:
        for node in nodes:
            node.stop()
    assert len(light.stdout.splitlines()) == 3
    code, out, err = settle("verify", str(tmp_path / "r.json"), "--trust", str(nodes[0].home / "genesis.json"), "--json",
                            capsys=capsys)
    summary = json.loads(out)
    assert code == 0, err
    assert summary["total_power"] == 40 and 3 * summary["signing_power"] > 2 * 40
    assert summary["body"]["amount"] == 11
