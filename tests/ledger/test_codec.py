"""Codec contract: canonical round trips, and decode raises only DecodeError."""
from __future__ import annotations

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.block import Block
from ledger.codec import MAX_INT, MIN_INT, DecodeError, EncodeError, decode, encode, encode_array
from ledger.commit import CommitCertificate, Vote
from ledger.keys import PrivateKey
from ledger.receipt import decode_receipts
from ledger.tx import Tx, sign_tx
from ledger.txkinds import Transfer

values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=MIN_INT, max_value=MAX_INT)
    | st.text(max_size=20)
    | st.binary(max_size=40),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=30,
)


@given(values)
@settings(max_examples=500)
def test_round_trip_is_identity(v):
    assert decode(encode(v)) == v


@given(st.lists(values, max_size=40) | st.integers(0, 70_000).map(lambda n: [n % 7] * n))
@settings(max_examples=200)
def test_encode_array_of_encoded_items_is_encode_of_the_list(items):
    assert encode_array([encode(x) for x in items]) == encode(items)


@given(st.dictionaries(st.text(max_size=6), st.integers(0, 100), min_size=2, max_size=8))
def test_dict_order_does_not_change_bytes(d):
    reordered = dict(reversed(list(d.items())))
    assert encode(d) == encode(reordered)


def test_non_canonical_inputs_are_refused():
    with pytest.raises(DecodeError, match="non-canonical"):
        decode(msgpack.packb({"b": 1, "a": 2}))  # unsorted map
    with pytest.raises(DecodeError, match="non-canonical"):
        decode(b"\xcd\x00\x01")  # 1 as uint16: not minimal
    with pytest.raises(DecodeError):
        decode(msgpack.packb(1.5))  # floats are not values
    with pytest.raises(DecodeError, match="trailing"):
        decode(encode(1) + b"\x00")
    with pytest.raises(DecodeError, match="exceeds"):
        decode(encode(b"x" * 100), max_bytes=50)
    with pytest.raises(DecodeError):
        decode(b"")
    with pytest.raises(DecodeError):
        decode("not bytes")  # type: ignore[arg-type]


def test_encode_refuses_values_outside_the_canonical_space():
    for bad in (1.0, 2**64, -(2**63) - 1, {1: 2}, {"a": object()}, set()):
        with pytest.raises(EncodeError):
            encode(bad)


DECODERS = [decode, Tx.decode, Block.decode, Vote.decode, CommitCertificate.decode, decode_receipts]


@given(st.binary(max_size=300))
@settings(max_examples=10_000, suppress_health_check=[HealthCheck.too_slow], deadline=None)
def test_garbage_bytes_raise_only_decode_error(data):
    for dec in DECODERS:
        try:
            dec(data)
        except DecodeError:
            pass


def _tx() -> Tx:
    return sign_tx(PrivateKey.from_name("alice"), "chain-a", 3, Transfer(bytes(20), "USD", 10, "memo"))


@given(st.data())
@settings(max_examples=2_000, deadline=None)
def test_mutated_transactions_raise_only_decode_error(data):
    raw = bytearray(_tx().raw)
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    try:
        Tx.decode(bytes(raw))
    except DecodeError:
        pass


def test_typed_decode_names_the_field():
    obj = _tx().to_obj()
    obj[4][2] = "ten"  # amount as a string
    with pytest.raises(DecodeError, match=r"amount: expected int"):
        Tx.decode(encode(obj))
    obj = _tx().to_obj()
    obj[4] = obj[4][:3]  # missing field
    with pytest.raises(DecodeError, match="has 4 fields, got 3"):
        Tx.decode(encode(obj))
    obj = _tx().to_obj()
    obj[3] = "teleport"
    with pytest.raises(DecodeError, match="unknown tx kind"):
        Tx.decode(encode(obj))


def test_tx_round_trip_and_hash():
    t = _tx()
    again = Tx.decode(t.raw)
    assert again == t and again.hash == t.hash and again.raw == t.raw


@given(
    st.binary(min_size=32, max_size=32),
    st.integers(0, 65535),
    st.text(max_size=64),
    st.text(max_size=200),
    st.lists(st.tuples(st.text(max_size=64), st.dictionaries(st.text(max_size=8), values, max_size=4)), max_size=4),
)
@settings(max_examples=300)
def test_compiled_record_encoding_equals_the_generic_one(tx_hash, code, error, reason, events):
    from ledger.receipt import Event, Receipt

    r = Receipt(tx_hash, code, error, reason, tuple(Event(k, a) for k, a in events))
    assert r.encode() == encode(r.to_obj())
    assert Receipt.decode(r.encode()) == r


def test_compiled_record_encoding_refuses_wrong_field_types():
    from settlement.accounts import Account

    with pytest.raises(EncodeError):
        Account(("participant",), 1.5).encode()
    with pytest.raises(EncodeError):
        Account(("participant",), 2**64).encode()
    with pytest.raises(EncodeError):
        Account((b"participant",), 1).encode()


def test_tx_decode_refuses_non_canonical_bytes_of_a_plain_body():
    key = PrivateKey.from_name("nc", "c")
    tx = sign_tx(key, "c", 1, Transfer(key.address, "USD", 5, ""))
    obj = msgpack.unpackb(tx.raw)
    # the amount 5 written with a 2-byte header instead of a fixint
    body = obj[4]
    loose = b"\x96" + b"".join(msgpack.packb(x, use_bin_type=True) for x in obj[:4])
    loose += b"\x94" + b"".join(msgpack.packb(x, use_bin_type=True) for x in body[:2]) + b"\xcc\x05"
    loose += msgpack.packb(body[3], use_bin_type=True) + msgpack.packb(obj[5], use_bin_type=True)
    assert msgpack.unpackb(loose) == obj
    with pytest.raises(DecodeError):
        Tx.decode(loose)


def test_compiled_encoding_and_decoding_of_a_subclassed_record_use_its_own_fields():
    import dataclasses

    from ledger.codec import Record

    @dataclasses.dataclass(frozen=True, slots=True)
    class Base(Record):
        x: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class Child(Base):
        y: str

    assert Base(1).encode() == encode([1])  # Base's compiled encoder exists first
    assert Child(2, "z").encode() == encode([2, "z"])
    assert Base(3).encode() == encode([3])
    assert Base.from_obj([1]) == Base(1)  # Base's generated decoder exists first
    assert Child.from_obj([2, "z"]) == Child(2, "z")
    with pytest.raises(DecodeError):
        Child.from_obj([2])
    assert Base.from_obj([3]) == Base(3)


@given(st.integers(1, 2**63 - 1), st.integers(0, 2**63 - 1))
def test_tx_location_bytes_are_the_canonical_encoding_of_the_pair(height, index):
    from ledger.schema import decode_tx_location, encode_tx_location

    assert encode_tx_location(height, index) == encode([height, index])
    assert decode_tx_location(encode_tx_location(height, index)) == (height, index)
