"""Bridged transfers (ICS-20 over ICS-04 packets): ``bridge_send``, ``bridge_recv``, ``bridge_timeout``, ``bridge_ack``.

Owns the packet lifecycle and the escrow / voucher accounting:

* send (source): a native asset moves from the sender into the escrow of the
  destination (``br/e/<ASSET>/<dest>``); a voucher of the destination's asset
  is burned (its supply falls).  The packet gets the next sequence of the
  destination and its bytes go under its commitment key.
* recv (destination): the commitment is proven in the source's state at a
  trusted height; the destination's own block time must be before the
  packet's timeout (ICS-04); the receipt must be absent (exactly once).  A
  native asset of the source mints its voucher ``<source>/<ASSET>`` (the asset
  is created on first use, issued by the bridge module); a voucher of this
  chain's asset comes home: the escrow for the source is released.
  The receipt and the acknowledgement are written.
* timeout (source): the receipt's absence is proven in the destination's
  state at a trusted height whose header time is at or after the timeout, so
  the packet can never be received (block time does not go back); the escrow
  is released (or the burned voucher re-minted) to the sender and the
  commitment deleted (exactly once).
* ack (source): the destination's acknowledgement is proven at a trusted
  height; the commitment is deleted (nothing moves: the transfer was final
  when received).  After an ack or a timeout the packet is closed: a second
  one finds no commitment.

A receive that fails for any reason (receiver not registered, amount over
the cap) writes nothing: the packet then times out and is refunded.
Conservation across two chains: escrow of ``X`` on A for B == supply of
``A/X`` on B, once every packet in flight is received or refunded.
"""
from __future__ import annotations

from ledger.codec import encode
from ledger.keys import format_address
from ledger.receipt import Event
from ledger.txkinds_bridge import BridgeAck, BridgeRecv, BridgeSend, BridgeTimeout, Packet

from ..accounts import MAX_AMOUNT, SYMBOL_RE, Asset, get_asset, get_balance, put_asset, set_balance
from ..context import BlockContext
from ..errors import BadAmount, Expired, InvalidParameter, NotFound, Replayed
from ..state import State
from ..transfers import check_amount, require_asset, require_registered, require_spendable
from .client import prove_state, require_client
from .records import (
    ACK_OK,
    BRIDGE_ADDRESS,
    CHAIN_ID_RE,
    VOUCHER_MAX,
    ack_key,
    commitment_key,
    escrow_key,
    get_int,
    put_int,
    receipt_key,
    sequence_key,
    voucher_origin,
    voucher_symbol,
)

__all__ = ["HANDLERS"]


def _credit(state: State, addr: bytes, asset: str, amount: int) -> None:
    bal = get_balance(state, addr, asset)
    if bal + amount > MAX_AMOUNT:
        raise BadAmount(f"balance of {format_address(addr)} in {asset} would exceed {MAX_AMOUNT}")
    set_balance(state, addr, asset, bal + amount)


def _mint(state: State, symbol: str, decimals: int, to: bytes, amount: int) -> None:
    """Mint ``amount`` of the voucher ``symbol`` to ``to``, creating the asset on first use."""
    asset = get_asset(state, symbol) or Asset(symbol, decimals, BRIDGE_ADDRESS, 0)
    if asset.supply + amount > MAX_AMOUNT:
        raise BadAmount(f"minting {amount} would take the supply of {symbol} over {MAX_AMOUNT}")
    put_asset(state, Asset(asset.symbol, asset.decimals, asset.issuer, asset.supply + amount))
    _credit(state, to, symbol, amount)


def _unescrow(state: State, asset: str, counterparty: str, to: bytes, amount: int) -> None:
    key = escrow_key(asset, counterparty)
    held = get_int(state, key)
    if held < amount:
        raise InvalidParameter(f"only {held} {asset} is escrowed for {counterparty!r}, the packet releases {amount}")
    put_int(state, key, held - amount)
    _credit(state, to, asset, amount)


def _event(kind: str, p: Packet, **extra) -> list[Event]:
    return [Event(kind, {
        "sequence": p.sequence, "source_chain": p.source_chain, "dest_chain": p.dest_chain, "sender": p.sender,
        "receiver": p.receiver, "denom": p.denom, "amount": p.amount, "timeout_ms": p.timeout_ms, **extra,
    })]


def bridge_send(state: State, ctx: BlockContext, sender: bytes, body: BridgeSend) -> list[Event]:
    check_amount(body.amount)
    client = require_client(state, body.dest_chain)
    if body.timeout_ms <= client.latest_time_ms:
        raise Expired(f"timeout {body.timeout_ms} is not after {body.dest_chain!r}'s latest trusted time {client.latest_time_ms}")
    asset = require_asset(state, body.asset)
    have = require_spendable(state, sender, body.asset, body.amount)
    origin = voucher_origin(body.asset)
    if origin is None:
        if not CHAIN_ID_RE.match(ctx.chain_id) or len(voucher_symbol(ctx.chain_id, body.asset)) > VOUCHER_MAX:
            raise InvalidParameter(f"{voucher_symbol(ctx.chain_id, body.asset)!r} cannot name a voucher "
                                   f"(chain id {CHAIN_ID_RE.pattern}, at most {VOUCHER_MAX} characters)")
        put_int(state, escrow_key(body.asset, body.dest_chain), get_int(state, escrow_key(body.asset, body.dest_chain)) + body.amount)
    elif origin[0] != body.dest_chain:
        raise InvalidParameter(f"{body.asset} is a voucher of {origin[0]!r}: it goes back only there, not to {body.dest_chain!r}")
    else:
        put_asset(state, Asset(asset.symbol, asset.decimals, asset.issuer, asset.supply - body.amount))
    set_balance(state, sender, body.asset, have - body.amount)
    seq = get_int(state, sequence_key(body.dest_chain)) + 1
    put_int(state, sequence_key(body.dest_chain), seq)
    p = Packet(seq, ctx.chain_id, body.dest_chain, sender, body.receiver, body.asset, asset.decimals, body.amount, body.timeout_ms)
    state.put(commitment_key(p.dest_chain, seq), p.encode())
    return _event("bridge_sent", p, packet=p.encode())


def bridge_recv(state: State, ctx: BlockContext, sender: bytes, body: BridgeRecv) -> list[Event]:
    p = body.packet
    if p.dest_chain != ctx.chain_id:
        raise InvalidParameter(f"the packet is for chain {p.dest_chain!r}, this is {ctx.chain_id!r}")
    if state.get(receipt_key(p.source_chain, p.sequence)) is not None:
        raise Replayed(f"packet {p.sequence} from {p.source_chain!r} was already received")
    prove_state(state, p.source_chain, body.proof_height, commitment_key(p.dest_chain, p.sequence), p.encode(), body.proof)
    if ctx.time_ms >= p.timeout_ms:
        raise Expired(f"packet {p.sequence} timed out at {p.timeout_ms} (block time {ctx.time_ms}); it is refunded on {p.source_chain!r}")
    check_amount(p.amount)
    require_registered(state, p.receiver, "receiver")
    origin = voucher_origin(p.denom)
    if origin is None:
        minted = voucher_symbol(p.source_chain, p.denom)
        if not SYMBOL_RE.match(p.denom) or len(minted) > VOUCHER_MAX:
            raise InvalidParameter(f"{p.denom!r} from {p.source_chain!r} cannot name a voucher here ({minted!r})")
        _mint(state, minted, p.decimals, p.receiver, p.amount)
    elif origin[0] == ctx.chain_id:
        minted = origin[1]
        _unescrow(state, origin[1], p.source_chain, p.receiver, p.amount)
    else:
        raise InvalidParameter(f"{p.denom} is a voucher of {origin[0]!r}: this chain does not take it from {p.source_chain!r}")
    state.put(receipt_key(p.source_chain, p.sequence), encode(ctx.height))
    state.put(ack_key(p.source_chain, p.sequence), ACK_OK)
    return _event("bridge_received", p, credited=minted)


def _committed(state: State, ctx: BlockContext, p: Packet) -> bytes:
    """The commitment key of ``p``, a packet this chain sent and has not closed; raises otherwise."""
    if p.source_chain != ctx.chain_id:
        raise InvalidParameter(f"the packet was sent by chain {p.source_chain!r}, this is {ctx.chain_id!r}")
    key = commitment_key(p.dest_chain, p.sequence)
    stored = state.get(key)
    if stored is None:
        raise NotFound(f"packet {p.sequence} to {p.dest_chain!r} is not open (never sent, refunded or acknowledged)")
    if stored != p.encode():
        raise InvalidParameter(f"packet {p.sequence} to {p.dest_chain!r} is not the packet that was sent")
    return key


def bridge_timeout(state: State, ctx: BlockContext, sender: bytes, body: BridgeTimeout) -> list[Event]:
    p = body.packet
    key = _committed(state, ctx, p)
    cons = prove_state(state, p.dest_chain, body.proof_height, receipt_key(p.source_chain, p.sequence), None, body.proof)
    if cons.time_ms < p.timeout_ms:
        raise InvalidParameter(f"not timed out: the proof's height {body.proof_height} has time {cons.time_ms}, "
                               f"before the timeout {p.timeout_ms}")
    if voucher_origin(p.denom) is None:
        _unescrow(state, p.denom, p.dest_chain, p.sender, p.amount)
    else:
        asset = require_asset(state, p.denom)
        _mint(state, p.denom, asset.decimals, p.sender, p.amount)
    state.put(key, None)
    return _event("bridge_timed_out", p)


def bridge_ack(state: State, ctx: BlockContext, sender: bytes, body: BridgeAck) -> list[Event]:
    p = body.packet
    key = _committed(state, ctx, p)
    prove_state(state, p.dest_chain, body.proof_height, ack_key(p.source_chain, p.sequence), ACK_OK, body.proof)
    state.put(key, None)
    return _event("bridge_acknowledged", p)


HANDLERS = {"bridge_ack": bridge_ack, "bridge_send": bridge_send, "bridge_recv": bridge_recv, "bridge_timeout": bridge_timeout}
