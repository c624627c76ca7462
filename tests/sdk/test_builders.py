"""The SDK's transaction builders: one per kind of ``ledger.txkinds.KINDS``, each building its kind's record
from convenient values, and every refusal a ``TxInvalid`` naming the field."""
from __future__ import annotations

import dataclasses
import inspect
import typing

import pytest

import sdk
from ledger.codec import Record
from ledger.keys import PrivateKey, format_address
from ledger.tx import Tx
from ledger.txkinds import KINDS
from sdk import txs
from sdk.build import build

ALICE = PrivateKey.from_name("alice")
BOB = PrivateKey.from_name("bob")


def _sample(hint, name: str):
    """A value of the field type ``hint`` in the form a user writes: ``st...`` addresses, hex bytes, dict records."""
    base, meta = hint, ()
    if typing.get_origin(hint) is typing.Annotated:
        base, *meta = typing.get_args(hint)
    if base is bytes:
        n = next((m.n for m in meta if type(m).__name__ == "Len"), 4)
        return format_address(BOB.address) if n == 20 else "ab" * n
    if isinstance(base, type) and issubclass(base, Record):
        return _fields(base)
    if typing.get_origin(base) is list:
        return [_sample(typing.get_args(base)[0], name)]
    if base is bool:
        return True
    if base is int:
        return 1
    return {"side": "buy", "kind": "call", "mode": "standard", "role": "participant"}.get(name, "USD")


def _fields(cls: type[Record]) -> dict:
    hints = typing.get_type_hints(cls, include_extras=True)
    return {f.name: _sample(hints[f.name], f.name) for f in dataclasses.fields(cls)}


def test_every_tx_kind_has_a_typed_builder_named_after_it():
    assert list(txs.BUILDERS) == sorted(KINDS)
    for kind, fn in txs.BUILDERS.items():
        hints = typing.get_type_hints(fn)
        assert hints["return"] is KINDS[kind], kind
        params = inspect.signature(fn).parameters
        assert all(p.kind is p.KEYWORD_ONLY for p in params.values()), kind
        assert set(params) == {f.name for f in dataclasses.fields(KINDS[kind])}, kind


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_builder_makes_its_kind_from_user_values_and_it_signs_and_decodes(kind):
    fields = _fields(KINDS[kind])
    body = txs.BUILDERS[kind](**fields)
    assert type(body) is KINDS[kind] and body == build(kind, **fields)
    tx = sdk.sign(ALICE, "test-chain", 3, body, check=False)
    again = Tx.decode(tx.raw)
    assert (again.kind, again.body, again.nonce, again.chain_id) == (kind, body, 3, "test-chain")
    again.verify_signature()


def test_addresses_hashes_and_nested_records_take_text_bytes_or_records():
    by_text = txs.transfer(to=format_address(BOB.address), asset="USD", amount=5, memo="x")
    assert by_text == txs.transfer(to=BOB.address, asset="USD", amount=5, memo="x") == txs.transfer(to=BOB.address.hex(), asset="USD", amount=5, memo="x")
    lock = txs.htlc_lock(asset="USD", amount=1, receiver=BOB.address, hashlock="0x" + "11" * 32, timeout_height=9)
    assert lock.hashlock == bytes([0x11]) * 32 and lock.timeout_ms == 0
    order = txs.signed_order(ALICE, "c", market="BTC-PERP", side="buy", size=2, price=10, expiry_height=5, nonce=1)
    assert order.verify("c") and not order.verify("other-chain")
    assert txs.trade(order=order, size=1).order == order
    swap = txs.signed_swap(ALICE, "c", taker=BOB.address, give_asset="EUR", give_amount=3, get_asset="USD",
                           get_amount=2, expiry_height=9, nonce=1)
    assert swap.terms.maker == ALICE.address and swap.maker_pubkey == ALICE.pubkey
    rebuilt = txs.swap(terms=dataclasses.asdict(swap.terms), maker_pubkey=swap.maker_pubkey.hex(), maker_signature=swap.maker_signature)
    assert rebuilt == swap


@pytest.mark.parametrize("call, says", [
    (lambda: build("no_such_kind"), "unknown tx kind 'no_such_kind'"),
    (lambda: build("transfer", to=BOB.address, asset="USD", amount=1), "missing field(s) memo"),
    (lambda: build("transfer", to=BOB.address, asset="USD", amount=1, memo="", fee=1), "unknown field(s) fee"),
    (lambda: txs.transfer(to=BOB.address[:5], asset="USD", amount=1), "Transfer.to: length 5"),
    (lambda: txs.transfer(to="stnothex", asset="USD", amount=1), "Transfer.to"),
    (lambda: txs.htlc_claim(htlc_id="zz", preimage=""), "HtlcClaim.htlc_id"),
    (lambda: txs.set_oracles(market="M", oracles="st00"), "SetOracles.oracles: expected a list"),
    (lambda: txs.transfer(to=BOB.address, asset="USD", amount=True), "Transfer.amount"),
    (lambda: sdk.checked(txs.transfer(to=BOB.address, asset="USD", amount=0)), "amount must be positive"),
    (lambda: sdk.sign(ALICE, "c", 0, txs.transfer(to=BOB.address, asset="USD", amount=-4)), "amount must be positive"),
])
def test_a_bad_body_is_refused_before_signing_with_the_field_named(call, says):
    with pytest.raises(sdk.TxInvalid) as err:
        call()
    assert says in str(err.value)
    assert isinstance(err.value, sdk.SettleError) and isinstance(err.value, ValueError)
