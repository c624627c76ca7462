"""ledger/rowcodec.py: the fast path writes exactly the canonical codec's bytes, and wide integers round-trip."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.codec import DecodeError, decode, encode
from ledger.rowcodec import I64_MAX, I64_MIN, decode_row, encode_row, int_of, wide_int

leaf = st.one_of(st.integers(I64_MIN, I64_MAX), st.binary(max_size=40), st.text(max_size=20), st.booleans())
rows = st.lists(st.one_of(leaf, st.lists(leaf, max_size=4)), max_size=10)


@given(rows)
def test_row_bytes_are_the_codecs(row):
    data = encode_row(row)
    assert data == encode(row)
    assert decode_row(data) == row == decode(data)


@given(st.integers(-(2**300), 2**300))
def test_wide_int_round_trips_and_fits_the_codec(n):
    v = wide_int(n)
    assert int_of(v) == n
    assert type(v) is (int if I64_MIN <= n <= I64_MAX else bytes)
    assert decode(encode([v])) == [v]


def test_unreadable_rows_are_decode_errors():
    with pytest.raises(DecodeError):
        decode_row(b"\xc1")
    with pytest.raises(DecodeError):
        decode_row(encode(5))
    with pytest.raises(DecodeError):
        int_of("5")
