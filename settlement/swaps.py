"""Atomic settlement of spot assets: DvP ``swap`` and hash-time-locked ``htlc_lock/claim/refund``.

Owns the rules of both.  Never touches margin or positions.

DvP swap
--------
One tx carries both legs.  The maker signs :class:`~ledger.txkinds_risk.SwapTerms`
offline over ``b"settle/swap/v1\\x00" || encode([chain_id, terms])``; the
taker submits them in its own signed tx, so both signatures cover the same
terms.  Checks (all before any write, so both legs or neither): the maker
signature, the tx sender is the terms' taker, expiry height, the per-maker
swap nonce is unused, both balances suffice.

HTLC (BIP-199 style)
--------------------
``htlc_lock`` moves the amount out of the sender's balance into the HTLC
(counted in ``r/ht/<asset>``, nobody's spendable balance); its id is
``sha256("settle/htlc/v1" || chain_id || sender || tx nonce)``, shown in the
receipt.  ``htlc_claim`` by the receiver with ``sha256(preimage) ==
hashlock`` before the timeout pays the receiver and puts the preimage in the
receipt (and the HTLC record), so the counterparty can claim the other chain's
leg.  ``htlc_refund`` by the sender once timed out returns it.

The timeout is a height, a block time, or both (:func:`timed_out`: whichever
is reached first; 0 leaves one unset).  A block time is the one clock two
networks share, so the cross-chain swap (``cli/xswap_plan.py``) uses
``timeout_ms`` alone.
"""
from __future__ import annotations

import hashlib

from ledger.codec import decode, encode
from ledger.keys import address_from_pubkey, format_address, verify
from ledger.receipt import Event
from ledger.txkinds_risk import HtlcClaim, HtlcLock, HtlcRefund, Swap

from .accounts import MAX_AMOUNT, get_account, get_balance, set_balance
from .context import BlockContext
from .errors import BadSignature, Expired, HtlcState, InsufficientBalance, InvalidParameter, NotFound, NotPermitted, Replayed
from .risk.records import Htlc, htlc_key, htlc_total_key, swap_used_key
from .state import State
from .transfers import check_amount, require_asset, require_registered, require_spendable

__all__ = ["htlc_id", "htlc_locked", "timed_out"]


def htlc_id(chain_id: str, sender: bytes, nonce: int) -> bytes:
    return hashlib.sha256(b"settle/htlc/v1" + encode([chain_id, sender, nonce])).digest()


def htlc_locked(state: State, asset: str) -> int:
    raw = state.get(htlc_total_key(asset))
    return 0 if raw is None else decode(raw)


def timed_out(h: Htlc, ctx: BlockContext) -> bool:
    """Whether ``h`` has timed out in the block of ``ctx``: its timeout height or its timeout block time is reached (an unset one, 0, never is)."""
    return (h.timeout_height > 0 and ctx.height >= h.timeout_height) or (h.timeout_ms > 0 and ctx.time_ms >= h.timeout_ms)


def _timeout_text(h) -> str:
    parts = ([f"height {h.timeout_height}"] if h.timeout_height else []) + ([f"block time {h.timeout_ms} ms"] if h.timeout_ms else [])
    return " or ".join(parts)


def _credit(state: State, addr: bytes, asset: str, amount: int) -> None:
    bal = get_balance(state, addr, asset)
    if bal + amount > MAX_AMOUNT:
        raise InvalidParameter(f"balance of {format_address(addr)} in {asset} would exceed {MAX_AMOUNT}")
    set_balance(state, addr, asset, bal + amount)


def swap(state: State, ctx: BlockContext, sender: bytes, body: Swap) -> list[Event]:
    t = body.terms
    maker = address_from_pubkey(body.maker_pubkey)
    if maker != t.maker:
        raise BadSignature(f"maker public key belongs to {format_address(maker)}, terms name {format_address(t.maker)}")
    if not verify(body.maker_pubkey, t.sign_bytes(ctx.chain_id), body.maker_signature):
        raise BadSignature(f"swap terms signature does not verify for maker {format_address(maker)} on chain {ctx.chain_id}")
    if sender != t.taker:
        raise NotPermitted(f"these terms are for taker {format_address(t.taker)}, not {format_address(sender)}")
    if maker == sender:
        raise InvalidParameter("maker and taker are the same account")
    if ctx.height > t.expiry_height:
        raise Expired(f"swap terms expired at height {t.expiry_height} (block height {ctx.height})")
    check_amount(t.give_amount)
    check_amount(t.get_amount)
    require_asset(state, t.give_asset)
    require_asset(state, t.get_asset)
    require_registered(state, maker, "maker")
    used = swap_used_key(maker, t.nonce)
    if state.get(used) is not None:
        raise Replayed(f"swap {t.nonce} of maker {format_address(maker)} was already settled")
    have_m = get_balance(state, maker, t.give_asset)
    if have_m < t.give_amount:
        raise InsufficientBalance(f"maker {format_address(maker)} has {have_m} {t.give_asset}, needs {t.give_amount}")
    have_t = get_balance(state, sender, t.get_asset)
    if have_t < t.get_amount:
        raise InsufficientBalance(f"taker {format_address(sender)} has {have_t} {t.get_asset}, needs {t.get_amount}")
    set_balance(state, maker, t.give_asset, have_m - t.give_amount)
    _credit(state, sender, t.give_asset, t.give_amount)
    set_balance(state, sender, t.get_asset, get_balance(state, sender, t.get_asset) - t.get_amount)
    _credit(state, maker, t.get_asset, t.get_amount)
    state.put(used, encode(ctx.height))
    return [Event("swap", {
        "maker": maker, "taker": sender, "maker_gave_asset": t.give_asset, "maker_gave_amount": t.give_amount,
        "taker_gave_asset": t.get_asset, "taker_gave_amount": t.get_amount, "nonce": t.nonce,
    })]


def _load(state: State, hid: bytes) -> Htlc:
    raw = state.get(htlc_key(hid))
    if raw is None:
        raise NotFound(f"no HTLC {hid.hex()}")
    return Htlc.decode(raw)


def _open_htlc(state: State, hid: bytes, sender: bytes, party: str, action: str) -> Htlc:
    """The HTLC ``hid``, open, with ``sender`` as its ``party`` (``"receiver"`` or ``"sender"``), the only one who may ``action`` it."""
    h = _load(state, hid)
    if h.status != "open":
        raise HtlcState(f"HTLC {hid.hex()} is already {h.status}")
    if sender != getattr(h, party):
        raise NotPermitted(f"only the {party} {format_address(getattr(h, party))} may {action} this HTLC")
    return h


def _close(state: State, h: Htlc, hid: bytes, to: bytes, status: str, preimage: bytes) -> None:
    """Pay the locked amount to ``to`` and store the HTLC as ``status``."""
    _credit(state, to, h.asset, h.amount)
    left = htlc_locked(state, h.asset) - h.amount
    state.put(htlc_total_key(h.asset), encode(left) if left else None)
    state.put(htlc_key(hid), Htlc(h.sender, h.receiver, h.asset, h.amount, h.hashlock, h.timeout_height, status, preimage, h.timeout_ms).encode())


def htlc_lock(state: State, ctx: BlockContext, sender: bytes, body: HtlcLock) -> list[Event]:
    check_amount(body.amount)
    require_asset(state, body.asset)
    require_registered(state, body.receiver, "receiver")
    if body.timeout_height == 0 and body.timeout_ms == 0:
        raise InvalidParameter("an HTLC needs a timeout: timeout_height, timeout_ms or both")
    if body.timeout_height and body.timeout_height <= ctx.height:
        raise Expired(f"timeout height {body.timeout_height} is not after the current height {ctx.height}")
    if body.timeout_ms and body.timeout_ms <= ctx.time_ms:
        raise Expired(f"timeout block time {body.timeout_ms} ms is not after the current block time {ctx.time_ms} ms")
    have = require_spendable(state, sender, body.asset, body.amount)
    nonce = get_account(state, sender).nonce - 1  # the state machine already advanced it
    hid = htlc_id(ctx.chain_id, sender, nonce)
    set_balance(state, sender, body.asset, have - body.amount)
    state.put(htlc_total_key(body.asset), encode(htlc_locked(state, body.asset) + body.amount))
    h = Htlc(sender, body.receiver, body.asset, body.amount, body.hashlock, body.timeout_height, "open", b"", body.timeout_ms)
    state.put(htlc_key(hid), h.encode())
    return [Event("htlc_locked", {
        "id": hid, "sender": sender, "receiver": body.receiver, "asset": body.asset, "amount": body.amount,
        "hashlock": body.hashlock, "timeout_height": body.timeout_height, "timeout_ms": body.timeout_ms,
    })]


def htlc_claim(state: State, ctx: BlockContext, sender: bytes, body: HtlcClaim) -> list[Event]:
    h = _open_htlc(state, body.htlc_id, sender, "receiver", "claim")
    if timed_out(h, ctx):
        raise Expired(f"HTLC timed out at {_timeout_text(h)} (block height {ctx.height}, time {ctx.time_ms} ms); only a refund is possible")
    if hashlib.sha256(body.preimage).digest() != h.hashlock:
        raise HtlcState("sha256(preimage) does not match the hashlock")
    _close(state, h, body.htlc_id, sender, "claimed", body.preimage)
    return [Event("htlc_claimed", {
        "id": body.htlc_id, "receiver": sender, "asset": h.asset, "amount": h.amount, "preimage": body.preimage,
    })]


def htlc_refund(state: State, ctx: BlockContext, sender: bytes, body: HtlcRefund) -> list[Event]:
    h = _open_htlc(state, body.htlc_id, sender, "sender", "refund")
    if not timed_out(h, ctx):
        raise HtlcState(f"HTLC times out at {_timeout_text(h)}; refund is possible from then (block height {ctx.height}, time {ctx.time_ms} ms)")
    _close(state, h, body.htlc_id, sender, "refunded", b"")
    return [Event("htlc_refunded", {"id": body.htlc_id, "sender": sender, "asset": h.asset, "amount": h.amount})]


HANDLERS = {"swap": swap, "htlc_lock": htlc_lock, "htlc_claim": htlc_claim, "htlc_refund": htlc_refund}
