"""The SPAN-like scenario requirement of one underlying's positions: a pure function.

Owns the scenario grid (CME SPAN's 16 risk scenarios), the revaluation of an
account's positions on one underlying in each scenario and the requirement
they imply.  Pure: no state, no clock; never decides a mode, never reads a
price (``mode.py`` builds the legs) and never liquidates.

Grid (``PmParams`` of the underlying, fractions in ppm): with the
underlying's price ``S`` and scan range ``R``, the move of ``j`` thirds is
``d_j = floor(S x j x R / (3 x 10^6))`` (j = 1, 2, 3) and the extreme move
``d_x = floor(S x extreme_multiple x R / 10^6)`` (magnitudes rounded down: the
grid is a parameter; the losses below are rounded against the account).  The
scenarios, in SPAN's order, with ``up``/``down`` the vol shocks::

     1  0      up     2  0      down
     3  +d_1   up     4  +d_1   down     5  -d_1   up     6  -d_1   down
     7  +d_2   up     8  +d_2   down     9  -d_2   up    10  -d_2   down
    11  +d_3   up    12  +d_3   down    13  -d_3   up    14  -d_3   down
    15  +d_x   up  (extreme)            16  -d_x   up  (extreme)

``S' = max(S + d, 0)``; ``vol' = floor(vol x (10^6 + vol_up) / 10^6)`` (up) or
``floor(vol x (10^6 - vol_down) / 10^6)`` (down); the time to expiry is the
leg's own (the mark's).  P&L of a scenario, at scale 10^6::

    pnl6 = sum_perps size x (S' - S) x 10^6
         + sum_options (n x c x bs_value6(S', K, vol', T, r) - 10^6 x base)

with ``base = floor(n x c x mark6 / 10^6)`` -- exactly the option value the
account's equity counts (long: rounded down, short: the liability rounded
up), so the P&L is measured from equity.  The table's P&L is
``floor(pnl6 / 10^6)`` (scenarios 1-14) and ``floor(pnl6 x extreme_fraction
/ 10^12)`` (15-16): a loss is rounded up, a gain down.  Then::

    scan  = max(0, -min_s P&L_s)
    short = sum_short_options ceil(|n| x c x S x short_option_min / 10^6)
    requirement = max(scan, short)

Risk arrays (CME SPAN's): the value of one lot of a series in each scenario,
``array_s = bs_value6(S'_s, K, vol'_s, T, r)``, depends on the series and the
underlying's spot and grid only, not on the account; :func:`risk_arrays`
computes the call's and the put's of a strike together, and ``mode.py`` keeps
them in the session, so every account of a block shares them.  The option
sum above is ``sum n x c x array_s - 10^6 x sum base``: the same integers.

The binding scenario is the first (in grid order) with the worst P&L, or
``"short_option_min"`` when the floor is strictly larger.  A long option's
loss never exceeds what equity counts for it (``bs_value6 >= 0``), so a book
of long options and no debt never breaches.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from ..options.pricing import bs_values6

__all__ = ["OptionLeg", "Scenario", "GRID", "array_key", "clear_memos", "requirement", "risk_array", "risk_arrays", "scenario_spots", "scenario_vols",
           "short_option_min", "spot_move"]

ONE = 10**6
SHORT_MIN = "short_option_min"


class OptionLeg(NamedTuple):
    """``n`` contracts (+ long, - short) of ``lots`` lots each; mark6 per lot (10^6 x quote base units).

    A named tuple (immutable, built for every leg of every evaluated account: ~5x cheaper than a frozen dataclass).
    """

    n: int
    lots: int
    is_call: bool
    strike: int
    vol_ppm: int
    t_ms: int
    rate_ppm: int
    mark6: int


@dataclass(frozen=True, slots=True)
class Scenario:
    """A grid point: the spot move in thirds of the scan range (``extreme``: x extreme_multiple instead), and the vol shock."""

    name: str
    thirds: int  # -3 .. 3; for an extreme move: its sign (+-1)
    vol_up: bool
    extreme: bool


def _grid() -> tuple[Scenario, ...]:
    out = [Scenario("0 vol up", 0, True, False), Scenario("0 vol down", 0, False, False)]
    for j in (1, 2, 3):
        for sign in (1, -1):
            for up in (True, False):
                out.append(Scenario(f"{'+' if sign > 0 else '-'}{j}/3 vol {'up' if up else 'down'}", sign * j, up, False))
    out.append(Scenario("+extreme vol up", 1, True, True))
    out.append(Scenario("-extreme vol up", -1, True, True))
    return tuple(out)


GRID = _grid()  # the 16 scenarios, in SPAN's order (module docstring)
_VOL_UP = tuple(sc.vol_up for sc in GRID)


def spot_move(spot: int, sc: Scenario, params) -> int:
    """The scenario's spot move from ``spot`` (quote base units per lot): its magnitude rounded down (module docstring)."""
    r = params.scan_range_ppm
    if sc.extreme:
        d = spot * params.extreme_multiple * r // ONE
        return d if sc.thirds > 0 else -d
    d = spot * abs(sc.thirds) * r // (3 * ONE)
    return d if sc.thirds >= 0 else -d


def short_option_min(spot: int, options: list[OptionLeg], params) -> int:
    """The short-option minimum: sum over short legs of ceil(|n| x c x S x short_option_min / 10^6)."""
    out = 0
    for leg in options:
        if leg.n < 0:
            out += -(-(-leg.n) * leg.lots * spot * params.short_option_min_ppm // ONE)
    return out


@lru_cache(maxsize=256)
def scenario_spots(spot: int, params) -> tuple[int, ...]:
    """``S' = max(S + d, 0)`` of each scenario, in grid order (module docstring; memoised: shared by every leg)."""
    out = []
    for sc in GRID:
        s1 = spot + spot_move(spot, sc, params)
        out.append(s1 if s1 > 0 else 0)
    return tuple(out)


def scenario_vols(vol_ppm: int, params) -> tuple[int, int]:
    """(vol up, vol down) of a leg's vol: ``floor(vol x (10^6 +- shock) / 10^6)`` (module docstring)."""
    return vol_ppm * (ONE + params.vol_up_ppm) // ONE, vol_ppm * (ONE - params.vol_down_ppm) // ONE


def array_key(spot: int, leg: OptionLeg, params) -> tuple:
    """Everything :func:`risk_arrays` depends on (a memo's key): the spot, the strike's pricing inputs and the grid's moves."""
    return (spot, leg.strike, leg.vol_ppm, leg.t_ms, leg.rate_ppm,
            params.scan_range_ppm, params.vol_up_ppm, params.vol_down_ppm, params.extreme_multiple)


def risk_arrays(spot: int, leg: OptionLeg, params) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(call's, put's) risk array of the leg's strike, expiry, vol and rate: ``bs_value6(S'_s, K, vol'_s, T, r)`` of ONE lot in each scenario ``s``, in grid order.

    Depends on the series' pricing inputs only (``leg.n``, ``leg.lots``,
    ``leg.mark6`` and ``leg.is_call`` are not read), so one array serves every
    account holding the series (CME SPAN publishes one risk array per
    contract), and the call and the put of a strike share their N(d1), N(d2).
    The values are exactly the pricer's (``pricing.bs_values6``: the same
    integers as ``bs_value6`` point by point, its error bound unchanged).
    """
    return _strike_arrays(spot, leg.strike, leg.vol_ppm, leg.t_ms, leg.rate_ppm, params)


@lru_cache(maxsize=2048)
def _strike_arrays(spot: int, strike: int, vol_ppm: int, t_ms: int, rate_ppm: int, params) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """:func:`risk_arrays`, memoised across sessions (each tx's handler and each view opens its own; invisible, as the pricer's memos)."""
    up, down = scenario_vols(vol_ppm, params)
    points = [(s1, up if vol_up else down) for s1, vol_up in zip(scenario_spots(spot, params), _VOL_UP)]
    calls, puts = bs_values6(points, strike, t_ms, rate_ppm)
    return tuple(calls), tuple(puts)


def risk_array(spot: int, leg: OptionLeg, params) -> tuple[int, ...]:
    """The leg's series' risk array (its kind's half of :func:`risk_arrays`)."""
    return risk_arrays(spot, leg, params)[0 if leg.is_call else 1]


def requirement(spot: int, perp_size: int, options: list[OptionLeg], params,
                arrays: list[tuple[int, ...]] | None = None) -> tuple[int, list[tuple[str, int]], str]:
    """(requirement, [(scenario, P&L)] in grid order, binding scenario) of one underlying (module docstring).

    Args:
        spot: the underlying's price S (quote base units per lot).
        perp_size: the account's perpetual position on the underlying, in lots (0: none).
        options: its option legs on the underlying.
        params: the underlying's ``PmParams``.
        arrays: the legs' :func:`risk_array` at ``spot`` and ``params``, in the order of
            ``options`` (a caller's memo); computed here when None.

    ``pnl6_s = perp_size x (S'_s - S) x 10^6 + sum_legs n x c x array_s - 10^6 x sum_legs base``:
    the module docstring's sum, regrouped (integers: the same value).
    """
    if arrays is None:
        arrays = [risk_array(spot, leg, params) for leg in options]
    base = 0
    acc = [0] * len(GRID)
    for leg, arr in zip(options, arrays):
        w = leg.n * leg.lots
        base += w * leg.mark6 // ONE  # what equity counts (floor: against the account)
        acc = [a + w * v for a, v in zip(acc, arr)]
    base6 = base * ONE
    extreme = params.extreme_fraction_ppm
    table: list[tuple[str, int]] = []
    worst, binding = None, GRID[0].name
    for sc, s1, a in zip(GRID, scenario_spots(spot, params), acc):
        pnl6 = perp_size * (s1 - spot) * ONE + a - base6
        pnl = pnl6 * extreme // (ONE * ONE) if sc.extreme else pnl6 // ONE  # floor: a loss rounds up
        table.append((sc.name, pnl))
        if worst is None or pnl < worst:
            worst, binding = pnl, sc.name
    scan = -worst if worst < 0 else 0
    floor_ = short_option_min(spot, options, params)
    if floor_ > scan:
        return floor_, table, SHORT_MIN
    return scan, table, binding


def clear_memos() -> None:
    """Empty the module's memos (benchmarks and tests; results never depend on them)."""
    _strike_arrays.cache_clear()
    scenario_spots.cache_clear()
