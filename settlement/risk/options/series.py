"""Option parameters and series listing: ``set_option_params``, ``register_option_series``, ``register_option_chain``.

Owns the rules an underlying's :class:`~ledger.txkinds_options.OptionParams`
must satisfy, the default parameter set (Deribit's), the list of underlyings
with options enabled (``r/op/u``) and each underlying's sorted list of live
series (``r/op/l/<underlying>``).  Never prices, trades or settles: a listed
series starts unmarked (``SState.mark_state == UNMARKED``, ``marks.py``) so
nothing can trade it before the options phase has marked it.

Listing rules (each refusal names the rule and the numbers):

* the sender is an admin; the underlying is a registered perpetual market with
  options enabled (``set_option_params``) and an oracle price;
* ``kind`` is ``call`` or ``put``; ``0 < strike < 2^63``;
  ``0 < contract_lots < 2^63``;
* ``expiry_ms`` is strictly after the block time;
* the series id (:func:`~settlement.risk.optrecords.series_id`) is not listed
  yet (a settled series keeps its id: it is never listed again).

A chain lists a call and a put for every strike x expiry in one tx; any
refused series refuses the whole chain (the state machine's snapshot reverts
the tx, so nothing of it is written).
"""
from __future__ import annotations

import dataclasses

from ledger.codec import decode, encode
from ledger.receipt import Event
from ledger.txkinds_options import OptionParams, RegisterOptionChain, RegisterOptionSeries, SetOptionParams

from ...accounts import MAX_AMOUNT
from ...context import BlockContext
from ...errors import AlreadyExists, BadAmount, InvalidParameter, UnknownMarket
from ...state import State
from ...transfers import require_role
from ..optrecords import CALL, PUT, UNDERLYINGS, Series, series_id, series_list_key
from ..records import ONE, Market, Session

__all__ = [
    "HANDLERS", "OPTION_DEFAULTS", "default_option_params", "live_series", "options_market", "series_terms", "set_live_series",
    "underlyings",
    "validate_option_params",
]

DAY_MS = 86_400_000

# Deribit: settlement price = time-weighted average of the index over the last 30 minutes before
# expiry (https://www.deribit.com/docs/expiration-price/); standard margin of a short option:
# IM = max(0.15 - OTM amount / underlying, 0.10) x underlying + mark, MM = 0.075 x underlying + mark.
OPTION_DEFAULTS = dict(
    rate_ppm=0,  # crypto options are marked off the underlying's own price (no carry)
    settlement_window_ms=1_800_000,  # 30-minute TWAP (Deribit)
    vol_fresh_ms=300_000,  # a vol report counts for 5 minutes
    trade_band_ppm=50_000,  # premium within mark +- 5 % of the contract's underlying value
    im_base_ppm=150_000,  # Deribit 0.15
    im_floor_ppm=100_000,  # Deribit 0.10
    mm_ppm=75_000,  # Deribit 0.075
    liq_penalty_ppm=15_000,  # 1.5 % of the underlying value, as the perps' default
    vol_band_ppm=100_000,  # an option account is re-checked once a vol moved 10 % from its epoch reference
    recheck_ms=60_000,
)


def default_option_params(**overrides) -> OptionParams:
    """:data:`OPTION_DEFAULTS` (Deribit's), with overrides."""
    return OptionParams(**dict(OPTION_DEFAULTS, **overrides))


def validate_option_params(p: OptionParams) -> None:
    """Raise InvalidParameter naming the first option parameter out of its range."""
    rules = [
        ("rate_ppm", -ONE // 2 <= p.rate_ppm <= ONE, "-500_000 <= rate_ppm <= 1_000_000"),
        ("settlement_window_ms", 0 < p.settlement_window_ms <= DAY_MS, "0 < settlement_window_ms <= 1 day"),
        ("vol_fresh_ms", 0 < p.vol_fresh_ms <= DAY_MS, "0 < vol_fresh_ms <= 1 day"),
        ("trade_band_ppm", 0 < p.trade_band_ppm <= ONE, "0 < trade_band_ppm <= 1_000_000"),
        ("im_floor_ppm", 0 < p.im_floor_ppm <= p.im_base_ppm, "0 < im_floor_ppm <= im_base_ppm"),
        ("im_base_ppm", p.im_base_ppm <= ONE, "im_base_ppm <= 1_000_000"),
        ("mm_ppm", 0 < p.mm_ppm < p.im_floor_ppm, "0 < mm_ppm < im_floor_ppm"),
        ("liq_penalty_ppm", 0 <= p.liq_penalty_ppm < p.mm_ppm, "0 <= liq_penalty_ppm < mm_ppm (a liquidation must improve the account)"),
        ("vol_band_ppm", 0 < p.vol_band_ppm < ONE, "0 < vol_band_ppm < 1_000_000"),
        ("recheck_ms", 0 < p.recheck_ms <= DAY_MS, "0 < recheck_ms <= 1 day"),
    ]
    for name, ok, rule in rules:
        if not ok:
            raise InvalidParameter(f"option parameter {name}={getattr(p, name)} breaks the rule {rule}")


def series_terms(sid: str) -> tuple[int, int, bool]:
    """``(expiry_ms, strike, is_call)`` read from a series id (:func:`series_id`), without loading its record.

    The per-block phases parse the id of every live series instead of decoding
    its :class:`Series` (a 1,000-series book would decode 1,000 records a block).
    """
    _, expiry, strike, cp = sid.rsplit("-", 3)
    return int(expiry), int(strike), cp == "C"


def underlyings(sess: Session) -> list[str]:
    """The underlyings with options enabled, sorted."""
    raw = sess.state.get(UNDERLYINGS)
    return [] if raw is None else list(decode(raw))


def live_series(sess: Session, underlying: str) -> list[str]:
    """The live (listed, not yet settled) series ids of ``underlying``, sorted."""
    raw = sess.state.get(series_list_key(underlying))
    return [] if raw is None else list(decode(raw))


def set_live_series(sess: Session, underlying: str, sids: list[str]) -> None:
    sess.state.put(series_list_key(underlying), encode(sorted(sids)) if sids else None)


def set_option_params(state: State, ctx: BlockContext, sender: bytes, body: SetOptionParams) -> list[Event]:
    require_role(state, sender, "admin")
    sess = Session(state, ctx)
    if sess.market(body.underlying) is None:
        raise UnknownMarket(f"unknown market {body.underlying!r}")
    validate_option_params(body.params)
    enabled = underlyings(sess)
    if body.underlying not in enabled:
        state.put(UNDERLYINGS, encode(sorted([*enabled, body.underlying])))
    sess.set_oparams(body.underlying, body.params)
    attrs = {"underlying": body.underlying}
    attrs.update({f.name: getattr(body.params, f.name) for f in dataclasses.fields(OptionParams)})
    return [Event("option_params_set", attrs)]


def options_market(sess: Session, underlying: str) -> Market:
    """The market of ``underlying``; raises unless it exists and has options enabled."""
    market = sess.market(underlying)
    if market is None:
        raise UnknownMarket(f"unknown market {underlying!r}")
    if sess.oparams(underlying) is None:
        raise InvalidParameter(f"options are not enabled on {underlying} (set_option_params)")
    return market


def _enabled_market(sess: Session, underlying: str) -> Market:
    market = options_market(sess, underlying)
    if not sess.mstate(underlying).price:
        raise InvalidParameter(f"{underlying} has no oracle price yet: a series needs one to be marked and settled")
    return market


def _list(sess: Session, market: Market, live: list[str], kind: str, strike: int, expiry_ms: int, lots: int) -> Event:
    """List one series (after its checks); append its id to ``live`` and return its event."""
    if kind not in (CALL, PUT):
        raise InvalidParameter(f"option kind must be 'call' or 'put', got {kind!r}")
    if not 0 < strike <= MAX_AMOUNT:
        raise BadAmount(f"strike must be in [1, {MAX_AMOUNT}], got {strike}")
    if not 0 < lots <= MAX_AMOUNT:
        raise BadAmount(f"contract_lots must be in [1, {MAX_AMOUNT}], got {lots}")
    now = sess.ctx.time_ms
    if expiry_ms <= now:
        raise InvalidParameter(f"expiry {expiry_ms} must be after the block time {now}")
    sid = series_id(market.market, kind, strike, expiry_ms)
    if sess.series(sid) is not None:
        raise AlreadyExists(f"option series {sid} is already listed")
    sess.add_series(Series(sid, market.market, kind, strike, expiry_ms, lots, market.quote))
    live.append(sid)
    return Event("option_series_listed", {
        "series": sid, "underlying": market.market, "option_kind": kind, "strike": strike, "expiry_ms": expiry_ms,
        "contract_lots": lots, "quote": market.quote,
    })


def register_option_series(state: State, ctx: BlockContext, sender: bytes, body: RegisterOptionSeries) -> list[Event]:
    require_role(state, sender, "admin")
    sess = Session(state, ctx)
    market = _enabled_market(sess, body.underlying)
    live = live_series(sess, body.underlying)
    events = [_list(sess, market, live, body.kind, body.strike, body.expiry_ms, body.contract_lots)]
    set_live_series(sess, body.underlying, live)
    sess.flush()
    return events


def register_option_chain(state: State, ctx: BlockContext, sender: bytes, body: RegisterOptionChain) -> list[Event]:
    require_role(state, sender, "admin")
    sess = Session(state, ctx)
    market = _enabled_market(sess, body.underlying)
    if not body.strikes or not body.expiries_ms:
        raise InvalidParameter("a chain needs at least one strike and one expiry")
    live = live_series(sess, body.underlying)
    events = [
        _list(sess, market, live, kind, strike, expiry, body.contract_lots)
        for expiry in body.expiries_ms for strike in body.strikes for kind in (CALL, PUT)
    ]
    set_live_series(sess, body.underlying, live)
    sess.flush()
    return events


HANDLERS = {
    "set_option_params": set_option_params,
    "register_option_series": register_option_series,
    "register_option_chain": register_option_chain,
}
