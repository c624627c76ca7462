"""Canonical msgpack codec: one byte string per value, strict decoding.

This module owns Settle's single serialisation format, used on the wire, on disk
and for hashing. It must never depend on dict insertion order, the Python
version, or floats.

Canonical form
--------------
* Allowed values: ``None``, ``bool``, ``int`` in [-2**63, 2**64 - 1], ``str``
  (UTF-8), ``bytes``, ``list`` (tuples are encoded as lists) and ``dict`` with
  ``str`` keys.  Floats and msgpack extension types are refused.
* Maps are written with keys sorted by their UTF-8 bytes.
* Every integer, string, bytes and container uses the shortest msgpack header
  (this is what msgpack-python's packer already does).

Decoding contract
-----------------
:func:`decode` either returns a value or raises :class:`DecodeError`; nothing
else escapes it, whatever the input (fuzzed in ``tests/ledger/test_codec.py``).
A byte string is accepted only if re-encoding the decoded value gives the very
same bytes, so there is exactly one accepted encoding of every value.

Typed records (:class:`Record`) are frozen dataclasses encoded as msgpack
arrays in field order; ``from_obj`` checks the exact field count and the type
of every field and reports the path of the first mismatch.

The plain values and the typed records are one format that refers to itself
both ways (``encode`` walks records, record fields of type ``Any`` are checked
by the plain canonicaliser), so both live here.  Below this module: the errors,
the integer range and the field constraint markers (``constraints.py``, all
re-exported here) and the generated per-record code (``recordgen.py``, which is
handed :class:`Record` and the canonicaliser rather than importing them).
"""
from __future__ import annotations

import dataclasses
import threading
import types
import typing
from typing import Any, Callable, ClassVar

import msgpack

from .constraints import MAX_INT, MIN_INT, DecodeError, EncodeError, Len, MaxLen, Range
from . import recordgen  # called through the module: the fuzz harness wraps its compilers

__all__ = [
    "DecodeError",
    "EncodeError",
    "MAX_DECODE_BYTES",
    "MAX_INT",
    "MIN_INT",
    "Len",
    "MaxLen",
    "Range",
    "Record",
    "decode",
    "encode",
    "encode_array",
    "require_canonical",
    "unpack",
]

MAX_DECODE_BYTES = 8 * 1024 * 1024


# --------------------------------------------------------------------------- plain values


_PLAIN = frozenset((str, bytes, bool, type(None)))  # encoded as they are


# The canonical key order of each map shape seen (keys in insertion order, all
# str): an event's attributes have a handful of shapes, so the order is looked
# up instead of checked and sorted each time.  Bounded; only a str-keyed shape
# is ever remembered, so a hit needs no key-type check.
_KEY_ORDER: dict[tuple, tuple] = {}
_KEY_ORDER_MAX = 4096


def _canon(value: Any) -> Any:
    """Return ``value`` with dicts key-sorted; refuse non-canonical types.

    Map keys are sorted as ``str``: code-point order is the order of their
    UTF-8 bytes, which is what the canonical form requires.
    """
    t = type(value)
    if t in _PLAIN:
        return value
    if t is int:
        if not MIN_INT <= value <= MAX_INT:
            raise EncodeError(f"integer {value} out of the 64-bit range")
        return value
    if t is list or t is tuple:
        return [v if type(v) in _PLAIN else _canon(v) for v in value]
    if t is dict:
        keys = tuple(value)
        order = _KEY_ORDER.get(keys)
        if order is None:
            for k in keys:
                if type(k) is not str:
                    raise EncodeError(f"map keys must be str, got {type(k).__name__}")
            order = tuple(sorted(keys))
            if len(_KEY_ORDER) < _KEY_ORDER_MAX:
                _KEY_ORDER[keys] = order
        out = {}
        for k in order:
            v = value[k]
            tv = type(v)
            out[k] = v if tv in _PLAIN or (tv is int and MIN_INT <= v <= MAX_INT) else _canon(v)
        return out
    if isinstance(value, Record):
        return _canon(value.to_obj())
    raise EncodeError(f"cannot encode value of type {t.__name__}")


_packer_opts = dict(use_bin_type=True, strict_types=True)
_local = threading.local()


def _pack(value: Any) -> bytes:
    """``msgpack.packb`` with this thread's reusable Packer (4x less overhead per call).

    A Packer is not shared between threads; its buffer is reset after every
    call, and on an error too (msgpack clears it before re-raising).
    """
    pack = getattr(_local, "pack", None)
    if pack is None:
        pack = _local.pack = msgpack.Packer(**_packer_opts).pack
    return pack(value)


def encode(value: Any) -> bytes:
    """Encode ``value`` canonically.

    Raises:
        EncodeError: the value contains a float, an out-of-range integer, a
            non-str map key or an unsupported type.
    """
    if type(value) is int and MIN_INT <= value <= MAX_INT:  # balances, heights: no walk needed
        return _pack(value)
    try:
        return _pack(_canon(value))
    except EncodeError:
        raise
    except (TypeError, ValueError, OverflowError) as exc:  # pragma: no cover - defensive
        raise EncodeError(str(exc)) from None


def encode_array(encoded_items: list[bytes] | tuple[bytes, ...]) -> bytes:
    """The canonical encoding of a list, given each item's canonical encoding.

    ``encode_array([encode(x) for x in xs]) == encode(list(xs))``: a msgpack
    array is its shortest header followed by its items.
    """
    n = len(encoded_items)
    if n < 16:
        head = bytes((0x90 | n,))
    elif n < 1 << 16:
        head = b"\xdc" + n.to_bytes(2, "big")
    else:
        head = b"\xdd" + n.to_bytes(4, "big")
    return head + b"".join(encoded_items)


def decode(data: bytes, *, max_bytes: int = MAX_DECODE_BYTES) -> Any:
    """Decode one canonical value from ``data``.

    Args:
        data: the whole byte string; trailing bytes are an error.
        max_bytes: refuse inputs longer than this.

    Raises:
        DecodeError: the input is too long, truncated, has trailing bytes, uses
            a float or an extension type, or is not in canonical form.
    """
    data = _as_bytes(data, max_bytes)
    value = _unpack(data, max_bytes)
    require_canonical(value, data)
    return value


def _as_bytes(data: Any, max_bytes: int) -> bytes:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise DecodeError(f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) > max_bytes:
        raise DecodeError(f"message of {len(data)} bytes exceeds the limit of {max_bytes}")
    if not data:
        raise DecodeError("empty input")
    return data


def unpack(data: bytes, *, max_bytes: int = MAX_DECODE_BYTES) -> Any:
    """The msgpack value in ``data``, NOT yet checked to be canonical.

    Half of :func:`decode`: the caller must still call
    :func:`require_canonical` (or type-check the value so strictly that
    re-packing it is the canonical check, as ``Tx.decode`` does).
    """
    return _unpack(_as_bytes(data, max_bytes), max_bytes)


def _unpack(data: bytes, max_bytes: int) -> Any:
    try:
        return msgpack.unpackb(
            data,
            raw=False,
            strict_map_key=True,
            use_list=True,
            max_str_len=max_bytes,
            max_bin_len=max_bytes,
            max_array_len=max_bytes,
            max_map_len=max_bytes // 2,
            max_ext_len=0,
        )
    except msgpack.ExtraData:
        raise DecodeError("trailing bytes after the value") from None
    except Exception as exc:  # msgpack raises many types; all mean "not a value"
        raise DecodeError(f"malformed msgpack: {type(exc).__name__}: {exc}") from None


def require_canonical(value: Any, data: bytes, *, walk: bool = True) -> None:
    """Raise DecodeError unless ``data`` is the canonical encoding of ``value``.

    Args:
        walk: check the value space too (floats, map key order).  Pass False
            only for a value already known to hold nothing but lists, str,
            bytes, bool, None and ints: re-packing it is then the whole check.
    """
    try:
        again = _pack(_canon(value) if walk else value)
    except Exception as exc:
        raise DecodeError(f"value outside the canonical space: {exc}") from None
    if again != data:
        raise DecodeError("non-canonical encoding (unsorted map keys or non-minimal header)")


# --------------------------------------------------------------------------- typed records


Check = Callable[[Any, str], Any]


def _fail(path: str, msg: str) -> DecodeError:
    return DecodeError(f"{path}: {msg}")


def _compile(tp: Any) -> Check:
    """Turn a type annotation into a checking/converting function."""
    constraints: tuple = ()
    if typing.get_origin(tp) is typing.Annotated:
        tp, *rest = typing.get_args(tp)
        constraints = tuple(rest)
    base = _compile_base(tp)
    if not constraints:
        return base
    if len(constraints) == 1 and tp in (int, bytes, str):
        return _compile_leaf(tp, constraints[0], base)

    def check(v: Any, path: str) -> Any:
        v = base(v, path)
        for c in constraints:
            if isinstance(c, Len) and len(v) != c.n:
                raise _fail(path, f"length {len(v)}, expected exactly {c.n}")
            if isinstance(c, MaxLen) and len(v) > c.n:
                raise _fail(path, f"length {len(v)} exceeds the maximum {c.n}")
            if isinstance(c, Range) and not c.lo <= v <= c.hi:
                raise _fail(path, f"value {v} outside [{c.lo}, {c.hi}]")
        return v

    return check


def _compile_leaf(tp: type, c: Any, base: Check) -> Check:
    """One int/bytes/str field with one constraint, checked in one call (the hot case)."""
    name = tp.__name__
    if isinstance(c, Range):
        lo, hi = c.lo, c.hi

        def check_range(v: Any, path: str) -> Any:
            if type(v) is not tp:
                return base(v, path)  # raises with the type error
            if not lo <= v <= hi:
                raise _fail(path, f"value {v} outside [{lo}, {hi}]")
            return v

        return check_range
    if isinstance(c, (Len, MaxLen)):
        n, exact = c.n, isinstance(c, Len)

        def check_len(v: Any, path: str) -> Any:
            if type(v) is not tp:
                raise _fail(path, f"expected {name}, got {type(v).__name__}")
            size = len(v)
            if size > n or (exact and size != n):
                raise _fail(path, f"length {size}, expected exactly {n}" if exact else f"length {size} exceeds the maximum {n}")
            return v

        return check_len
    raise TypeError(f"unsupported constraint {c!r}")


def _compile_base(tp: Any) -> Check:
    origin = typing.get_origin(tp)
    if tp is Any:

        def check_any(v: Any, path: str) -> Any:
            try:
                _canon(v)
            except EncodeError as exc:
                raise _fail(path, str(exc)) from None
            return v

        return check_any
    if tp is int:

        def check_int(v: Any, path: str) -> int:
            if type(v) is not int:
                raise _fail(path, f"expected int, got {type(v).__name__}")
            return v

        return check_int
    if tp in (bytes, str, bool):
        name = tp.__name__

        def check_simple(v: Any, path: str) -> Any:
            if type(v) is not tp:
                raise _fail(path, f"expected {name}, got {type(v).__name__}")
            return v

        return check_simple
    if origin is list:
        (item_tp,) = typing.get_args(tp)
        item = _compile(item_tp)

        def check_list(v: Any, path: str) -> tuple:
            if type(v) not in (list, tuple):
                raise _fail(path, f"expected list, got {type(v).__name__}")
            try:  # fast path: no per-item path strings unless an item is bad
                return tuple([item(x, path) for x in v])
            except DecodeError:
                return tuple([item(x, f"{path}[{i}]") for i, x in enumerate(v)])

        return check_list
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) != 1:
            raise TypeError(f"only Optional[X] unions are supported, got {tp}")
        inner = _compile(args[0])

        def check_opt(v: Any, path: str) -> Any:
            return None if v is None else inner(v, path)

        return check_opt
    if isinstance(tp, type) and issubclass(tp, Record):

        def check_record(v: Any, path: str) -> Record:
            if isinstance(v, tp):
                return v
            return tp._from_obj(v, path)

        return check_record
    raise TypeError(f"unsupported record field type {tp!r}")


def _plain_only(tp: Any) -> bool:
    if typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    if tp in (int, str, bytes, bool):
        return True
    if typing.get_origin(tp) in (list, typing.Union, types.UnionType):
        return all(_plain_only(a) for a in typing.get_args(tp) if a is not type(None))
    if isinstance(tp, type) and issubclass(tp, Record):
        return tp.plain_only()
    return False


class Record:
    """Base of every typed, canonically encoded value.

    Subclasses are declared as ``@dataclass(frozen=True, slots=True)`` and are
    encoded as a msgpack array of their fields in declaration order.  List
    fields hold tuples so records stay hashable and immutable.
    """

    __slots__ = ()
    _checks: ClassVar[tuple[tuple[str, Check], ...]]
    _list_fields: ClassVar[frozenset[str]]

    @classmethod
    def _schema(cls) -> tuple[tuple[str, Check], ...]:
        checks = cls.__dict__.get("_checks_cache")
        if checks is None:
            hints = typing.get_type_hints(cls, include_extras=True)
            checks = tuple((f.name, _compile(hints[f.name])) for f in dataclasses.fields(cls))
            type.__setattr__(cls, "_checks_cache", checks)
        return checks

    def to_obj(self) -> list:
        """Return the plain (list) form of this record."""
        out = []
        for name, _ in self._schema():
            v = getattr(self, name)
            t = type(v)
            if t in _PLAIN or t is int:
                pass
            elif t is tuple:
                v = [x.to_obj() if isinstance(x, Record) else x for x in v]
            elif isinstance(v, Record):
                v = v.to_obj()
            out.append(v)
        return out

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # ``@dataclass(slots=True)`` builds the final class anew: that class
        # has its fields and slots, and gets the generated constructor
        if "__dataclass_fields__" in cls.__dict__ and "__slots__" in cls.__dict__:
            recordgen.fast_init(cls)

    @classmethod
    def _from_obj(cls, obj: Any, path: str):
        # first call per class: generate the class's own decoder (see recordgen)
        fn = recordgen.compile_from_obj(cls, Record)
        type.__setattr__(cls, "_from_obj", fn)
        return fn.__get__(None, cls)(obj, path)

    @classmethod
    def _from_obj_generic(cls, obj: Any, path: str):
        schema = cls._schema()
        if type(obj) not in (list, tuple):
            raise _fail(path, f"expected {cls.__name__} as a list, got {type(obj).__name__}")
        if len(obj) != len(schema):
            raise _fail(path, f"{cls.__name__} has {len(schema)} fields, got {len(obj)}")
        try:  # fast path: field paths are built only to report a bad field
            values = [check(v, path) for (_, check), v in zip(schema, obj)]
        except DecodeError:
            values = [check(v, f"{path}.{name}") for (name, check), v in zip(schema, obj)]
        try:
            return cls(*values)
        except DecodeError:
            raise
        except (ValueError, TypeError) as exc:
            raise _fail(path, str(exc)) from None

    @classmethod
    def from_obj(cls, obj: Any):
        """Build a record from its plain form; raises DecodeError with a field path."""
        return cls._from_obj(obj, cls.__name__)

    @classmethod
    def plain_only(cls) -> bool:
        """True if no field (however deep) is ``Any``: decoded values hold no maps or floats."""
        flag = cls.__dict__.get("_plain_only_cache")
        if flag is None:
            hints = typing.get_type_hints(cls, include_extras=True)
            flag = all(_plain_only(hints[f.name]) for f in dataclasses.fields(cls))
            type.__setattr__(cls, "_plain_only_cache", flag)
        return flag

    def _plain(self) -> list:
        # first call per class: generate the class's own _plain (see recordgen)
        fn = recordgen.compile_plain(type(self), Record, _canon)
        type.__setattr__(type(self), "_plain", fn)
        return fn(self)

    def encode(self) -> bytes:
        """Canonical bytes of this record (same as ``encode(self.to_obj())``, faster)."""
        try:
            return _pack(self._plain())
        except EncodeError:
            raise
        except (TypeError, ValueError, OverflowError) as exc:
            raise EncodeError(str(exc)) from None

    @classmethod
    def decode(cls, data: bytes, *, max_bytes: int = MAX_DECODE_BYTES):
        """Decode and type-check one record; raises DecodeError only."""
        return cls.from_obj(decode(data, max_bytes=max_bytes))
