"""Body records of the portfolio-margin and multi-asset collateral transaction kinds.

Owns: the field layout of ``set_collateral`` (and :class:`CollateralParams`),
``set_pm_params`` (admin: the scenario grid of one underlying,
:class:`PmParams`) and ``set_margin_mode`` (an account chooses "standard" or
"portfolio").  Pure data: whether the asset or its price market exists, and
whether the parameters are in range, is for ``settlement/risk/collateral.py``;
bounds, permissions and whether a switch is allowed are for
``settlement/risk/pm/``; each answers with a receipt naming the rule.

Units: fractions in ppm (``1_000_000`` = 100 %).  The value of a balance ``b``
of the collateral asset is ``floor(b x P x (10^6 - haircut_ppm) / (lot_size x
10^6))`` base units of ``backs``, with ``P`` the price (``backs`` base units per
lot) of ``price_market`` and ``lot_size`` its base units per lot.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from .codec import MaxLen, Range, Record
from .fields import Symbol

__all__ = ["CollateralParams", "PmParams", "SetCollateral", "SetMarginMode", "SetPmParams"]

MarketId = Annotated[str, MaxLen(16)]
Ppm = Annotated[int, Range(0, 2**63 - 1)]  # bounds checked by settlement
SignedPpm = Annotated[int, Range(-(2**63), 2**63 - 1)]  # bounds checked by settlement


@dataclass(frozen=True, slots=True)
class CollateralParams(Record):
    """How one asset backs positions settled in another (fractions in ppm)."""

    backs: Symbol  # the settlement asset it can back, e.g. "USD"
    price_market: MarketId  # a perpetual market with base == the asset and quote == backs
    haircut_ppm: Ppm  # the value counted is (1 - haircut) x the oracle value
    cap_ppm: Ppm  # at most this share of the account's total collateral value comes from this asset
    liq_discount_ppm: Ppm  # a breached account's balance is sold to the insurance fund at (1 - discount) x oracle
    enabled: bool  # False: counts nothing (holders keep their balance and may withdraw it)


@dataclass(frozen=True, slots=True)
class SetCollateral(Record):
    """Admin lists ``asset`` as collateral (or replaces its parameters)."""

    asset: Symbol
    params: CollateralParams


@dataclass(frozen=True, slots=True)
class PmParams(Record):
    """Scenario grid of one underlying (docs/portfolio-margin.md "The grid")."""

    scan_range_ppm: SignedPpm  # the price scan range, relative to the underlying's price (CME SPAN "price scan range")
    vol_up_ppm: SignedPpm  # relative vol shock up: vol' = vol x (1 + vol_up)
    vol_down_ppm: SignedPpm  # relative vol shock down: vol' = vol x (1 - vol_down)
    extreme_multiple: SignedPpm  # the extreme moves are +- this x the scan range (SPAN: 3)
    extreme_fraction_ppm: SignedPpm  # share of an extreme move's loss counted (SPAN: 35 %)
    short_option_min_ppm: SignedPpm  # per short option contract, of the underlying value of the contract
    mmr_fraction_ppm: SignedPpm  # MMR = this x the requirement (IMR)


@dataclass(frozen=True, slots=True)
class SetPmParams(Record):
    """Admin sets (or replaces) the portfolio-margin grid of the perpetual market ``underlying``."""

    underlying: MarketId
    params: PmParams


@dataclass(frozen=True, slots=True)
class SetMarginMode(Record):
    """The sender switches its margin mode: "standard" (the default) or "portfolio"."""

    mode: Annotated[str, MaxLen(16)]
