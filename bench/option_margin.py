"""Benchmark: the margin of one account holding 50 option positions (issue 16 target: <= 2 ms).

Builds, through one risk ``Session`` over an in-memory state, a perpetual
underlying at 100,000 with 25 strikes x call/put listed and marked by
``pricing.bs_value6``, and an account short and long 5 contracts of each
alternately; then times, in process CPU time, ``margin.evaluate`` on a warm
session, on a fresh session (every record decoded from state), and
``margin.reindex`` (the option bands included).  Prints one line of JSON.

``--sweep N``: N accounts each short one 30-day call (and N long ones), every
band filed; then the liquidation sweep's CPU time for a block whose price stays
inside every band, one whose price leaves them (+15 %), and one whose vol moves
past the band (a new epoch: every holder re-evaluated).

    python -m bench.option_margin [--sweep 10000]
"""
from __future__ import annotations

import json
import time

from ledger.txkinds_options import OptionParams
from settlement.context import BlockContext
from settlement.risk.margin import evaluate, reindex
from settlement.risk.markets import default_params
from settlement.risk.optrecords import CALL, PUT, UNDERLYINGS, Series, series_id, series_list_key
from settlement.risk.options.marks import MARKED
from settlement.risk.options.positions import ofill
from settlement.risk.options.pricing import bs_value6
from settlement.risk.records import Market, Session
from settlement.state import DictView, State
from ledger.codec import encode
from settlement.risk.liquidation import liquidation_sweep
import argparse

U, Q, S, EXPIRY, NOW = "BTC-PERP", "USD", 100_000, 10**10, 1_000
A, B = b"\x01" * 20, b"\x02" * 20


def underlying_state(now: int = NOW):
    """An in-memory state at block time ``now`` with the underlying at S and options enabled on it: (view, state, session)."""
    view = DictView({})
    state = State(view)
    sess = Session(state, BlockContext("bench", 1, now))
    sess.add_market(Market(U, "BTC", Q, default_params("large"), []))
    ms = sess.mstate(U)
    ms.price, ms.stale = S, False
    sess.set_oparams(U, OptionParams(0, 1_800_000, 60_000, 100_000, 150_000, 100_000, 75_000, 10_000, 100_000, 60_000))
    state.put(UNDERLYINGS, encode([U]))
    return view, state, sess


def build() -> tuple[DictView, list[str]]:
    view, state, sess = underlying_state()
    sids = []
    for i in range(25):
        for kind in (CALL, PUT):
            k = 80_000 + 2_000 * i
            sid = series_id(U, kind, k, EXPIRY)
            sess.add_series(Series(sid, U, kind, k, EXPIRY, 1, Q))
            ss = sess.sstate(sid)
            ss.mark6, ss.iv_ppm, ss.spot, ss.mark_time_ms, ss.mark_state = bs_value6(S, k, 600_000, EXPIRY - NOW, 0, kind == CALL), 600_000, S, NOW, MARKED
            sids.append(sid)
    state.put(series_list_key(U), encode(sorted(sids)))
    sess.macc(A, Q).cash = sess.macc(B, Q).cash = 10**9
    for j, sid in enumerate(sids):
        n = 5 if j % 2 else -5
        ofill(sess, A, Q, sid, n, 0)
        ofill(sess, B, Q, sid, -n, 0)
    sess.flush()
    view.apply(state.writes())
    return view, sids


def sweep_bench(n: int) -> dict:
    view, state, sess = underlying_state()
    sid = series_id(U, CALL, 110_000, NOW + 30 * 86_400_000)
    sess.add_series(Series(sid, U, CALL, 110_000, NOW + 30 * 86_400_000, 1, Q))
    state.put(series_list_key(U), encode([sid]))

    def mark(sess, spot, vol, now):
        ss = sess.sstate(sid)
        ss.mark6, ss.iv_ppm, ss.spot, ss.mark_time_ms, ss.mark_state = bs_value6(spot, 110_000, vol, NOW + 30 * 86_400_000 - now, 0, True), vol, spot, now, MARKED
        sess.touch_ss(sid)
    mark(sess, S, 600_000, NOW)
    liquidation_sweep(sess, sess.ctx)  # the first epoch
    for i in range(n):
        a, b = i.to_bytes(4, "big") * 5, (n + i).to_bytes(4, "big") * 5
        sess.macc(a, Q).cash = 40_000 + (i % 100) * 200
        sess.macc(b, Q).cash = 40_000
        ofill(sess, a, Q, sid, -1, -2_000)
        ofill(sess, b, Q, sid, 1, 2_000)
        reindex(sess, a, Q, indexed=False)
        reindex(sess, b, Q, indexed=False)
    sess.flush()
    view.apply(state.writes())
    out = {"accounts": 2 * n}
    t = NOW
    for name, price, vol in (("inside", S + 300, 600_000), ("price_out", S * 115 // 100, 600_000), ("vol_epoch", S * 115 // 100, 700_000)):
        t += 1_000
        st = State(view)
        sess = Session(st, BlockContext("bench", 2, t))
        sess.mstate(U).price = price
        mark(sess, price, vol, t)
        c = time.process_time()
        events = liquidation_sweep(sess, sess.ctx)
        sess.flush()
        out[name + "_ms"] = round((time.process_time() - c) * 1e3, 1)
        out[name + "_liquidations"] = sum(1 for e in events if e.kind == "liquidation")
        view.apply(st.writes())
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sweep", type=int, default=0)
    if (n := ap.parse_args().sweep):
        print(json.dumps(sweep_bench(n)))
        return
    view, sids = build()
    ctx = BlockContext("bench", 2, NOW)
    sess = Session(State(view), ctx)
    ev = evaluate(sess, A, Q)
    n = 2_000
    t = time.process_time()
    for _ in range(n):
        evaluate(sess, A, Q)
    warm = (time.process_time() - t) / n * 1e3
    t = time.process_time()
    for _ in range(200):
        evaluate(Session(State(view), ctx), A, Q)
    cold = (time.process_time() - t) / 200 * 1e3
    t = time.process_time()
    for _ in range(200):
        reindex(sess, A, Q, ev)
    rein = (time.process_time() - t) / 200 * 1e3
    print(json.dumps({"positions": len(sids), "evaluate_warm_ms": round(warm, 4), "evaluate_fresh_session_ms": round(cold, 4),
                      "reindex_ms": round(rein, 4), "equity": ev.equity, "imr": ev.imr, "mmr": ev.mmr}))


if __name__ == "__main__":
    main()
