"""Body records of the options transaction kinds, and the offline-signed option order.

Owns: the field layout of ``set_option_params``, ``register_option_series``,
``register_option_chain``, ``vol_report`` and ``option_trade``; the
:class:`OptionOrder` a maker signs for a bilateral option trade, with its
domain-separated sign-bytes.  Pure data: whether an underlying exists, a
series is expired or a price is inside the band is for settlement/options/,
which answers with a receipt naming the rule.

Units (docs/options.md):

* the underlying is a perpetual market; its oracle price ``S`` is in quote
  base units per lot, and the options settle in that market's quote asset;
* ``strike`` is in the same unit (quote base units per lot of the underlying);
* one contract is ``contract_lots`` lots of the underlying, so a mark per
  contract is ``contract_lots x`` the Black-Scholes value per lot;
* an option order's ``price`` is the premium per contract, in quote base units;
* volatilities are annualized, in ppm (``1_000_000`` = 100 %); rates are
  annual, continuously compounded, in ppm; times are block times in ms.

Sign-bytes::

    option order: b"settle/option-order/v1\\x00" || encode([chain_id, order])
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from .codec import Len, MaxLen, Range, Record, encode
from .fields import Address, Amount
from .keys import PrivateKey, verify

__all__ = [
    "OPTION_ORDER_DOMAIN",
    "OptionOrder",
    "OptionParams",
    "OptionTrade",
    "RegisterOptionChain",
    "RegisterOptionSeries",
    "SetOptionParams",
    "SignedOptionOrder",
    "VolPoint",
    "VolReport",
    "sign_option_order",
]

OPTION_ORDER_DOMAIN = b"settle/option-order/v1\x00"

MarketId = Annotated[str, MaxLen(16)]
SeriesId = Annotated[str, MaxLen(64)]
Kind = Annotated[str, MaxLen(4)]  # "call" | "put"
TimeMs = Annotated[int, Range(0, 2**63 - 1)]
Height = Annotated[int, Range(0, 2**63 - 1)]
Nonce = Annotated[int, Range(0, 2**63 - 1)]
Ppm = Annotated[int, Range(-(2**63), 2**63 - 1)]  # bounds checked by settlement
PubKey = Annotated[bytes, Len(32)]
Sig = Annotated[bytes, Len(64)]


# --------------------------------------------------------------------------- parameters and series


@dataclass(frozen=True, slots=True)
class OptionParams(Record):
    """Option parameters of one underlying (fractions in ppm, times in ms)."""

    rate_ppm: Ppm  # annual risk-free rate of the Black-Scholes-Merton marks (continuous)
    settlement_window_ms: Ppm  # expiry settles at the time-weighted price over this window (Deribit: 30 min)
    vol_fresh_ms: Ppm  # a vol report older than this (by block time) is stale
    trade_band_ppm: Ppm  # a trade's premium stays within mark +- this x the underlying value of a contract
    im_base_ppm: Ppm  # short IM: max(im_base - OTM/S, im_floor) x S + mark (Deribit: 0.15)
    im_floor_ppm: Ppm  # (Deribit: 0.10)
    mm_ppm: Ppm  # short MM: mm x S + mark (Deribit: 0.075)
    liq_penalty_ppm: Ppm  # liquidation penalty, ppm of the underlying value of the closed contracts
    vol_band_ppm: Ppm  # the liquidation sweep re-checks option accounts when a vol moves past this (relative)
    recheck_ms: Ppm  # ... and at least this often (the horizon of an account's safe band)


@dataclass(frozen=True, slots=True)
class SetOptionParams(Record):
    """Admin enables options on the perpetual market ``underlying`` (or replaces their parameters)."""

    underlying: MarketId
    params: OptionParams


@dataclass(frozen=True, slots=True)
class RegisterOptionSeries(Record):
    """Admin lists one European, cash-settled series on ``underlying``."""

    underlying: MarketId
    kind: Kind
    strike: Amount  # quote base units per lot of the underlying
    expiry_ms: TimeMs
    contract_lots: Amount  # lots of the underlying per contract


@dataclass(frozen=True, slots=True)
class RegisterOptionChain(Record):
    """Admin lists a call and a put for every strike x expiry (a chain, in one tx)."""

    underlying: MarketId
    strikes: Annotated[list[Amount], MaxLen(64)]
    expiries_ms: Annotated[list[TimeMs], MaxLen(16)]
    contract_lots: Amount


# --------------------------------------------------------------------------- volatility oracles


@dataclass(frozen=True, slots=True)
class VolPoint(Record):
    """An implied volatility at (expiry, strike), annualized, in ppm."""

    expiry_ms: TimeMs
    strike: Amount
    vol_ppm: Amount


@dataclass(frozen=True, slots=True)
class VolReport(Record):
    """An oracle of ``underlying`` reports its implied-volatility points (replacing its previous report)."""

    underlying: MarketId
    points: Annotated[list[VolPoint], MaxLen(256)]


# --------------------------------------------------------------------------- orders and trades


@dataclass(frozen=True, slots=True)
class OptionOrder(Record):
    """What a maker signs: ``side`` ("buy" or "sell") ``size`` contracts of ``series`` at premium ``price`` each."""

    series: SeriesId
    side: Annotated[str, MaxLen(8)]
    size: Amount
    price: Amount  # premium per contract, quote base units
    expiry_height: Height  # last height at which the order may be filled
    nonce: Nonce  # per-maker order id (shared with perpetual orders): never replayed
    taker: Address  # ANY_TAKER (zero address), or the only account allowed to fill

    def sign_bytes(self, chain_id: str) -> bytes:
        return OPTION_ORDER_DOMAIN + encode([chain_id, self.to_obj()])


@dataclass(frozen=True, slots=True)
class SignedOptionOrder(Record):
    order: OptionOrder
    maker: PubKey
    signature: Sig

    def verify(self, chain_id: str) -> bool:
        return verify(self.maker, self.order.sign_bytes(chain_id), self.signature)


def sign_option_order(key: PrivateKey, chain_id: str, order: OptionOrder) -> SignedOptionOrder:
    """The maker's offline signature over ``order`` for chain ``chain_id``."""
    return SignedOptionOrder(order, key.pubkey, key.sign(order.sign_bytes(chain_id)))


@dataclass(frozen=True, slots=True)
class OptionTrade(Record):
    """The sender (taker) fills ``size`` contracts of a maker-signed option order on the other side."""

    order: SignedOptionOrder
    size: Amount
