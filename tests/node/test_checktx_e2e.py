"""Transactions that can be known invalid before a block are refused at the door
(RPC, batch, CLI) with the reason, and burn no nonce (a real node process)."""
from __future__ import annotations

import pytest

from ledger.keys import PrivateKey, format_address
from ledger.tx import sign_tx
from ledger.txkinds import Transfer
from sdk import SettleError
from tests.nodeproc import run_cli


def _key(node, name):
    return PrivateKey.load(node.home / "keys" / f"{name}.json")


def test_known_invalid_transfers_are_refused_with_the_reason_and_burn_no_nonce(node):
    alice, bob = _key(node, "alice"), _key(node, "bob")
    stranger = PrivateKey.from_name("never-registered")
    addr = format_address(alice.address)
    nonce = node.client.call("account", {"address": addr})["next_nonce"]
    bad = [
        (Transfer(bob.address, "USD", 0, ""), "bad_amount", "amount must be positive"),
        (Transfer(bob.address, "USD", -3, ""), "bad_amount", "amount must be positive"),
        (Transfer(bob.address, "NOPE", 1, ""), "unknown_asset", "unknown asset"),
        (Transfer(stranger.address, "USD", 1, ""), "not_registered", "is not a registered account"),
    ]
    for body, code, words in bad:
        t = sign_tx(alice, "settle-local", nonce, body)
        with pytest.raises(SettleError) as err:
            node.client.call("broadcast_tx", {"tx": t.raw.hex(), "mode": "sync"})
        assert err.value.code == -32000 and words in str(err.value) and err.value.data["code"] == code
        res = node.client.call("broadcast_tx_batch", {"txs": [t.raw.hex()], "mode": "sync"})
        assert res["results"][0]["accepted"] is False and res["results"][0]["code"] == code
    good = sign_tx(alice, "settle-local", nonce, Transfer(bob.address, "USD", 1, ""))
    res = node.client.call("broadcast_tx", {"tx": good.raw.hex(), "mode": "commit"})
    assert res["receipt"]["ok"]  # the nonce was still free: nothing before it was admitted
    assert node.client.call("account", {"address": addr})["next_nonce"] == nonce + 1


def test_cli_refuses_a_zero_amount_before_signing(node):
    addr = format_address(_key(node, "alice").address)
    nonce = node.client.call("account", {"address": addr})["next_nonce"]
    for amount in ("0", "-5"):
        p = run_cli("tx", "transfer", "--from", "alice", "--to", "bob", "--asset", "USD", "--amount", amount, home=node.home)
        assert p.returncode != 0, p.stdout
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and "amount" in lines[0], p.stderr
    assert node.client.call("account", {"address": addr})["next_nonce"] == nonce
    assert node.client.call("mempool")["size"] == 0


def test_admission_itself_refuses_so_gossip_is_covered_too(node_home, node_in_process):
    """Gossip, RPC and batches all enter through TxIntake.admit: the check lives there, not in RPC code."""
    from node.mempool import MempoolRejection

    home, node = node_home[0], node_in_process
    alice = PrivateKey.load(home / "keys" / "alice.json")
    bob = PrivateKey.load(home / "keys" / "bob.json")
    with pytest.raises(MempoolRejection) as err:
        node.intake.admit(sign_tx(alice, "settle-local", 0, Transfer(bob.address, "USD", 0, "")))
    assert err.value.code == "bad_amount" and len(node.mempool) == 0
    node.intake.admit(sign_tx(alice, "settle-local", 0, Transfer(bob.address, "USD", 1, "")))
    assert len(node.mempool) == 1
