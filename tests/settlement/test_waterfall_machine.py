"""Hypothesis state machine over the default waterfall: leveraged trades, price gaps, a small insurance fund.

Invariants after every block (docs/risk-engine.md, "Default waterfall" and "Conservation"):

* per asset: supply == balances + margin cash + insurance fund + funding pool + HTLC locked;
* positions (the fund's included) sum to zero per market; open interest == sum of longs;
* the insurance fund's equity is >= 0 -- unless it holds a position in a stale market (its deleverage
  waits for a price) or holds no position at all (nothing to deleverage: ``adl_uncovered``);
* no account other than the fund has equity < 0 or is breached while its markets are fresh;
* the funding pool plus everything holders still owe it (funding and social loss, rounded as settlement
  rounds) is >= 0: once everyone has settled only rounding dust is left;
* the ADL ranking index holds exactly one entry per non-fund position, under its side and stored key;
* every ``adl`` counterparty held an opposite position before the block; every ``social_loss`` is paid
  in full to its receiver.
"""
from __future__ import annotations

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from ledger.codec import decode
from ledger.txkinds_risk import InsuranceDeposit, MarginDeposit, MarginWithdraw, PriceReport, RegisterMarket
from settlement.audit import conservation, positions_balance
from settlement.risk.margin import ceil_div, evaluate
from settlement.risk.markets import default_params
from settlement.risk.records import FUND, LONG, SHORT, pool_key, unpack_int

from .harness import Harness, block_no_flat_adl, price_off

NAMES = ("alice", "bob", "carol", "dave", "erin")
MARKETS = ("BTC-PERP", "ETH-PERP")
names = st.sampled_from(NAMES)
markets = st.sampled_from(MARKETS)


class WaterfallMachine(RuleBasedStateMachine):
    @initialize(fund=st.sampled_from([0, 0, 5_000, 50_000]))
    def setup(self, fund):
        self.h = h = Harness(names=NAMES)
        self.prices = {"BTC-PERP": 10_000, "ETH-PERP": 2_000}
        oracles = tuple(h.addr(o) for o in h.oracles)
        params = default_params("mid", funding_interval_ms=5_000, funding_cap_ppm=5_000, margin_cap_ppm=1_000_000)
        h.block(*[h.tx("admin", RegisterMarket(m, m.split("-")[0], "USD", params, oracles)) for m in MARKETS])
        h.block(*[h.tx(o, PriceReport(m, self.prices[m])) for o in h.oracles for m in MARKETS])
        h.block(*[h.tx(n, MarginDeposit("USD", 100_000)) for n in NAMES])
        if fund:
            h.block(h.tx("issuer", InsuranceDeposit("USD", fund)))

    def _block(self, txs, dt_ms=1_000):
        h = self.h
        block_no_flat_adl(h, txs, MARKETS, NAMES, dt_ms)
        for kind in ("adl", "social_loss", "fund_deleverage", "adl_uncovered", "insurance_payment"):
            if h.block_events(kind):
                event(kind)
        for e in h.block_events("social_loss"):
            assert e.attrs["lots"] > 0 and e.attrs["per_lot"] * e.attrs["lots"] >= e.attrs["amount"] * 10**6

    @rule(maker=names, taker=names, m=markets, buy=st.booleans(), size=st.integers(1, 120), off=st.integers(-60_000, 60_000))
    def trade(self, maker, taker, m, buy, size, off):
        if maker == taker:
            return
        self._block([self.h.trade_tx(taker, maker, "buy" if buy else "sell", size, price_off(self.prices[m], off), market=m)])

    @rule(long=names, short=names, m=markets, lev=st.integers(2, 9), off=st.integers(-90_000, 90_000))
    def levered_pair(self, long, short, m, lev, off):
        """``long`` buys from ``short`` about ``lev`` x a deposit's worth, off the oracle price (entries differ)."""
        if long == short:
            return
        price = price_off(self.prices[m], off)
        size = max(1, 100_000 * lev // price)
        self._block([self.h.trade_tx(long, short, "sell", size, price, market=m)])

    @rule(m=markets, move=st.integers(-450_000, 450_000))
    def price_gap(self, m, move):
        self.prices[m] = price_off(self.prices[m], move, floor=10)
        self._block([self.h.tx(o, PriceReport(m, self.prices[m])) for o in self.h.oracles])

    @rule(btc=st.integers(-300_000, 300_000), eth=st.integers(-300_000, 300_000))
    def both_move(self, btc, eth):
        for m, mv in (("BTC-PERP", btc), ("ETH-PERP", eth)):
            self.prices[m] = price_off(self.prices[m], mv, floor=10)
        self._block([self.h.tx(o, PriceReport(m, self.prices[m])) for o in self.h.oracles for m in MARKETS], dt_ms=3_000)

    @rule(who=names, amount=st.integers(1, 60_000))
    def deposit(self, who, amount):
        self._block([self.h.tx(who, MarginDeposit("USD", amount))])

    @rule(who=names, amount=st.integers(1, 80_000))
    def withdraw(self, who, amount):
        self._block([self.h.tx(who, MarginWithdraw("USD", amount))])

    # ------------------------------------------------------------------ invariants

    @invariant()
    def conserved_and_balanced(self):
        items = self.h.view.data.items()
        for asset, row in conservation(items).items():
            assert row["ok"], (asset, row)
        s = self.h.session()
        for m, row in positions_balance(items).items():
            assert row["net"] == 0, (m, row)
            assert s.mstate(m).oi == row["longs"]

    @invariant()
    def fund_solvent(self):
        s = self.h.session()
        ev = evaluate(s, FUND, "USD")
        if ev.equity < 0:
            mids = s.macc(FUND, "USD").markets
            assert not mids or any(s.mstate(m).stale for m in mids), (ev.equity, mids)
            assert sum(s.mstate(m).uncovered for m in MARKETS) > 0 or mids

    @invariant()
    def nobody_negative_or_breached(self):
        s = self.h.session()
        if any(s.mstate(m).stale for m in MARKETS):
            return
        for n in NAMES:
            ev = evaluate(s, self.h.addr(n), "USD")
            assert ev.equity >= 0 and not ev.breached, (n, ev.equity, ev.mmr)

    @invariant()
    def pool_covers_what_it_owes(self):
        s = self.h.session()
        raw = self.h.view.get(pool_key("USD"))
        pool = 0 if raw is None else unpack_int(decode(raw))
        owed = 0
        for a in [self.h.addr(n) for n in NAMES] + [FUND]:
            for m in MARKETS:
                p, ms = s.pos(a, m), s.mstate(m)
                if p.size:
                    owed += ceil_div(p.size * (ms.findex - p.funding_snap) + abs(p.size) * (ms.sloss - p.loss_snap), 10**6)
        assert pool + owed >= 0, (pool, owed)

    @invariant()
    def adl_index_holds_every_position(self):
        s = self.h.session()
        for m in MARKETS:
            for side in (LONG, SHORT):
                want = {}
                for n in NAMES:
                    p = s.pos(self.h.addr(n), m)
                    if p.size and (p.size > 0) == (side == LONG):
                        assert p.adl_side == side
                        want[self.h.addr(n)] = p.adl_key
                assert dict(s.adl.holders(m, side)) == want


WaterfallMachine.TestCase.settings = settings(
    max_examples=60, stateful_step_count=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestWaterfallMachine = WaterfallMachine.TestCase
