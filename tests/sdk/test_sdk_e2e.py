"""Both SDK clients against one real node process: queries, a transfer waited for until final, a failed
transaction's receipt, the waits, and the WebSocket feeds (heights of the blocks seen increase)."""
from __future__ import annotations

import asyncio
import inspect

import pytest

import sdk
from ledger.keys import PrivateKey, format_address
from ledger.validators import Validator, ValidatorSet
from sdk import txs

HUGE = 10**15  # more than any genesis balance: the transfer commits and fails


def _key(node, name: str) -> PrivateKey:
    return PrivateKey.load(node.home / "keys" / f"{name}.json")


def test_the_sync_client_queries_transfers_until_final_and_reports_a_failed_receipt(sdk_node):
    c = sdk.Client(sdk_node.rpc_url)
    alice, bob = _key(sdk_node, "alice"), _key(sdk_node, "bob")
    st = c.status()
    assert c.chain_id() == st["chain_id"] == c.genesis()["chain_id"]
    assert {a["symbol"] for a in c.assets()} >= {"USD"} and len(c.validators()) == st["validators"] == 1
    assert c.peers() == [] and st["peers"] == 0
    before = c.account(bob.address)["balances"]["USD"]

    res = c.transact(alice, txs.transfer(to=bob.address, asset="USD", amount=7, memo="sdk"))
    assert res["receipt"]["ok"] and res["receipt"]["events"][0]["amount"] == 7
    final = c.commit(res["height"])
    assert final["certificate"]["block_id"] == final["header"]["id"] and final["certificate"]["signatures"]
    assert c.account(format_address(bob.address))["balances"]["USD"] == before + 7
    info = c.wait_for_tx(res["hash"])
    assert (info["status"], info["height"], info["tx"]["body"]["memo"]) == ("committed", res["height"], "sdk")
    assert c.wait_for_height(res["height"])["height"] >= res["height"]

    failed = c.transact(alice, txs.transfer(to=bob.address, asset="USD", amount=HUGE))
    assert not failed["receipt"]["ok"] and failed["receipt"]["error"] == "insufficient_balance"
    with pytest.raises(sdk.TxFailed, match="insufficient_balance") as err:
        sdk.ensure_ok(failed)
    assert err.value.receipt == failed["receipt"]

    replay = c.sign(alice, txs.transfer(to=bob.address, asset="USD", amount=1), nonce=0)
    with pytest.raises(sdk.TxRejected) as rejected:
        c.submit(replay)
    assert rejected.value.code == -32000 and rejected.value.data["accepted"] is False
    with pytest.raises(sdk.NotFound):
        c.account(bytes(20))
    with pytest.raises(sdk.InvalidParams, match="hex"):
        c.tx("not hex")


def test_the_sync_feeds_yield_blocks_in_height_order_and_a_tx_result(sdk_node):
    c = sdk.Client(sdk_node.rpc_url)
    heights = []
    for block in c.subscribe_blocks(timeout=10):
        heights.append(block["header"]["height"])
        if len(heights) == 3:
            break
    assert heights == sorted(heights) and len(set(heights)) == 3
    alice, bob = _key(sdk_node, "alice"), _key(sdk_node, "bob")
    pending = c.submit(c.sign(alice, txs.transfer(to=bob.address, asset="USD", amount=1)), wait=False)
    assert pending["accepted"] is True and "receipt" not in pending
    (result,) = list(c.subscribe_tx(pending["hash"], timeout=10))
    assert result["receipt"]["tx_hash"] == pending["hash"] and result["receipt"]["ok"]


def test_the_async_client_does_the_same_and_waits_on_its_websocket(sdk_node):
    alice, carol = _key(sdk_node, "alice"), _key(sdk_node, "carol")

    async def go():
        async with sdk.AsyncClient(sdk_node.rpc_url) as c:
            st = await c.status()
            assert await c.chain_id() == st["chain_id"]
            res = await c.transact(alice, txs.transfer(to=carol.address, asset="USD", amount=3))
            assert res["receipt"]["ok"] and res["height"] > 0
            tx = await c.sign(alice, txs.transfer(to=carol.address, asset="USD", amount=HUGE))
            assert (await c.submit(tx, wait=False))["accepted"]
            info = await c.wait_for_tx(tx)
            assert info["status"] == "committed" and info["receipt"]["error"] == "insufficient_balance"
            heights = []
            async for block in c.subscribe_blocks(tx_hashes=True):
                heights.append(block["header"]["height"])
                assert isinstance(block["tx_hashes"], list)
                if len(heights) == 3:
                    break
            assert heights == sorted(heights) and len(set(heights)) == 3
            assert (await c.wait_for_height(heights[-1]))["height"] >= heights[-1]
            with pytest.raises(sdk.NotFound):
                await c.market("NO-SUCH-PERP")
            return res

    res = asyncio.run(asyncio.wait_for(go(), 60))
    assert sdk.Client(sdk_node.rpc_url).tx(res["hash"])["receipt"]["ok"]


def test_rpc_discover_describes_exactly_the_sdks_methods_and_parameters(sdk_node):
    doc = sdk.Client(sdk_node.rpc_url).rpc_discover()
    described = {method["name"]: [p["name"] for p in method.get("params", [])] for method in doc["methods"]}
    assert set(described) == set(sdk.methods.METHODS)
    for name, params in described.items():
        builder = sdk.methods.BUILDERS[name.replace(".", "_")]
        assert list(inspect.signature(builder).parameters) == params, name


def test_finality_is_checked_by_the_client_and_a_doctored_proof_is_refused(sdk_node):
    alice, bob = _key(sdk_node, "alice"), _key(sdk_node, "bob")
    c = sdk.Client(sdk_node.rpc_url)
    res = c.transact(alice, txs.transfer(to=bob.address, asset="USD", amount=2))
    other = c.transact(bob, txs.transfer(to=alice.address, asset="USD", amount=1))
    answer = c.proof("receipt", hash=res["hash"])
    genesis_set = ValidatorSet([Validator(bytes.fromhex(v["pubkey"]), v["power"]) for v in c.validators()])
    trusting = sdk.Client(sdk_node.rpc_url, trust=genesis_set)
    assert trusting.submit(trusting.sign(alice, txs.transfer(to=bob.address, asset="USD", amount=1)))["receipt"]["ok"]
    c.final(c.chain_id(), res["hash"], answer)

    stranger = ValidatorSet([Validator(PrivateKey.from_name("stranger").pubkey, 10)])
    flipped = bytearray(bytes.fromhex(answer["value"]))
    flipped[-1] ^= 1
    doctored = [
        ("another-chain", res["hash"], answer, None, "chain"),
        (c.chain_id(), res["hash"], answer, stranger, "validator set"),
        (c.chain_id(), other["hash"], answer, None, "instead"),
        (c.chain_id(), res["hash"], {**answer, "value": flipped.hex()}, None, "receipt inclusion"),
        (c.chain_id(), res["hash"], {**answer, "certificate": answer["certificate"][:-8]}, None, "prove it final"),
    ]
    for chain_id, h, ans, trust, says in doctored:
        with pytest.raises(sdk.NotFinal, match=says):
            sdk.Client(sdk_node.rpc_url, trust=trust).final(chain_id, h, ans)
