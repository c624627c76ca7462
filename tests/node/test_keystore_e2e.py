"""A transfer signed with an encrypted key against a real node: the right passphrase (from
--passphrase-file) signs and commits; a wrong one is one error line, exit 1, nothing sent; an
encrypted key's name still resolves as a recipient with no passphrase at all."""
from __future__ import annotations

import json

from tests.nodeproc import run_cli


def _account(node, name: str) -> dict:
    addr = json.loads(run_cli("keys", "list", "--json", home=node.home, check=True).stdout)
    return node.client.call("account", {"address": {r["name"]: r["address"] for r in addr}[name]})


def test_transfer_signed_with_an_encrypted_key(node, tmp_path):
    home = node.home
    right, wrong = tmp_path / "right", tmp_path / "wrong"
    right.write_text("open sesame\n")
    wrong.write_text("open sesame!\n")
    run_cli("keys", "encrypt", "alice", "--kdf-n", "1024", "--passphrase-file", str(right), home=home, check=True)
    before = _account(node, "alice")

    send = ("tx", "transfer", "--from", "alice", "--to", "bob", "--asset", "USD", "--amount", "1234", "--wait", "--json")
    bad = run_cli(*send, "--passphrase-file", str(wrong), home=home)
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr.splitlines() == ["error: key 'alice': wrong passphrase, or the keystore was modified"]

    res = json.loads(run_cli(*send, "--passphrase-file", str(right), home=home, check=True).stdout)
    assert res["receipt"]["ok"]
    after = _account(node, "alice")
    assert after["next_nonce"] == before["next_nonce"] + 1  # the refused attempt sent nothing
    assert after["balances"]["USD"] == before["balances"]["USD"] - 1234

    back = run_cli("tx", "transfer", "--from", "bob", "--to", "alice", "--asset", "USD", "--amount", "34", "--wait", "--json",
                   home=home, check=True)  # bob's key is plain; alice, the recipient, is resolved from her clear header
    assert json.loads(back.stdout)["receipt"]["ok"]
    assert _account(node, "alice")["balances"]["USD"] == before["balances"]["USD"] - 1200
