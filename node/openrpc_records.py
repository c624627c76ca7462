"""JSON Schemas of ledger records as the RPC renders them: every transaction kind's body, and the records inside.

Owns :func:`record_schemas` and :func:`tx_kind_branches`, derived from the
records' own field types (``ledger.txkinds.KINDS`` and the records their
fields hold), so a field added to a body is in the OpenRPC document
(``node/openrpc_methods.py``) once it is rebuilt.  The mapping is
``node/render.py``'s ``jsonable``: a record is an object of its fields; an
integer stays an integer (``Range`` gives its bounds); a string keeps its
``MaxLen``; bytes are lowercase hex, but exactly 20 bytes are an address
(``st`` + 40 hex digits), so a variable-length bytes field may be either.
Never imported by the running node.
"""
from __future__ import annotations

import dataclasses
import typing

from ledger.codec import Len, MaxLen, Range, Record
from ledger.txkinds import KINDS

__all__ = ["record_schemas", "tx_kind_branches"]

ADDRESS = {"$ref": "#/components/schemas/Address"}


def _ref(cls: type) -> dict:
    return {"$ref": f"#/components/schemas/{cls.__name__}"}


def _field(tp, out: dict[str, dict]) -> dict:
    """The schema of a field of type ``tp`` (records it holds are added to ``out``)."""
    checks = ()
    if typing.get_origin(tp) is typing.Annotated:
        tp, *checks = typing.get_args(tp)
    if isinstance(tp, type) and issubclass(tp, Record):
        _add(tp, out)
        return _ref(tp)
    exact = next((c.n for c in checks if isinstance(c, Len)), None)
    most = next((c.n for c in checks if isinstance(c, MaxLen)), None)
    bounds = next((c for c in checks if isinstance(c, Range)), None)
    if tp is bool:
        return {"type": "boolean"}
    if tp is int:
        return {"type": "integer"} if bounds is None else {"type": "integer", "minimum": bounds.lo, "maximum": bounds.hi}
    if tp is str:
        return {"type": "string"} if most is None else {"type": "string", "maxLength": most}
    if tp is bytes:
        if exact == 20:
            return ADDRESS
        if exact is not None:
            return {"type": "string", "pattern": f"^[0-9a-f]{{{2 * exact}}}$"}
        hexed = {"type": "string", "pattern": "^([0-9a-f]{2})*$", **({"maxLength": 2 * most} if most is not None else {})}
        return {"anyOf": [hexed, ADDRESS]} if most is None or most >= 20 else hexed
    if typing.get_origin(tp) is list:
        (item,) = typing.get_args(tp)
        return {"type": "array", "items": _field(item, out), **({"maxItems": most} if most is not None else {})}
    raise TypeError(f"no JSON Schema for a field of type {tp!r}")


def _add(cls: type, out: dict[str, dict]) -> None:
    if cls.__name__ in out:
        return
    out[cls.__name__] = {}  # a placeholder: a record seen again is a reference
    hints = typing.get_type_hints(cls, include_extras=True)
    props = {f.name: _field(hints[f.name], out) for f in dataclasses.fields(cls)}
    doc = (cls.__doc__ or "").strip().splitlines()
    out[cls.__name__] = {"description": f"{cls.__module__}.{cls.__name__}" + (f": {doc[0]}" if doc else ""),
                         "type": "object", "properties": props, "required": list(props), "additionalProperties": False}


def record_schemas() -> dict[str, dict]:
    """Record class name -> its schema, for every tx kind's body and every record inside one."""
    out: dict[str, dict] = {}
    for _, cls in sorted(KINDS.items()):
        _add(cls, out)
    return out


def tx_kind_branches() -> list[dict]:
    """One ``oneOf`` branch per tx kind: that ``kind`` with its body's schema."""
    return [{"properties": {"kind": {"const": kind}, "body": _ref(cls)}} for kind, cls in sorted(KINDS.items())]
