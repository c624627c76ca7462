"""Marks and greeks of an option chain recomputed as in one block: the pricer's cost per block.

A realistic chain on one underlying: 10 expiries (1 day .. 1 year) x 50 strikes (0.5 .. 2 x
spot) x call and put = 1,000 series, vols on a smile.  Each run is a new block: the spot moves
and the block time advances, so every d1/d2, N(d1), N(d2) is computed afresh; what repeats
between blocks (ln of each strike) stays memoised as it would on a node.  ``--cold`` clears every
memo before each run.  Not a timed test: prints min / median / max ms over the runs (target
<= 50 ms for 1,000 series).

    python3 -m bench.options_marks [--runs 30] [--cold] [--narrow] [--profile]
"""
from __future__ import annotations

import argparse
import statistics
import time

from settlement.risk.options import pricing
from settlement.risk.options.pricing import YEAR_MS, bs_greeks

DAY_MS = 86_400_000
EXPIRY_DAYS = (1, 3, 7, 14, 30, 60, 90, 180, 270, 365)
STRIKES = 50


def chain(spot: int, narrow: bool = False) -> list[tuple[int, int, int, bool]]:
    """(strike, expiry offset ms, vol_ppm, is_call) of the 1,000 series, strikes 0.5 .. 2 x ``spot``
    (``narrow``: 0.9 .. 1.1 x spot, where no d1/d2 falls beyond the normal table's cut-off)."""
    lo, span = (spot * 9 // 10, spot // 5) if narrow else (spot // 2, 3 * spot // 2)
    out = []
    for days in EXPIRY_DAYS:
        for i in range(STRIKES):
            strike = lo + span * i // (STRIKES - 1)
            moneyness_ppm = abs(strike - spot) * 10**6 // spot
            vol = 550_000 + moneyness_ppm * 4 // 10 + 200_000 * 7 // (days + 7)  # smile + term structure
            for is_call in (True, False):
                out.append((strike, days * DAY_MS, vol, is_call))
    return out


def one_block(spot: int, elapsed_ms: int, series: list[tuple[int, int, int, bool]], rate_ppm: int) -> int:
    """Value6 + greeks of every series; returns a checksum so nothing is optimised away."""
    total = 0
    for strike, expiry, vol, is_call in series:
        g = bs_greeks(spot, strike, vol, expiry - elapsed_ms, rate_ppm, is_call)
        total += g.value6 + g.delta + g.theta
    return total


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--cold", action="store_true", help="clear every memo before each run")
    ap.add_argument("--narrow", action="store_true", help="strikes 0.9 .. 1.1 x spot (the costliest chain)")
    ap.add_argument("--profile", action="store_true", help="print cProfile's top functions")
    args = ap.parse_args()
    spot0 = 6_000_000_000_000  # e.g. 60,000.000000 USD per lot at 8 decimals
    series = chain(spot0, args.narrow)
    ms = []
    for run in range(args.runs):
        if args.cold:
            pricing.clear_memos()
        spot = spot0 + (run * 7919 % 2001 - 1000) * spot0 // 100_000  # +-1 %
        t0 = time.perf_counter()
        one_block(spot, (run + 1) * 1_000, series, 50_000)
        ms.append((time.perf_counter() - t0) * 1000)
    print(f"{len(series)} series, {args.runs} runs{' (cold memos)' if args.cold else ''}{' (narrow)' if args.narrow else ''}: "
          f"min {min(ms):.1f} ms, median {statistics.median(ms):.1f} ms, max {max(ms):.1f} ms")
    if args.profile:
        import cProfile
        import pstats
        cProfile.runctx("one_block(spot0 + 1, 999_999, series, 50_000)", globals(),
                        {"spot0": spot0, "series": series}, "/tmp/options_marks.prof")
        pstats.Stats("/tmp/options_marks.prof").sort_stats("tottime").print_stats(8)


if __name__ == "__main__":
    main()
