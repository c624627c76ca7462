"""Body records of the portfolio-margin transaction kinds.

Owns: the field layout of ``set_pm_params`` (admin: the scenario grid of one
underlying, :class:`PmParams`) and ``set_margin_mode`` (an account chooses
"standard" or "portfolio").  Pure data: bounds, permissions and whether a
switch is allowed are for ``settlement/risk/pm/``, which answers with a
receipt naming the rule.  Fractions are in ppm (``1_000_000`` = 100 %).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from .codec import MaxLen, Range, Record

__all__ = ["PmParams", "SetMarginMode", "SetPmParams"]

MarketId = Annotated[str, MaxLen(16)]
Ppm = Annotated[int, Range(-(2**63), 2**63 - 1)]  # bounds checked by settlement


@dataclass(frozen=True, slots=True)
class PmParams(Record):
    """Scenario grid of one underlying (docs/portfolio-margin.md "The grid")."""

    scan_range_ppm: Ppm  # the price scan range, relative to the underlying's price (CME SPAN "price scan range")
    vol_up_ppm: Ppm  # relative vol shock up: vol' = vol x (1 + vol_up)
    vol_down_ppm: Ppm  # relative vol shock down: vol' = vol x (1 - vol_down)
    extreme_multiple: Ppm  # the extreme moves are +- this x the scan range (SPAN: 3)
    extreme_fraction_ppm: Ppm  # share of an extreme move's loss counted (SPAN: 35 %)
    short_option_min_ppm: Ppm  # per short option contract, of the underlying value of the contract
    mmr_fraction_ppm: Ppm  # MMR = this x the requirement (IMR)


@dataclass(frozen=True, slots=True)
class SetPmParams(Record):
    """Admin sets (or replaces) the portfolio-margin grid of the perpetual market ``underlying``."""

    underlying: MarketId
    params: PmParams


@dataclass(frozen=True, slots=True)
class SetMarginMode(Record):
    """The sender switches its margin mode: "standard" (the default) or "portfolio"."""

    mode: Annotated[str, MaxLen(16)]
