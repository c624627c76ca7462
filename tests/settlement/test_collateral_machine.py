"""Hypothesis state machine over multi-asset collateral: EUR margin cash backs USD-settled perpetuals.

Invariants after every block (docs/risk-engine.md, "Multi-asset collateral"):

* per asset (USD and EUR): supply == balances + margin cash + insurance fund + funding pool + HTLC locked;
* no account is breached while the markets are fresh, checked by brute force over every account
  (the at-risk index, the collateral holders' re-check and the sale to the fund must leave none);
* the collateral value ``margin.evaluate`` counts equals an independent recomputation from the stored
  balances, prices and parameters (haircut, cap, rounding down);
* no account without a position holds negative USD cash that its EUR's haircut value does not cover, and the
  USD claims (equity without collateral, where positive) are at most what backs them (``harness.debts_covered``);
* the holder lists hold exactly the accounts with a positive EUR balance;
* a sale of collateral sells the least amount that covers what the account needs (or what the fund or the
  balance allows; a flat account's whatever the fund has), never more.

Rules ``all_in`` and ``eur_drift`` lean positions on the collateral and move its price by a little, so
that the price bands (most moves stay inside) and the partial sales are exercised; removing the bands, or
widening them threefold, is found.
"""
from __future__ import annotations

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from ledger.txkinds_pm import SetCollateral, SetMarginMode
from ledger.txkinds_risk import InsuranceDeposit, MarginDeposit, MarginWithdraw, PriceReport, RegisterMarket
from settlement.audit import conservation, positions_balance
from settlement.risk import collateral
from settlement.risk.collateral import default_collateral_params
from settlement.risk.margin import evaluate
from settlement.risk.markets import default_params
from settlement.context import BlockContext
from settlement.machine import execute_tx
from settlement.risk.records import FUND, Session
from settlement.state import State

from .harness import Harness, block_no_flat_adl, debts_covered, price_off

NAMES = ("alice", "bob", "carol", "dave", "erin")
PERP, EURM = "BTC-PERP", "EUR-PERP"
MARKETS = (PERP, EURM)
LOT = 1_000  # EUR base units per lot of EUR-PERP
names = st.sampled_from(NAMES)


def expected_extra(s, addr: bytes) -> int:
    """The collateral value, recomputed from the module docstring's formula (not through collateral.py)."""
    p = s.state.get(b"r/col/p/EUR")
    if p is None:
        return 0
    from ledger.txkinds_pm import CollateralParams
    p = CollateralParams.decode(p)
    eur = s.macc(addr, "EUR").cash
    usd = s.macc(addr, "USD").cash
    v = max(0, eur) * s.mstate(EURM).price * (10**6 - p.haircut_ppm) // (LOT * 10**6) if p.enabled else 0
    total = max(0, usd) + v
    return min(v, p.cap_ppm * total // 10**6)


class CollateralMachine(RuleBasedStateMachine):
    @initialize(fund=st.sampled_from([0, 5_000, 200_000, 2_000_000]), haircut=st.sampled_from([0, 50_000, 300_000]),
                cap=st.sampled_from([1_000_000, 600_000, 200_000]))
    def setup(self, fund, haircut, cap):
        self.h = h = Harness(names=NAMES)
        self.prices = {PERP: 10_000, EURM: 1_100}
        oracles = tuple(h.addr(o) for o in h.oracles)
        params = default_params("mid", funding_interval_ms=5_000, funding_cap_ppm=5_000, margin_cap_ppm=1_000_000)
        h.block(h.tx("admin", RegisterMarket(PERP, "BTC", "USD", params, oracles)),
                h.tx("admin", RegisterMarket(EURM, "EUR", "USD", default_params("mid", lot_size=LOT, margin_cap_ppm=1_000_000, oracle_deviation_ppm=950_000), oracles)))
        h.block(*[h.tx(o, PriceReport(m, self.prices[m])) for o in h.oracles for m in MARKETS])
        r = h.block(h.tx("admin", SetCollateral("EUR", default_collateral_params(
            "USD", EURM, haircut_ppm=haircut, cap_ppm=cap, liq_discount_ppm=haircut // 2))))
        assert r[0].ok, r[0].error
        h.block(*[h.tx(n, MarginDeposit("USD", 5_000)) for n in NAMES[:3]] + [h.tx(n, MarginDeposit("EUR", 80_000)) for n in NAMES[:3]]
                + [h.tx(n, MarginDeposit("USD", 300_000)) for n in NAMES[3:]])
        if fund:
            h.block(h.tx("issuer", InsuranceDeposit("USD", fund)))

    def _block(self, txs, dt_ms=1_000):
        h = self.h
        reports = [h.tx(o, PriceReport(m, self.prices[m])) for o in h.oracles for m in MARKETS]  # fresh every block
        receipts = block_no_flat_adl(h, txs + reports, MARKETS, NAMES, dt_ms)
        event("block")
        for kind in ("collateral_sale", "liquidation", "adl", "insurance_payment"):
            if h.block_events(kind):
                event(kind)
        for sale in h.block_events("collateral_sale"):
            self._check_sale(sale.attrs)
        return receipts

    def _check_sale(self, a):
        """A sale sells what covers the need and no more: the least amount whose price covers it, unless the balance
        or the fund runs out first; a flat account's is taken over whatever the fund has (collateral_sale.py "Bad debt")."""
        p = collateral.params(self.h.session(), "EUR")
        rate = a["price"] * (10**6 - p.liq_discount_ppm)
        enough = -(-a["need"] * LOT * 10**6 // rate)
        assert 0 < a["amount"] <= enough and a["paid"] == a["amount"] * rate // (LOT * 10**6), a
        if a["takeover"]:
            event("collateral taken over from a flat account")
        if a["left"] and a["paid"] < a["need"]:
            assert not a["takeover"], a
            event("collateral sale limited by the fund")
        elif a["left"]:
            assert a["amount"] == enough, a
            event("collateral sale of a part")

    @rule(long=names, short=names, lev=st.integers(1, 25), off=st.integers(-30_000, 30_000))
    def levered_pair(self, long, short, lev, off):
        if long == short:
            return
        price = price_off(self.prices[PERP], off)
        self._block([self.h.trade_tx(long, short, "sell", max(1, 35_000 * lev // price), price, market=PERP)])

    @rule(who=st.sampled_from(NAMES[:3]), room=st.integers(50, 100))
    def all_in(self, who, room):
        """An EUR holder goes long with up to all of its room: its MMR then leans on its collateral."""
        ev = evaluate(self.h.session(), self.h.addr(who), "USD")
        lots = (ev.equity - ev.imr) * room // 100 // (self.prices[PERP] // 10)  # IMR 10 % of a lot's price (mid tier)
        if lots > 0:
            self._block([self.h.trade_tx(who, "dave", "sell", lots, self.prices[PERP], market=PERP)])

    @rule(who=names, mode=st.sampled_from(["portfolio", "standard"]))
    def switch_mode(self, who, mode):
        """Portfolio mode adds the collateral's own scenario shock to the requirement (collateral.py); it may be refused."""
        r = self._block([self.h.tx(who, SetMarginMode(mode))])[0]
        if r.ok and mode == "portfolio" and self.h.session().macc(self.h.addr(who), "EUR").cash > 0:
            event("portfolio account holding EUR")

    @rule(move=st.integers(-60_000, 20_000))
    def eur_drift(self, move):
        """A small EUR move: most holders' bands hold (collateral_bands.py "Price bands"), those it crosses are re-checked."""
        self.prices[EURM] = price_off(self.prices[EURM], move, floor=10)
        self._block([])

    @rule(m=st.sampled_from(MARKETS), move=st.integers(-400_000, 400_000))
    def price_move(self, m, move):
        self.prices[m] = price_off(self.prices[m], move, floor=10)
        self._block([])

    @rule(drop=st.integers(100_000, 700_000))
    def eur_crash(self, drop):
        """Only the collateral's price falls: holders must be re-checked though no perpetual trigger moved."""
        self.prices[EURM] = price_off(self.prices[EURM], -drop, floor=10)
        self._block([])

    @rule(haircut=st.sampled_from([0, 100_000, 400_000, 900_000]), cap=st.sampled_from([1_000_000, 300_000]),
          enabled=st.sampled_from([True, True, False]))
    def relist(self, haircut, cap, enabled):
        """The admin changes EUR's haircut, cap or switch: holders' values change without any price move."""
        self._block([self.h.tx("admin", SetCollateral("EUR", default_collateral_params(
            "USD", EURM, haircut_ppm=haircut, cap_ppm=cap, liq_discount_ppm=haircut // 2, enabled=enabled)))])

    @rule(btc=st.integers(-300_000, 300_000), eur=st.integers(-300_000, 300_000))
    def both_move(self, btc, eur):
        self.prices[PERP] = price_off(self.prices[PERP], btc, floor=10)
        self.prices[EURM] = price_off(self.prices[EURM], eur, floor=10)
        self._block([], dt_ms=3_000)

    @rule(who=names, asset=st.sampled_from(["USD", "EUR"]), amount=st.integers(1, 60_000))
    def deposit(self, who, asset, amount):
        self._block([self.h.tx(who, MarginDeposit(asset, amount))])

    @rule(who=names, asset=st.sampled_from(["USD", "EUR", "EUR"]), amount=st.integers(1, 80_000))
    def withdraw(self, who, asset, amount):
        """A withdrawal (either asset) that goes through leaves the USD account's IMR covered at its block's prices."""
        h = self.h
        tx = h.tx(who, MarginWithdraw(asset, amount))
        state = State(h.view)  # the tx alone, before the block's end (funding, sweep)
        ctx = BlockContext(h.chain_id, h.height + 1, h.time_ms + 1_000)
        if execute_tx(state, ctx, tx).ok:
            ev = evaluate(Session(state, ctx), h.addr(who), "USD")
            assert not ev.market_count or ev.equity >= ev.imr, (who, asset, amount, ev.equity, ev.imr)
        self._block([tx])

    # ------------------------------------------------------------------ invariants

    @invariant()
    def conserved_and_balanced(self):
        items = self.h.view.data.items()
        rows = conservation(items)
        for asset in ("USD", "EUR"):
            assert rows[asset]["ok"], (asset, rows[asset])
        for m, row in positions_balance(items).items():
            assert row["net"] == 0, (m, row)

    @invariant()
    def no_uncovered_debt(self):
        """No account without a position owes USD its EUR does not cover, and USD claims <= what backs them."""
        if debts_covered(self.h, NAMES, "USD", MARKETS):
            event("the fund's EUR inventory fell through its equity with no position to deleverage")

    @invariant()
    def nobody_breached(self):
        s = self.h.session()
        if any(s.mstate(m).stale for m in MARKETS):
            return
        for n in NAMES:
            ev = evaluate(s, self.h.addr(n), "USD")
            assert not ev.breached, (n, ev.equity, ev.mmr)

    @invariant()
    def collateral_value_recomputed(self):
        s = self.h.session()
        for n in NAMES:
            a = self.h.addr(n)
            assert collateral.extra_equity(s, a, "USD") == expected_extra(s, a), n
            assert (s.macc(a, "EUR").cash > 0) == ("EUR" in collateral.held(s, a, "USD")), n
        holders = [self.h.addr(n) for n in NAMES if s.macc(self.h.addr(n), "EUR").cash > 0]
        assert collateral.holders(s, "EUR") == sorted(holders)
        assert FUND not in collateral.holders(s, "EUR")


TestCollateralMachine = CollateralMachine.TestCase
TestCollateralMachine.settings = settings(max_examples=120, stateful_step_count=30, deadline=None,
                                          suppress_health_check=[HealthCheck.too_slow])
