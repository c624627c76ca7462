"""The requirement benchmark's book (``bench/pm_requirement.py``): shared risk arrays give each account its own requirement.

No timing is asserted (figures live in the benchmark); what is checked is that
the accounts evaluated one after another in one session, the later ones
reusing the first one's arrays, get exactly what each gets alone in a fresh
session.
"""
from __future__ import annotations

from bench.pm_requirement import Q, build, measure
from settlement.context import BlockContext
from settlement.risk.margin import evaluate
from settlement.risk.pm import mode
from settlement.risk.records import Session
from settlement.state import State


def test_accounts_sharing_the_blocks_arrays_get_their_own_requirement():
    view, addrs = build(4)
    ctx = BlockContext("bench", 2, 1_000)
    shared = Session(State(view), ctx)
    together = [mode.requirement_terms(shared, a, shared.macc(a, Q)) for a in addrs]
    assert len(shared.oext["risk_arrays"]) == 3 * 25  # one (call, put) pair per strike and expiry of the 3 underlyings
    alone = []
    for a in addrs:
        s = Session(State(view), ctx)
        alone.append(mode.requirement_terms(s, a, s.macc(a, Q)))
    assert together == alone
    assert len({t[0] for t in together}) == len(addrs)  # different books, different requirements
    assert all(evaluate(shared, a, Q).imr == t[0] for a, t in zip(addrs, together))


def test_the_benchmark_measures_cold_and_warm():
    view, addrs = build(3)
    cold, warm, handler = measure(view, addrs, lambda s, a: mode.requirement_terms(s, a, s.macc(a, Q)))
    assert cold > 0 and warm > 0 and handler > 0
