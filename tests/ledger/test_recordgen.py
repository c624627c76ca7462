"""The generated record decoder and constructor agree with the generic ones."""
from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Optional

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.codec import DecodeError, Len, MaxLen, Range, Record
from ledger.receipt import Event, Receipt
from ledger.recordgen import compile_init
from ledger.tx import Tx
from ledger.txkinds import Transfer
from settlement.accounts import Account


@dataclasses.dataclass(frozen=True, slots=True)
class Leafy(Record):
    a: Annotated[int, Range(-5, 5)]
    b: Annotated[bytes, Len(2)]
    c: Annotated[str, MaxLen(3)]
    d: bool
    e: int
    f: list[Annotated[int, Range(0, 9)]]
    g: Optional[Event]
    h: Any
    i: Annotated[str, MaxLen(4), Len(2)]  # two constraints: the per-field check


leaf_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-8, 8),
    st.integers(-(2**64), 2**64),
    st.binary(max_size=3),
    st.text(max_size=5),
    st.lists(st.integers(-2, 11), max_size=3),
    st.tuples(st.integers(0, 9)),
    st.dictionaries(st.text(max_size=2), st.integers(0, 3), max_size=2),
    st.just(["k", {"x": 1}]),
    st.just(["k", 1.5]),
    st.just({1: 2}),
)


def _outcome(fn, obj):
    try:
        return "ok", fn(obj, "P")
    except DecodeError as exc:
        return "err", str(exc)


@given(st.lists(leaf_values, min_size=8, max_size=10) | st.tuples(st.integers(0, 1)))
@settings(max_examples=600)
def test_generated_decoder_gives_the_generic_result_or_error(obj):
    fast = _outcome(Leafy._from_obj, obj)
    generic = _outcome(Leafy._from_obj_generic, obj)
    assert fast == generic


@given(st.integers(0, 8), leaf_values)
@settings(max_examples=600)
def test_one_bad_field_of_a_valid_list_is_refused_as_the_generic_decoder_does(index, value):
    obj = [1, b"ab", "xyz", True, 2**64 - 1, [0, 9], None, None, "zz"]
    assert _outcome(Leafy._from_obj, obj)[0] == "ok"
    obj[index] = value
    assert _outcome(Leafy._from_obj, obj) == _outcome(Leafy._from_obj_generic, obj)


@given(st.integers(-5, 5), st.binary(min_size=2, max_size=2), st.text(max_size=3), st.booleans(),
       st.integers(-(2**63), 2**63), st.lists(st.integers(0, 9), max_size=4))
def test_generated_decoder_builds_valid_records(a, b, c, d, e, f):
    obj = [a, b, c, d, e, f, ["k", {"x": 1}], {"m": [1]}, "zz"]
    rec = Leafy._from_obj(obj, "P")
    assert rec == Leafy._from_obj_generic(obj, "P")
    assert type(rec.f) is tuple and type(rec.g) is Event
    assert Leafy.decode(rec.encode()) == rec


def test_generated_decoder_of_hot_records_round_trips():
    t = Transfer(b"\x01" * 20, "USD", 7, "memo")
    assert Transfer.decode(t.encode()) == t
    r = Receipt(b"\x02" * 32, 0, "", "", (Event("transfer", {"amount": 7}),))
    assert Receipt.decode(r.encode()) == r
    a = Account(("participant",), 3)
    assert Account.decode(a.encode()) == a
    with pytest.raises(DecodeError, match=r"Transfer.amount"):
        Transfer.from_obj([b"\x01" * 20, "USD", True, ""])  # a bool is not an int
    with pytest.raises(DecodeError, match=r"Transfer.to: length 19"):
        Transfer.from_obj([b"\x01" * 19, "USD", 1, ""])


def test_generated_constructor_matches_the_dataclass_one():
    @dataclasses.dataclass(frozen=True, slots=True)
    class Plain:
        x: int
        y: bytes = b"d"

    generated = compile_init(Plain)
    assert generated is not None
    a = Plain(1)
    b = Plain.__new__(Plain)
    generated(b, 1)
    assert a == b and b.y == b"d"
    c = Plain.__new__(Plain)
    generated(c, y=b"e", x=2)
    assert c == Plain(2, b"e")
    with pytest.raises(TypeError):
        generated(Plain.__new__(Plain))  # x is required
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.x = 5  # still frozen


def test_constructor_is_not_generated_where_the_dataclass_one_does_more():
    @dataclasses.dataclass(frozen=True, slots=True)
    class Checked:
        x: int

        def __post_init__(self):
            if self.x < 0:
                raise ValueError("negative")

    @dataclasses.dataclass(slots=True)
    class Factory:
        x: list = dataclasses.field(default_factory=list)

    assert compile_init(Checked) is None and compile_init(Factory) is None
    with pytest.raises(ValueError):
        Checked(-1)


def test_tx_uses_the_generated_constructor_with_its_defaults():
    assert Tx.__init__.__code__.co_filename == "<string>"
    tx = Tx("c", b"\x00" * 32, 1, "transfer", Transfer(b"\x01" * 20, "USD", 1, ""), b"\x00" * 64)
    assert tx.raw == b"" and tx.hash == b"" and tx.address == b""
