"""Generated fast paths of :class:`~ledger.codec.Record`: encoder, decoder, constructor.

A settlement node builds, encodes and decodes a handful of records per
transaction (the tx body, the sender's account, the receipt and its event),
and the generic, field-by-field code for those was a measured share of a
validator's CPU.  For each record class this module writes, once,
the straight-line Python the generic code amounts to for that class:

* :func:`compile_plain` -- ``to_obj`` + canonicalisation, one function per
  class (leaves type-checked and kept, tuples to lists, records recurse);
* :func:`compile_from_obj` -- decoding: when every field of a list is of its
  declared type and within its bounds, the record is built in one step;
  anything else goes to the generic decoder, which finds the first bad field
  and reports its path (results and error messages are the generic ones);
* :func:`compile_init` -- the dataclass ``__init__`` of a frozen, slotted
  record, setting each slot through its descriptor instead of through
  ``object.__setattr__`` (about twice as fast; same signature, same defaults).

The source of every generated function is built from the class's own type
hints, never from data.  Each compiled function checks ``type(self)`` (or
``cls``) and hands a subclass to the generic code, which compiles the
subclass's own version on first use.

This module sits below ``codec.py`` and never imports it: the codec hands it
the record base class (for its generic methods and to tell a nested record
field) and the plain canonicaliser; the errors and constraint markers come
from ``constraints.py``.
"""
from __future__ import annotations

import dataclasses
import typing
import types
from typing import Any, Callable

from .constraints import DecodeError, Len, MaxLen, Range, bad_leaf

__all__ = ["compile_from_obj", "compile_init", "compile_plain", "fast_init"]


def _strip(tp: Any) -> tuple[Any, tuple]:
    if typing.get_origin(tp) is typing.Annotated:
        base, *rest = typing.get_args(tp)
        return base, tuple(rest)
    return tp, ()


# --------------------------------------------------------------------------- encoder


def _plain_expr(tp: Any, e: str, ns: dict, depth: int, base: type) -> str:
    """Source of an expression giving the canonical plain form of the value named ``e``.

    ``base`` is the record base class: a field of a subclass of it recurses.
    """
    tp, _ = _strip(tp)
    origin = typing.get_origin(tp)
    if tp in (int, str, bytes, bool):
        ns[tp.__name__] = tp
        return f"({e} if type({e}) is {tp.__name__} else _bad_leaf({tp.__name__}, {e}))"
    if origin is list:
        x = f"x{depth}"
        return f"[{_plain_expr(typing.get_args(tp)[0], x, ns, depth + 1, base)} for {x} in {e}]"
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return f"(None if {e} is None else {_plain_expr(args[0], e, ns, depth, base)})"
    if isinstance(tp, type) and issubclass(tp, base):
        return f"{e}._plain()"
    return f"_canon({e})"


def compile_plain(cls: type, base: type, canon: Callable[[Any], Any]) -> Callable[[Any], list]:
    """Generate ``cls._plain``: one function per record class, no per-field calls.

    ``base`` is the record base class (its ``_plain`` is the generic one, for a
    subclass of ``cls``); ``canon`` canonicalises a field of any other type.
    """
    hints = typing.get_type_hints(cls, include_extras=True)
    names = [f.name for f in dataclasses.fields(cls)]
    ns: dict[str, Any] = {"_bad_leaf": bad_leaf, "_canon": canon, "_cls": cls, "_generic": base._plain}
    loads = "".join(f"    f{i} = self.{n}\n" for i, n in enumerate(names))
    items = ", ".join(_plain_expr(hints[n], f"f{i}", ns, 0, base) for i, n in enumerate(names))
    src = f"def _plain(self):\n    if type(self) is not _cls:\n        return _generic(self)\n{loads}    return [{items}]\n"
    exec(src, ns)  # noqa: S102 - source built from the class's type hints only
    return ns["_plain"]


# --------------------------------------------------------------------------- decoder


def _leaf_test(tp: Any, e: str, ns: dict) -> str | None:
    """Source of a test that ``e`` is a valid value of a leaf field, or None if not a leaf.

    A leaf is int/str/bytes/bool with at most one Len, MaxLen or Range: the
    exact checks of the generic decoder, as one boolean expression.
    """
    base, constraints = _strip(tp)
    if base not in (int, str, bytes, bool) or len(constraints) > 1:
        return None
    ns[base.__name__] = base
    test = f"type({e}) is {base.__name__}"
    for c in constraints:
        if isinstance(c, Range) and base is int:
            test += f" and {c.lo} <= {e} <= {c.hi}"
        elif isinstance(c, Len) and base is not int:
            test += f" and len({e}) == {c.n}"
        elif isinstance(c, MaxLen) and base is not int:
            test += f" and len({e}) <= {c.n}"
        else:
            return None
    return f"({test})"


def compile_from_obj(cls: type, base: type) -> Callable[..., Any]:
    """Generate ``cls._from_obj(obj, path)``: a one-step fast path, else the generic decoder.

    Fields that are not leaves (lists, optionals, nested records, ``Any``)
    go through their generic per-field check inside the fast path; a record
    with ``__post_init__`` (which may refuse values) always takes the generic
    path, so that refusal is reported the generic way.  ``base`` is the record
    base class, whose ``_from_obj_generic`` is that generic decoder.
    """
    generic = base._from_obj_generic.__func__  # type: ignore[attr-defined]
    if hasattr(cls, "__post_init__"):
        return classmethod(generic)
    hints = typing.get_type_hints(cls, include_extras=True)
    fields = dataclasses.fields(cls)
    schema = dict(cls._schema())
    ns: dict[str, Any] = {"_cls": cls, "_generic": generic, "_new": cls, "DecodeError": DecodeError}
    args = [f"a{i}" for i in range(len(fields))]
    tests, converts = [], []
    for i, f in enumerate(fields):
        test = _leaf_test(hints[f.name], args[i], ns)
        if test is None:
            ns[f"_c{i}"] = schema[f.name]
            converts.append(f"a{i} = _c{i}(a{i}, path)")
        else:
            tests.append(test)
    n = len(fields)
    lines = [
        "def _from_obj(cls, obj, path):",
        f"    if cls is _cls and type(obj) is list and len(obj) == {n}:",
    ]
    if n:
        lines.append(f"        {', '.join(args)}, = obj")
    lines.append(f"        if {' and '.join(tests) or 'True'}:")
    if converts:
        lines += ["            try:"] + [f"                {c}" for c in converts]
        lines += ["            except DecodeError:", "                pass", "            else:"]
        lines.append(f"                return _new({', '.join(args)})")
    else:
        lines.append(f"            return _new({', '.join(args)})")
    lines.append("    return _generic(cls, obj, path)")
    src = "\n".join(lines) + "\n"
    exec(src, ns)  # noqa: S102 - source built from the class's type hints only
    return classmethod(ns["_from_obj"])


# --------------------------------------------------------------------------- constructor


def compile_init(cls: type) -> Callable[..., None] | None:
    """A drop-in ``__init__`` for a slotted dataclass, or None if it has no simple one.

    Simple: every field is an ``__init__`` parameter without a default
    factory, every field is a slot of ``cls`` itself, and there is no
    ``__post_init__``.  Defaults are the original ``__init__``'s own.
    """
    orig = cls.__dict__.get("__init__")
    fields = cls.__dict__.get("__dataclass_fields__")
    if orig is None or fields is None or hasattr(cls, "__post_init__"):
        return None
    real = dataclasses.fields(cls)
    if len(real) != len(fields):  # ClassVar or InitVar pseudo-fields
        return None
    params = []
    ns: dict[str, Any] = {}
    for i, f in enumerate(real):
        if not f.init or f.default_factory is not dataclasses.MISSING:
            return None
        slot = cls.__dict__.get(f.name)
        if type(slot) is not types.MemberDescriptorType:
            return None
        ns[f"_s{i}"] = slot.__set__
        params.append(f.name)
    if orig.__kwdefaults__:
        return None
    defaults = orig.__defaults__ or ()
    sig = ", ".join(params)
    sets = "".join(f"    _s{i}(self, {p})\n" for i, p in enumerate(params)) or "    pass\n"
    src = f"def __init__(self, {sig}):\n{sets}" if params else f"def __init__(self):\n{sets}"
    exec(src, ns)  # noqa: S102 - source built from the class's field names only
    fn = ns["__init__"]
    fn.__defaults__ = defaults
    fn.__qualname__ = f"{cls.__qualname__}.__init__"
    fn.__doc__ = orig.__doc__
    return fn


def fast_init(cls: type) -> type:
    """Class decorator (outside ``@dataclass(frozen=True, slots=True)``): install :func:`compile_init`."""
    fn = compile_init(cls)
    if fn is not None:
        type.__setattr__(cls, "__init__", fn)
    return cls
