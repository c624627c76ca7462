"""One typed builder per transaction kind, by family, and the offline signatures some bodies carry.

Owns a keyword-typed function named after every kind of
``ledger.txkinds.KINDS`` (:data:`BUILDERS`; a test checks none is missing),
each a thin, typed front of :func:`sdk.build.build`: addresses as ``st...``
text or bytes, hashes as hex or bytes, nested parameters as records or dicts.
Families: assets and accounts; markets, oracles, margin and perpetual orders;
atomic settlement (DvP swaps, HTLCs); options; portfolio margin and
collateral; the bridge.  Also the maker-side signatures a bilateral trade or
a swap carries (:func:`signed_order`, :func:`signed_option_order`,
:func:`signed_swap`), signed over the chain id like a transaction.
Never talks to a node: the chain id and nonces come from the caller (or the
client's ``transact``).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from ledger import txkinds_bridge as b
from ledger import txkinds_options as o
from ledger import txkinds_pm as pm
from ledger import txkinds_risk as r
from ledger import txkinds as k
from ledger.keys import PrivateKey

from .build import build, build_record

__all__ = ["ANY_TAKER", "BUILDERS", "signed_option_order", "signed_order", "signed_swap"]

Addr = str | bytes  # "st" + 40 hex digits, 40 hex digits, or the 20 bytes
Hex = str | bytes
Side = Literal["buy", "sell"]
Params = Any  # a parameters record, or a dict of its fields
ANY_TAKER = r.ANY_TAKER


# ------------------------------------------------------------------ accounts and assets


def register_account(*, address: Addr, role: Literal["admin", "issuer", "oracle", "participant"]) -> k.RegisterAccount:
    return build("register_account", address=address, role=role)


def create_asset(*, symbol: str, decimals: int, issuer: Addr) -> k.CreateAsset:
    return build("create_asset", symbol=symbol, decimals=decimals, issuer=issuer)


def issue(*, asset: str, amount: int, to: Addr) -> k.Issue:
    return build("issue", asset=asset, amount=amount, to=to)


def transfer(*, to: Addr, asset: str, amount: int, memo: str = "") -> k.Transfer:
    return build("transfer", to=to, asset=asset, amount=amount, memo=memo)


# ------------------------------------------------------------------ markets, oracles, margin, perpetual orders


def register_market(*, market: str, base: str, quote: str, params: Params, oracles: Sequence[Addr]) -> r.RegisterMarket:
    return build("register_market", market=market, base=base, quote=quote, params=params, oracles=oracles)


def set_oracles(*, market: str, oracles: Sequence[Addr]) -> r.SetOracles:
    return build("set_oracles", market=market, oracles=oracles)


def price(*, market: str, price: int) -> r.PriceReport:
    return build("price", market=market, price=price)


def margin_deposit(*, asset: str, amount: int) -> r.MarginDeposit:
    return build("margin_deposit", asset=asset, amount=amount)


def margin_withdraw(*, asset: str, amount: int) -> r.MarginWithdraw:
    return build("margin_withdraw", asset=asset, amount=amount)


def insurance_deposit(*, asset: str, amount: int) -> r.InsuranceDeposit:
    return build("insurance_deposit", asset=asset, amount=amount)


def trade(*, order: r.SignedOrder | dict, size: int) -> r.Trade:
    """The taker fills ``size`` lots of a maker-signed order (:func:`signed_order`)."""
    return build("trade", order=order, size=size)


def cancel_order(*, nonce: int) -> r.CancelOrder:
    return build("cancel_order", nonce=nonce)


def signed_order(key: PrivateKey, chain_id: str, *, market: str, side: Side, size: int, price: int,
                 expiry_height: int, nonce: int, taker: Addr = ANY_TAKER) -> r.SignedOrder:
    """The maker's offline-signed perpetual order (``nonce``: the maker's order id, never reused)."""
    order = build_record(r.Order, dict(market=market, side=side, size=size, price=price,
                                       expiry_height=expiry_height, nonce=nonce, taker=taker))
    return r.sign_order(key, chain_id, order)


# ------------------------------------------------------------------ atomic settlement: DvP swaps and HTLCs


def swap(*, terms: r.SwapTerms | dict, maker_pubkey: Hex, maker_signature: Hex) -> r.Swap:
    return build("swap", terms=terms, maker_pubkey=maker_pubkey, maker_signature=maker_signature)


def signed_swap(key: PrivateKey, chain_id: str, *, taker: Addr, give_asset: str, give_amount: int, get_asset: str,
                get_amount: int, expiry_height: int, nonce: int) -> r.Swap:
    """A ``swap`` body signed by its maker (``key``): the taker submits it as its own transaction."""
    terms = build_record(r.SwapTerms, dict(maker=key.address, taker=taker, give_asset=give_asset, give_amount=give_amount,
                                           get_asset=get_asset, get_amount=get_amount, expiry_height=expiry_height,
                                           nonce=nonce))
    return r.sign_swap_terms(key, chain_id, terms)


def htlc_lock(*, asset: str, amount: int, receiver: Addr, hashlock: Hex, timeout_height: int = 0,
              timeout_ms: int = 0) -> r.HtlcLock:
    """Times out at ``timeout_height`` or block time ``timeout_ms``, whichever comes first (0: unset; one must be set)."""
    return build("htlc_lock", asset=asset, amount=amount, receiver=receiver, hashlock=hashlock,
                 timeout_height=timeout_height, timeout_ms=timeout_ms)


def htlc_claim(*, htlc_id: Hex, preimage: Hex) -> r.HtlcClaim:
    return build("htlc_claim", htlc_id=htlc_id, preimage=preimage)


def htlc_refund(*, htlc_id: Hex) -> r.HtlcRefund:
    return build("htlc_refund", htlc_id=htlc_id)


# ------------------------------------------------------------------ options


def set_option_params(*, underlying: str, params: Params) -> o.SetOptionParams:
    return build("set_option_params", underlying=underlying, params=params)


def register_option_series(*, underlying: str, kind: Literal["call", "put"], strike: int, expiry_ms: int,
                           contract_lots: int) -> o.RegisterOptionSeries:
    return build("register_option_series", underlying=underlying, kind=kind, strike=strike, expiry_ms=expiry_ms,
                 contract_lots=contract_lots)


def register_option_chain(*, underlying: str, strikes: Sequence[int], expiries_ms: Sequence[int],
                          contract_lots: int) -> o.RegisterOptionChain:
    return build("register_option_chain", underlying=underlying, strikes=strikes, expiries_ms=expiries_ms,
                 contract_lots=contract_lots)


def vol_report(*, underlying: str, points: Sequence[o.VolPoint | dict]) -> o.VolReport:
    """``points``: ``{expiry_ms, strike, vol_ppm}`` each (annualized vol, 1_000_000 = 100 %)."""
    return build("vol_report", underlying=underlying, points=points)


def option_trade(*, order: o.SignedOptionOrder | dict, size: int) -> o.OptionTrade:
    return build("option_trade", order=order, size=size)


def signed_option_order(key: PrivateKey, chain_id: str, *, series: str, side: Side, size: int, price: int,
                        expiry_height: int, nonce: int, taker: Addr = ANY_TAKER) -> o.SignedOptionOrder:
    """The maker's offline-signed option order (``price``: premium per contract; nonces shared with perp orders)."""
    order = build_record(o.OptionOrder, dict(series=series, side=side, size=size, price=price,
                                             expiry_height=expiry_height, nonce=nonce, taker=taker))
    return o.sign_option_order(key, chain_id, order)


# ------------------------------------------------------------------ portfolio margin and collateral


def set_collateral(*, asset: str, params: Params) -> pm.SetCollateral:
    return build("set_collateral", asset=asset, params=params)


def set_pm_params(*, underlying: str, params: Params) -> pm.SetPmParams:
    return build("set_pm_params", underlying=underlying, params=params)


def set_margin_mode(*, mode: Literal["standard", "portfolio"]) -> pm.SetMarginMode:
    return build("set_margin_mode", mode=mode)


# ------------------------------------------------------------------ bridge


def bridge_create_client(*, chain_id: str, validators: Hex) -> b.BridgeCreateClient:
    """``validators``: ``ledger.lightclient.validator_set_bytes`` of the counterparty's genesis set."""
    return build("bridge_create_client", chain_id=chain_id, validators=validators)


def bridge_update_client(*, header: Hex, certificate: Hex) -> b.BridgeUpdateClient:
    return build("bridge_update_client", header=header, certificate=certificate)


def bridge_send(*, dest_chain: str, receiver: Addr, asset: str, amount: int, timeout_ms: int) -> b.BridgeSend:
    """``timeout_ms``: in the destination's block time; after it the packet is refunded, never delivered."""
    return build("bridge_send", dest_chain=dest_chain, receiver=receiver, asset=asset, amount=amount, timeout_ms=timeout_ms)


def bridge_recv(*, packet: b.Packet | dict, proof: Hex, proof_height: int) -> b.BridgeRecv:
    return build("bridge_recv", packet=packet, proof=proof, proof_height=proof_height)


def bridge_timeout(*, packet: b.Packet | dict, proof: Hex, proof_height: int) -> b.BridgeTimeout:
    return build("bridge_timeout", packet=packet, proof=proof, proof_height=proof_height)


def bridge_ack(*, packet: b.Packet | dict, proof: Hex, proof_height: int) -> b.BridgeAck:
    return build("bridge_ack", packet=packet, proof=proof, proof_height=proof_height)


def bridge_misbehaviour(*, header_a: Hex, certificate_a: Hex, header_b: Hex, certificate_b: Hex) -> b.BridgeMisbehaviour:
    return build("bridge_misbehaviour", header_a=header_a, certificate_a=certificate_a, header_b=header_b,
                 certificate_b=certificate_b)


# Kind name -> its typed builder, in name order.
BUILDERS = dict(sorted((fn.__name__, fn) for fn in (
    register_account, create_asset, issue, transfer,
    register_market, set_oracles, price, margin_deposit, margin_withdraw, insurance_deposit, trade, cancel_order,
    swap, htlc_lock, htlc_claim, htlc_refund,
    set_option_params, register_option_series, register_option_chain, vol_report, option_trade,
    set_collateral, set_pm_params, set_margin_mode,
    bridge_create_client, bridge_update_client, bridge_send, bridge_recv, bridge_timeout, bridge_ack, bridge_misbehaviour,
)))
