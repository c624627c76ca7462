"""Benchmark: the portfolio-margin requirement of an account with 3 underlyings x 50 option positions (issue 17: <= 5 ms).

Builds, through one risk ``Session`` over an in-memory state, three perpetual
underlyings (BTC-PERP 100,000, ETH-PERP 30,000, SOL-PERP 1,000 quote base
units per lot), options enabled on each with 5 expiries x 5 strikes x
call/put = 50 series marked by ``pricing.bs_value6`` (a skew around 60 %), and
``--accounts`` portfolio accounts, each holding every one of the 150 series
(1-20 contracts, long or short at random) and a perpetual on each underlying.
Then, in process CPU time, the median over ``--runs`` runs of:

- ``cold``: the first account of a block -- the pricer's and the risk
  arrays' memos emptied (``pricing.clear_memos``, ``scenarios.clear_memos``),
  a fresh session (every record decoded from state), so the risk arrays of
  the 150 series are computed;
- ``warm``: each further account of the same block -- same session, the
  risk arrays already there (SPAN: one array per contract, shared by every
  account); the figure is the mean over the other accounts of one run;
- ``handler``: an account in a fresh session of the same block (each tx's
  handler and each RPC view opens its own), the arrays in the module's memo.

Each is timed for ``pm.mode.requirement_terms`` (the requirement itself) and
for the whole ``margin.evaluate`` (equity and the standard terms too).
Prints one line of JSON, with the load average (the machine may be shared).

    python3 -m bench.pm_requirement [--accounts 20] [--runs 15]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time

from ledger.codec import encode
from ledger.txkinds_options import OptionParams
from settlement.context import BlockContext
from settlement.risk.margin import evaluate
from settlement.risk.markets import default_params
from settlement.risk.optrecords import CALL, PUT, UNDERLYINGS, Series, series_id, series_list_key
from settlement.risk.options.marks import MARKED
from settlement.risk.options.positions import ofill
from settlement.risk.options.pricing import bs_value6, clear_memos
from settlement.risk.pm import mode, scenarios
from settlement.risk.records import Market, Session
from settlement.state import DictView, State

__all__ = ["UNDERLYINGS_AT", "build", "measure"]

Q, NOW, DAY = "USD", 1_000, 86_400_000
UNDERLYINGS_AT = {"BTC-PERP": 100_000, "ETH-PERP": 30_000, "SOL-PERP": 1_000}
EXPIRY_DAYS = (7, 14, 30, 60, 90)
STRIKES_PCT = (80, 90, 100, 110, 120)


def _vol(spot: int, strike: int) -> int:
    return 600_000 + 400_000 * (spot - strike) // spot


def build(accounts: int, seed: int = 1) -> tuple[DictView, list[bytes]]:
    """The state (underlyings, 150 marked series, ``accounts`` portfolio accounts) and the accounts' addresses."""
    view = DictView({})
    state = State(view)
    sess = Session(state, BlockContext("bench", 1, NOW))
    rng = random.Random(seed)
    sids: dict[str, list[str]] = {}
    for u, spot in UNDERLYINGS_AT.items():
        sess.add_market(Market(u, u.split("-")[0], Q, default_params("large"), []))
        ms = sess.mstate(u)
        ms.price, ms.stale = spot, False
        sess.set_oparams(u, OptionParams(0, 1_800_000, 60_000, 100_000, 150_000, 100_000, 75_000, 10_000, 100_000, 60_000))
        sids[u] = []
        for days in EXPIRY_DAYS:
            for pct in STRIKES_PCT:
                k, e = spot * pct // 100, NOW + days * DAY
                for kind in (CALL, PUT):
                    sid = series_id(u, kind, k, e)
                    sess.add_series(Series(sid, u, kind, k, e, 1, Q))
                    ss = sess.sstate(sid)
                    vol = _vol(spot, k)
                    ss.mark6, ss.iv_ppm, ss.spot, ss.mark_time_ms, ss.mark_state = bs_value6(spot, k, vol, e - NOW, 0, kind == CALL), vol, spot, NOW, MARKED
                    sids[u].append(sid)
        state.put(series_list_key(u), encode(sorted(sids[u])))
    state.put(UNDERLYINGS, encode(sorted(UNDERLYINGS_AT)))
    addrs = []
    for i in range(accounts):
        a = (1000 + i).to_bytes(4, "big") * 5
        m = sess.macc(a, Q)
        m.cash = 10**12
        for u in sorted(sids):
            for sid in sids[u]:
                ofill(sess, a, Q, sid, rng.choice((-1, 1)) * rng.randint(1, 20), 0)
            p = sess.pos(a, u)
            p.size = rng.randint(-50, 50) or 1
            m.markets.append(u)
            sess.touch_pos(a, u)
        sess.touch_macc(a, Q)
        mode.set_mode(sess, a, mode.PORTFOLIO)
        addrs.append(a)
    sess.flush()
    view.apply(state.writes())
    return view, addrs


def measure(view: DictView, addrs: list[bytes], fn) -> tuple[float, float, float]:
    """(cold, warm, handler) ms of ``fn(sess, addr)``: the first account of a fresh block, the mean of the others, one in a new session."""
    ctx = BlockContext("bench", 2, NOW)
    clear_memos()
    scenarios.clear_memos()
    sess = Session(State(view), ctx)
    t = time.process_time()
    fn(sess, addrs[0])
    cold = (time.process_time() - t) * 1e3
    t = time.process_time()
    for a in addrs[1:]:
        fn(sess, a)
    warm = (time.process_time() - t) * 1e3 / max(1, len(addrs) - 1)
    sess = Session(State(view), ctx)
    t = time.process_time()
    fn(sess, addrs[-1])
    return cold, warm, (time.process_time() - t) * 1e3


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", type=int, default=20)
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    view, addrs = build(args.accounts)
    out = {"underlyings": len(UNDERLYINGS_AT), "option_positions_per_underlying": len(EXPIRY_DAYS) * len(STRIKES_PCT) * 2,
           "perpetuals_per_underlying": 1, "accounts": len(addrs), "runs": args.runs}
    fns = {"requirement": lambda s, a: mode.requirement_terms(s, a, s.macc(a, Q)), "evaluate": lambda s, a: evaluate(s, a, Q)}
    for name, fn in fns.items():
        runs = [measure(view, addrs, fn) for _ in range(args.runs)]
        out[f"{name}_cold_ms"] = round(statistics.median(r[0] for r in runs), 3)
        out[f"{name}_warm_ms"] = round(statistics.median(r[1] for r in runs), 3)
        out[f"{name}_handler_ms"] = round(statistics.median(r[2] for r in runs), 3)
    sess = Session(State(view), BlockContext("bench", 2, NOW))
    ev = evaluate(sess, addrs[0], Q)
    out.update(imr=ev.imr, mmr=ev.mmr, equity=ev.equity, target_ms=5, load_average=round(os.getloadavg()[0], 2))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
