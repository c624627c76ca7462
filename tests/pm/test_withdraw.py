"""Withdrawals of an account holding only options keep its IMR covered, in standard and in portfolio mode."""
from __future__ import annotations

import pytest

from ledger.txkinds_risk import MarginWithdraw

from .pm_harness import chain, figures, option, series, switch


@pytest.mark.parametrize("mode", ["standard", "portfolio"])
def test_options_only_withdrawal_keeps_imr(mode):
    h = chain()
    option(h, "alice", series(h, "call", 100_000, 30), -1)
    assert switch(h, "alice", mode).ok
    equity, imr, _ = figures(h, "alice")
    r = h.run("alice", MarginWithdraw("USD", equity - imr + 1))
    assert r.error == "insufficient_margin", r.reason
    assert h.run("alice", MarginWithdraw("USD", equity - imr)).ok
    assert figures(h, "alice")[0] == imr
