"""ofill and the holders set: premium conservation, basis on reduce and flip, series list, open interest."""
from hypothesis import given, settings, strategies as st

from settlement.context import BlockContext
from settlement.risk.optrecords import SState, Series, series_id
from settlement.risk.options.positions import holders, ofill
from settlement.risk.records import Session
from settlement.state import DictView, State, StateTree

U, Q = "BTC-PERP", "USD"
SID = series_id(U, "call", 100_000, 10_000)


def _session(view=None):
    state = State(view or DictView())
    sess = Session(state, BlockContext("t", 1, 0))
    if sess.series(SID) is None:
        sess.add_series(Series(SID, U, "call", 100_000, 10_000, 1, Q))
    return sess


def _trade(sess, buyer, seller, n, premium):
    ofill(sess, buyer, Q, SID, n, n * premium)
    ofill(sess, seller, Q, SID, -n, -n * premium)


def test_basis_on_reduce_and_flip():
    sess = _session()
    a, b = b"\x01" * 20, b"\x02" * 20
    _trade(sess, a, b, 5, 100)  # a long 5 for 500
    assert (sess.opos(a, SID).size, sess.opos(a, SID).cost) == (5, 500)
    _trade(sess, b, a, 2, 110)  # a sells 2 at 110: 2/5 of the basis leaves
    assert (sess.opos(a, SID).size, sess.opos(a, SID).cost) == (3, 300)
    _trade(sess, b, a, 8, 110)  # a sells 8: closes 3, opens 5 short at 110
    assert (sess.opos(a, SID).size, sess.opos(a, SID).cost) == (-5, -550)
    assert sess.macc(a, Q).cash == -500 + 220 + 880
    assert sess.macc(a, Q).series == [SID]
    assert sess.sstate(SID).oi == 5  # b is long 5


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5), st.integers(1, 50), st.integers(1, 10**6)), max_size=30))
def test_fills_conserve_cash_and_contracts(trades):
    addrs = [bytes([7 * i + 1]) * 20 for i in range(6)]
    view = DictView()
    for buyer, seller, n, premium in trades:
        if buyer == seller:
            continue
        sess = _session(view)
        _trade(sess, addrs[buyer], addrs[seller], n, premium)
        sess.flush()
        writes, _ = sess.state.finish(StateTree.empty())
        view.apply(writes)
        sess = _session(view)
        sizes = {a: sess.opos(a, SID).size for a in addrs}
        assert sum(sizes.values()) == 0
        assert sum(sess.macc(a, Q).cash for a in addrs) == 0
        assert holders(sess, SID) == sorted(a for a in addrs if sizes[a])
        assert sess.sstate(SID).oi == sum(s for s in sizes.values() if s > 0)
        for a in addrs:
            assert sess.macc(a, Q).series == ([SID] if sizes[a] else [])


def test_positions_balance_counts_option_series():
    from settlement.audit import positions_balance
    sess = _session()
    a, b = b"\x01" * 20, b"\x02" * 20
    _trade(sess, a, b, 4, 100)
    sess.flush()
    writes, _ = sess.state.finish(StateTree.empty())
    row = positions_balance((k, v) for k, v in writes.items() if v is not None)[SID]
    assert row == {"net": 0, "longs": 4, "holders": 2}
