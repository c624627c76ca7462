"""Perpetual market listing: ``register_market`` and ``set_oracles``, parameter checks and defaults.

Owns the rules a market's parameters must satisfy and the default parameter
sets (dYdX v4 margin tiers).  Never trades, prices or liquidates; the market
state it creates starts stale (no price) so nothing can trade before the
oracles have reported.
"""
from __future__ import annotations

import dataclasses
import re

from ledger.keys import format_address
from ledger.receipt import Event
from ledger.txkinds_risk import MarketParams, RegisterMarket, SetOracles

from ..accounts import MAX_AMOUNT
from ..context import BlockContext
from ..errors import AlreadyExists, InvalidParameter, NotPermitted, UnknownMarket
from . import collateral
from .records import ONE, Market, Session
from ..state import State
from ..transfers import require_asset, require_role

__all__ = ["DEFAULTS", "MARKET_RE", "TIERS", "default_params", "validate_params"]

MARKET_RE = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,15}$")

# (initial, maintenance) margin fractions in ppm: dYdX v4 tiers
TIERS = {"large": (50_000, 30_000), "mid": (100_000, 50_000), "long-tail": (200_000, 100_000)}

DEFAULTS = dict(
    margin_cap_ppm=3_000_000,  # effective fractions at most 3x the base
    vol_alpha_ppm=60_000,  # EWMA weight of the newest squared return (~16-update memory)
    vol_ref_ppm=5_000,  # 0.5 % per update is already priced into the base fractions
    vol_k=20,  # +2 % of scale per 0.1 % of volatility above the reference
    oi_cap=10**15,
    lot_size=1,
    funding_interval_ms=3_600_000,
    funding_cap_ppm=1_000,  # 0.1 % per interval
    oracle_fresh_ms=60_000,
    oracle_deviation_ppm=500_000,  # the price stays within 50 % of its 5-minute reference (Drift's default)
    trade_band_ppm=100_000,  # trades within 10 % of the oracle price
    liq_buffer_ppm=20_000,  # close until equity >= MMR + 2 % of MMR
    liq_penalty_ppm=15_000,  # 1.5 % of the closed notional to the insurance fund
    oracle_twap_window_ms=300_000,  # 5-minute oracle reference price (Drift's oracle TWAP)
    oracle_max_move_ppm=200_000,  # the price moves at most 20 % per block
    funding_interest_ppm=100,  # 0.01 % per 8 hours (dYdX v4)
)

# dYdX v4 impact notional: 500 USD of initial margin, i.e. 500 USD / IMF of volume
# (10,000 USD in the ``large`` tier); in base units of a 6-decimal quote asset
IMPACT_MARGIN = 500 * 10**6


def default_params(tier: str = "large", **overrides) -> MarketParams:
    """A parameter set: the tier's margin fractions plus :data:`DEFAULTS`, with overrides.

    ``funding_impact_notional`` defaults to ``500 USD / imf`` (dYdX v4) in base units of a
    6-decimal quote asset; override it for a quote asset with other decimals.
    """
    imf, mmf = TIERS[tier]
    values = dict(DEFAULTS, imf_ppm=imf, mmf_ppm=mmf, funding_impact_notional=IMPACT_MARGIN * ONE // imf)
    values.update(overrides)
    return MarketParams(**values)


def validate_params(p: MarketParams) -> None:
    """Raise InvalidParameter naming the first parameter out of its range."""
    rules = [
        ("mmf_ppm", 0 < p.mmf_ppm < p.imf_ppm, "0 < mmf_ppm < imf_ppm"),
        ("imf_ppm", p.imf_ppm <= ONE, "imf_ppm <= 1_000_000"),
        ("liq_penalty_ppm", p.liq_penalty_ppm < p.mmf_ppm, "liq_penalty_ppm < mmf_ppm (a partial liquidation must improve the account)"),
        ("liq_buffer_ppm", p.liq_buffer_ppm <= ONE, "liq_buffer_ppm <= 1_000_000"),
        ("margin_cap_ppm", ONE <= p.margin_cap_ppm <= 10 * ONE, "1_000_000 <= margin_cap_ppm <= 10_000_000"),
        ("vol_alpha_ppm", 0 < p.vol_alpha_ppm <= ONE, "0 < vol_alpha_ppm <= 1_000_000"),
        ("vol_ref_ppm", p.vol_ref_ppm <= ONE, "vol_ref_ppm <= 1_000_000"),
        ("vol_k", p.vol_k <= 1_000, "vol_k <= 1000"),
        ("oi_cap", 0 < p.oi_cap <= MAX_AMOUNT, "0 < oi_cap < 2**63"),
        ("lot_size", 0 < p.lot_size <= MAX_AMOUNT, "0 < lot_size < 2**63"),
        ("funding_interval_ms", 1_000 <= p.funding_interval_ms <= 30 * 86_400_000, "1 s <= funding_interval_ms <= 30 days"),
        ("funding_cap_ppm", p.funding_cap_ppm <= p.mmf_ppm, "funding_cap_ppm <= mmf_ppm"),
        ("oracle_fresh_ms", 0 < p.oracle_fresh_ms <= 86_400_000, "0 < oracle_fresh_ms <= 1 day"),
        ("oracle_deviation_ppm", 0 < p.oracle_deviation_ppm <= 10 * ONE, "0 < oracle_deviation_ppm <= 10_000_000"),
        ("trade_band_ppm", 0 < p.trade_band_ppm <= ONE, "0 < trade_band_ppm <= 1_000_000"),
        ("oracle_twap_window_ms", 0 < p.oracle_twap_window_ms <= 86_400_000, "0 < oracle_twap_window_ms <= 1 day"),
        ("oracle_max_move_ppm", 0 < p.oracle_max_move_ppm <= 10 * ONE, "0 < oracle_max_move_ppm <= 10_000_000"),
        ("funding_interest_ppm", p.funding_interest_ppm <= ONE, "funding_interest_ppm <= 1_000_000 (per 8 hours)"),
        ("funding_impact_notional", 0 < p.funding_impact_notional <= MAX_AMOUNT, "0 < funding_impact_notional < 2**63"),
    ]
    for name, ok, rule in rules:
        if not ok:
            raise InvalidParameter(f"market parameter {name}={getattr(p, name)} breaks the rule {rule}")


def check_oracles(state: State, oracles: tuple[bytes, ...]) -> None:
    if not oracles:
        raise InvalidParameter("a market needs at least one oracle")
    if len(set(oracles)) != len(oracles):
        raise InvalidParameter("oracle list has duplicates")
    for o in oracles:
        try:
            require_role(state, o, "oracle")
        except NotPermitted:
            raise InvalidParameter(f"{format_address(o)} does not have the oracle role") from None


def register_market(state: State, ctx: BlockContext, sender: bytes, body: RegisterMarket) -> list[Event]:
    require_role(state, sender, "admin")
    if not MARKET_RE.match(body.market):
        raise InvalidParameter(f"market id {body.market!r} must match {MARKET_RE.pattern}")
    if not body.base or len(body.base) > 16:
        raise InvalidParameter("base must be 1..16 characters")
    require_asset(state, body.quote)
    validate_params(body.params)
    check_oracles(state, body.oracles)
    sess = Session(state, ctx)
    if collateral.params(sess, body.quote) is not None:  # its margin cash backs another asset (collateral.py)
        raise InvalidParameter(f"{body.quote} is listed as collateral: it cannot settle market {body.market} too")
    if sess.market(body.market) is not None:
        raise AlreadyExists(f"market {body.market} already exists")
    market = Market(body.market, body.base, body.quote, body.params, tuple(sorted(body.oracles)))
    sess.add_market(market)
    sess.flush()
    attrs = {"market": body.market, "base": body.base, "quote": body.quote, "oracles": len(body.oracles)}
    attrs.update({f.name: getattr(body.params, f.name) for f in dataclasses.fields(MarketParams)})
    return [Event("market_registered", attrs)]


def set_oracles(state: State, ctx: BlockContext, sender: bytes, body: SetOracles) -> list[Event]:
    require_role(state, sender, "admin")
    sess = Session(state, ctx)
    market = sess.market(body.market)
    if market is None:
        raise UnknownMarket(f"unknown market {body.market!r}")
    check_oracles(state, body.oracles)
    sess.replace_market(dataclasses.replace(market, oracles=tuple(sorted(body.oracles))))
    return [Event("oracles_set", {"market": body.market, "oracles": list(sorted(body.oracles))})]


HANDLERS = {"register_market": register_market, "set_oracles": set_oracles}
