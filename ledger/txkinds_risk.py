"""Body records of the risk-engine transaction kinds, and the offline-signed terms they carry.

Owns: the field layout of ``register_market``, ``set_oracles``, ``price``,
``margin_deposit``, ``margin_withdraw``, ``insurance_deposit``, ``trade``,
``cancel_order``, ``swap``, ``htlc_lock``, ``htlc_claim`` and ``htlc_refund``;
the :class:`Order` a maker signs for a bilateral trade and the
:class:`SwapTerms` a counterparty signs for a DvP swap, with their
domain-separated sign-bytes (type tag + chain id, as ``tx.py`` does for
transactions).  It never looks at state: whether a market exists, an order is
expired or a signature belongs to a registered account is for settlement/,
which answers with a receipt naming the rule.

Amount-like fields use :data:`ledger.fields.Amount` (the full 64-bit range) on
purpose: an oversized size or price decodes, and the settlement layer rejects
it with a ``bad_amount`` receipt instead of the transaction vanishing at the
decoder.

Sign-bytes::

    order:      b"settle/order/v1\\x00" || encode([chain_id, order])
    swap terms: b"settle/swap/v1\\x00"  || encode([chain_id, terms])
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from .codec import Len, MaxLen, Range, Record, encode
from .keys import PrivateKey, verify
from .fields import Address, Amount, Symbol

__all__ = [
    "ANY_TAKER",
    "CancelOrder",
    "HtlcClaim",
    "HtlcLock",
    "HtlcRefund",
    "InsuranceDeposit",
    "MarginDeposit",
    "MarginWithdraw",
    "MarketParams",
    "Order",
    "PriceReport",
    "RegisterMarket",
    "SetOracles",
    "SignedOrder",
    "Swap",
    "SwapTerms",
    "Trade",
    "sign_order",
    "sign_swap_terms",
]

ORDER_DOMAIN = b"settle/order/v1\x00"
SWAP_DOMAIN = b"settle/swap/v1\x00"
ANY_TAKER = bytes(20)  # an order whose taker is the zero address may be filled by anyone

MarketId = Annotated[str, MaxLen(16)]
Height = Annotated[int, Range(0, 2**63 - 1)]
TimeMs = Annotated[int, Range(0, 2**63 - 1)]  # a block time (header time_ms)
Nonce = Annotated[int, Range(0, 2**63 - 1)]
Ppm = Annotated[int, Range(0, 2**63 - 1)]  # parts per million; bounds checked by settlement
PubKey = Annotated[bytes, Len(32)]
Sig = Annotated[bytes, Len(64)]
OracleList = Annotated[list[Address], MaxLen(32)]


# --------------------------------------------------------------------------- markets and oracles


@dataclass(frozen=True, slots=True)
class MarketParams(Record):
    """Risk parameters of a perpetual market (all fractions in ppm, times in ms)."""

    imf_ppm: Ppm  # base initial margin fraction
    mmf_ppm: Ppm  # base maintenance margin fraction
    margin_cap_ppm: Ppm  # cap of the dynamic-margin scale (1_000_000 = no scaling)
    vol_alpha_ppm: Ppm  # EWMA weight of the newest squared return
    vol_ref_ppm: Ppm  # per-update volatility already priced into the base fractions
    vol_k: Ppm  # scale added per ppm of volatility above vol_ref (ppm of scale per ppm)
    oi_cap: Amount  # open-interest cap, in lots
    lot_size: Amount  # base units per lot (the size of every position is in lots)
    funding_interval_ms: Ppm
    funding_cap_ppm: Ppm  # |funding rate| cap per interval
    oracle_fresh_ms: Ppm  # a report older than this (by block time) is stale
    oracle_deviation_ppm: Ppm  # max distance of the market price from the oracle reference price
    trade_band_ppm: Ppm  # max distance of a trade price from the oracle price
    liq_buffer_ppm: Ppm  # partial liquidation closes until equity >= MMR + buffer x MMR
    liq_penalty_ppm: Ppm  # penalty on the closed notional, paid to the insurance fund
    oracle_twap_window_ms: Ppm  # window of the oracle reference price (time-weighted average)
    oracle_max_move_ppm: Ppm  # max move of the market price from the previous block's price, per block
    funding_interest_ppm: Ppm  # interest component of the funding rate, ppm per 8 hours
    funding_impact_notional: Amount  # a block's premium sample weighs at least this volume (quote base units)


@dataclass(frozen=True, slots=True)
class RegisterMarket(Record):
    """Admin lists a perpetual market on ``base`` margined and settled in asset ``quote``."""

    market: MarketId
    base: Annotated[str, MaxLen(16)]
    quote: Symbol
    params: MarketParams
    oracles: OracleList


@dataclass(frozen=True, slots=True)
class SetOracles(Record):
    """Admin replaces the oracle set of a market (each must hold the oracle role)."""

    market: MarketId
    oracles: OracleList


@dataclass(frozen=True, slots=True)
class PriceReport(Record):
    """An oracle reports ``price`` (quote base units per lot) for ``market``."""

    market: MarketId
    price: Amount


# --------------------------------------------------------------------------- margin


@dataclass(frozen=True, slots=True)
class MarginDeposit(Record):
    """Move ``amount`` of ``asset`` from the sender's balance into its margin."""

    asset: Symbol
    amount: Amount


@dataclass(frozen=True, slots=True)
class MarginWithdraw(Record):
    """Move ``amount`` of ``asset`` from the sender's margin back to its balance."""

    asset: Symbol
    amount: Amount


@dataclass(frozen=True, slots=True)
class InsuranceDeposit(Record):
    """Donate ``amount`` of ``asset`` from the sender's balance to the insurance fund."""

    asset: Symbol
    amount: Amount


# --------------------------------------------------------------------------- orders and trades


@dataclass(frozen=True, slots=True)
class Order(Record):
    """What a maker signs: ``side`` ("buy" or "sell") ``size`` lots at ``price`` per lot."""

    market: MarketId
    side: Annotated[str, MaxLen(8)]
    size: Amount
    price: Amount
    expiry_height: Height  # last height at which the order may be filled
    nonce: Nonce  # per-maker order id: fills are counted against it, never replayed
    taker: Address  # ANY_TAKER, or the only account allowed to fill

    def sign_bytes(self, chain_id: str) -> bytes:
        return ORDER_DOMAIN + encode([chain_id, self.to_obj()])


@dataclass(frozen=True, slots=True)
class SignedOrder(Record):
    order: Order
    maker: PubKey
    signature: Sig

    def verify(self, chain_id: str) -> bool:
        return verify(self.maker, self.order.sign_bytes(chain_id), self.signature)


def sign_order(key: PrivateKey, chain_id: str, order: Order) -> SignedOrder:
    """The maker's offline signature over ``order`` for chain ``chain_id``."""
    return SignedOrder(order, key.pubkey, key.sign(order.sign_bytes(chain_id)))


@dataclass(frozen=True, slots=True)
class Trade(Record):
    """The sender (taker) fills ``size`` lots of a maker-signed order on the other side."""

    order: SignedOrder
    size: Amount


@dataclass(frozen=True, slots=True)
class CancelOrder(Record):
    """The sender (a maker) voids its order ``nonce``: no further fills."""

    nonce: Nonce


# --------------------------------------------------------------------------- atomic settlement


@dataclass(frozen=True, slots=True)
class SwapTerms(Record):
    """DvP terms: ``maker`` gives ``give_amount`` of ``give_asset`` to ``taker`` and gets ``get_amount`` of ``get_asset``."""

    maker: Address
    taker: Address
    give_asset: Symbol
    give_amount: Amount
    get_asset: Symbol
    get_amount: Amount
    expiry_height: Height
    nonce: Nonce  # per-maker swap id, usable once

    def sign_bytes(self, chain_id: str) -> bytes:
        return SWAP_DOMAIN + encode([chain_id, self.to_obj()])


@dataclass(frozen=True, slots=True)
class Swap(Record):
    """The taker submits terms signed by the maker; its own tx signature covers the same terms."""

    terms: SwapTerms
    maker_pubkey: PubKey
    maker_signature: Sig


def sign_swap_terms(key: PrivateKey, chain_id: str, terms: SwapTerms) -> Swap:
    """The maker's offline signature, ready to be submitted by the taker."""
    return Swap(terms, key.pubkey, key.sign(terms.sign_bytes(chain_id)))


@dataclass(frozen=True, slots=True)
class HtlcLock(Record):
    """Lock ``amount`` of ``asset`` for ``receiver`` under ``sha256(preimage) == hashlock`` until its timeout.

    The timeout is ``timeout_height`` (a block height), ``timeout_ms`` (a block
    time, header ``time_ms``), or both: the HTLC times out at whichever comes
    first; 0 leaves that one unset (at least one must be set).  Cross-chain
    swaps use block time, the one clock two networks share.
    """

    asset: Symbol
    amount: Amount
    receiver: Address
    hashlock: Annotated[bytes, Len(32)]
    timeout_height: Height
    timeout_ms: TimeMs = 0


@dataclass(frozen=True, slots=True)
class HtlcClaim(Record):
    """The receiver claims an HTLC by revealing the preimage before its timeout."""

    htlc_id: Annotated[bytes, Len(32)]
    preimage: Annotated[bytes, MaxLen(256)]


@dataclass(frozen=True, slots=True)
class HtlcRefund(Record):
    """The sender takes an unclaimed HTLC back once it timed out (its timeout height or block time reached)."""

    htlc_id: Annotated[bytes, Len(32)]
