"""Expiry: the settlement price (a time-weighted average of the underlying's price) and the cash settlement of a series.

Owns the price-time accumulator of each options underlying
(``r/op/tw/<underlying>``, :class:`Twap`), the window start of each pending
expiry, and the settlement of every expired series.  Never prices, never
checks margin (the sweep re-evaluates the debited accounts: ``sess.recheck``)
and never decides who may trade (the trading rules refuse a settled series).

Settlement price (Deribit: the time-weighted average of the index over the
last 30 minutes before expiry, https://www.deribit.com/docs/expiration-price/)
-----------------------------------------------------------------------------
A block's price ``ms.price`` (after the prices phase, stale or not) holds from
its block time until the next block's.  The accumulator ``A(t)`` is the
integral of that step function, in quote base units x ms, kept as ``acc`` at
the last block time ``last_ms`` with the price in force ``last_price``, so
that ``A(t) = acc + last_price x (t - last_ms)`` for any ``t`` up to the
current block time: exact at any moment, not only at block times.  It starts
at the first options phase at which the underlying has a price (a series
cannot be listed before).

For an expiry ``E`` with window ``W = settlement_window_ms``, the first options
phase at a block time ``>= E - W`` at which a series of expiry ``E`` is live
records the window start ``s = max(E - W, last_ms)`` and ``A(s)``.  Normally
``s = E - W`` exactly; a series listed inside the window starts at the
previous block's time (the earliest moment the accumulator can reproduce, at
most one block before the listing).  At the first block whose time is
``>= E``::

    settlement price S = floor((A(E) - A(s)) / (E - s))        (floor: quote base units per lot)

Settlement of a series (strike ``K``, ``c = contract_lots``)
-----------------------------------------------------------
``intrinsic = max(S - K, 0)`` for a call, ``max(K - S, 0)`` for a put; each
holder of ``n`` contracts (sorted by address, the fund included) receives
``n x c x intrinsic`` (a short, ``n < 0``, pays): the position is closed with
``ofill(delta=-n, cost=-n x c x intrinsic)``.  The contracts of a series sum
to zero, so the payouts do too: cash is conserved exactly, no rounding.  Every
short that paid goes into ``sess.recheck``; the series is marked settled
(``SState.settled = 1``, ``settle_price = S``, ``mark6 = intrinsic x 10^6``,
greeks 0) and leaves the live list.  Events: ``option_expired`` (series,
settlement price, window, intrinsic, long and short contracts, total paid),
then one ``option_settled`` per holder.
"""
from __future__ import annotations

from ledger.receipt import Event
from ledger.rowcodec import decode_row, encode_row, wide_int

from ...context import BlockContext
from ...errors import StateCorrupt
from ..optrecords import CALL, Series, twap_key
from ..records import ONE, Session
from ..units import unpack_int
from .positions import holders, ofill
from .series import live_series, series_terms, set_live_series, underlyings

__all__ = ["Twap", "settle_expiries", "settlement_price"]


class Twap:
    """The price-time accumulator of an underlying and the window starts of its pending expiries."""

    __slots__ = ("acc", "last_ms", "last_price", "starts")

    def __init__(self, acc: int, last_ms: int, last_price: int, starts: dict[int, tuple[int, int]]):
        self.acc = acc  # A(last_ms), quote base units x ms
        self.last_ms = last_ms
        self.last_price = last_price  # in force from last_ms
        self.starts = starts  # expiry_ms -> (window start ms, A(start))

    def at(self, t: int) -> int:
        """``A(t)`` for ``last_ms <= t`` (the price in force since ``last_ms`` holds)."""
        return self.acc + self.last_price * (t - self.last_ms)

    def pack(self) -> bytes:
        starts = [[e, s, wide_int(a)] for e, (s, a) in sorted(self.starts.items())]
        return encode_row([wide_int(self.acc), self.last_ms, self.last_price, starts])

    @classmethod
    def unpack(cls, data: bytes, key: bytes) -> "Twap":
        try:
            acc, last_ms, last_price, starts = decode_row(data)
            return cls(unpack_int(acc), last_ms, last_price, {e: (s, unpack_int(a)) for e, s, a in starts})
        except (ValueError, TypeError) as exc:
            raise StateCorrupt(f"state key {key!r}: malformed settlement accumulator: {exc}") from None


def settlement_price(tw: Twap, expiry_ms: int) -> int:
    """``floor((A(E) - A(s)) / (E - s))`` for the recorded window start ``s`` of ``expiry_ms``."""
    start, a0 = tw.starts[expiry_ms]
    return (tw.at(expiry_ms) - a0) // (expiry_ms - start)


def _settle_series(sess: Session, s: Series, price: int, window_start_ms: int) -> list[Event]:
    sid = s.series
    intrinsic = max(price - s.strike, 0) if s.kind == CALL else max(s.strike - price, 0)
    per_contract = s.contract_lots * intrinsic
    longs = shorts = paid = 0
    settled = []
    for addr in holders(sess, sid):
        n = sess.opos(addr, sid).size
        payout = n * per_contract
        ofill(sess, addr, s.quote, sid, -n, -payout)
        if n > 0:
            longs += n
            paid += payout
        else:
            shorts -= n
            if payout:
                sess.recheck.add((addr, s.quote))
        settled.append(Event("option_settled", {"series": sid, "account": addr, "size": n, "payout": payout}))
    ss = sess.sstate(sid)
    ss.settled, ss.settle_price, ss.mark_state = 1, price, 0
    ss.mark6, ss.spot, ss.mark_time_ms = intrinsic * ONE, price, sess.ctx.time_ms
    ss.delta = ss.gamma = ss.vega = ss.theta = 0
    sess.touch_ss(sid)
    expired = Event("option_expired", {
        "series": sid, "underlying": s.underlying, "settle_price": price, "window_start_ms": window_start_ms,
        "intrinsic": intrinsic, "long_contracts": longs, "short_contracts": shorts, "paid": paid,
    })
    return [expired, *settled]


def settle_expiries(sess: Session, ctx: BlockContext) -> list[Event]:
    """Advance every options underlying's accumulator to this block and settle every series whose expiry came."""
    events: list[Event] = []
    now = ctx.time_ms
    for u in underlyings(sess):
        price = sess.mstate(u).price
        key = twap_key(u)
        raw = sess.state.get(key)
        if raw is None:
            if not price:
                continue  # nothing to average yet (and no series: listing needs a price)
            tw = Twap(0, now, price, {})
        else:
            tw = Twap.unpack(raw, key)
        window = sess.oparams(u).settlement_window_ms
        live = live_series(sess, u)
        by_expiry: dict[int, list[str]] = {}
        for sid in live:
            by_expiry.setdefault(series_terms(sid)[0], []).append(sid)
        for e in sorted(by_expiry):
            if e not in tw.starts and e - window <= now:
                start = max(e - window, tw.last_ms)
                tw.starts[e] = (start, tw.at(start))
        gone = set()
        for e in sorted(by_expiry):
            if e > now:
                break
            settle = settlement_price(tw, e)
            for sid in by_expiry[e]:
                events += _settle_series(sess, sess.series(sid), settle, tw.starts[e][0])
                gone.add(sid)
            del tw.starts[e]
        if gone:
            set_live_series(sess, u, [sid for sid in live if sid not in gone])
        tw.acc, tw.last_ms, tw.last_price = tw.at(now), now, price
        sess.state.put(key, tw.pack())
    return events
