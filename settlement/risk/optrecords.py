"""Options state: key layout and records of option series, their marks, vol reports and positions.

Owns every state key of the options family (one place, as ``records.py`` does
for perpetuals) and its stored records.  The risk :class:`~.records.Session`
caches and writes back the hot ones (series state, option positions) so that
perpetual and option positions of one account are margined together in one
pass.  It never prices (``settlement/risk/options/pricing.py``), never decides what
is allowed and never computes margin.

Keys (bytes; the store adds its own versioned prefix):

=========================================  ==========================================
``r/op/u``                                 sorted list of underlyings with options enabled
``r/op/pa/`` + underlying                  :class:`~ledger.txkinds_options.OptionParams`
``r/op/l/`` + underlying                   sorted list of the live series ids of the underlying
``r/op/s/`` + series                       :class:`Series` (static terms)
``r/op/ss/`` + series                      :class:`SState` (mark, IV, greeks, open interest)
``r/op/v/`` + underlying + ``/`` + oracle  :class:`VolReportRec` (an oracle's latest points)
``r/op/sf/`` + underlying                  the vol surface (``settlement/options/surface.py``)
``r/op/tw/`` + underlying                  the settlement-price accumulator (``settlement/options/expiry.py``)
``r/op/p/`` + addr(20) + ``/`` + series    :class:`OPos` an account's position in contracts
``r/op/h/`` + series + ``/`` ...           holders of a series (``settlement/options/``)
``r/op/x/`` + underlying + ``/`` ...       the options at-risk index (``liq_index.IndexCache``)
=========================================  ==========================================

A series id is ``<underlying>-<expiry_ms>-<strike>-<C|P>`` (:func:`series_id`).
The insurance fund's option positions are ordinary ``r/op/p/FUND/...`` entries,
so long and short contracts of a series sum to zero with the fund included.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from ledger.codec import DecodeError, MaxLen, Range, Record
from ledger.rowcodec import I64_MAX, decode_row, encode_row, wide_int

from ledger.txkinds_options import OptionParams

from ..errors import StateCorrupt
from ..state import State
from .liq_index import IndexCache
from .units import unpack_int

__all__ = [
    "CALL",
    "OptionsCache",
    "HOLDERS",
    "OPT_INDEX",
    "UNDERLYINGS",
    "VolPointRec",
    "PUT",
    "OPos",
    "SState",
    "Series",
    "VolReportRec",
    "opos_key",
    "oparams_key",
    "series_id",
    "series_key",
    "series_list_key",
    "sstate_key",
    "surface_key",
    "twap_key",
    "vol_report_key",
]

CALL, PUT = "call", "put"

UNDERLYINGS = b"r/op/u"
OPARAMS = b"r/op/pa/"
SERIES_LIST = b"r/op/l/"
SERIES = b"r/op/s/"
SSTATE = b"r/op/ss/"
VOL_REPORT = b"r/op/v/"
SURFACE = b"r/op/sf/"
TWAP = b"r/op/tw/"
OPOS = b"r/op/p/"
HOLDERS = b"r/op/h/"
OPT_INDEX = b"r/op/x/"
PM_INDEX = b"r/pm/x/"  # pm/bands.py documents it (kept here: the session declares every index it flushes)


def series_id(underlying: str, kind: str, strike: int, expiry_ms: int) -> str:
    """The canonical id of a series: ``<underlying>-<expiry_ms>-<strike>-<C|P>``."""
    return f"{underlying}-{expiry_ms}-{strike}-{'C' if kind == CALL else 'P'}"


def oparams_key(underlying: str) -> bytes:
    return OPARAMS + underlying.encode()


def series_list_key(underlying: str) -> bytes:
    return SERIES_LIST + underlying.encode()


def series_key(sid: str) -> bytes:
    return SERIES + sid.encode()


def sstate_key(sid: str) -> bytes:
    return SSTATE + sid.encode()


def vol_report_key(underlying: str, oracle: bytes) -> bytes:
    return VOL_REPORT + underlying.encode() + b"/" + oracle


def surface_key(underlying: str) -> bytes:
    return SURFACE + underlying.encode()


def twap_key(underlying: str) -> bytes:
    return TWAP + underlying.encode()


def opos_key(addr: bytes, sid: str) -> bytes:
    return OPOS + addr + b"/" + sid.encode()


# --------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class Series(Record):
    """Static terms of an option series; ``quote`` is the underlying market's quote (settlement) asset."""

    series: Annotated[str, MaxLen(64)]
    underlying: Annotated[str, MaxLen(16)]
    kind: Annotated[str, MaxLen(4)]  # CALL | PUT
    strike: Annotated[int, Range(1, I64_MAX)]
    expiry_ms: Annotated[int, Range(0, I64_MAX)]
    contract_lots: Annotated[int, Range(1, I64_MAX)]
    quote: Annotated[str, MaxLen(16)]


@dataclass(frozen=True, slots=True)
class VolPointRec(Record):
    expiry_ms: Annotated[int, Range(0, I64_MAX)]
    strike: Annotated[int, Range(1, I64_MAX)]
    vol_ppm: Annotated[int, Range(1, I64_MAX)]


@dataclass(frozen=True, slots=True)
class VolReportRec(Record):
    """An oracle's latest implied-volatility points of one underlying (sorted by expiry, then strike)."""

    points: Annotated[list[VolPointRec], MaxLen(256)]
    time_ms: Annotated[int, Range(0, I64_MAX)]
    height: Annotated[int, Range(0, I64_MAX)]


def _row(data: bytes, key: bytes) -> list:
    try:
        return decode_row(data)
    except DecodeError as exc:  # trusted state: anything unreadable is corruption
        raise StateCorrupt(f"state key {key!r}: {exc}") from None


class SState:
    """Dynamic state of a series (mutable while a session holds it).

    ``mark6`` is the Black-Scholes value of one *lot* of the underlying in
    10^-6 quote base units (a contract is ``contract_lots`` lots); the greeks
    are per lot too, at the scales of ``settlement/risk/options/pricing.py``.
    ``oi`` counts the open long contracts.  ``settled`` is 0 while live, 1
    once expired and settled at ``settle_price`` (quote base units per lot).
    ``mark_state`` says whether ``mark6`` is this block's (``options/marks.py``:
    0 never marked or settled, 1 marked, 2 no vol, 3 stale underlying price;
    trading needs 1).
    """

    FIELDS = ("mark6", "iv_ppm", "spot", "mark_time_ms", "delta", "gamma", "vega", "theta", "oi",
              "settled", "settle_price", "mark_state")
    __slots__ = FIELDS

    def __init__(self, *values):
        for name, v in zip(self.FIELDS, values):
            setattr(self, name, v)

    @classmethod
    def fresh(cls) -> "SState":
        return cls(*([0] * len(cls.FIELDS)))

    def pack(self) -> bytes:
        return encode_row([wide_int(getattr(self, f)) for f in self.FIELDS])

    @classmethod
    def unpack(cls, data: bytes, key: bytes) -> "SState":
        obj = _row(data, key)
        if len(obj) != len(cls.FIELDS):
            raise StateCorrupt(f"state key {key!r}: series state has {len(obj)} fields")
        return cls(*[unpack_int(v) for v in obj])

    def as_dict(self) -> dict:
        return {f: getattr(self, f) for f in self.FIELDS}


class OPos:
    """An option position: ``size`` contracts (+ long, - short) and the premium paid for them (negative: received)."""

    __slots__ = ("size", "cost")

    def __init__(self, size: int = 0, cost: int = 0):
        self.size = size
        self.cost = cost

    def pack(self) -> bytes:
        return encode_row([wide_int(self.size), wide_int(self.cost)])

    @classmethod
    def unpack(cls, data: bytes, key: bytes) -> "OPos":
        o = _row(data, key)
        if len(o) != 2:
            raise StateCorrupt(f"state key {key!r}: option position has {len(o)} fields")
        return cls(unpack_int(o[0]), unpack_int(o[1]))



class OptionsCache:
    """The options half of the risk :class:`~.records.Session`: cached, write-back option records.

    Mixed into ``Session`` (which provides ``state``); the session's flush
    writes these back with the perpetual records.
    """

    state: State

    def init_options(self) -> None:
        self._series: dict[str, Series | None] = {}
        self._ss: dict[str, SState] = {}
        self._opos: dict[tuple[bytes, str], OPos] = {}
        self._oparams: dict[str, OptionParams | None] = {}
        self._dirty_ss: set[str] = set()
        self._dirty_opos: set[tuple[bytes, str]] = set()
        self.holder_pages: dict[tuple[str, int], list[bytes]] = {}  # options/positions.py (written through)
        # accounts the liquidation sweep must re-evaluate this block whatever their triggers say
        # (e.g. a short settled at expiry): (address, collateral asset)
        self.recheck: set[tuple[bytes, str]] = set()
        self.oindex = IndexCache(self.state, OPT_INDEX)  # the options at-risk index (options/optindex.py)
        self.pmindex = IndexCache(self.state, PM_INDEX)  # the portfolio-margin re-check bands (pm/bands.py)
        # per-session memos of the modules that extend the account's margin (optindex.py: bands and epoch
        # references; pm/mode.py: "pm"; collateral.py: "col")
        self.oext: dict = {}
        self.col_listed: list[str] | None = None  # listed collateral assets (collateral.listed: margin.evaluate's guard)

    def series(self, sid: str) -> Series | None:
        """The static terms of option series ``sid`` (None if never listed)."""
        if sid not in self._series:
            raw = self.state.get(series_key(sid))
            self._series[sid] = None if raw is None else Series.decode(raw)
        return self._series[sid]

    def add_series(self, series: Series) -> None:
        self.state.put(series_key(series.series), series.encode())
        self._series[series.series] = series
        self._ss[series.series] = SState.fresh()
        self._dirty_ss.add(series.series)

    def sstate(self, sid: str) -> SState:
        ss = self._ss.get(sid)
        if ss is None:
            key = sstate_key(sid)
            raw = self.state.get(key)
            if raw is None:
                raise StateCorrupt(f"option series {sid} has no state")
            ss = self._ss[sid] = SState.unpack(raw, key)
        return ss

    def touch_ss(self, sid: str) -> None:
        self._dirty_ss.add(sid)

    def oparams(self, underlying: str) -> OptionParams | None:
        """The option parameters of ``underlying`` (None if options are not enabled on it)."""
        if underlying not in self._oparams:
            raw = self.state.get(oparams_key(underlying))
            self._oparams[underlying] = None if raw is None else OptionParams.decode(raw)
        return self._oparams[underlying]

    def set_oparams(self, underlying: str, params: OptionParams) -> None:
        self.state.put(oparams_key(underlying), params.encode())
        self._oparams[underlying] = params

    def opos(self, addr: bytes, sid: str) -> OPos:
        k = (addr, sid)
        p = self._opos.get(k)
        if p is None:
            key = opos_key(addr, sid)
            raw = self.state.get(key)
            p = self._opos[k] = OPos() if raw is None else OPos.unpack(raw, key)
        return p

    def touch_opos(self, addr: bytes, sid: str) -> None:
        self._dirty_opos.add((addr, sid))

    def options_writes(self, kadd, vadd) -> None:
        """Hand every changed option record to ``kadd``/``vadd`` (the session's flush), and forget them."""
        for sid in sorted(self._dirty_ss):
            kadd(sstate_key(sid))
            vadd(self._ss[sid].pack())
        for k in sorted(self._dirty_opos):
            p = self._opos[k]
            kadd(opos_key(*k))
            vadd(p.pack() if p.size or p.cost else None)
        self._dirty_ss.clear()
        self._dirty_opos.clear()
        self.oindex.flush()
        self.pmindex.flush()
