"""Re-check bands of portfolio accounts (``settlement/risk/pm/bands.py``): sound, and skipping accounts prices barely moved.

* The band's promise, checked directly: a portfolio account with random perpetual and option
  positions on two underlyings (and cash) is filed by ``margin.reindex``; then each price is drawn
  inside its band, every vol inside its epoch's band, the time before ``t_until``, funding charged
  at up to its cap as often as the horizon allows (one market's interval drawn down to 1 s), the
  marks recomputed with ``pricing.bs_value6`` and the account evaluated exactly: it must not be
  breached.
* The worked example of docs/portfolio-margin.md ("Re-check bands").
* Through real blocks: a portfolio account is not re-evaluated while its prices stay inside its
  bands (its filed record is untouched), and is once a price leaves them or its time is up; a
  socialized loss and a new grid re-check it in their block.
"""
from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.txkinds_pm import PmParams, SetMarginMode, SetPmParams
from settlement.context import BlockContext
from settlement.risk import collateral_bands
from settlement.risk.margin import evaluate, fill, reindex
from settlement.risk.optrecords import CALL
from settlement.risk.options.positions import ofill
from settlement.risk.pm import bands, mode
from settlement.risk.records import Session
from settlement.risk.units import unpack_int
from settlement.state import State

from tests.options.test_option_bands import A, B, NOW, Q, RECHECK, U, VB, _mark, options_book, position
from tests.pm.pm_harness import DAY, chain, option, perp, series, switch
from tests.settlement.test_collateral import chain as collateral_chain
from tests.settlement.test_waterfall import BTC, ETH, prices as waterfall_prices, setup as waterfall_setup

V, ONE = "ETH-PERP", 10**6
grids = st.builds(PmParams, st.sampled_from([50_000, 150_000, 300_000]), st.sampled_from([0, 300_000, 1_000_000]),
                  st.sampled_from([0, 300_000, 900_000]), st.integers(1, 4), st.sampled_from([0, 350_000, ONE]),
                  st.sampled_from([0, 10_000, 50_000]), st.sampled_from([1, 500_000, 769_231, ONE]))


def _book(p0, pv, vol, cash, perp_u, perp_v, positions, grid, interval_v=3_600_000):
    """U at p0 (options enabled), V at pv (funding every ``interval_v``), A in portfolio mode holding the book, B the other side."""
    view, state, sess, sids = options_book(p0, vol, positions, [(V, pv)])
    mv = sess.market(V)
    sess.replace_market(dataclasses.replace(mv, params=dataclasses.replace(mv.params, funding_interval_ms=interval_v)))
    mode.set_params(sess, U, grid)
    mode.set_mode(sess, A, mode.PORTFOLIO)
    sess.macc(A, Q).cash = cash
    for sid, n in sids:
        ofill(sess, A, Q, sid, n, 0)
        ofill(sess, B, Q, sid, -n, 0)
    for mid, size, price in ((U, perp_u, p0), (V, perp_v, pv)):
        if size:
            fill(sess, A, Q, mid, size, size * price)
            fill(sess, B, Q, mid, -size, -size * price)
    return view, state, sess, sids


def _edge(lo: int, hi: int):
    """An integer in [lo, hi], often one of its ends (where a bound is tight)."""
    return st.one_of(st.sampled_from([lo, hi]), st.integers(lo, hi))


@settings(max_examples=300, deadline=None)
@given(p0=st.integers(1_000, 200_000), pv=st.integers(100, 20_000), vol=st.integers(100_000, 2_000_000),
       spare=st.integers(0, 1_000), perp_u=st.integers(-5, 5), perp_v=st.integers(-50, 50),
       positions=st.lists(position, max_size=3, unique_by=lambda x: x[:3]), grid=grids,
       interval_v=st.sampled_from([1_000, 15_000, 3_600_000]), data=st.data())
def test_no_breach_inside_the_bands(p0, pv, vol, spare, perp_u, perp_v, positions, grid, interval_v, data):
    view, state, sess, sids = _book(p0, pv, vol, 0, perp_u, perp_v, positions, grid, interval_v)
    if not sids and not perp_u and not perp_v:
        return
    ev = evaluate(sess, A, Q)
    sess.macc(A, Q).cash += ev.mmr - ev.equity + ev.mmr * spare // 1_000  # margin: 0 to 1 x MMR (tight bands)
    ev = evaluate(sess, A, Q)
    reindex(sess, A, Q, ev, indexed=False)
    rec = bands._record(sess, A, Q)
    if rec is None or ev.breached:
        return  # long options only without debt (files nothing), or breached already
    rows = {u: (unpack_int(lo), unpack_int(hi)) for u, lo, hi in rec[0]}
    if any(lo > hi for lo, hi in rows.values()):
        return  # the sentinel: re-checked at every sweep
    t_until = rec[1]
    assert NOW < t_until <= NOW + (RECHECK if sids else bands.PERP_HORIZON_MS)
    sess.flush()
    view.apply(state.writes())
    now = NOW + data.draw(_edge(0, t_until - NOW), label="elapsed")
    after = Session(State(view), BlockContext("pmbands", 2, now))
    for mid in rows:
        lo, hi = rows[mid]
        ms = after.mstate(mid)
        ms.price = data.draw(_edge(max(lo, 1), hi), label=f"price {mid}")
        p = after.market(mid).params
        for _ in range(1 + (t_until - NOW) // p.funding_interval_ms):  # funding as often as the horizon allows
            path = data.draw(_edge(max(lo, 1), hi), label="funding price")
            ms.findex += data.draw(st.sampled_from([-p.funding_cap_ppm, p.funding_cap_ppm]), label="rate") * path
    s1 = after.mstate(U).price
    for sid, _ in sids:
        v1 = data.draw(_edge(-(-vol * (ONE - VB) // ONE), vol * (ONE + VB) // ONE), label="vol")
        _mark(after, sid, s1, v1, now)
    ev1 = evaluate(after, A, Q)
    assert not ev1.breached, (ev.equity, ev.mmr, rows, ev1.equity, ev1.mmr)


# ------------------------------------------------------------------ the worked example, and through real blocks


def _covered_call():
    """The worked example through real blocks: alice, 30,000 USD, long 1 BTC-PERP lot, short one 30-day 110,000 call."""
    h = chain(30_000)
    assert switch(h, "alice", "portfolio").ok
    perp(h, "alice", 1)
    option(h, "alice", series(h, "call", 110_000, 30), -1)
    return h


def _filed(h):
    """alice's filed band record, raw (re-filing it rewrites its t_until: a block later, different bytes)."""
    return h.view.get(bands.BAND + h.addr("alice") + b"/USD")


def test_worked_example_band():
    """docs/portfolio-margin.md, "Re-check bands": 30,000 USD, long 1 BTC-PERP lot at 100,000, short one 30-day 110,000 call."""
    view, state, sess, ((sid, _),) = options_book(100_000, 500_000, [(CALL, 110, 30 * DAY, -1, 1)])
    mode.set_mode(sess, A, mode.PORTFOLIO)
    sess.macc(A, Q).cash = 30_000
    fill(sess, A, Q, U, 1, 100_000)
    fill(sess, B, Q, U, -1, -100_000)
    premium = sess.sstate(sid).mark6 // ONE
    assert premium == 2_275
    ofill(sess, A, Q, sid, -1, -premium)
    ofill(sess, B, Q, sid, 1, premium)
    ev = evaluate(sess, A, Q)
    assert (ev.equity, ev.imr, ev.mmr) == (29_999, 14_954, 11_504)
    (band,) = bands.band_terms(sess, A, sess.macc(A, Q), NOW + RECHECK)
    assert (band.u, band.p0, band.slope, band.allow) == (U, 100_000, 3_007_693, 3_711_358_113)
    assert band.half_width(18_495 * ONE) == 4_915
    reindex(sess, A, Q, ev, indexed=False)
    rows, t_until = bands._record(sess, A, Q)
    assert [(u, unpack_int(lo), unpack_int(hi)) for u, lo, hi in rows] == [(U, 95_085, 104_915)] and t_until == NOW + RECHECK
    sess.flush()
    view.apply(state.writes())
    for price, now, expected in ((104_915, t_until - 1, set()), (95_085, t_until - 1, set()), (104_916, t_until - 1, {(A, Q)}),
                                 (95_084, t_until - 1, {(A, Q)}), (100_000, t_until, {(A, Q)})):
        after = Session(State(view), BlockContext("pmbands", 2, now))  # the next sweep's candidates (not written)
        after.mstate(U).price = price
        assert bands.candidates(after) == expected, (price, now)


def test_t_until_never_passes_the_earliest_expiry():
    """A settlement changes the book (a hedge leg leaves it): the bands end at the earliest expiry of a live series."""
    view, state, sess, sids = options_book(100_000, 500_000, [(CALL, 110, 30_000, -1, 1), (CALL, 120, 30 * DAY, 1, 1)])
    mode.set_mode(sess, A, mode.PORTFOLIO)
    sess.macc(A, Q).cash = 50_000
    for sid, n in sids:
        ofill(sess, A, Q, sid, n, 0)
        ofill(sess, B, Q, sid, -n, 0)
    reindex(sess, A, Q, indexed=False)
    rows, t_until = bands._record(sess, A, Q)
    assert t_until == NOW + 30_000 < NOW + RECHECK and all(unpack_int(lo) <= unpack_int(hi) for _, lo, hi in rows)


def test_not_re_evaluated_inside_the_band_and_re_evaluated_past_it():
    h = _covered_call()
    filed = _filed(h)
    ((_, lo, hi),), _ = bands._record(h.session(), h.addr("alice"), "USD")
    lo, hi = unpack_int(lo), unpack_int(hi)
    assert 95_000 < lo < 96_000 and 104_000 < hi < 105_000
    for price in (100_100, 99_000, hi, lo):  # inside its band: nothing re-files alice
        h.prices("BTC-PERP", price)
        assert _filed(h) == filed, price
    h.prices("BTC-PERP", lo - 1)  # one below: the sweep re-evaluates alice and files a band around the new price
    rows, t_until = bands._record(h.session(), h.addr("alice"), "USD")
    new_lo, new_hi = unpack_int(rows[0][1]), unpack_int(rows[0][2])
    assert new_lo < lo - 1 < new_hi < hi and t_until == h.time_ms + RECHECK


def test_re_evaluated_when_its_time_is_up():
    h = _covered_call()
    filed = _filed(h)
    h.prices("BTC-PERP", 100_000, dt_ms=RECHECK - 1_000)
    assert _filed(h) == filed
    h.prices("BTC-PERP", 100_000, dt_ms=1_000)  # the block time reaches t_until
    assert _filed(h) != filed


# ------------------------------------------------------------------ what moves a portfolio account besides its prices


def test_a_socialized_loss_re_checks_the_portfolio_holders_in_its_block():
    """docs/risk-engine.md's socialized remainder (tests/settlement/test_waterfall.py) with dave in portfolio mode.

    dave, short 30 ETH at 100,000 with 705,000 USD, is re-evaluated when ETH rises to 110,000: 405,000 of equity
    against an MMR of 399,808, inside the rounding of its funding allowance, so it files the sentinel.  The same
    sweep socializes 39,569 over ETH's 110 lots: dave owes 10,792 more and is breached; the socialized market pops
    its bands, so it is liquidated in that block, not one later.
    """
    h = waterfall_setup(markets=(BTC, ETH), deposits={"dave": 705_000})
    assert h.run("dave", SetMarginMode("portfolio")).ok
    assert h.trade("bob", "alice", "buy", 100, 100_000, market=BTC).ok
    assert h.trade("carol", "alice", "buy", 50, 100_000, market=ETH).ok
    assert h.trade("dave", "erin", "buy", 30, 100_000, market=ETH).ok
    waterfall_prices(h, BTC_PERP=84_000, ETH_PERP=110_000)
    [sl] = h.block_events("social_loss")
    assert sl.attrs["market"] == ETH and sl.attrs["lots"] == 110
    assert [e.attrs["step"] for e in h.block_events("liquidation") if e.attrs["account"] == h.addr("dave")] == ["partial"]
    assert not evaluate(h.session(), h.addr("dave"), "USD").breached


def test_a_new_grid_re_checks_the_portfolio_holders_of_its_underlying():
    """A grid twice as wide breaches the covered call of the worked example: the admin's tx re-evaluates it and the
    block's sweep liquidates it (its band, filed under the old grid, would not have fired on an unchanged price)."""
    h = _covered_call()
    r = h.run("admin", SetPmParams("BTC-PERP", PmParams(300_000, 300_000, 300_000, 3, 350_000, 10_000, 1_000_000)))
    assert r.ok, r.reason
    assert {e.attrs["account"] for e in h.block_events("liquidation")} == {h.addr("alice")}
    assert not evaluate(h.session(), h.addr("alice"), "USD").breached


def test_collateral_bands_and_re_check_bands_share_the_margin():
    """alice (portfolio, 80,000 EUR of collateral, long 5 BTC-PERP at 10,000: tests/settlement/test_collateral.py):
    her EUR band takes half of 10^6 x (equity - MMR), her BTC band the rest; at both bands' worst ends together,
    until t_until, she is not breached (were the BTC band to spend all of it, she would be)."""
    h = collateral_chain()
    a = h.addr("alice")
    assert h.run("alice", SetMarginMode("portfolio")).ok
    assert h.trade("alice", "dave", "sell", 5, 10_000, market="BTC-PERP").ok
    s = h.session()
    eur_lo = collateral_bands.band(s, a, "USD")["EUR"]
    ((u, lo, hi),), t_until = bands._record(s, a, "USD")
    assert u == "BTC-PERP" and 0 < eur_lo < 1_100 and 0 < unpack_int(lo) < 10_000 < unpack_int(hi)
    for btc in (unpack_int(lo), unpack_int(hi)):
        after = Session(State(h.view), BlockContext(h.chain_id, h.height + 1, t_until - 1))
        after.mstate("EUR-PERP").price = eur_lo
        after.mstate(u).price = btc
        assert not evaluate(after, a, "USD").breached, btc
