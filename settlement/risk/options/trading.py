"""Bilateral option trades: ``option_trade`` (a taker fills a maker-signed option order).

Owns the rules of an option fill: the maker's signature over the option
order's domain-separated bytes (chain id included), the order's expiry, its
fills counted in the SAME per-maker nonce space as perpetual orders (so
``cancel_order`` voids either kind), the series being listed, live and before
expiry, a fresh mark, the price band around the mark, and the collateral check
of both sides after the fill (``perps._check_margin``: the soundness rules of
docs/risk-engine.md).  Never prices (the mark is the series state's) and never
liquidates.

Premium: the buyer pays ``size x price`` to the seller through
``positions.ofill`` on both sides (same integer out and in: the settlement
asset is conserved exactly; long and short contracts stay equal).

Band: ``|price x 10^6 - c x mark6| <= trade_band_ppm x S x c`` -- the premium
per contract stays within ``trade_band_ppm`` of the underlying value of a
contract (``c = contract_lots`` lots at the underlying's price ``S``) from the
mark per contract ``c x mark6 / 10^6``; exact in integers, no rounding.

Stale inputs: a side whose fill is risk-increasing (its position in the
series grows or flips) is refused while the underlying's price is stale or
converging, or any market or series it holds in that collateral asset has a
stale price or mark.  Reducing fills are always allowed (as for perpetuals).
"""
from __future__ import annotations

from ledger.codec import encode
from ledger.keys import format_address
from ledger.receipt import Event
from ledger.txkinds_options import OptionTrade

from ...accounts import MAX_AMOUNT
from ...context import BlockContext
from ...errors import BadAmount, Expired, PriceDeviation, StalePrice, UnknownMarket
from ...state import State
from ..margin import check_cash_range, evaluate, reindex, require_confirmed, require_fresh, unindex
from ..perps import _check_margin, _increases, check_order_fill, check_order_shape
from ..records import ONE, Session, filled_key
from .optmargin import mark_fresh
from .positions import ofill

__all__ = ["HANDLERS", "option_trade"]


def _require_fresh_series(sess: Session, addr: bytes, asset: str, what: str) -> None:
    for sid in sess.macc(addr, asset).series:
        if not mark_fresh(sess, sid):
            raise StalePrice(f"{what} refused: option series {sid} has no fresh mark")


def option_trade(state: State, ctx: BlockContext, sender: bytes, body: OptionTrade) -> list[Event]:
    so = body.order
    o = so.order
    check_order_shape(o, body.size)
    sess = Session(state, ctx)
    series = sess.series(o.series)
    if series is None:
        raise UnknownMarket(f"malformed order: unknown option series {o.series!r}")
    maker, done = check_order_fill(state, ctx, sender, so, body.size, "contracts")
    sid, u, quote, c = o.series, series.underlying, series.quote, series.contract_lots
    ss = sess.sstate(sid)
    if ss.settled:
        raise Expired(f"option series {sid} is settled")
    if ctx.time_ms >= series.expiry_ms:
        raise Expired(f"option series {sid} expired at {series.expiry_ms} (block time {ctx.time_ms})")
    params = sess.oparams(u)
    if params is None:
        raise UnknownMarket(f"options are not enabled on {u}")
    if not mark_fresh(sess, sid, ss):
        raise StalePrice(f"option series {sid} has no fresh mark (last at {ss.mark_time_ms}, block time {ctx.time_ms})")
    spot = sess.mstate(u).price
    if not spot:
        raise StalePrice(f"market {u} has no oracle price yet")
    band = params.trade_band_ppm
    if abs(o.price * ONE - c * ss.mark6) > band * spot * c:
        raise PriceDeviation(f"option price {o.price} is more than {band} ppm of the underlying value {spot} x {c} from the mark "
                             f"{c * ss.mark6 // ONE} per contract")
    d = body.size if o.side == "buy" else -body.size
    inc_m = _increases(sess.opos(maker, sid).size, d)
    inc_t = _increases(sess.opos(sender, sid).size, -d)
    for role, who, inc in (("maker", maker, inc_m), ("taker", sender, inc_t)):
        if inc:
            what = f"{role} {format_address(who)}: risk-increasing trade"
            require_confirmed(sess, u, what)
            require_fresh(sess, who, quote, what)
            _require_fresh_series(sess, who, quote, what)
    before_m, before_t = evaluate(sess, maker, quote), evaluate(sess, sender, quote)
    unindex(sess, maker, quote)
    unindex(sess, sender, quote)
    ofill(sess, maker, quote, sid, d, d * o.price)
    ofill(sess, sender, quote, sid, -d, -d * o.price)
    for role, who in (("maker", maker), ("taker", sender)):
        size = sess.opos(who, sid).size
        if abs(size) * c * max(spot, series.strike) > MAX_AMOUNT:
            raise BadAmount(f"{role} {format_address(who)} position of {size} contracts would exceed the notional limit {MAX_AMOUNT}")
        check_cash_range(sess, who, quote)
    after_m, after_t = evaluate(sess, maker, quote), evaluate(sess, sender, quote)
    _check_margin("maker", maker, before_m, after_m, inc_m)
    _check_margin("taker", sender, before_t, after_t, inc_t)
    state.put(filled_key(maker, o.nonce), encode(done + body.size))
    reindex(sess, maker, quote, after_m, indexed=False)
    reindex(sess, sender, quote, after_t, indexed=False)
    sess.flush()
    return [Event("option_trade", {
        "series": sid, "maker": maker, "taker": sender, "maker_side": o.side, "size": body.size, "price": o.price,
        "premium": body.size * o.price, "order_nonce": o.nonce, "maker_position": sess.opos(maker, sid).size,
        "taker_position": sess.opos(sender, sid).size, "open_interest": ss.oi,
    })]


HANDLERS = {"option_trade": option_trade}
