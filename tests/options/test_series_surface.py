"""Vol reports, the per-block surface (quorum, lower median, staleness), interpolation and the surface epoch."""
from __future__ import annotations

from math import isqrt

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.txkinds_options import SetOptionParams, VolPoint, VolReport
from ledger.txkinds_risk import RegisterMarket, SetOracles
from settlement.risk.markets import default_params
from settlement.risk.optrecords import VolPointRec, surface_key
from settlement.risk.options.series import default_option_params
from settlement.risk.options.surface import VolGrid, load_surface, surface_epoch, vol_at

from tests.settlement.harness import refused

from .series_harness import BTC, USD, OptHarness

DAY = 86_400_000


def surface(h):
    s = load_surface(h.session(), BTC)
    return None if s is None else [(p.expiry_ms, p.strike, p.vol_ppm) for p in s.points]


# --------------------------------------------------------------------------- reports


def test_vol_report_rules():
    h = OptHarness()
    e = h.time_ms + DAY
    ok = VolReport(BTC, [VolPoint(e, 9_000, 500_000), VolPoint(e, 10_000, 400_000), VolPoint(e + 1, 1, 10_000)])
    assert h.run("oracle0", ok).ok
    refused(h, "alice", ok, "not_permitted", "oracle role")
    refused(h, "oracle0", VolReport("NOPE-PERP", ok.points), "unknown_market")
    refused(h, "oracle0", VolReport(BTC, [ok.points[1], ok.points[0]]), "invalid_parameter", "sorted")
    refused(h, "oracle0", VolReport(BTC, [ok.points[0], ok.points[0]]), "invalid_parameter", "sorted")
    refused(h, "oracle0", VolReport(BTC, [VolPoint(e, 9_000, 9_999)]), "invalid_parameter", "1 % to 1000 %")
    refused(h, "oracle0", VolReport(BTC, [VolPoint(e, 9_000, 10_000_001)]), "invalid_parameter", "1 % to 1000 %")
    refused(h, "oracle0", VolReport(BTC, [VolPoint(e, 0, 500_000)]), "invalid_parameter", "strike")
    refused(h, "oracle0", VolReport(BTC, [VolPoint(h.time_ms + 1000, 9_000, 500_000)]), "invalid_parameter", "after the block time")
    assert h.run("oracle0", VolReport(BTC, [VolPoint(e, 9_000, 10_000_000)])).ok


def test_vol_report_needs_an_oracle_of_the_market_with_options():
    h = OptHarness()
    e = h.time_ms + DAY
    oracles = tuple(h.addr(o) for o in h.oracles[:3])
    assert h.run("admin", RegisterMarket("ETH-PERP", "ETH", USD, default_params(), oracles)).ok
    body = VolReport("ETH-PERP", [VolPoint(e, 2_000, 500_000)])
    refused(h, "oracle0", body, "invalid_parameter", "not enabled")
    assert h.run("admin", SetOptionParams("ETH-PERP", default_option_params())).ok
    refused(h, "oracle3", body, "not_permitted", "not an oracle of ETH-PERP")
    assert h.run("oracle2", body).ok


# --------------------------------------------------------------------------- the surface


def test_quorum_and_lower_median():
    h = OptHarness()  # 4 oracles: quorum 3
    e = h.time_ms + DAY
    vols = [300_000, 100_000, 400_000, 200_000]
    txs = [h.tx(o, VolReport(BTC, [VolPoint(e, 10_000, v), VolPoint(e, 12_000, v)] if i < 2 else [VolPoint(e, 10_000, v)]))
           for i, (o, v) in enumerate(zip(h.oracles, vols))]
    h.block(*txs)
    # (e, 10_000): four reports, lower median of [100k, 200k, 300k, 400k] = 200k; (e, 12_000): two < quorum
    assert surface(h) == [(e, 10_000, 200_000)]
    ev = h.block_events("vol_surface")
    assert ev and ev[0].attrs["points"] == 1 and ev[0].attrs["epoch"] == 1
    h.block(h.tx("oracle3", VolReport(BTC, [VolPoint(e, 10_000, 50_000)])))
    assert surface(h) == [(e, 10_000, 100_000)]  # [50k, 100k, 300k, 400k]: lower median 100k


def test_stale_reports_drop_out():
    h = OptHarness(vol_fresh_ms=10_000)
    e = h.time_ms + DAY
    h.block(*h.vol_txs([(e, 10_000, 500_000)], oracles=h.oracles[:3]))
    t0 = h.time_ms
    h.block(*h.vol_txs([(e, 10_000, 600_000)], oracles=h.oracles[3:]), dt_ms=4_000)
    assert surface(h) == [(e, 10_000, 500_000)]  # [500k, 500k, 500k, 600k]
    h.at(t0 + 10_000)  # report time + vol_fresh_ms == block time: still fresh
    assert surface(h) == [(e, 10_000, 500_000)]
    h.at(t0 + 10_001)  # three reports stale, one fresh: below quorum
    assert surface(h) == []
    assert surface_epoch(h.session(), BTC) == 2  # the point disappeared: a new epoch


def test_points_drop_at_their_expiry():
    h = OptHarness()
    e1 = h.time_ms + 5_000
    e2 = h.time_ms + DAY
    h.block(*h.vol_txs([(e1, 10_000, 500_000), (e2, 10_000, 400_000)]))
    assert surface(h) == [(e1, 10_000, 500_000), (e2, 10_000, 400_000)]
    h.at(e1 - 1)
    assert len(surface(h)) == 2
    h.at(e1)
    assert surface(h) == [(e2, 10_000, 400_000)]


def test_epoch_moves_past_the_band_from_its_reference():
    h = OptHarness(vol_band_ppm=100_000)  # 10 %
    e = h.time_ms + DAY
    epoch = lambda: surface_epoch(h.session(), BTC)  # noqa: E731
    assert epoch() == 0
    h.block(*h.vol_txs([(e, 10_000, 200_000)]))
    assert epoch() == 1
    h.block(*h.vol_txs([(e, 10_000, 219_000)]))
    assert epoch() == 1 and surface(h) == [(e, 10_000, 219_000)]
    h.block(*h.vol_txs([(e, 10_000, 220_000)]))  # exactly 10 % from the reference 200k: inside
    assert epoch() == 1
    h.block(*h.vol_txs([(e, 10_000, 180_000)]))  # -10 %: inside
    assert epoch() == 1
    h.block(*h.vol_txs([(e, 10_000, 179_999)]))  # past the band from 200k (not from 180k)
    assert epoch() == 2
    assert [p.vol_ppm for p in load_surface(h.session(), BTC).reference] == [179_999]
    h.block(*h.vol_txs([(e, 10_000, 179_999), (e, 11_000, 179_999)]))  # a point appears
    assert epoch() == 3
    h.block(*h.vol_txs([(e, 10_000, 190_000), (e, 11_000, 190_000)]))
    assert epoch() == 3


# --------------------------------------------------------------------------- interpolation

P = VolPointRec
EXAMPLE = [P(100, 90, 500_000), P(100, 110, 300_000), P(400, 90, 400_000), P(400, 110, 200_000)]


def test_interpolation_worked_example():
    """docs/options.md "Volatility surface": strikes 90 and 110, expiries 100 and 400 ms, now 0."""
    assert vol_at(EXAMPLE, 100, 90, 0) == 500_000  # a point
    assert vol_at(EXAMPLE, 100, 100, 0) == 412_310  # isqrt((500k^2 + 300k^2) / 2)
    assert vol_at(EXAMPLE, 400, 100, 0) == 316_227  # isqrt((400k^2 + 200k^2) / 2)
    # between expiries: (17e10 x 100 x 150 + 10e10 x 400 x 150) / (250 x 300) = 1.14e11
    assert vol_at(EXAMPLE, 250, 100, 0) == isqrt(114_000_000_000) == 337_638
    assert vol_at(EXAMPLE, 50, 100, 0) == 412_310  # before the first expiry: flat
    assert vol_at(EXAMPLE, 1000, 100, 0) == 316_227  # after the last: flat
    assert vol_at(EXAMPLE, 100, 50, 0) == 500_000  # below the lowest strike: flat
    assert vol_at(EXAMPLE, 400, 200, 0) == 200_000  # above the highest strike: flat
    assert vol_at(EXAMPLE, 250, 100, 100) == vol_at(EXAMPLE, 400, 100, 100)  # the first expiry passed
    assert vol_at(EXAMPLE, 500, 100, 400) is None  # no expiry left
    assert vol_at([], 100, 100, 0) is None


@st.composite
def grids(draw):
    expiries = sorted(draw(st.sets(st.integers(1, 10**10), min_size=1, max_size=4)))
    pts = []
    for e in expiries:
        strikes = sorted(draw(st.sets(st.integers(1, 10**8), min_size=1, max_size=5)))
        pts += [P(e, k, draw(st.integers(10_000, 10_000_000))) for k in strikes]
    return pts


@settings(max_examples=150, deadline=None)
@given(grids(), st.integers(1, 2 * 10**10), st.integers(1, 2 * 10**8))
def test_interpolation_is_exact_at_points_flat_beyond_and_between_its_neighbours(pts, expiry, strike):
    g = VolGrid(pts)
    for p in pts:
        assert g.vol(p.expiry_ms, p.strike, 0) == p.vol_ppm
    v = g.vol(expiry, strike, 0)
    exps = sorted({p.expiry_ms for p in pts})
    lo_e = max([e for e in exps if e <= expiry], default=exps[0])
    hi_e = min([e for e in exps if e >= expiry], default=exps[-1])

    def neighbours(e):
        ks = [p for p in pts if p.expiry_ms == e]
        below = [p for p in ks if p.strike <= strike] or ks[:1]
        above = [p for p in ks if p.strike >= strike] or ks[-1:]
        return [below[-1].vol_ppm, above[0].vol_ppm]

    corners = neighbours(lo_e) + neighbours(hi_e)
    assert min(corners) <= v <= max(corners)
    if expiry <= exps[0]:
        assert v == g.vol(exps[0], strike, 0)
    if expiry >= exps[-1]:
        assert v == g.vol(exps[-1], strike, 0)


@settings(max_examples=100, deadline=None)
@given(grids(), st.data())
def test_interpolation_is_monotone_between_points(pts, data):
    g = VolGrid(pts)
    exps = sorted({p.expiry_ms for p in pts})
    e = data.draw(st.sampled_from(exps))
    ks = [p for p in pts if p.expiry_ms == e]
    if len(ks) >= 2:
        i = data.draw(st.integers(0, len(ks) - 2))
        a, b = ks[i], ks[i + 1]
        steps = sorted(data.draw(st.lists(st.integers(a.strike, b.strike), min_size=2, max_size=8)))
        vs = [g.vol(e, k, 0) for k in steps]
        assert vs == sorted(vs) or vs == sorted(vs, reverse=True)
    if len(exps) >= 2:
        k = data.draw(st.integers(1, 10**8))
        i = data.draw(st.integers(0, len(exps) - 2))
        ts = sorted(data.draw(st.lists(st.integers(exps[i], exps[i + 1]), min_size=2, max_size=8)))
        vs = [g.vol(t, k, 0) for t in ts]
        assert vs == sorted(vs) or vs == sorted(vs, reverse=True)


@settings(max_examples=150, deadline=None)
@given(grids(), st.integers(1, 999_999), st.data())
def test_within_an_epoch_interpolated_vols_stay_in_the_band(ref, band, data):
    """The epoch contract: points within (1 +- band) of their reference keep every interpolated vol there (+- 2 ppm)."""
    moved = []
    for r in ref:
        d = r.vol_ppm * band // 1_000_000
        moved.append(P(r.expiry_ms, r.strike, data.draw(st.integers(max(1, r.vol_ppm - d), r.vol_ppm + d))))
    now = data.draw(st.integers(0, ref[0].expiry_ms - 1))
    expiry = data.draw(st.integers(now + 1, 2 * 10**10))
    strike = data.draw(st.integers(1, 2 * 10**8))
    v, r = vol_at(moved, expiry, strike, now), vol_at(ref, expiry, strike, now)
    assert (1_000_000 - band) * r - 2_000_000 <= v * 1_000_000 <= (1_000_000 + band) * r + 2_000_000


def test_a_new_oracle_set_recomputes_the_surface_and_quiet_blocks_write_nothing():
    h = OptHarness()  # oracles 0-3, quorum 3
    e = h.time_ms + DAY
    h.block(*h.vol_txs([(e, 10_000, 500_000)], oracles=h.oracles[:3]))
    assert surface(h) == [(e, 10_000, 500_000)]
    h.block()
    assert surface_key(BTC) not in h.last.writes  # nothing due: the surface is neither recomputed nor rewritten
    oracles = tuple(sorted(h.addr(o) for o in ("oracle0", "oracle1", "oracle3")))
    assert h.run("admin", SetOracles(BTC, oracles)).ok
    assert surface(h) == []  # oracle2's report no longer counts: two of three, below quorum
