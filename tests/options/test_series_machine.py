"""Hypothesis state machine over option series: random listings, positions, prices and uneven block times through expiries.

Invariants after every block:

* per asset: supply == balances + margin cash + fund + pool + HTLCs (``audit.conservation``), and the
  sum of margin cash over all accounts never changes (premiums and settlements only move it);
* per series: positions sum to zero, open interest equals the long contracts, the holders set and the
  accounts' series lists match the positions; a series is live iff its expiry is after the last block;
* every settled series settled at the time-weighted price of an independent model of the block prices
  over its window (floor), paid ``size x lots x intrinsic`` to each holder, and closed every position.
"""
from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from ledger.txkinds_options import RegisterOptionSeries
from settlement.risk.optrecords import CALL, series_id
from settlement.risk.options.positions import holders
from settlement.risk.options.series import live_series
from settlement.risk.records import FUND, MACC, MAcc

from .series_harness import BTC, OptHarness

NAMES = ("alice", "bob", "carol", "dave")
WINDOW = 600_000
holders_ = st.sampled_from(NAMES + ("fund",))  # the insurance fund holds options like any account


def step_integral(history: list[tuple[int, int]], a: int, b: int) -> int:
    """Integral over [a, b) of the price in force: each block's price holds from its time to the next block's."""
    total = 0
    for i, (t, p) in enumerate(history):
        end = history[i + 1][0] if i + 1 < len(history) else b
        lo, hi = max(t, a), min(end, b)
        if hi > lo:
            total += p * (hi - lo)
    return total


class SeriesMachine(RuleBasedStateMachine):
    @initialize()
    def setup(self):
        self.h = h = OptHarness(price=10_000, settlement_window_ms=WINDOW, vol_fresh_ms=86_400_000)
        h.block(*h.vol_txs([(h.time_ms + 10**11, 10_000, 800_000)]))  # a flat surface: every series is marked
        self.history: list[tuple[int, int]] = []  # (block time, price in force from then), from the first block
        self.times: list[int] = []
        self.listed: dict[str, tuple[int, object]] = {}  # series -> (listing block time, Series)
        self.cash0 = self.total_cash()
        self.after_block()

    def total_cash(self) -> int:
        return sum(MAcc.unpack(v, k).cash for k, v in self.h.view.data.items() if k.startswith(MACC))

    def after_block(self):
        self.times.append(self.h.time_ms)
        self.history.append((self.h.time_ms, self.h.session().mstate(BTC).price))
        self.check_settlements()

    def block(self, *txs, dt):
        receipts = self.h.block(*txs, dt_ms=dt)
        self.after_block()
        return receipts

    # ------------------------------------------------------------------ rules

    @rule(kind=st.sampled_from(["call", "put"]), strike=st.integers(8_000, 12_000),
          ahead=st.integers(1_001, 3_000_000), lots=st.integers(1, 5))
    def list_series(self, kind, strike, ahead, lots):
        h = self.h
        expiry = h.time_ms + ahead
        r = self.block(h.tx("admin", RegisterOptionSeries(BTC, kind, strike, expiry, lots)), dt=1_000)[0]
        assert r.ok, r.reason
        sid = series_id(BTC, kind, strike, expiry)
        self.listed[sid] = (h.time_ms, h.session().series(sid))

    @rule(long=holders_, short=holders_, n=st.integers(1, 20), premium=st.integers(0, 3_000), data=st.data())
    def open_position(self, long, short, n, premium, data):
        live = live_series(self.h.session(), BTC)
        if long == short or not live:
            return
        self.h.open(FUND if long == "fund" else long, FUND if short == "fund" else short, data.draw(st.sampled_from(live)), n, premium)

    @rule(move_ppm=st.integers(-300_000, 300_000), dt=st.sampled_from([1_000, 7_000, 60_000, 240_000, 700_000]))
    def price_block(self, move_ppm, dt):
        p = self.history[-1][1]
        self.block(*self.h.price_txs(max(1, p + p * move_ppm // 1_000_000)), dt=dt)

    @rule(dt=st.sampled_from([1_000, 130_000, 1_000_000]))
    def quiet_block(self, dt):
        self.block(dt=dt)

    # ------------------------------------------------------------------ checks

    def check_settlements(self):
        h = self.h
        settled = {e.attrs["series"]: e.attrs for e in h.block_events("option_expired")}
        payouts: dict[str, list] = {}
        for e in h.block_events("option_settled"):
            payouts.setdefault(e.attrs["series"], []).append((e.attrs["size"], e.attrs["payout"]))
        for sid, ev in settled.items():
            listed_at, s = self.listed[sid]
            e, w = s.expiry_ms, s.expiry_ms - WINDOW
            first = next(i for i, t in enumerate(self.times) if t >= w and t >= listed_at)  # first phase recording it
            start = max(w, self.times[first - 1])
            assert ev["window_start_ms"] == start
            want = step_integral(self.history, start, e) // (e - start)
            assert ev["settle_price"] == want
            intrinsic = max(want - s.strike, 0) if s.kind == CALL else max(s.strike - want, 0)
            assert all(pay == n * s.contract_lots * intrinsic for n, pay in payouts.get(sid, []))
            assert sum(pay for _, pay in payouts.get(sid, [])) == 0
            assert sum(n for n, _ in payouts.get(sid, [])) == 0
        assert set(payouts) <= set(settled)

    @invariant()
    def cash_is_conserved(self):
        assert self.h.conserved()
        assert self.total_cash() == self.cash0

    @invariant()
    def series_books_balance(self):
        sess = self.h.session()
        now = self.h.time_ms
        live = set(live_series(sess, BTC))
        for sid, (_, s) in sorted(self.listed.items()):
            ss = sess.sstate(sid)
            hs = holders(sess, sid)
            sizes = {a: sess.opos(a, sid).size for a in hs}
            assert sum(sizes.values()) == 0 and all(sizes.values())
            assert ss.oi == sum(max(n, 0) for n in sizes.values())
            for a in [FUND, *map(self.h.addr, NAMES)]:
                assert (sid in sess.macc(a, "USD").series) == (a in sizes)
            assert (sid in live) == (s.expiry_ms > now) == (not ss.settled)
            if ss.settled:
                assert not hs and ss.oi == 0 and ss.mark_state == 0
            else:
                assert ss.mark_state == 1  # a flat surface and a fresh price: marked every block


SeriesMachine.TestCase.settings = settings(
    max_examples=40, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow],
)
test_series_machine = SeriesMachine.TestCase
