"""The codec's vocabulary: its errors, its integer range and the field constraint markers.

Owns what both the canonical codec (``codec.py``) and the code it generates
per record class (``recordgen.py``) refer to: :class:`DecodeError` and
:class:`EncodeError`, the 64-bit integer range of the canonical form, the
annotations :class:`Len`, :class:`MaxLen` and :class:`Range` that a record
field declares, and the error raised for a field value of the wrong type.
It sits below both of them and imports neither; it never encodes or decodes
anything itself.  Every name here is importable from ``ledger.codec`` too,
which is where the rest of the code base takes them from.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from .errors import InvalidInput

__all__ = ["DecodeError", "EncodeError", "Len", "MAX_INT", "MIN_INT", "MaxLen", "Range", "bad_leaf"]

MIN_INT = -(2**63)
MAX_INT = 2**64 - 1


class DecodeError(InvalidInput, ValueError):
    """Raised for any byte string that is not a canonical, well-typed value."""


class EncodeError(InvalidInput, ValueError):
    """Raised when asked to encode a value outside the canonical value space."""


@dataclasses.dataclass(frozen=True, slots=True)
class Len:
    """Annotation: exact length of a bytes/str/list field."""

    n: int


@dataclasses.dataclass(frozen=True, slots=True)
class MaxLen:
    """Annotation: maximum length of a bytes/str/list field."""

    n: int


@dataclasses.dataclass(frozen=True, slots=True)
class Range:
    """Annotation: inclusive bounds of an int field."""

    lo: int
    hi: int


def bad_leaf(tp: type, v: Any) -> Any:
    """Refuse a field value that is not of its declared leaf type (int, str, bytes, bool)."""
    raise EncodeError(f"expected {tp.__name__}, got {type(v).__name__}")
