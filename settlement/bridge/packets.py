"""Bridged transfers (ICS-20 over ICS-04 packets): ``bridge_send``, ``bridge_recv``, ``bridge_timeout``, ``bridge_ack``.

Owns the packet lifecycle and the escrow / voucher accounting:

* send (source): a native asset moves from the sender into the escrow of the
  destination (``br/e/<ASSET>/<dest>``); a voucher of the destination's asset
  (``<client id>/<ASSET>``, its trace in ``br/v/``) is burned (its supply
  falls).  The packet gets the next sequence of the destination and its bytes
  go under its commitment key.  The packet names the asset by its trace
  (ICS-20's full denomination): ``USD`` for a native asset, ``<dest chain
  id>/USD`` for a voucher going home, never by this chain's client id, which
  the destination does not know.
* recv (destination): the commitment is proven in the source's state at a
  trusted height; the destination's own block time must be before the
  packet's timeout (ICS-04); the receipt must be absent (exactly once).  A
  native asset of the source mints its voucher ``<client id>/<ASSET>``,
  ``client id`` the destination's client of the source (the asset and its
  ``Voucher`` trace are created on first use, issued by the bridge module); a
  trace ``<this chain id>/<ASSET>`` comes home: the escrow for the source is
  released.  The receipt and the acknowledgement are written.
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
B's voucher ``<B's client id of A>/X``, once every packet in flight is
received or refunded.
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
    VOUCHER_MAX,
    Voucher,
    ack_key,
    commitment_key,
    denom_trace,
    escrow_key,
    get_int,
    get_voucher,
    put_int,
    receipt_key,
    sequence_key,
    trace_origin,
    voucher_key,
    voucher_symbol,
)

__all__ = ["HANDLERS"]


def _credit(state: State, addr: bytes, asset: str, amount: int) -> None:
    bal = get_balance(state, addr, asset)
    if bal + amount > MAX_AMOUNT:
        raise BadAmount(f"balance of {format_address(addr)} in {asset} would exceed {MAX_AMOUNT}")
    set_balance(state, addr, asset, bal + amount)


def _mint(state: State, trace: Voucher, decimals: int, to: bytes, amount: int) -> None:
    """Mint ``amount`` of the voucher ``trace.symbol`` to ``to``, creating the asset and its trace on first use."""
    symbol = trace.symbol
    asset = get_asset(state, symbol)
    if asset is None:
        asset = Asset(symbol, decimals, BRIDGE_ADDRESS, 0)
        state.put(voucher_key(symbol), trace.encode())
    if asset.supply + amount > MAX_AMOUNT:
        raise BadAmount(f"minting {amount} would take the supply of {symbol} over {MAX_AMOUNT}")
    put_asset(state, Asset(asset.symbol, asset.decimals, asset.issuer, asset.supply + amount))
    _credit(state, to, symbol, amount)


def _voucher_of(state: State, chain_id: str, denom: str) -> Voucher:
    """The trace of the voucher here of ``chain_id``'s native ``denom``: named by this chain's client of ``chain_id``."""
    client_id = require_client(state, chain_id).client_id
    return Voucher(voucher_symbol(client_id, denom), client_id, chain_id, denom)


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
    voucher = get_voucher(state, body.asset)
    if voucher is None:
        if not SYMBOL_RE.match(body.asset):
            raise InvalidParameter(f"{body.asset!r} cannot name a voucher (a native asset matches {SYMBOL_RE.pattern})")
        denom = body.asset
        put_int(state, escrow_key(body.asset, body.dest_chain), get_int(state, escrow_key(body.asset, body.dest_chain)) + body.amount)
    elif voucher.chain_id != body.dest_chain:
        raise InvalidParameter(f"{body.asset} is a voucher of {voucher.chain_id!r}: it goes back only there, not to {body.dest_chain!r}")
    else:
        denom = denom_trace(voucher.chain_id, voucher.denom)
        put_asset(state, Asset(asset.symbol, asset.decimals, asset.issuer, asset.supply - body.amount))
    set_balance(state, sender, body.asset, have - body.amount)
    seq = get_int(state, sequence_key(body.dest_chain)) + 1
    put_int(state, sequence_key(body.dest_chain), seq)
    p = Packet(seq, ctx.chain_id, body.dest_chain, sender, body.receiver, denom, asset.decimals, body.amount, body.timeout_ms)
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
    origin = trace_origin(p.denom)
    if origin is None:
        trace = _voucher_of(state, p.source_chain, p.denom)
        minted = trace.symbol
        if not SYMBOL_RE.match(p.denom) or len(minted) > VOUCHER_MAX:
            raise InvalidParameter(f"{p.denom!r} from {p.source_chain!r} cannot name a voucher here ({minted!r})")
        _mint(state, trace, p.decimals, p.receiver, p.amount)
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
    origin = trace_origin(p.denom)
    if origin is None:
        _unescrow(state, p.denom, p.dest_chain, p.sender, p.amount)
    else:  # the sender's burned voucher of the destination's asset, re-minted
        trace = _voucher_of(state, p.dest_chain, origin[1])
        _mint(state, trace, require_asset(state, trace.symbol).decimals, p.sender, p.amount)
    state.put(key, None)
    return _event("bridge_timed_out", p)


def bridge_ack(state: State, ctx: BlockContext, sender: bytes, body: BridgeAck) -> list[Event]:
    p = body.packet
    key = _committed(state, ctx, p)
    prove_state(state, p.dest_chain, body.proof_height, ack_key(p.source_chain, p.sequence), ACK_OK, body.proof)
    state.put(key, None)
    return _event("bridge_acknowledged", p)


HANDLERS = {"bridge_ack": bridge_ack, "bridge_send": bridge_send, "bridge_recv": bridge_recv, "bridge_timeout": bridge_timeout}
