"""Hypothesis state machine over perpetuals and options: trades of both, price, vol and time moves, deposits, withdrawals.

After every block, the marks of every series are written at the block's price,
the current vol and the block time (what the options phase of the end of block
does once it lands on this branch), so the next block's sweep must find every
account those marks breach through the option bands alone.  Invariants after
every block:

* per asset: supply == balances + margin cash + insurance fund + funding pool + HTLC locked, and
  what can be spent never exceeds what was issued (``audit.py``, the options' equity included);
* positions sum to zero per market, long contracts == short contracts per series (the fund included),
  and each series' open interest is its long contracts;
* no account is left breached after the sweep: a brute-force evaluation of every account agrees with
  the sweep, which looked only at fired bands, triggers, passed times and vol epochs.
"""
from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from ledger.txkinds_options import OptionTrade
from ledger.txkinds_risk import InsuranceDeposit, MarginDeposit, MarginWithdraw, PriceReport
from settlement.audit import conservation, positions_balance, solvency
from settlement.risk.margin import evaluate
from settlement.risk.records import FUND

from tests.settlement.harness import price_off

from .trade_harness import OptHarness

NAMES = ("alice", "bob", "carol", "dave")
MARKETS = ("BTC-PERP", "ETH-PERP")
names = st.sampled_from(NAMES)
DAY = 86_400_000


class OptionMachine(RuleBasedStateMachine):
    @initialize()
    def setup(self):
        h = self.h = OptHarness(names=NAMES)
        self.prices = {"BTC-PERP": 10_000, "ETH-PERP": 2_000}
        for m in MARKETS:
            h.register_market(m)
        h.block(*[h.tx(o, PriceReport(m, self.prices[m])) for o in h.oracles for m in MARKETS])
        h.block(*[h.tx(n, MarginDeposit("USD", 100_000)) for n in NAMES], h.tx("issuer", InsuranceDeposit("USD", 20_000)))
        h.enable_options("BTC-PERP", vol_band_ppm=200_000, recheck_ms=30_000)
        t = h.time_ms
        self.series = [h.list_series("call", 10_000, t + 30 * DAY), h.list_series("put", 9_000, t + 30 * DAY),
                       h.list_series("call", 11_000, t + 2 * 3_600_000, lots=2)]
        self.vol = 600_000
        h.block()  # the options phase starts the underlying's settlement average (a listing tx's block would)
        self._marks()

    def _marks(self):
        s = self.h.session()
        for sid in self.series:
            if not s.sstate(sid).settled:
                self.h.mark_bs(sid, self.vol)

    def _block(self, txs, dt_ms=1_000):
        self.h.block(*txs, dt_ms=dt_ms)
        self._check_after_sweep()
        self._marks()

    def _report(self, m, price):
        return [self.h.tx(o, PriceReport(m, price)) for o in self.h.oracles]

    # ------------------------------------------------------------------ rules

    @rule(maker=names, taker=names, m=st.sampled_from(MARKETS), buy=st.booleans(), size=st.integers(1, 40),
          off=st.integers(-50_000, 50_000))
    def perp_trade(self, maker, taker, m, buy, size, off):
        if maker != taker:
            self._block([self.h.trade_tx(taker, maker, "buy" if buy else "sell", size, price_off(self.prices[m], off), market=m)])

    @rule(maker=names, taker=names, i=st.integers(0, 2), buy=st.booleans(), size=st.integers(1, 30),
          off=st.integers(-40_000, 40_000))
    def option_trade(self, maker, taker, i, buy, size, off):
        if maker == taker:
            return
        sid = self.series[i]
        s = self.h.session()
        lots = s.series(sid).contract_lots
        mark = lots * s.sstate(sid).mark6 // 1_000_000
        price = max(1, mark + self.prices["BTC-PERP"] * lots * off // 1_000_000)
        self._block([self.h.option_trade_tx(taker, maker, sid, "buy" if buy else "sell", size, price)])

    @rule(m=st.sampled_from(MARKETS), move=st.integers(-200_000, 200_000), dt=st.integers(1_000, 40_000))
    def price_move(self, m, move, dt):
        self.prices[m] = price_off(self.prices[m], move, floor=100)
        self._block(self._report(m, self.prices[m]), dt)
        self.prices[m] = self.h.session().mstate(m).price  # the move guard may clamp the median

    @rule(factor=st.sampled_from([500, 800, 950, 1_050, 1_150, 1_500, 3_000]))
    def vol_move(self, factor):
        self.vol = max(50_000, min(3_000_000, self.vol * factor // 1_000))
        self._block([])

    @rule(dt=st.integers(1_000, 50_000))
    def time_passes(self, dt):
        self._block([tx for m in MARKETS for tx in self._report(m, self.prices[m])], dt)

    @rule()
    def short_series_expires(self):
        """Two hours pass (prices reported in the block): the short-dated call settles at expiry (``expiry.py``)."""
        self._block([tx for m in MARKETS for tx in self._report(m, self.prices[m])], 2 * 3_600_000)

    @rule(who=names, amount=st.integers(1, 50_000))
    def deposit(self, who, amount):
        self._block([self.h.tx(who, MarginDeposit("USD", amount))])

    @rule(who=names, amount=st.integers(1, 80_000))
    def withdraw(self, who, amount):
        self._block([self.h.tx(who, MarginWithdraw("USD", amount))])

    # ------------------------------------------------------------------ invariants

    def _check_after_sweep(self):
        s = self.h.session()
        if any(s.mstate(m).stale for m in MARKETS):
            return
        for n in NAMES:
            ev = evaluate(s, self.h.addr(n), "USD")
            assert not (ev.breached and not ev.stale), (n, ev.equity, ev.mmr)
        for asset, row in solvency(self.h.view.data.items()).items():  # after the sweep: the fund's book is sound again
            assert row["claims"] <= row["supply"] or row["stale"], (asset, row)
            assert not row["unbacked"], (asset, row)

    @invariant()
    def conserved(self):
        for asset, row in conservation(self.h.view.data.items()).items():
            assert row["ok"], (asset, row)

    @invariant()
    def contracts_balance(self):
        s = self.h.session()
        for m, row in positions_balance(self.h.view.data.items()).items():
            assert row["net"] == 0, (m, row)
        for sid in self.series:
            sizes = [s.opos(a, sid).size for a in [self.h.addr(n) for n in NAMES] + [FUND]]
            assert sum(sizes) == 0, (sid, sizes)
            assert s.sstate(sid).oi == sum(x for x in sizes if x > 0)


OptionMachine.TestCase.settings = settings(
    max_examples=40, stateful_step_count=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestOptionMachine = OptionMachine.TestCase
