"""Hypothesis state machine: portfolio and standard accounts side by side, perpetuals and options, price/vol/time moves.

Extends the options machine (``tests/options/test_option_machine.py``: its
rules, its brute-force "no account left breached after the sweep" check after
every block, conservation per asset, contracts balancing) with mode switches
(allowed only when covered) and grid changes, so that the sweep must find
every portfolio account the scenario requirement breaches.  Also checked after
every block, for every portfolio account: its IMR is the sum of its
underlyings' requirements, each at least the requirement of that underlying's
book alone (a position on another underlying never lowers it).

Plus two properties of the pure requirement (``scenarios.py``), for legs on
one underlying: a hedge never needs more than its legs alone
(``req(A + B) <= req(A) + req(B)``), and the account's requirement never drops
when a position on another underlying is added.
"""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import initialize, rule

from ledger.txkinds_pm import PmParams, SetMarginMode, SetPmParams
from settlement.risk.margin import evaluate
from settlement.risk.pm import mode
from settlement.risk.pm.scenarios import OptionLeg, requirement
from settlement.risk.options.pricing import bs_value6

from tests.options.test_option_machine import NAMES, OptionMachine

names = st.sampled_from(NAMES)
DAY = 86_400_000


class PmMachine(OptionMachine):
    @initialize()
    def setup(self):
        """The options machine's chain; alice and bob start in portfolio mode (no positions yet: always allowed)."""
        super().setup()
        for n in ("alice", "bob"):
            r = self.h.run(n, SetMarginMode("portfolio"))
            assert r.ok, r.reason
        self._marks()

    @rule(who=names, portfolio=st.booleans())
    def switch_mode(self, who, portfolio):
        self._block([self.h.tx(who, SetMarginMode("portfolio" if portfolio else "standard"))])

    @rule(m=st.sampled_from(("BTC-PERP", "ETH-PERP")), scan=st.sampled_from([50_000, 150_000, 300_000]),
          vol=st.sampled_from([100_000, 300_000]), mmr=st.sampled_from([500_000, 769_231, 1_000_000]))
    def grid(self, m, scan, vol, mmr):
        self._block([self.h.tx("admin", SetPmParams(m, PmParams(scan, vol, vol, 3, 350_000, 10_000, mmr)))])

    def _check_after_sweep(self):
        super()._check_after_sweep()
        s = self.h.session()
        for n in NAMES:
            a = self.h.addr(n)
            if not mode.portfolio(s, a):
                continue
            m = s.macc(a, "USD")
            per = mode.underlying_requirements(s, a, m)
            ev = evaluate(s, a, "USD")
            assert ev.imr == sum(req for _, req, _, _ in per) and all(req >= 0 for _, req, _, _ in per)
            for u, req, _, _ in per:
                size, legs = mode.book(s, a, m)[u]
                assert ev.imr >= requirement(s.mstate(u).price, size, legs, mode.params(s, u))[0] == req


PmMachine.TestCase.settings = settings(
    max_examples=25, stateful_step_count=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestPmMachine = PmMachine.TestCase


# ------------------------------------------------------------------ properties of the pure requirement

SPOT = 100_000
STRIKES = (70_000, 90_000, 100_000, 110_000, 130_000)


@st.composite
def legs(draw, max_legs=3):
    """Option legs on one underlying, each in its own series (same-series legs merge in an account)."""
    out = []
    for _ in range(draw(st.integers(0, max_legs))):
        is_call = draw(st.booleans())
        k = draw(st.sampled_from(STRIKES))
        t = draw(st.integers(1, 90)) * DAY + draw(st.integers(0, DAY))
        vol = draw(st.integers(100_000, 1_500_000))
        n = draw(st.integers(-5, 5).filter(bool))
        lots = draw(st.integers(1, 3))
        out.append(OptionLeg(n, lots, is_call, k, vol, t, 0, bs_value6(SPOT, k, vol, t, 0, is_call)))
    return out


grids = st.builds(PmParams, st.integers(10_000, 400_000), st.integers(0, 1_000_000), st.integers(0, 900_000),
                  st.integers(1, 4), st.integers(0, 1_000_000), st.integers(0, 50_000), st.integers(1, 1_000_000))


@given(a=legs(), b=legs(), pa=st.integers(-5, 5), pb=st.integers(-5, 5), grid=grids)
@settings(max_examples=60, deadline=None)
def test_a_hedge_never_needs_more_than_its_legs(a, b, pa, pb, grid):
    both = requirement(SPOT, pa + pb, a + b, grid)[0]
    assert both <= requirement(SPOT, pa, a, grid)[0] + requirement(SPOT, pb, b, grid)[0]


@given(a=legs(), pa=st.integers(-5, 5), other=legs(), po=st.integers(-5, 5), grid=grids)
@settings(max_examples=40, deadline=None)
def test_a_position_on_another_underlying_never_lowers_the_requirement(a, pa, other, po, grid):
    # the account's requirement is the sum over underlyings (mode.requirement_terms, no credit across them),
    # so it never drops if no underlying's requirement can be negative
    assert requirement(2 * SPOT // 3, po, other, grid)[0] >= 0
    assert requirement(SPOT, pa, a, grid)[0] >= 0
