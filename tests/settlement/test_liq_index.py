"""The at-risk index: bucket order, soundness of triggers (no breach before a trigger fires) and its cost."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from settlement.context import BlockContext
from settlement.risk.liq_index import PAGES, IndexCache, bucket
from settlement.risk.margin import coordinate, evaluate, reindex
from settlement.risk.markets import default_params
from settlement.risk.records import INDEX, LONG, SHORT, Market, Session
from settlement.state import DictView, State

big = st.integers(min_value=-(2**100), max_value=2**100)


@given(big, big)
def test_bucket_is_monotone(a, b):
    if a <= b:
        assert bucket(a) <= bucket(b)
    else:
        assert bucket(a) >= bucket(b)


def test_buckets_are_about_one_percent_wide():
    x = 10**12
    assert bucket(x) < bucket(x * 102 // 100)
    assert bucket(x) == bucket(x + x // 1000) or bucket(x + x // 1000) == bucket(x) + 1


market_state = st.tuples(
    st.integers(1, 10**9),  # price per lot
    st.integers(1_000, 500_000),  # mmf_eff ppm
    st.integers(-(10**15), 10**15),  # funding index
)
position = st.tuples(st.integers(-(10**6), 10**6).filter(bool), st.integers(-(10**15), 10**15))  # size, funding snapshot


def _session(states) -> Session:
    sess = Session(State(DictView()), BlockContext("t", 1, 1))
    for i, (price, mmf, findex) in enumerate(states):
        sess.add_market(Market(f"M{i}", "B", "USD", default_params(), ()))
        ms = sess.mstate(f"M{i}")
        ms.price, ms.mmf_eff, ms.imf_eff, ms.findex, ms.stale = price, mmf, min(10**6, 2 * mmf), findex, False
    return sess


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.tuples(market_state, market_state), min_size=1, max_size=3),
    st.lists(position, min_size=1, max_size=3),
    st.integers(-(10**18), 10**18),
)
def test_no_breach_before_a_trigger_fires(markets, positions, cash):
    """Soundness: if no trigger of an account has fired, the account is not breached (any moves of P, mmf, F)."""
    positions = positions[: len(markets)]
    sess = _session([m[0] for m in markets])
    addr = b"\x07" * 20
    acct = sess.macc(addr, "USD")
    acct.cash = cash
    for i, (size, snap) in enumerate(positions):
        p = sess.pos(addr, f"M{i}")
        p.size, p.funding_snap = size, snap
        acct.markets.append(f"M{i}")
    reindex(sess, addr, "USD", indexed=False)
    triggers = {mid: (sess.pos(addr, mid).trigger, sess.pos(addr, mid).trigger_side) for mid in acct.markets}
    for i, (_, (price, mmf, findex)) in enumerate(markets):
        ms = sess.mstate(f"M{i}")
        ms.price, ms.mmf_eff, ms.findex = price, mmf, findex
    fired = False
    for mid, (t, side) in triggers.items():
        x = coordinate(sess, mid, side)
        fired = fired or (x < t if side == LONG else x > t)
    if not fired:
        assert not evaluate(sess, addr, "USD").breached


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.tuples(market_state, market_state), min_size=1, max_size=3),
    st.lists(position, min_size=1, max_size=3),
    st.integers(-3, 3_000),
)
def test_no_breach_before_a_trigger_fires_near_the_boundary(markets, positions, offset):
    """Same property for accounts placed within a few units of equity == MMR (where rounding matters)."""
    positions = positions[: len(markets)]
    sess = _session([m[0] for m in markets])
    addr = b"\x07" * 20
    acct = sess.macc(addr, "USD")
    for i, (size, snap) in enumerate(positions):
        p = sess.pos(addr, f"M{i}")
        p.size, p.funding_snap = size, snap
        acct.markets.append(f"M{i}")
    ev = evaluate(sess, addr, "USD")
    acct.cash = ev.mmr - ev.equity + offset  # equity - MMR == offset
    reindex(sess, addr, "USD", indexed=False)
    triggers = {mid: (sess.pos(addr, mid).trigger, sess.pos(addr, mid).trigger_side) for mid in acct.markets}
    for i, (_, (price, mmf, findex)) in enumerate(markets):
        ms = sess.mstate(f"M{i}")
        ms.price, ms.mmf_eff, ms.findex = price, mmf, findex
    fired = any((coordinate(sess, mid, side) < t) if side == LONG else (coordinate(sess, mid, side) > t)
                for mid, (t, side) in triggers.items())
    if not fired:
        assert not evaluate(sess, addr, "USD").breached


def _filled(n: int) -> DictView:
    view = DictView()
    idx = IndexCache(State(view), INDEX)
    for i in range(n):
        addr = i.to_bytes(4, "big") * 5
        idx.insert("M", LONG, addr, 1_000_000 + 1_000 * i)  # long triggers 1.000e6 .. 1.999e6
    idx.flush()
    view.apply(idx.state.writes())
    return view


class CountingView:
    def __init__(self, view):
        self.view, self.reads = view, 0

    def get(self, key):
        self.reads += 1
        return self.view.get(key)


def test_quiet_block_costs_one_read():
    cv = CountingView(_filled(1_000))
    fired = IndexCache(State(cv), INDEX).pop_fired("M", LONG, 5_000_000)  # everyone's trigger is below
    assert fired == [] and cv.reads == 1  # the watermark


def test_pop_fired_reads_only_the_buckets_between_price_and_watermark():
    view = _filled(1_000)
    cv = CountingView(view)
    idx = IndexCache(State(cv), INDEX)
    fired = idx.pop_fired("M", LONG, 1_990_000)  # T > 1,990,000: the last 9 accounts
    assert sorted(t for _, t in fired) == [1_000_000 + 1_000 * i for i in range(991, 1_000)]
    buckets = len({bucket(1_000_000 + 1_000 * i) for i in range(985, 1_000)})
    assert cv.reads <= 2 + buckets * PAGES  # watermark + directory + pages of those buckets only
    assert idx.watermark("M", LONG) == 1_990_000
    assert idx.pop_fired("M", LONG, 1_990_000) == []
    assert len(idx.holders("M", LONG)) == 991


def test_shorts_fire_upwards():
    view = DictView()
    idx = IndexCache(State(view), INDEX)
    for i in range(10):
        idx.insert("M", SHORT, bytes([i]) * 20, 100 + i)
    assert [t for _, t in idx.pop_fired("M", SHORT, 105)] == sorted([100, 101, 102, 103, 104])
    assert idx.watermark("M", SHORT) == 105
