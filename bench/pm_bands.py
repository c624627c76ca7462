"""Benchmark: the liquidation sweep's CPU per block with N portfolio-margin accounts while prices barely move.

Builds, through one risk ``Session`` over an in-memory state, BTC-PERP at
100,000 with a 30-day 110,000 call listed and marked by ``pricing.bs_value6``,
and N portfolio accounts each holding a covered call (long 1 perpetual lot,
short 1 call; 30,000 to 50,000 USD of margin), their counterparties one
standard account on each side; every account filed by ``margin.reindex``.
Then it times, in process CPU time, the sweep (``liquidation.liquidation_sweep``
and the write-back) of ``--blocks`` blocks whose price walks by +-0.1 % (the
call re-marked at each), then one block whose price falls 5 %.  It reports
the mean and max per block, the accounts evaluated exactly (calls of
``margin.evaluate`` from the sweep) and the state writes.

Run it against the code to compare: the portfolio accounts' re-check bands
(``settlement/risk/pm/bands.py``) against the sentinel that re-evaluated every
portfolio account in every block (the tree before them)::

    PYTHONPATH=/path/to/tree python3 bench/pm_bands.py --accounts 2000

It imports nothing of ``bench/``, so the same file runs against either tree.
"""
from __future__ import annotations

import argparse
import json
import os
import time

from ledger.codec import encode
from settlement.context import BlockContext
from settlement.risk import liquidation
from settlement.risk.margin import fill, reindex
from settlement.risk.optrecords import CALL, Series, series_id, series_list_key
from settlement.risk.options.marks import MARKED
from settlement.risk.options.positions import ofill
from settlement.risk.options.pricing import bs_value6
from settlement.risk.pm import mode
from settlement.risk.records import Session
from settlement.state import DictView, State

from .option_margin import Q, S, U, underlying_state

NOW, DAY = 1_000_000, 86_400_000
EXPIRY, STRIKE, VOL = NOW + 30 * DAY, 110_000, 500_000
SHORT_SIDE, LONG_SIDE = b"\xee" * 20, b"\xef" * 20  # the standard counterparties


def _mark(sess: Session, sid: str, spot: int, now: int) -> None:
    ss = sess.sstate(sid)
    ss.mark6 = bs_value6(spot, STRIKE, VOL, EXPIRY - now, 0, True)
    ss.iv_ppm, ss.spot, ss.mark_time_ms, ss.mark_state = VOL, spot, now, MARKED
    sess.touch_ss(sid)


def build(n: int) -> tuple[DictView, str]:
    view, state, sess = underlying_state(NOW)  # the same underlying and option parameters as bench.option_margin
    sid = series_id(U, CALL, STRIKE, EXPIRY)
    sess.add_series(Series(sid, U, CALL, STRIKE, EXPIRY, 1, Q))
    state.put(series_list_key(U), encode([sid]))
    _mark(sess, sid, S, NOW)
    liquidation.liquidation_sweep(sess, sess.ctx)  # the first vol epoch
    premium = sess.sstate(sid).mark6 // 10**6
    sess.macc(SHORT_SIDE, Q).cash = sess.macc(LONG_SIDE, Q).cash = 10**12
    for i in range(n):
        a = (i + 1).to_bytes(4, "big") * 5
        mode.set_mode(sess, a, mode.PORTFOLIO)
        sess.macc(a, Q).cash = 30_000 + (i % 100) * 200
        fill(sess, a, Q, U, 1, S)
        fill(sess, SHORT_SIDE, Q, U, -1, -S)
        ofill(sess, a, Q, sid, -1, -premium)
        ofill(sess, LONG_SIDE, Q, sid, 1, premium)
        reindex(sess, a, Q, indexed=False)
    reindex(sess, SHORT_SIDE, Q, indexed=False)
    reindex(sess, LONG_SIDE, Q, indexed=False)
    sess.flush()
    view.apply(state.writes())
    return view, sid


def run(n: int, blocks: int) -> dict:
    view, sid = build(n)
    counted = [0]
    exact = liquidation.evaluate

    def evaluate(*args, **kw):  # counts the sweep's exact evaluations (liquidation.py imports margin.evaluate)
        counted[0] += 1
        return exact(*args, **kw)

    liquidation.evaluate = evaluate
    rows = []
    price, t = S, NOW
    moves = [1, -1, -1, 1, 1, 1, -1, -1, -1, 1]  # +-0.1 % a block, a fixed walk
    for j in range(blocks + 1):
        t += 1_000
        price = price * 95 // 100 if j == blocks else price + moves[j % len(moves)] * price // 1_000
        st = State(view)
        sess = Session(st, BlockContext("bench", 2 + j, t))
        sess.mstate(U).price = price
        sess.touch_ms(U)
        _mark(sess, sid, price, t)
        counted[0] = 0
        c = time.process_time()
        events = liquidation.liquidation_sweep(sess, sess.ctx)
        sess.flush()
        cpu = time.process_time() - c
        writes = st.writes()
        rows.append((cpu * 1e3, counted[0], len(writes), sum(1 for e in events if e.kind == "liquidation")))
        view.apply(writes)
    liquidation.evaluate = exact
    small = rows[:-1]
    return {
        "portfolio_accounts": n,
        "blocks": blocks,
        "small_move_sweep_ms_mean": round(sum(r[0] for r in small) / len(small), 2),
        "small_move_sweep_ms_max": round(max(r[0] for r in small), 2),
        "small_move_evaluations_mean": sum(r[1] for r in small) / len(small),
        "small_move_writes_mean": sum(r[2] for r in small) / len(small),
        "drop5_sweep_ms": round(rows[-1][0], 2),
        "drop5_evaluations": rows[-1][1],
        "drop5_liquidations": rows[-1][3],
        "load_1m": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", type=int, default=2_000)
    ap.add_argument("--blocks", type=int, default=10)
    a = ap.parse_args()
    print(json.dumps(run(a.accounts, a.blocks)))


if __name__ == "__main__":
    main()
