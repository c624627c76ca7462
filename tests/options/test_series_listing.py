"""Option parameters and series listing: who may list, what a series must satisfy, chains all-or-nothing."""
from __future__ import annotations

import dataclasses

import pytest

from ledger.codec import decode
from ledger.txkinds_options import RegisterOptionChain, RegisterOptionSeries, SetOptionParams
from ledger.txkinds_risk import RegisterMarket
from settlement.risk.markets import default_params
from settlement.risk.optrecords import UNDERLYINGS, series_id, series_list_key
from settlement.risk.options.series import OPTION_DEFAULTS, default_option_params, live_series

from tests.settlement.harness import refused

from .series_harness import BTC, USD, OptHarness


def test_default_params_are_deribits():
    p = default_option_params()
    assert (p.settlement_window_ms, p.im_base_ppm, p.im_floor_ppm, p.mm_ppm) == (1_800_000, 150_000, 100_000, 75_000)
    assert default_option_params(rate_ppm=50_000).rate_ppm == 50_000


def test_set_option_params_enables_the_underlying():
    h = OptHarness()
    assert decode(h.view.get(UNDERLYINGS)) == [BTC]
    assert h.session().oparams(BTC) == default_option_params()
    oracles = tuple(h.addr(o) for o in h.oracles)
    assert h.run("admin", RegisterMarket("ETH-PERP", "ETH", USD, default_params(), oracles)).ok
    r = h.run("admin", SetOptionParams("ETH-PERP", default_option_params(rate_ppm=10_000)))
    assert r.ok and r.events[0].kind == "option_params_set" and r.events[0].attrs["rate_ppm"] == 10_000
    assert decode(h.view.get(UNDERLYINGS)) == [BTC, "ETH-PERP"]  # sorted, once each
    assert h.run("admin", SetOptionParams("ETH-PERP", default_option_params())).ok
    assert decode(h.view.get(UNDERLYINGS)) == [BTC, "ETH-PERP"]


def test_set_option_params_refusals():
    h = OptHarness()
    refused(h, "alice", SetOptionParams(BTC, default_option_params()), "not_permitted", "admin")
    refused(h, "admin", SetOptionParams("NOPE-PERP", default_option_params()), "unknown_market", "NOPE-PERP")


@pytest.mark.parametrize("field,value", [
    ("rate_ppm", 1_000_001), ("rate_ppm", -500_001), ("settlement_window_ms", 0), ("settlement_window_ms", 86_400_001),
    ("vol_fresh_ms", 0), ("trade_band_ppm", 0), ("trade_band_ppm", 1_000_001), ("im_floor_ppm", 0),
    ("im_floor_ppm", 150_001), ("im_base_ppm", 1_000_001), ("mm_ppm", 0), ("mm_ppm", 100_000), ("liq_penalty_ppm", 75_000),
    ("liq_penalty_ppm", -1), ("vol_band_ppm", 0), ("vol_band_ppm", 1_000_000), ("recheck_ms", 0),
])
def test_every_option_parameter_is_checked(field, value):
    h = OptHarness()
    p = dataclasses.replace(default_option_params(), **{field: value})
    if field == "im_base_ppm":
        p = dataclasses.replace(p, im_floor_ppm=OPTION_DEFAULTS["im_floor_ppm"])
    refused(h, "admin", SetOptionParams(BTC, p), "invalid_parameter", field)


def test_register_series():
    h = OptHarness()
    e = h.time_ms + 86_400_000
    r = h.run("admin", RegisterOptionSeries(BTC, "put", 9_000, e, 5))
    assert r.ok, r.reason
    sid = series_id(BTC, "put", 9_000, e)
    assert (h.time_ms, sid) == (4_000, "BTC-PERP-86403000-9000-P")  # docs/options.md "Series"
    ev = r.events[0]
    assert ev.kind == "option_series_listed" and ev.attrs["series"] == sid and ev.attrs["quote"] == USD
    assert ev.as_dict()["kind"] == "option_series_listed" and ev.attrs["option_kind"] == "put"  # JSON keeps the event's kind
    sess = h.session()
    s = sess.series(sid)
    assert (s.underlying, s.kind, s.strike, s.expiry_ms, s.contract_lots, s.quote) == (BTC, "put", 9_000, e, 5, USD)
    ss = sess.sstate(sid)
    assert ss.settled == 0 and ss.oi == 0 and ss.mark_state in (0, 2)  # no surface: never marked
    h.list_series("call", 11_000, e)
    h.list_series("call", 10_000, e)
    assert live_series(h.session(), BTC) == sorted([sid, series_id(BTC, "call", 11_000, e), series_id(BTC, "call", 10_000, e)])


def test_register_series_refusals():
    h = OptHarness()
    e = h.time_ms + 86_400_000
    ok = RegisterOptionSeries(BTC, "call", 10_000, e, 1)
    refused(h, "alice", ok, "not_permitted", "admin")
    refused(h, "admin", dataclasses.replace(ok, underlying="NOPE-PERP"), "unknown_market")
    refused(h, "admin", dataclasses.replace(ok, kind="cal"), "invalid_parameter", "kind")
    refused(h, "admin", dataclasses.replace(ok, strike=0), "bad_amount", "strike")
    refused(h, "admin", dataclasses.replace(ok, strike=-5), "bad_amount", "strike")
    refused(h, "admin", dataclasses.replace(ok, contract_lots=0), "bad_amount", "contract_lots")
    refused(h, "admin", dataclasses.replace(ok, expiry_ms=h.time_ms + 1000), "invalid_parameter", "after the block time")
    h.list_series("call", 10_000, e)
    refused(h, "admin", ok, "already_exists", series_id(BTC, "call", 10_000, e))


def test_series_needs_options_enabled_and_a_price():
    h = OptHarness()
    oracles = tuple(h.addr(o) for o in h.oracles)
    assert h.run("admin", RegisterMarket("ETH-PERP", "ETH", USD, default_params(), oracles)).ok
    body = RegisterOptionSeries("ETH-PERP", "call", 2_000, h.time_ms + 10**7, 1)
    refused(h, "admin", body, "invalid_parameter", "not enabled")
    assert h.run("admin", SetOptionParams("ETH-PERP", default_option_params())).ok
    refused(h, "admin", body, "invalid_parameter", "no oracle price")


def test_expiry_one_ms_after_the_block_is_accepted():
    h = OptHarness()
    r = h.run("admin", RegisterOptionSeries(BTC, "call", 10_000, h.time_ms + 1001, 1))  # block time = time + 1000
    assert r.ok, r.reason


def test_chain_lists_calls_and_puts_for_every_strike_and_expiry():
    h = OptHarness()
    e1, e2 = h.time_ms + 10**7, h.time_ms + 2 * 10**7
    r = h.list_chain([9_000, 10_000, 11_000], [e2, e1], lots=3)
    assert r.ok, r.reason
    listed = [e.attrs["series"] for e in r.events if e.kind == "option_series_listed"]
    want = [series_id(BTC, k, s, e) for e in (e2, e1) for s in (9_000, 10_000, 11_000) for k in ("call", "put")]
    assert listed == want
    assert live_series(h.session(), BTC) == sorted(want)
    assert all(h.session().series(sid).contract_lots == 3 for sid in want)


def test_chain_is_all_or_nothing():
    h = OptHarness()
    e = h.time_ms + 10**7
    h.list_series("put", 11_000, e)
    # the last series of the chain clashes: nothing of the chain is written (only the nonce)
    refused(h, "admin", RegisterOptionChain(BTC, [9_000, 10_000, 11_000], [e], 1), "already_exists", "11000-P")
    refused(h, "admin", RegisterOptionChain(BTC, [9_000, 0], [e], 1), "bad_amount", "strike")
    refused(h, "admin", RegisterOptionChain(BTC, [9_000], [e, h.time_ms], 1), "invalid_parameter", "after the block time")
    refused(h, "admin", RegisterOptionChain(BTC, [9_000, 9_000], [e], 1), "already_exists")
    refused(h, "admin", RegisterOptionChain(BTC, [], [e], 1), "invalid_parameter", "at least one")
    assert live_series(h.session(), BTC) == [series_id(BTC, "put", 11_000, e)]
    assert h.view.get(series_list_key(BTC)) is not None
