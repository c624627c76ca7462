"""Portfolio-margin test chain: the options :class:`OptHarness` plus mode switches and the examples' books.

Owns nothing the code under test uses.  Marks are written with the real
pricer at the underlying's price (``OptHarness.mark_bs``); the mode switch is
a real signed ``set_margin_mode`` tx.
"""
from __future__ import annotations

from ledger.txkinds_pm import SetMarginMode
from settlement.risk.margin import evaluate

from tests.options.trade_harness import OptHarness

DAY = 86_400_000
VOL = 500_000  # 50 %


def chain(cash: int = 200_000) -> OptHarness:
    """BTC-PERP at 100,000 (large tier), options at rate 0; alice, bob, carol with ``cash`` USD of margin each."""
    h = OptHarness(names=("alice", "bob", "carol", "dave"))
    h.register_market()
    h.prices("BTC-PERP", 100_000)
    h.enable_options()
    for n in ("alice", "bob", "carol"):
        h.deposit(n, cash)
    return h


def series(h: OptHarness, kind: str, strike: int, days: int) -> str:
    """List a series expiring ``days`` after now and mark it at :data:`VOL` with the real pricer."""
    sid = h.list_series(kind, strike, h.time_ms + days * DAY)
    h.mark_bs(sid, VOL)
    return sid


def option(h: OptHarness, who: str, sid: str, n: int, counterparty: str = "carol") -> None:
    """``who`` buys (n > 0) or sells (n < 0) |n| contracts of ``sid`` at its mark, ``counterparty`` on the other side."""
    s = h.session()
    mark = s.series(sid).contract_lots * s.sstate(sid).mark6 // 1_000_000
    r = h.option_trade(who, counterparty, sid, "sell" if n > 0 else "buy", abs(n), max(mark, 1))
    assert r.ok, r.reason
    h.mark_bs(sid, VOL)  # the block moved time: re-mark at the same vol


def perp(h: OptHarness, who: str, lots: int, counterparty: str = "carol") -> None:
    r = h.trade(who, counterparty, "sell" if lots > 0 else "buy", abs(lots), 100_000)
    assert r.ok, r.reason


def switch(h: OptHarness, who: str, mode: str):
    return h.run(who, SetMarginMode(mode))


def figures(h: OptHarness, who: str) -> tuple[int, int, int]:
    ev = evaluate(h.session(), h.addr(who), "USD")
    return ev.equity, ev.imr, ev.mmr
