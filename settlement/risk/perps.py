"""Bilateral perpetual trades: ``trade`` (taker fills a maker-signed order) and ``cancel_order``.

Owns the rules of a fill: the maker's signature over domain-separated order
bytes (chain id included), expiry, replay protection by per-maker order nonce
(lots filled are counted, a cancelled nonce never fills again), the price band
around the oracle, the open-interest cap, stale-price refusal of
risk-increasing trades, and the initial-margin check of *both* sides after the
fill.  Never liquidates and never reads oracle reports.

A trade that fails any rule changes nothing (the session is never flushed and
the state machine reverts the rest); its receipt names the side that failed:
``maker st...: equity E < initial margin requirement R after the trade``.

Margin rule for each side after the fill (dYdX v4's collateral check of a
subaccount update):

1. the account is not bankrupt: ``equity >= 0`` -- also when the fill leaves
   it flat, where equity is its cash.  Without this a closing trade at a bad
   price (inside the band) could move more than the account's equity to the
   counterparty, leaving negative cash that no position backs: money created;
2. and ``equity >= IMR``, or the trade strictly reduces that side's position
   (no flip) and does not reduce its free collateral ``equity - IMR`` -- so an
   under-margined account may always de-risk.

Stale prices: a side whose fill is risk-increasing is refused while *any*
market it holds in that collateral asset (the traded one included) has a
stale oracle price or one still converging to its median (``oracle.py``),
because its equity there would be computed at a price the oracles do not
vouch for.  Reducing fills are always allowed.
"""
from __future__ import annotations

from ledger.codec import decode, encode
from ledger.keys import address_from_pubkey, format_address
from ledger.receipt import Event
from ledger.txkinds_risk import ANY_TAKER, CancelOrder, Trade

from ..accounts import MAX_AMOUNT
from ..context import BlockContext
from ..errors import (
    BadAmount,
    BadSignature,
    Expired,
    InsufficientMargin,
    InvalidParameter,
    NotPermitted,
    OpenInterestCap,
    PriceDeviation,
    Replayed,
    StalePrice,
    UnknownMarket,
)
from .funding import record_fill
from .margin import Eval, check_cash_range, evaluate, fill, reindex, require_confirmed, require_fresh, unindex
from .records import CANCELLED, ONE, Session, filled_key
from ..state import State
from ..transfers import require_registered

__all__ = ["order_filled"]


def order_filled(state: State, maker: bytes, nonce: int) -> int:
    """Lots already filled of ``maker``'s order ``nonce`` (CANCELLED once voided)."""
    raw = state.get(filled_key(maker, nonce))
    return 0 if raw is None else decode(raw)


def _increases(old: int, delta: int) -> bool:
    new = old + delta
    return abs(new) > abs(old) or (old != 0 and new != 0 and (old > 0) != (new > 0))


def _check_margin(role: str, addr: bytes, before: Eval, after: Eval, increasing: bool) -> None:
    if after.equity < 0:
        raise InsufficientMargin(
            f"{role} {format_address(addr)}: the trade would leave the account bankrupt (equity {after.equity} < 0)"
        )
    if after.equity >= after.imr:
        return
    if not increasing and after.equity - after.imr >= before.equity - before.imr:
        return
    raise InsufficientMargin(
        f"{role} {format_address(addr)}: equity {after.equity} < initial margin requirement {after.imr} after the trade"
    )


def check_order_shape(o, fill: int) -> None:
    """Side, sizes and price of an order (perpetual or option) and of its fill, before anything is read."""
    if o.side not in ("buy", "sell"):
        raise InvalidParameter(f"malformed order: side must be 'buy' or 'sell', got {o.side!r}")
    for what, v in (("order size", o.size), ("order price", o.price), ("fill size", fill)):
        if not 0 < v <= MAX_AMOUNT:
            raise BadAmount(f"{what} must be in [1, {MAX_AMOUNT}], got {v}")


def check_order_fill(state: State, ctx: BlockContext, sender: bytes, so, fill: int, unit: str = "lots") -> tuple[bytes, int]:
    """The rules every maker-signed order shares (perpetual or option): returns (maker, already filled).

    Signature on this chain, maker registered and not the taker, taker
    restriction, expiry height, fills counted per (maker, nonce) -- one nonce
    space for both kinds, so ``cancel_order`` voids either -- and the premium
    or notional limit.
    """
    o = so.order
    maker = address_from_pubkey(so.maker)
    if not so.verify(ctx.chain_id):
        raise BadSignature(f"order signature does not verify for maker {format_address(maker)} on chain {ctx.chain_id}")
    require_registered(state, maker, "maker")
    if maker == sender:
        raise InvalidParameter("maker and taker are the same account")
    if o.taker != ANY_TAKER and o.taker != sender:
        raise NotPermitted(f"order is reserved for taker {format_address(o.taker)}")
    if ctx.height > o.expiry_height:
        raise Expired(f"order expired at height {o.expiry_height} (block height {ctx.height})")
    done = order_filled(state, maker, o.nonce)
    if done == CANCELLED:
        raise Replayed(f"order {o.nonce} of maker {format_address(maker)} was cancelled")
    if done + fill > o.size:
        raise Replayed(f"order {o.nonce} of maker {format_address(maker)} has {done} of {o.size} {unit} filled; cannot fill {fill} more")
    if fill * o.price > MAX_AMOUNT:
        raise BadAmount(f"trade notional {fill} x {o.price} exceeds {MAX_AMOUNT}")
    return maker, done


def trade(state: State, ctx: BlockContext, sender: bytes, body: Trade) -> list[Event]:
    so = body.order
    o = so.order
    check_order_shape(o, body.size)
    sess = Session(state, ctx)
    market = sess.market(o.market)
    if market is None:
        raise UnknownMarket(f"malformed order: unknown market {o.market!r}")
    maker, done = check_order_fill(state, ctx, sender, so, body.size)
    mid, quote = o.market, market.quote
    ms = sess.mstate(mid)
    if not ms.price:
        raise StalePrice(f"market {mid} has no oracle price yet")
    band = market.params.trade_band_ppm
    if abs(o.price - ms.price) * ONE > ms.price * band:
        raise PriceDeviation(f"trade price {o.price} is more than {band} ppm from the oracle price {ms.price}")
    d = body.size if o.side == "buy" else -body.size
    inc_m = _increases(sess.pos(maker, mid).size, d)
    inc_t = _increases(sess.pos(sender, mid).size, -d)
    for role, who, inc in (("maker", maker, inc_m), ("taker", sender, inc_t)):
        if inc:
            what = f"{role} {format_address(who)}: risk-increasing trade"
            require_confirmed(sess, mid, what)
            require_fresh(sess, who, quote, what)
    before_m, before_t = evaluate(sess, maker, quote), evaluate(sess, sender, quote)
    oi_before = ms.oi
    unindex(sess, maker, quote)
    unindex(sess, sender, quote)
    fill(sess, maker, quote, mid, d, d * o.price)
    fill(sess, sender, quote, mid, -d, -d * o.price)
    if ms.oi > oi_before and ms.oi > market.params.oi_cap:
        raise OpenInterestCap(f"open interest would be {ms.oi} lots, over the cap of {market.params.oi_cap}")
    for role, who in (("maker", maker), ("taker", sender)):
        size = sess.pos(who, mid).size
        if abs(size) * max(o.price, ms.price) > MAX_AMOUNT:
            raise BadAmount(f"{role} {format_address(who)} position of {size} lots would exceed the notional limit {MAX_AMOUNT}")
        check_cash_range(sess, who, quote)
    after_m, after_t = evaluate(sess, maker, quote), evaluate(sess, sender, quote)
    _check_margin("maker", maker, before_m, after_m, inc_m)
    _check_margin("taker", sender, before_t, after_t, inc_t)
    state.put(filled_key(maker, o.nonce), encode(done + body.size))
    record_fill(ms, body.size, o.price)
    sess.touch_ms(mid)
    reindex(sess, maker, quote, after_m, indexed=False)
    reindex(sess, sender, quote, after_t, indexed=False)
    sess.flush()
    return [Event("trade", {
        "market": mid, "maker": maker, "taker": sender, "maker_side": o.side, "size": body.size, "price": o.price,
        "order_nonce": o.nonce, "maker_position": sess.pos(maker, mid).size, "taker_position": sess.pos(sender, mid).size,
    })]


def cancel_order(state: State, ctx: BlockContext, sender: bytes, body: CancelOrder) -> list[Event]:
    done = order_filled(state, sender, body.nonce)
    if done == CANCELLED:
        raise Replayed(f"order {body.nonce} is already cancelled")
    state.put(filled_key(sender, body.nonce), encode(CANCELLED))
    return [Event("order_cancelled", {"maker": sender, "nonce": body.nonce, "filled": done})]


HANDLERS = {"trade": trade, "cancel_order": cancel_order}
