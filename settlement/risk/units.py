"""The risk engine's units: the ppm denominator, the two sides of a position, wide integers in state.

Owns the constants every risk module and both stored indexes share, and the
one rule for integers that may outgrow 64 bits in a stored record (the int
itself when it fits, else signed big-endian bytes; ``ledger/rowcodec.py``
does the encoding).  It sits below every other module of the package, so the
indexes (``liq_index.py``) and the records (``records.py``) both import it and
never each other.  It never reads or writes state.
"""
from __future__ import annotations

from ledger.codec import DecodeError
from ledger.rowcodec import encode_row, int_of, wide_int

from ..errors import StateCorrupt

__all__ = ["LONG", "ONE", "SHORT", "pack", "pack_int", "unpack_int"]

ONE = 1_000_000  # ppm denominator
LONG, SHORT = 1, 2

pack_int = wide_int  # an int that may outgrow 64 bits: the int if it fits, else signed big-endian bytes
pack = encode_row  # canonical bytes of a list of 64-bit ints, bytes, str, bools and such lists


def unpack_int(v) -> int:
    """The int a stored field holds (``pack_int``'s inverse); a malformed value means corrupt state."""
    if type(v) is int:
        return v
    try:
        return int_of(v)
    except DecodeError as exc:
        raise StateCorrupt(str(exc)) from None
