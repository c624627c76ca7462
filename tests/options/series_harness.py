"""Harness for the option series tests: a perpetual underlying with options enabled, listings, vol reports, positions.

Owns nothing the code under test uses.  Everything goes through real blocks
(``tests/settlement/harness.py``); option positions are opened with the real
``positions.ofill`` on both sides inside one risk session, committed as a
block's writes would be (until option trades exist).
"""
from __future__ import annotations

from ledger.txkinds_risk import PriceReport
from ledger.txkinds_options import RegisterOptionChain, RegisterOptionSeries, SetOptionParams, VolPoint, VolReport
from settlement.audit import conservation
from settlement.context import BlockContext
from settlement.risk.optrecords import series_id
from settlement.risk.options.positions import ofill
from settlement.risk.options.series import default_option_params
from settlement.risk.records import Session
from settlement.state import State

from tests.settlement.harness import Harness

BTC = "BTC-PERP"
USD = "USD"


class OptHarness(Harness):
    """A :class:`Harness` whose market ``BTC-PERP`` has a price and options enabled."""

    def __init__(self, price: int = 10_000, oracles: int = 4, market_overrides=None, **params):
        super().__init__(oracles=oracles)
        overrides = dict(oracle_fresh_ms=86_400_000, oracle_max_move_ppm=5_000_000, oracle_deviation_ppm=5_000_000)
        overrides.update(market_overrides or {})
        assert self.register_market(BTC, **overrides).ok
        self.prices(BTC, price)
        self.params = default_option_params(**params)
        r = self.run("admin", SetOptionParams(BTC, self.params))
        assert r.ok, r.reason

    def at(self, time_ms: int, *txs):
        """Apply a block at absolute block time ``time_ms``."""
        return self.block(*txs, dt_ms=time_ms - self.time_ms)

    def price_txs(self, price: int, market: str = BTC):
        return [self.tx(o, PriceReport(market, price)) for o in self.oracles]

    def list_series(self, kind: str, strike: int, expiry_ms: int, lots: int = 1, **kw):
        r = self.run("admin", RegisterOptionSeries(BTC, kind, strike, expiry_ms, lots), **kw)
        assert r.ok, r.reason
        return series_id(BTC, kind, strike, expiry_ms)

    def list_chain(self, strikes, expiries, lots: int = 1):
        return self.run("admin", RegisterOptionChain(BTC, list(strikes), list(expiries), lots))

    def vol_txs(self, points, oracles=None, underlying: str = BTC):
        """Each oracle (all by default) reports ``points`` = [(expiry, strike, vol), ...]."""
        pts = [VolPoint(e, k, v) for e, k, v in points]
        return [self.tx(o, VolReport(underlying, pts)) for o in (self.oracles if oracles is None else oracles)]

    def open(self, long: str, short: str, sid: str, n: int, premium: int) -> None:
        """``long`` buys ``n`` contracts of ``sid`` from ``short`` at ``premium`` each (both sides through ofill)."""
        state = State(self.view)
        sess = Session(state, BlockContext(self.chain_id, self.height, self.time_ms))
        asset = sess.series(sid).quote
        ofill(sess, self.addr(long) if long in self.keys else long, asset, sid, n, n * premium)
        ofill(sess, self.addr(short) if short in self.keys else short, asset, sid, -n, -n * premium)
        sess.flush()
        writes, self.acc = state.finish(self.acc)
        self.view.apply(writes)

    def cash(self, name: str, asset: str = USD) -> int:
        return self.session().macc(self.addr(name), asset).cash

    def conserved(self) -> bool:
        return all(row["ok"] for row in conservation(self.view.data.items()).values())
