"""Risk-engine state: key layout, records, and the per-operation :class:`Session` cache.

Owns every state key of the risk engine (one place, as ``accounts.py`` does for
accounts and balances), the stored records, and :class:`Session`, the only
way risk code reads and writes them.  It never decides whether anything is
allowed and never computes margin: that is ``margin.py``, ``perps.py``,
``liquidation.py`` ... .

Keys (bytes; the store adds its own versioned prefix):

=========================================  ==========================================
``r/mkts``                                 sorted list of market ids
``r/m/`` + market                          :class:`Market` (static config)
``r/s/`` + market                          :class:`MState` (price, EWMA, funding, OI)
``r/o/`` + market + ``/`` + oracle(20)     :class:`OracleReport`
``r/a/`` + addr(20) + ``/`` + asset         :class:`MAcc` margin cash of one collateral asset
``r/p/`` + addr(20) + ``/`` + market        :class:`Pos` position in lots
``r/f/`` + maker(20) + nonce(8)            lots filled of an order (CANCELLED once voided)
``r/w/`` + maker(20) + nonce(8)            a settled swap's terms (replay guard)
``r/h/`` + id(32)                          :class:`Htlc`
``r/ht/`` + asset                          total amount locked in open HTLCs
``r/fp/`` + asset                          funding pool (settled funding not yet paid out)
``r/x/`` + market + ``/`` ...              the at-risk index (``liq_index.py``)
``r/q/`` + market + ``/`` ...              the ADL ranking index (``adl_index.py``)
=========================================  ==========================================

The insurance fund is the pseudo-account :data:`FUND` (no key pair can own it):
its cash is ``r/a/FUND/asset`` and the positions it takes over in liquidations
are ordinary ``r/p/FUND/market`` entries, so "positions sum to zero" holds
with the fund included.

A :class:`Session` loads records on first use, hands out mutable objects, and
writes every changed one back on :meth:`Session.flush`.
Handlers flush once at the end, after every check passed, so a failing tx
writes nothing (the state machine's snapshot reverts the rest).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from ledger.codec import DecodeError, MaxLen, Range, Record, decode, encode
from ledger.rowcodec import I64_MAX, I64_MIN, decode_row, encode_row, row_packer, wide_int
from ledger.hashing import sha256
from ledger.tx import Address
from ledger.txkinds_risk import MarketParams

from ..context import BlockContext
from ..errors import StateCorrupt
from ..state import State
from .liq_index import IndexCache
from .optrecords import OptionsCache
from .units import LONG, ONE, SHORT, pack, pack_int, unpack_int

__all__ = [
    "CANCELLED",
    "FUND",
    "LONG",
    "ONE",
    "SHORT",
    "Htlc",
    "MAcc",
    "MState",
    "Market",
    "OracleReport",
    "Pos",
    "Session",
]

FUND = sha256(b"settle/insurance-fund/v1")[:20]
CANCELLED = 2**63 - 1

MARKETS = b"r/mkts"
MARKET = b"r/m/"
MSTATE = b"r/s/"
REPORT = b"r/o/"
MACC = b"r/a/"
POS = b"r/p/"
FILLED = b"r/f/"
SWAP_USED = b"r/w/"
HTLC = b"r/h/"
HTLC_TOTAL = b"r/ht/"
POOL = b"r/fp/"
INDEX = b"r/x/"
ADL_INDEX = b"r/q/"


def market_key(mid: str) -> bytes:
    return MARKET + mid.encode()


def mstate_key(mid: str) -> bytes:
    return MSTATE + mid.encode()


def report_key(mid: str, oracle: bytes) -> bytes:
    return REPORT + mid.encode() + b"/" + oracle


def macc_key(addr: bytes, asset: str) -> bytes:
    return MACC + addr + b"/" + asset.encode()


def pos_key(addr: bytes, mid: str) -> bytes:
    return POS + addr + b"/" + mid.encode()


def filled_key(maker: bytes, nonce: int) -> bytes:
    return FILLED + maker + nonce.to_bytes(8, "big")


def swap_used_key(maker: bytes, nonce: int) -> bytes:
    return SWAP_USED + maker + nonce.to_bytes(8, "big")


def htlc_key(hid: bytes) -> bytes:
    return HTLC + hid


def htlc_total_key(asset: str) -> bytes:
    return HTLC_TOTAL + asset.encode()


def pool_key(asset: str) -> bytes:
    return POOL + asset.encode()


# --------------------------------------------------------------------------- encoding (ledger/rowcodec.py)

# pack, pack_int and unpack_int come from units.py (re-exported here for the modules that read records)


def _raw(data: bytes, key: bytes) -> list:
    try:
        return decode_row(data)
    except DecodeError as exc:  # trusted state: anything unreadable is corruption
        raise StateCorrupt(f"state key {key!r}: {exc}") from None


# --------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class Market(Record):
    market: Annotated[str, MaxLen(16)]
    base: Annotated[str, MaxLen(16)]
    quote: Annotated[str, MaxLen(16)]
    params: MarketParams
    oracles: Annotated[list[Address], MaxLen(32)]


@dataclass(frozen=True, slots=True)
class OracleReport(Record):
    price: Annotated[int, Range(1, I64_MAX)]
    time_ms: Annotated[int, Range(0, I64_MAX)]
    height: Annotated[int, Range(0, I64_MAX)]


@dataclass(frozen=True, slots=True)
class Htlc(Record):
    sender: Address
    receiver: Address
    asset: Annotated[str, MaxLen(16)]
    amount: Annotated[int, Range(1, I64_MAX)]
    hashlock: bytes
    timeout_height: Annotated[int, Range(0, I64_MAX)]
    status: Annotated[str, MaxLen(8)]  # "open" | "claimed" | "refunded"
    preimage: bytes  # revealed by the claim, b"" before
    timeout_ms: Annotated[int, Range(0, I64_MAX)] = 0  # block time of the timeout, 0: none (then timeout_height is set)


class MState:
    """Dynamic market state (mutable while a session holds it)."""

    FIELDS = (
        "price", "price_time_ms", "price_height", "stale", "var", "scale_ppm", "imf_eff", "mmf_eff",
        "findex", "last_funding_ms", "prem_sum", "prem_dt", "last_trade_price", "twap_last_ms", "oi",
        "last_rate_ppm", "uncovered",
        "oracle_twap", "oracle_twap_ms", "blk_size", "blk_notional",
        "converging",
        "sloss", "socialized",  # social-loss index (per lot, x 10^6) and total socialized (adl.py)
    )
    __slots__ = FIELDS

    def __init__(self, *values):
        for name, v in zip(self.FIELDS, values):
            setattr(self, name, v)

    @classmethod
    def fresh(cls, params: MarketParams) -> "MState":
        return cls(0, 0, 0, True, 0, ONE, params.imf_ppm, params.mmf_ppm, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                   0, 0, 0, 0, False, 0, 0)

    def pack(self) -> bytes:
        return pack([pack_int(getattr(self, f)) if type(getattr(self, f)) is int else getattr(self, f) for f in self.FIELDS])

    @classmethod
    def unpack(cls, data: bytes, key: bytes) -> "MState":
        obj = _raw(data, key)
        if len(obj) != len(cls.FIELDS):
            raise StateCorrupt(f"state key {key!r}: market state has {len(obj)} fields")
        return cls(*[v if type(v) is bool else unpack_int(v) for v in obj])

    def as_dict(self) -> dict:
        return {f: getattr(self, f) for f in self.FIELDS}


class Pos:
    """A position: ``size`` lots (+ long, - short), the quote paid to open it, funding snapshot, index entries."""

    # in the stored field order (Pos.pack, Session.flush)
    __slots__ = ("size", "open_notional", "funding_snap", "trigger", "trigger_side", "loss_snap", "adl_key", "adl_side")

    def __init__(self, size=0, open_notional=0, funding_snap=0, trigger=0, trigger_side=0, loss_snap=0, adl_key=0, adl_side=0):
        self.size = size  # lots, signed
        self.open_notional = open_notional  # quote paid for the open lots (negative for shorts)
        self.funding_snap = funding_snap  # market funding index when funding was last settled
        self.trigger = trigger  # trigger coordinate of this position's at-risk index entry
        self.trigger_side = trigger_side  # side the entry is filed under (0: not indexed)
        self.loss_snap = loss_snap  # market social-loss index when it was last settled
        self.adl_key = adl_key  # key of this position's ADL-ranking entry (adl_index.py)
        self.adl_side = adl_side  # side the ADL entry is filed under (0: not indexed)

    def pack(self) -> bytes:
        v = [self.size, self.open_notional, self.funding_snap, self.trigger, self.trigger_side, self.loss_snap, self.adl_key, self.adl_side]
        if I64_MIN <= min(v) and max(v) <= I64_MAX:  # every figure fits 64 bits: stored as it is
            return encode_row(v)
        return encode_row([wide_int(x) for x in v])

    @classmethod
    def unpack(cls, data: bytes, key: bytes) -> "Pos":
        try:
            o = decode_row(data)  # _raw, inline: 10^5 positions load in a crash block
        except DecodeError:
            o = _raw(data, key)
        if len(o) == 8:
            size, notional, fsnap, trigger, tside, lsnap, akey, aside = o
            if type(size) is int and type(notional) is int and type(fsnap) is int and type(trigger) is int \
                    and type(lsnap) is int and type(akey) is int:  # every figure fits 64 bits (unpack_int is the identity)
                return cls(size, notional, fsnap, trigger, tside, lsnap, akey, aside)
        if len(o) == 5:  # written before the social-loss index and the ADL index existed
            o = o + [0, 0, 0]
        if len(o) != 8:
            raise StateCorrupt(f"state key {key!r}: position has {len(o)} fields")
        return cls(unpack_int(o[0]), unpack_int(o[1]), unpack_int(o[2]), unpack_int(o[3]), o[4],
                   unpack_int(o[5]), unpack_int(o[6]), o[7])


class MAcc:
    """Margin account of one collateral asset: cash (dYdX's "quote balance"), markets with positions, realized PnL.

    ``series`` lists the option series settled in this asset that the account
    holds a position in (``optrecords.py``); it is stored only when non-empty,
    so accounts without options keep the three-field row.
    """

    __slots__ = ("cash", "markets", "realized", "series")

    def __init__(self, cash=0, markets=None, realized=0, series=None):
        self.cash = cash
        self.markets: list[str] = markets if markets is not None else []
        self.realized = realized
        self.series: list[str] = series if series is not None else []

    def row(self) -> list:
        cash, realized = self.cash, self.realized
        if not (I64_MIN <= cash <= I64_MAX and I64_MIN <= realized <= I64_MAX):
            cash, realized = wide_int(cash), wide_int(realized)
        return [cash, self.markets, realized, self.series] if self.series else [cash, self.markets, realized]

    def pack(self) -> bytes:
        return encode_row(self.row())

    @classmethod
    def unpack(cls, data: bytes, key: bytes) -> "MAcc":
        try:
            o = decode_row(data)  # _raw, inline (as Pos.unpack)
        except DecodeError:
            o = _raw(data, key)
        if len(o) == 4 and type(o[3]) is list and o[3]:
            series = o.pop()
        elif len(o) == 3:
            series = None
        else:
            raise StateCorrupt(f"state key {key!r}: malformed margin account")
        if type(o[1]) is not list:
            raise StateCorrupt(f"state key {key!r}: malformed margin account")
        cash, markets, realized = o
        if type(cash) is int and type(realized) is int:
            return cls(cash, markets, realized, series)
        return cls(unpack_int(cash), markets, unpack_int(realized), series)


# --------------------------------------------------------------------------- session


class Session(OptionsCache):
    """Cached, write-back access to risk state for one handler or one end-of-block pass.

    Args:
        state: the journaled state of the block.
        ctx: the block context (height, time, chain id).
    """

    def __init__(self, state: State, ctx: BlockContext):
        self.state = state
        self.ctx = ctx
        self.index = IndexCache(state, INDEX)
        self.adl = IndexCache(state, ADL_INDEX, watermark=False, pages=8)  # the ADL ranking index (adl_index.py)
        self._markets: dict[str, Market | None] = {}
        self._ms: dict[str, MState] = {}
        self._macc: dict[tuple[bytes, str], MAcc] = {}
        self._pos: dict[tuple[bytes, str], Pos] = {}
        self._pool: dict[str, int] = {}
        self._suffix: dict[str, bytes] = {}  # b"/" + asset or market id, of the keys built inline (10^5 records in a crash)
        self.fund_pending: dict[tuple[str, str], list[int]] = {}  # (asset, market) -> [lots, cost] (liquidation.py)
        self._dirty_ms: set[str] = set()
        self._dirty_macc: set[tuple[bytes, str]] = set()
        self._dirty_pos: set[tuple[bytes, str]] = set()
        self.init_options()

    # ------------------------------------------------------------------ markets

    def market_ids(self) -> list[str]:
        raw = self.state.get(MARKETS)
        return [] if raw is None else list(decode(raw))

    def market(self, mid: str) -> Market | None:
        if mid not in self._markets:
            raw = self.state.get(market_key(mid))
            self._markets[mid] = None if raw is None else Market.decode(raw)
        return self._markets[mid]

    def mstate(self, mid: str) -> MState:
        ms = self._ms.get(mid)
        if ms is None:
            key = mstate_key(mid)
            raw = self.state.get(key)
            if raw is None:
                raise StateCorrupt(f"market {mid} has no state")
            ms = self._ms[mid] = MState.unpack(raw, key)
        return ms

    def touch_ms(self, mid: str) -> None:
        self._dirty_ms.add(mid)

    def add_market(self, market: Market) -> None:
        ids = sorted(set(self.market_ids()) | {market.market})
        self.state.put(MARKETS, encode(ids))
        self.state.put(market_key(market.market), market.encode())
        self._markets[market.market] = market
        self._ms[market.market] = MState.fresh(market.params)
        self._dirty_ms.add(market.market)

    def replace_market(self, market: Market) -> None:
        self.state.put(market_key(market.market), market.encode())
        self._markets[market.market] = market

    # ------------------------------------------------------------------ accounts and positions

    def macc(self, addr: bytes, asset: str) -> MAcc:
        k = (addr, asset)
        m = self._macc.get(k)
        if m is None:
            key = MACC + addr + (self._suffix.get(asset) or self._suffix.setdefault(asset, b"/" + asset.encode()))  # macc_key
            raw = self.state.get(key)
            m = self._macc[k] = MAcc() if raw is None else MAcc.unpack(raw, key)
        return m

    def touch_macc(self, addr: bytes, asset: str) -> None:
        self._dirty_macc.add((addr, asset))

    def pos(self, addr: bytes, mid: str) -> Pos:
        k = (addr, mid)
        p = self._pos.get(k)
        if p is None:
            key = POS + addr + (self._suffix.get(mid) or self._suffix.setdefault(mid, b"/" + mid.encode()))  # pos_key
            raw = self.state.get(key)
            p = self._pos[k] = Pos() if raw is None else Pos.unpack(raw, key)
        return p

    def touch_pos(self, addr: bytes, mid: str) -> None:
        self._dirty_pos.add((addr, mid))

    def touch_trade(self, addr: bytes, asset: str, mid: str) -> None:
        """``touch_macc``, ``touch_pos`` and ``touch_ms`` of a fill, in one call (10^5 closes in a crash block)."""
        self._dirty_macc.add((addr, asset))
        self._dirty_pos.add((addr, mid))
        self._dirty_ms.add(mid)

    def pool_add(self, asset: str, amount: int) -> None:
        if asset not in self._pool:
            raw = self.state.get(pool_key(asset))
            self._pool[asset] = 0 if raw is None else unpack_int(decode(raw))
        self._pool[asset] += amount

    # ------------------------------------------------------------------ write back

    def flush(self) -> None:
        """Write every changed record, and the index."""
        if self.fund_pending:
            raise StateCorrupt("insurance-fund fills still pending at flush")
        keys = [mstate_key(mid) for mid in self._dirty_ms]
        values: list[bytes | None] = [self._ms[mid].pack() for mid in self._dirty_ms]
        kadd, vadd = keys.append, values.append
        suffix = self._suffix
        packb = row_packer()  # MAcc.pack and Pos.pack inline when every figure fits 64 bits (10^5 records in a crash)
        maccs = self._macc
        for k in self._dirty_macc:
            m = maccs[k]
            a = suffix.get(k[1]) or suffix.setdefault(k[1], b"/" + k[1].encode())
            kadd(MACC + k[0] + a)
            cash, realized = m.cash, m.realized
            if cash == 0 and not m.markets and not m.series:
                vadd(None)
            elif m.series:
                vadd(m.pack())
            elif I64_MIN <= cash <= I64_MAX and I64_MIN <= realized <= I64_MAX:
                vadd(packb([cash, m.markets, realized]))
            else:
                vadd(m.pack())
        positions = self._pos
        for k in self._dirty_pos:
            p = positions[k]
            a = suffix.get(k[1]) or suffix.setdefault(k[1], b"/" + k[1].encode())
            kadd(POS + k[0] + a)
            if p.size == 0 and p.trigger_side == 0 and p.adl_side == 0:
                vadd(None)
                continue
            v = [p.size, p.open_notional, p.funding_snap, p.trigger, p.trigger_side, p.loss_snap, p.adl_key, p.adl_side]
            vadd(packb(v) if I64_MIN <= min(v) and max(v) <= I64_MAX else p.pack())
        self.options_writes(kadd, vadd)
        for asset, v in self._pool.items():
            kadd(pool_key(asset))
            vadd(encode(pack_int(v)) if v else None)
        self.state.put_many(keys, values)  # distinct keys; the state's net writes are sorted
        self._dirty_ms.clear()
        self._dirty_macc.clear()
        self._dirty_pos.clear()
        self._pool.clear()
        self.index.flush()
        self.adl.flush()
