"""The option band's promise, checked directly: inside the band, before ``t_until`` and within the vol epoch, no breach.

An account with random option positions (and cash) is filed by ``margin.reindex``; then
the price is drawn inside its band, every vol inside its epoch's band, the time before
``t_until``, the marks recomputed with ``pricing.bs_value6``, and the account evaluated
exactly: it must not be breached (docs/options.md, Liquidation).
"""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.codec import encode
from ledger.txkinds_options import OptionParams
from settlement.context import BlockContext
from settlement.risk.margin import evaluate, reindex
from settlement.risk.markets import default_params
from settlement.risk.optrecords import CALL, PUT, UNDERLYINGS, Series, series_id, series_list_key
from settlement.risk.options import optindex
from settlement.risk.options.marks import MARKED
from settlement.risk.options.positions import ofill
from settlement.risk.options.pricing import bs_value6
from settlement.risk.records import Market, Session
from settlement.risk.units import unpack_int
from settlement.state import DictView, State

U, Q, NOW, DAY = "BTC-PERP", "USD", 1_000_000, 86_400_000
A, B = b"\x01" * 20, b"\x02" * 20
VB, RECHECK = 100_000, 60_000

position = st.tuples(st.sampled_from([CALL, PUT]), st.integers(60, 140), st.sampled_from([DAY // 24, 7 * DAY, 90 * DAY]),
                     st.integers(-20, 20).filter(bool), st.integers(1, 3))


def _mark(sess, sid, spot, vol, now):
    s = sess.series(sid)
    ss = sess.sstate(sid)
    ss.mark6 = bs_value6(spot, s.strike, vol, s.expiry_ms - now, 0, s.kind == CALL)
    ss.iv_ppm, ss.spot, ss.mark_time_ms, ss.mark_state = vol, spot, now, MARKED
    sess.touch_ss(sid)


def options_book(p0: int, vol: int, positions, markets=()) -> tuple[DictView, State, Session, list[tuple[str, int]]]:
    """A session over an empty state: U at ``p0`` with options enabled (and ``markets``: [(market, price)]), the
    ``positions``' series listed and marked at ``vol``, the epoch's reference vols set; [(series, contracts)]."""
    view = DictView({})
    state = State(view)
    sess = Session(state, BlockContext("bands", 1, NOW))
    for mid, price in ((U, p0), *markets):
        sess.add_market(Market(mid, mid[:3], Q, default_params("large"), []))
        ms = sess.mstate(mid)
        ms.price, ms.stale = price, False
    sess.set_oparams(U, OptionParams(0, 1_800_000, 60_000, 100_000, 150_000, 100_000, 75_000, 10_000, VB, RECHECK))
    state.put(UNDERLYINGS, encode([U]))
    sids = []
    for kind, k_pct, ahead, n, lots in positions:
        sid = series_id(U, kind, p0 * k_pct // 100, NOW + ahead)
        sess.add_series(Series(sid, U, kind, p0 * k_pct // 100, NOW + ahead, lots, Q))
        _mark(sess, sid, p0, vol, NOW)
        sids.append((sid, n))
    state.put(series_list_key(U), encode(sorted(s for s, _ in sids)))
    optindex.candidates(sess)  # the epoch's reference vols
    return view, state, sess, sids


@settings(max_examples=300, deadline=None)
@given(p0=st.integers(1_000, 200_000), vol=st.integers(100_000, 2_000_000), cash_s=st.integers(0, 300),
       positions=st.lists(position, min_size=1, max_size=3, unique_by=lambda x: x[:3]), data=st.data())
def test_no_breach_inside_the_band(p0, vol, cash_s, positions, data):
    view, state, sess, sids = options_book(p0, vol, positions)
    sess.macc(A, Q).cash = cash_s * p0  # cash in units of the underlying's price
    for sid, n in sids:
        ofill(sess, A, Q, sid, n, 0)
        ofill(sess, B, Q, sid, -n, 0)
    ev = evaluate(sess, A, Q)
    reindex(sess, A, Q, ev, indexed=False)
    rec = optindex._record(sess, A, Q)
    if rec is None or ev.breached:
        return  # long only without debt (files nothing), or breached already
    (_, lo, hi), = rec[0]
    lo, hi = unpack_int(lo), unpack_int(hi)
    if lo > hi:
        return  # the sentinel: re-checked at every sweep
    sess.flush()
    view.apply(state.writes())
    s1 = data.draw(st.integers(max(lo, 1), hi), label="spot")
    now = NOW + data.draw(st.integers(0, rec[1] - NOW), label="elapsed")
    after = Session(State(view), BlockContext("bands", 2, now))
    after.mstate(U).price = s1
    for sid, _ in sids:
        v1 = data.draw(st.integers(-(-vol * (10**6 - VB) // 10**6), vol * (10**6 + VB) // 10**6), label="vol")
        _mark(after, sid, s1, v1, now)
    ev1 = evaluate(after, A, Q)
    assert not ev1.breached, (ev.equity, ev.mmr, lo, hi, s1, ev1.equity, ev1.mmr)
