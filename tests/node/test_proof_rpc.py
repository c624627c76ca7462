"""RPC ``proof``: every answer checks out with ``ledger.proofs`` and ``ledger.lightclient`` alone,
and each unanswerable request is a JSON-RPC error naming why.  Blocks are real (a settlement
chain committed by the producer's path, certified by the genesis validator)."""
from __future__ import annotations

import asyncio

import pytest

from ledger.block import Header
from ledger.commit import CommitCertificate
from ledger.lightclient import decode_validator_set, verify_header
from ledger.proofs import proof_from_json, verify_receipt, verify_tx
from ledger.receipt import Receipt
from ledger.tx import Tx
from ledger.txkinds import Transfer
from node.methods import CORE_METHODS, INVALID_PARAMS, NOT_FOUND, RPCError, RpcApi, method_table
from node.methods_proof import NOT_AVAILABLE, PENDING_KINDS, PROOF_KINDS, PROOF_METHODS
from tests.settlement.builders import Chain


def api_of(c: Chain) -> RpcApi:
    return RpcApi(chain=c.node, blocks=c.store, pool=c.mempool(), txs=None, commits=None, status=None, max_batch=10)


def call(api: RpcApi, params) -> dict:
    return asyncio.run(method_table(PROOF_METHODS)["proof"](api, params))


def anchored(c: Chain, res: dict) -> Header:
    """The answer's header, checked against the genesis validator set the test trusts."""
    header = Header.decode(bytes.fromhex(res["header"]))
    cert = CommitCertificate.decode(bytes.fromhex(res["certificate"]))
    vset = decode_validator_set(bytes.fromhex(res["validators"]))
    assert vset.hash == c.genesis.validator_set().hash
    assert verify_header(vset, c.chain_id, header, cert) == 10
    assert res["height"] == header.height and res["header_id"] == header.id.hex() and res["chain_id"] == c.chain_id
    return header


@pytest.fixture(scope="module")
def chain() -> Chain:
    c = Chain.fresh("proof-rpc")
    c.commit_txs([c.sign("alice", Transfer(c.addr("bob"), "USD", 5, ""))])
    c.commit_txs([c.sign(n, Transfer(c.addr("carol"), "USD", 1 + i, "")) for i, n in enumerate(("alice", "bob") * 3)])
    c.commit_txs([c.sign("alice", Transfer(c.addr("bob"), "USD", 10**15, ""))])  # fails: its receipt is proven too
    return c


def test_tx_and_receipt_proofs_of_every_committed_tx_verify_offline(chain):
    api = api_of(chain)
    for height in range(1, 4):
        for index, tx in enumerate(chain.store.block(height).txs):
            t = call(api, {"kind": "tx", "hash": tx.hash.hex()})
            r = call(api, {"kind": "receipt", "hash": tx.hash.hex()})
            header = anchored(chain, t)
            assert anchored(chain, r) == header and header.height == height
            proof = proof_from_json(t["proof"])
            assert proof.index == index and Tx.decode(bytes.fromhex(t["value"])).hash == tx.hash
            verify_tx(header, bytes.fromhex(t["value"]), proof)
            verify_receipt(header, bytes.fromhex(r["value"]), proof_from_json(r["proof"]))
            assert Receipt.decode(bytes.fromhex(r["value"])).tx_hash == tx.hash


def test_a_header_proof_is_what_a_light_client_follows(chain):
    api = api_of(chain)
    latest = call(api, {"kind": "header"})
    assert latest["height"] == 3 and latest["value"] is None and latest["proof"] is None
    assert anchored(chain, call(api, {"kind": "header", "height": 1})).height == 1


@pytest.mark.parametrize("params, code, words", [
    ({"kind": "state", "key": "00"}, NOT_AVAILABLE, "state tree"),
    ({"kind": "balance"}, INVALID_PARAMS, "kind must be one of header, receipt, tx"),
    ({}, INVALID_PARAMS, "missing parameter 'kind'"),
    ({"kind": "tx", "hash": "ab" * 32}, NOT_FOUND, "is not committed"),
    ({"kind": "receipt", "hash": "zz"}, INVALID_PARAMS, "must be hex"),
    ({"kind": "header", "height": 99}, NOT_FOUND, "no block at height 99"),
])
def test_what_cannot_be_proven_is_an_rpc_error_naming_why(chain, params, code, words):
    with pytest.raises(RPCError) as err:
        call(api_of(chain), params)
    assert err.value.code == code and words in err.value.message


def test_the_kinds_are_one_sorted_table_and_proof_is_in_the_method_table():
    assert list(PROOF_KINDS) == sorted(PROOF_KINDS) and not set(PROOF_KINDS) & set(PENDING_KINDS)
    table = method_table(CORE_METHODS, PROOF_METHODS)
    assert "proof" in table and list(table) == sorted(table)
