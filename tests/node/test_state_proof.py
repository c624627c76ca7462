"""State proofs from a real chain: the RPC's answer verifies offline, old heights are kept then pruned, a restart resumes the tree."""
from __future__ import annotations

import asyncio

import pytest

from ledger.codec import decode
from ledger.commit import verify_commit
from ledger.keys import format_address
from ledger.statetree import StateProof, StateTree, verify_state
from ledger.statetree.tree import node_key
from ledger.store_leveldb import LevelDBKV
from node import chain as chain_mod
from node.methods import NOT_FOUND, RPCError, RpcApi
from node.methods_state_proof import state_proof
from settlement.accounts import balance_key
from settlement.risk.records import htlc_key, pos_key
from settlement.transfers import Transfer
from tests.settlement.builders import Chain, genesis_doc


def _ask(c: Chain, params: dict) -> dict:
    api = RpcApi(chain=c.node, blocks=c.store, pool=None, txs=None, commits=None, status=None, max_batch=10)
    return asyncio.run(state_proof(api, params))


def _verified(c: Chain, answer: dict) -> bytes | None:
    """Check an answer as a client would, with only the genesis validator set; return the proven value."""
    proof = StateProof.decode(bytes.fromhex(answer["proof"]))
    header = c.store.header(answer["height"])
    assert answer["header"]["state_root"] == header.state_root.hex()
    verify_commit(c.store.commit_cert(answer["height"]), c.genesis.validator_set(), c.chain_id,
                  height=answer["height"], block_id=header.id)
    value = None if answer["value"] is None else bytes.fromhex(answer["value"])
    verify_state(header.state_root, bytes.fromhex(answer["key"]), value, proof)
    assert [v["address"] for v in answer["validators"]] == [format_address(c.addr("validator"))]
    return value


def test_a_balance_proof_verifies_at_the_latest_and_an_older_height():
    c = Chain.fresh()
    c.commit_txs([c.sign("alice", Transfer(c.addr("bob"), "USD", 250, ""))])
    c.commit_txs([c.sign("alice", Transfer(c.addr("bob"), "USD", 50, ""))])
    alice_usd = {"entry": "balance", "address": format_address(c.addr("alice")), "asset": "USD"}
    latest = _ask(c, {"kind": "state", "key": alice_usd})
    assert latest["height"] == 2 and latest["key"] == balance_key(c.addr("alice"), "USD").hex()
    assert decode(_verified(c, latest)) == 1_000_000 - 300
    older = _ask(c, {"kind": "state", "key": alice_usd, "height": 1})
    assert decode(_verified(c, older)) == 1_000_000 - 250
    raw = _ask(c, {"kind": "state", "key": balance_key(c.addr("bob"), "EUR").hex()})
    assert decode(_verified(c, raw)) == 500_000


def test_absent_entries_are_proven_absent():
    c = Chain.fresh()
    c.commit_txs([c.sign("alice", Transfer(c.addr("bob"), "USD", 1, ""))])
    mallory = format_address(c.addr("mallory"))
    for key, expected in (
        ({"entry": "balance", "address": mallory, "asset": "USD"}, balance_key(c.addr("mallory"), "USD")),
        ({"entry": "position", "address": mallory, "market": "BTC-PERP"}, pos_key(c.addr("mallory"), "BTC-PERP")),
        ({"entry": "htlc", "id": "11" * 32}, htlc_key(bytes.fromhex("11" * 32))),
    ):
        answer = _ask(c, {"kind": "state", "key": key})
        assert answer["key"] == expected.hex() and answer["value"] is None
        assert _verified(c, answer) is None


@pytest.mark.parametrize(("params", "message"), [
    ({"key": "zz"}, "hex or a named entry"),
    ({"key": {"entry": "nothing"}}, "key.entry must be one of"),
    ({"key": {"entry": "balance", "address": "st00", "asset": "USD"}}, "key.address"),
    ({"key": {"entry": "htlc", "id": "00"}}, "32 bytes"),
    ({"key": "00", "height": 9}, "no block at height 9"),
])
def test_bad_requests_name_the_problem(params, message):
    c = Chain.fresh()
    c.commit_txs([])
    with pytest.raises(RPCError, match=message):
        _ask(c, {"kind": "state", **params})


def test_old_heights_are_pruned_past_the_retention(monkeypatch):
    monkeypatch.setattr(chain_mod, "STATE_TREE_HEIGHTS", 3)
    c = Chain.fresh()
    for i in range(6):
        c.commit_txs([c.sign("alice", Transfer(c.addr("bob"), "USD", 1 + i, ""))])
    key = balance_key(c.addr("alice"), "USD").hex()
    for h in (4, 5, 6):
        assert decode(_verified(c, _ask(c, {"kind": "state", "key": key, "height": h}))) == 1_000_000 - sum(range(1, h + 1))
    with pytest.raises(RPCError, match="no longer kept") as err:
        _ask(c, {"kind": "state", "key": key, "height": 3})
    assert err.value.code == NOT_FOUND
    stale = [k for k, _ in c.kv.iterate(b"v1/x/")]
    assert [int.from_bytes(k[5:13], "big") for k in stale] == [5, 6]  # the lists of versions <= 4 are pruned
    roots = [h for h in range(7) if c.store.tree_get(node_key(b"", h)) is not None]
    assert roots == [4, 5, 6]  # the root nodes of versions before the retained ones are deleted


def test_a_restart_from_leveldb_resumes_the_tree(tmp_path, monkeypatch):
    monkeypatch.setattr(chain_mod, "STATE_TREE_HEIGHTS", 4)
    doc = genesis_doc()
    kv = LevelDBKV(tmp_path / "db", create_if_missing=True)
    c = Chain(doc, kv)
    replica = Chain.fresh()
    for i in range(6):
        txs = [c.sign("alice", Transfer(c.addr("carol"), "EUR", 7, "")), c.sign("bob", Transfer(c.addr("alice"), "USD", i + 1, ""))]
        block, _ = c.commit_txs(txs)
        result = replica.node.validate(block)
        replica.node.commit(block, result, c.store.commit_cert(block.height))
    root = c.node.state_root
    kv.close()
    kv = LevelDBKV(tmp_path / "db")
    again = Chain(doc, kv)
    again.nonces = dict(c.nonces)
    assert again.node.state_root == root == replica.node.state_root
    state = dict(again.store.state_iter(b""))
    assert StateTree.empty().update(state, 0).root == root
    for key in sorted(state):
        assert _verified(again, _ask(again, {"kind": "state", "key": key.hex()})) == state[key]
    assert _verified(again, _ask(again, {"kind": "state", "key": balance_key(c.addr("alice"), "USD").hex(), "height": 3}))
    block, _ = again.commit_txs([again.sign("carol", Transfer(again.addr("bob"), "EUR", 3, ""))])
    replica.node.commit(block, replica.node.validate(block), again.store.commit_cert(block.height))
    assert again.node.state_root == replica.node.state_root
    kv.close()
