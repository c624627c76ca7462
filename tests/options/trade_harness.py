"""An options test chain: the risk-test :class:`Harness` plus option listing, marks and signed option orders.

Owns nothing the code under test uses.  A series is listed, and its mark
written, directly in state through a risk ``Session`` (as a listing and the
end-of-block marks would), so that examples can use round marks; blocks still
go through the real ``apply_block``, whose options phase, finding no vol
surface, keeps the written mark (``marks.py``: ``no_vol``) until the next one
is written.
"""
from __future__ import annotations

from ledger.codec import decode, encode
from ledger.txkinds_options import OptionOrder, OptionParams, OptionTrade, sign_option_order
from ledger.txkinds_risk import ANY_TAKER
from settlement.context import BlockContext
from settlement.risk.optrecords import CALL, UNDERLYINGS, Series, series_id, series_list_key
from settlement.risk.options.marks import MARKED
from settlement.risk.options.pricing import bs_value6
from settlement.risk.records import Session
from settlement.state import State

from tests.settlement.harness import Harness

def oparams(**overrides) -> OptionParams:
    """Deribit's standard-margin fractions; 10 % band, 1 % penalty, 10 % vol band, 60 s recheck."""
    values = dict(rate_ppm=0, settlement_window_ms=1_800_000, vol_fresh_ms=60_000, trade_band_ppm=100_000,
                  im_base_ppm=150_000, im_floor_ppm=100_000, mm_ppm=75_000, liq_penalty_ppm=10_000,
                  vol_band_ppm=100_000, recheck_ms=60_000)
    values.update(overrides)
    return OptionParams(**values)


class OptHarness(Harness):
    def write(self, fn):
        """Run ``fn(session)`` against the current state and apply its writes (outside any block)."""
        state = State(self.view)
        sess = Session(state, BlockContext(self.chain_id, self.height, self.time_ms))
        out = fn(sess)
        sess.flush()
        self.view.apply(state.writes())
        return out

    def enable_options(self, u: str = "BTC-PERP", **overrides) -> None:
        def go(sess):
            sess.set_oparams(u, oparams(**overrides))
            raw = sess.state.get(UNDERLYINGS)
            have = [] if raw is None else list(decode(raw))
            sess.state.put(UNDERLYINGS, encode(sorted(set(have) | {u})))
        self.write(go)

    def list_series(self, kind: str, strike: int, expiry_ms: int, lots: int = 1, u: str = "BTC-PERP") -> str:
        sid = series_id(u, kind, strike, expiry_ms)

        def go(sess):
            sess.add_series(Series(sid, u, kind, strike, expiry_ms, lots, sess.market(u).quote))
            raw = sess.state.get(series_list_key(u))
            have = [] if raw is None else list(decode(raw))
            sess.state.put(series_list_key(u), encode(sorted(set(have) | {sid})))
        self.write(go)
        return sid

    def set_mark(self, sid: str, mark6: int, iv_ppm: int = 500_000, spot: int | None = None) -> None:
        def go(sess):
            ss = sess.sstate(sid)
            ss.mark6, ss.iv_ppm, ss.mark_time_ms, ss.mark_state = mark6, iv_ppm, self.time_ms, MARKED
            ss.spot = spot if spot is not None else sess.mstate(sess.series(sid).underlying).price
            sess.touch_ss(sid)
        self.write(go)

    def mark_bs(self, sid: str, iv_ppm: int) -> int:
        """Write the mark of ``sid`` (``pricing.bs_value6``) at the underlying's price, ``iv_ppm`` and the current block time."""
        sess = self.session()
        s = sess.series(sid)
        spot = sess.mstate(s.underlying).price
        m = bs_value6(spot, s.strike, iv_ppm, s.expiry_ms - self.time_ms, sess.oparams(s.underlying).rate_ppm, s.kind == CALL)
        self.set_mark(sid, m, iv_ppm, spot)
        return m

    def option_order(self, maker: str, sid: str, side: str, size: int, price: int, *, expiry=10**9, nonce=None, taker=ANY_TAKER):
        if nonce is None:
            nonce = self.nonces.get("order/" + maker, 0)
            self.nonces["order/" + maker] = nonce + 1
        return sign_option_order(self.keys[maker], self.chain_id, OptionOrder(sid, side, size, price, expiry, nonce, taker))

    def option_trade_tx(self, taker: str, maker: str, sid: str, side: str, size: int, price: int, **kw):
        return self.tx(taker, OptionTrade(self.option_order(maker, sid, side, size, price, **kw), size))

    def option_trade(self, taker: str, maker: str, sid: str, side: str, size: int, price: int, **kw):
        """``maker`` takes ``side`` of ``size`` contracts at ``price`` each; ``taker`` the other side."""
        return self.block(self.option_trade_tx(taker, maker, sid, side, size, price, **kw))[0]
