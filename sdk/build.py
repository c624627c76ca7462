"""Build any transaction body from keyword fields: ``build("transfer", to="st...", asset="USD", amount=5)``.

Owns the conversion of convenient Python values into the typed body records
of ``ledger.txkinds.KINDS``, driven by each record's own field annotations so
every kind (and every kind added later) is buildable with no code here:

* an address field (20 bytes) takes ``st...`` text, 40 hex digits or bytes;
* any other bytes field takes bytes or hex text (``0x`` allowed);
* a nested record takes the record, or a dict of its fields (built the same way);
* a list field takes any sequence (stored as a tuple, as records hold lists);
* ints, strs and bools are taken as they are (a bool is never an int).

The result is checked the way the node decodes it (lengths, ranges, types)
and, for :func:`checked`, by ``settlement.checktx.check_body`` (the rules that
need no state).  A failure is :class:`sdk.errors.TxInvalid` naming the field.
Never signs and never talks to a node.
"""
from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from ledger.codec import DecodeError, Len, Record
from ledger.errors import InvalidInput
from ledger.keys import parse_address
from ledger.txkinds import KINDS
from settlement.checktx import check_body


from .errors import TxInvalid

__all__ = ["build", "build_record", "checked", "kind_of"]


def kind_of(body: Record) -> str:
    """The wire kind name of a body record; TxInvalid if its type is not in ``KINDS``."""
    kind = getattr(type(body), "KIND", None)
    if kind is None or KINDS.get(kind) is not type(body):
        raise TxInvalid(f"{type(body).__name__} is not a transaction body")
    return kind


def build(kind: str, /, **fields: Any) -> Record:
    """The body record of ``kind`` from keyword ``fields`` (see the module docstring for what each takes).

    Raises:
        TxInvalid: unknown kind, unknown or missing field, or a value the node would not decode.
    """
    cls = KINDS.get(kind)
    if cls is None:
        raise TxInvalid(f"unknown tx kind {kind!r} (known: {', '.join(sorted(KINDS))})")
    return build_record(cls, fields)


def checked(body: Record) -> Record:
    """``body`` once ``settlement.checktx.check_body`` passes it (what a node refuses without reading state)."""
    try:
        check_body(kind_of(body), body)
    except InvalidInput as exc:
        raise TxInvalid(str(exc)) from None
    return body


def build_record(cls: type[Record], fields: Mapping[str, Any], path: str | None = None) -> Record:
    """A ``cls`` record from ``fields`` converted by its annotations, checked as the decoder would."""
    path = path or cls.__name__
    hints = typing.get_type_hints(cls, include_extras=True)
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(fields) - set(known))
    if unknown:
        raise TxInvalid(f"{path}: unknown field(s) {', '.join(unknown)} (fields: {', '.join(known)})")
    missing = [n for n, f in known.items() if n not in fields
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise TxInvalid(f"{path}: missing field(s) {', '.join(missing)}")
    values = {n: _convert(hints[n], v, f"{path}.{n}") for n, v in fields.items()}
    try:
        record = cls(**values)
        return cls.from_obj(record.to_obj())  # the node's decoder: lengths, ranges and types
    except (DecodeError, TypeError, ValueError) as exc:
        raise TxInvalid(f"{path}: {exc}") from None


def _convert(hint: Any, value: Any, path: str) -> Any:
    base, meta = hint, ()
    if typing.get_origin(hint) is typing.Annotated:
        base, *meta = typing.get_args(hint)
    if base is bytes:
        return _bytes(value, path, any(isinstance(m, Len) and m.n == 20 for m in meta))
    if isinstance(base, type) and issubclass(base, Record):
        if isinstance(value, base):
            return value
        if isinstance(value, Mapping):
            return build_record(base, value, path)
        raise TxInvalid(f"{path}: expected {base.__name__} or a dict of its fields, got {type(value).__name__}")
    if typing.get_origin(base) is list:
        (item,) = typing.get_args(base)
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            raise TxInvalid(f"{path}: expected a list, got {type(value).__name__}")
        return tuple(_convert(item, v, f"{path}[{i}]") for i, v in enumerate(value))
    return value


def _bytes(value: Any, path: str, address: bool) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if not isinstance(value, str):
        raise TxInvalid(f"{path}: expected bytes or hex text, got {type(value).__name__}")
    try:
        if address and value.startswith("st"):
            return parse_address(value)
        return bytes.fromhex(value.removeprefix("0x"))
    except ValueError as exc:
        raise TxInvalid(f"{path}: {exc}") from None
