"""Marks of live series every block: Black-Scholes at the surface's vol, kept and flagged when they cannot be computed."""
from __future__ import annotations

from settlement.risk.options.marks import MARKED, NO_VOL, STALE_PRICE, UNMARKED
from settlement.risk.options.pricing import bs_greeks
from settlement.risk.options.surface import load_surface, vol_at

from .series_harness import BTC, OptHarness

DAY = 86_400_000


def test_marks_follow_the_surface_and_spot():
    h = OptHarness(price=10_000, rate_ppm=30_000)
    e = h.time_ms + 30 * DAY
    call = h.list_series("call", 11_000, e, lots=3)
    put = h.list_series("put", 9_000, e)
    assert h.session().sstate(call).mark_state == NO_VOL  # no surface yet
    assert [(x.attrs["series"], x.attrs["state"]) for x in h.block_events("option_mark_state")] == [(put, "no_vol")]  # its block
    h.block(*h.vol_txs([(e, 9_000, 700_000), (e, 12_000, 500_000)]))
    now = h.time_ms
    assert {x.attrs["series"]: x.attrs["state"] for x in h.block_events("option_mark_state")} == {call: "marked", put: "marked"}
    sess = h.session()
    pts = load_surface(sess, BTC).points
    for sid, k, is_call in ((call, 11_000, True), (put, 9_000, False)):
        ss = sess.sstate(sid)
        vol = vol_at(pts, e, k, now)
        g = bs_greeks(10_000, k, vol, e - now, 30_000, is_call)
        assert (ss.mark_state, ss.iv_ppm, ss.spot, ss.mark_time_ms) == (MARKED, vol, 10_000, now)
        assert (ss.mark6, ss.delta, ss.gamma, ss.vega, ss.theta) == (g.value6, g.delta, g.gamma, g.vega, g.theta)
    assert sess.sstate(put).iv_ppm == 700_000 and 500_000 < sess.sstate(call).iv_ppm < 700_000
    h.block(*h.price_txs(10_500))
    ss = h.session().sstate(call)
    assert ss.spot == 10_500 and ss.mark_time_ms == h.time_ms and ss.mark6 > 0
    assert not h.block_events("option_mark_state")  # no change of state: no event


def test_a_series_without_vol_or_price_keeps_its_last_mark_and_says_why():
    h = OptHarness(price=10_000, market_overrides=dict(oracle_fresh_ms=5_000), vol_fresh_ms=20_000)
    e = h.time_ms + 30 * DAY
    call = h.list_series("call", 10_000, e)
    h.block(*h.vol_txs([(e, 10_000, 600_000)]), *h.price_txs(10_000))
    marked = h.session().sstate(call).as_dict()
    assert marked["mark_state"] == MARKED
    h.block(dt_ms=6_000)  # price reports 6 s old: the market is stale
    ss = h.session().sstate(call).as_dict()
    assert ss["mark_state"] == STALE_PRICE and {**ss, "mark_state": MARKED} == marked
    assert h.block_events("option_mark_state")[0].attrs == {"series": call, "state": "stale_price"}
    h.block(*h.price_txs(10_000), dt_ms=15_000)  # fresh price again, the vol reports now 21 s old: no surface
    ss = h.session().sstate(call).as_dict()
    assert ss["mark_state"] == NO_VOL and {**ss, "mark_state": MARKED} == marked
    h.block(*h.vol_txs([(e, 10_000, 600_000)]))
    assert h.session().sstate(call).mark_state == MARKED


def test_settled_series_are_unmarked():
    h = OptHarness(price=10_000, settlement_window_ms=1_000)
    e = h.time_ms + 3_000
    sid = h.list_series("call", 10_000, e)
    h.block(*h.vol_txs([(e, 10_000, 600_000)]))
    assert h.session().sstate(sid).mark_state == MARKED
    h.at(e)
    ss = h.session().sstate(sid)
    assert (ss.settled, ss.mark_state, ss.delta, ss.gamma, ss.vega, ss.theta) == (1, UNMARKED, 0, 0, 0, 0)
