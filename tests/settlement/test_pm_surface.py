"""The portfolio-margin views (``settlement.risk.pm_queries``) and their RPC methods over state built by real blocks.

A what-if must match the figures the real trade produces, and must never
write; the standard-mode figures of a standard account are its figures; the
RPC methods answer unknown names with -32001 and bad params with -32602.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from ledger.txkinds_options import OptionOrder, OptionTrade, sign_option_order
from ledger.txkinds_pm import SetMarginMode
from ledger.txkinds_risk import ANY_TAKER
from node.methods import INVALID_PARAMS, NOT_FOUND, RPCError
from node.methods_pm import PM_METHODS
from settlement.risk import pm_queries as pq
from settlement.risk.margin import evaluate
from settlement.risk.optrecords import series_id
from tests.options.test_option_queries import LOTS, SPOT, STRIKES, U, h  # noqa: F401 (h: the fixture)

STRIKE = STRIKES[1]  # the options query tests' chain (its fixture h): 3-lot contracts, two strikes, one expiry


def _snapshot(h) -> dict:
    return dict(h.view.data)


def test_whatif_of_a_perp_fill_matches_the_real_trade_and_writes_nothing(h):
    alice = h.addr("alice")
    before_view = _snapshot(h)
    w = pq.pm_whatif(h.view, alice, {"market": U, "side": "buy", "size": 5, "price": SPOT}, h.time_ms)
    assert _snapshot(h) == before_view  # nothing written
    assert w["asset"] == "USD" and w["before"]["mode"] == "standard"
    (acc,) = w["after"]["accounts"]
    (und,) = acc["underlyings"]
    assert und["underlying"] == U and und["positions"][0]["size"] == 5
    assert acc["imr"] > 0 and w["change"]["imr"] == acc["imr"] and w["accepted"]
    assert acc["standard"]["imr"] == acc["imr"]  # a standard account: its figures are the standard ones

    assert h.trade("bob", "alice", "buy", 5, SPOT).ok
    ev = evaluate(h.session(), alice, "USD")
    assert (acc["imr"], acc["mmr"]) == (ev.imr, ev.mmr)
    now = pq.pm_scenarios(h.view, alice, h.time_ms)["accounts"][0]
    assert (now["imr"], now["mmr"], now["underlyings"][0]["positions"][0]["size"]) == (acc["imr"], acc["mmr"], 5)


def test_whatif_of_a_covered_call_adds_the_short_call_to_the_perp(h):
    alice, sid = h.addr("alice"), series_id(U, "call", STRIKE, h.expiry)
    assert h.trade("bob", "alice", "buy", 1, SPOT).ok
    mark = LOTS * h.session().sstate(sid).mark6 // 10**6
    w = pq.pm_whatif(h.view, alice, {"series": sid, "side": "sell", "size": 1, "price": mark}, h.time_ms)
    (acc,) = w["after"]["accounts"]
    (und,) = acc["underlyings"]
    assert [p["instrument"] for p in und["positions"]] == [U, sid]
    assert und["positions"][1]["size"] == -1 and und["positions"][1]["value"] < 0
    assert w["change"]["imr"] > 0  # standard mode: the short call pays its own margin
    assert acc["cash"] == w["before"]["accounts"][0]["cash"] + mark  # premium received
    assert pq.pm_scenarios(h.view, alice, h.time_ms)["accounts"][0]["underlyings"][0]["positions"][0]["instrument"] == U


def test_a_portfolio_covered_call_shows_its_table_binding_scenario_and_a_lower_requirement(h):
    alice, sid = h.addr("alice"), series_id(U, "call", STRIKE, h.expiry)
    mark = LOTS * h.session().sstate(sid).mark6 // 10**6
    assert h.trade("bob", "alice", "buy", LOTS, SPOT).ok  # long 3 lots: covers one 3-lot call
    w = pq.pm_whatif(h.view, alice, {"series": sid, "side": "sell", "size": 1, "price": mark}, h.time_ms)
    assert h.run("alice", SetMarginMode("portfolio")).ok
    w_pm = pq.pm_whatif(h.view, alice, {"series": sid, "side": "sell", "size": 1, "price": mark}, h.time_ms)
    assert w_pm["after"]["mode"] == "portfolio" and w["after"]["mode"] == "standard"
    a = w_pm["after"]["accounts"][0]
    assert a["imr"] < a["standard"]["imr"]  # the perp covers the call: portfolio margin credits the hedge
    # sells the call for real, in the next block (the mark moves with time: compare the committed view with the engine)
    assert h.run("bob", OptionTrade(sign_option_order(h.keys["alice"], h.chain_id, OptionOrder(
        sid, "sell", 1, mark, 10**9, 1, ANY_TAKER)), 1)).ok
    v = pq.pm_scenarios(h.view, alice, h.time_ms)
    (acc,) = v["accounts"]
    (u,) = acc["underlyings"]
    ev = evaluate(h.session(), alice, "USD")
    assert (acc["imr"], acc["mmr"], acc["equity"]) == (ev.imr, ev.mmr, ev.equity) == (u["requirement"], u["mmr"], ev.equity)
    assert len(u["scenarios"]) == 16 and u["grid"]["scan_range_ppm"] == 150_000
    worst = min(r["pnl"] for r in u["scenarios"])
    assert u["binding"] == "short_option_min" or (
        u["requirement"] == -worst and next(r for r in u["scenarios"] if r["pnl"] == worst)["scenario"] == u["binding"])
    assert u["scenarios"][0] == {"scenario": "0 vol up", "move": 0, "price": SPOT, "vol": "up", "extreme": False,
                                 "pnl": u["scenarios"][0]["pnl"]}
    assert acc["imr"] < acc["standard"]["imr"] and v["mode"] == "portfolio"
    std = pq.pm_scenarios(h.view, h.addr("bob"), h.time_ms)["accounts"][0]
    assert std["underlyings"][0]["scenarios"] == [] and std["imr"] == std["standard"]["imr"]  # bob stays standard


@pytest.mark.parametrize("proposed, exc", [
    ({"market": "ETH-PERP", "side": "buy", "size": 1, "price": 1}, LookupError),
    ({"series": "BTC-PERP-1-1-C", "side": "buy", "size": 1, "price": 1}, LookupError),
    ({"market": U, "side": "long", "size": 1, "price": 1}, ValueError),
    ({"market": U, "side": "buy", "size": 0, "price": 1}, ValueError),
    ({"market": U, "side": "buy", "size": 1, "price": -1}, ValueError),
    ({"side": "buy", "size": 1, "price": 1}, ValueError),
])
def test_whatif_refuses_bad_proposals(h, proposed, exc):
    with pytest.raises(exc):
        pq.pm_whatif(h.view, h.addr("alice"), proposed, h.time_ms)


@dataclass
class _Chain:
    view: object
    last_time_ms: int


@dataclass
class _Api:
    chain: _Chain


def _call(h, name, params):
    fn = {f.__name__: f for f in PM_METHODS}[name]
    return asyncio.run(fn(_Api(_Chain(h.view, h.time_ms)), params))


def test_rpc_methods_and_their_error_codes(h):
    from ledger.keys import format_address
    alice = format_address(h.addr("alice"))
    assert _call(h, "pm_scenarios", {"address": alice})["mode"] == "standard"
    assert _call(h, "collateral_params", {}) == []
    w = _call(h, "pm_whatif", {"address": alice, "market": U, "side": "sell", "size": 2, "price": SPOT})
    assert w["after"]["accounts"][0]["underlyings"][0]["positions"][0]["size"] == -2
    for name, params, code in [
        ("pm_scenarios", {}, INVALID_PARAMS),
        ("pm_scenarios", {"address": "nope"}, INVALID_PARAMS),
        ("pm_whatif", {"address": alice, "market": "ETH-PERP", "side": "buy", "size": 1, "price": 1}, NOT_FOUND),
        ("pm_whatif", {"address": alice, "market": U, "side": "buy", "size": "1", "price": 1}, INVALID_PARAMS),
        ("pm_whatif", {"address": alice, "market": U, "side": "up", "size": 1, "price": 1}, INVALID_PARAMS),
    ]:
        with pytest.raises(RPCError) as e:
            _call(h, name, params)
        assert e.value.code == code, (name, params)


def test_the_docs_covered_call_whatif(h):
    """docs/portfolio-margin.md "RPC and CLI": the table and the what-if of its covered call, number for number."""
    sid = series_id(U, "call", STRIKE, h.expiry)
    mark = LOTS * h.session().sstate(sid).mark6 // 10**6
    assert h.trade("bob", "alice", "buy", LOTS, SPOT).ok
    assert h.run("alice", SetMarginMode("portfolio")).ok
    w = pq.pm_whatif(h.view, h.addr("alice"), {"series": sid, "side": "sell", "size": 1, "price": mark}, h.time_ms)
    a, b = w["after"]["accounts"][0], w["before"]["accounts"][0]
    (u,) = a["underlyings"]
    rows = {r["scenario"]: (r["move"], r["price"], r["pnl"]) for r in u["scenarios"]}
    assert (sid, mark) == ("BTC-PERP-2592005000-105000000-C", 14_752_411)
    assert (b["imr"], b["standard"]["imr"]) == (47_250_000, 15_000_000)  # the perp alone: 35 % of the extreme move's loss
    assert (a["imr"], a["mmr"], w["change"]["imr"], a["standard"]["imr"]) == (42_098_484, 32_383_459, -5_151_516, 59_752_404)
    assert u["binding"] == "-extreme vol up" and u["requirement"] == 42_098_484
    assert rows["0 vol up"] == (0, SPOT, -6_212_758) and rows["-3/3 vol up"] == (-15_000_000, 85_000_000, -36_352_229)
    assert rows["-extreme vol up"] == (-45_000_000, 55_000_000, -42_098_484)
    assert rows["+extreme vol up"] == (45_000_000, 145_000_000, 9_384_146)


def test_collateral_shows_in_the_views():
    """The collateral tests' chain: 80,000 EUR back alice's USD margin at 83,600 (docs/risk-engine.md "Multi-asset collateral")."""
    from tests.settlement.test_collateral import EURM, chain
    h = chain()
    (acc,) = pq.pm_scenarios(h.view, h.addr("alice"), h.time_ms)["accounts"]
    assert (acc["asset"], acc["cash"], acc["collateral_value"], acc["equity"]) == ("USD", 5_000, 83_600, 88_600)
    assert pq.collateral_params(h.view) == [{"asset": "EUR", "backs": "USD", "price_market": EURM, "haircut_ppm": 50_000,
                                              "cap_ppm": 1_000_000, "liq_discount_ppm": 25_000, "enabled": True, "price": 1_100}]
    w = pq.pm_whatif(h.view, h.addr("alice"), {"market": "BTC-PERP", "side": "buy", "size": 5, "price": 10_000}, h.time_ms)
    assert w["after"]["accounts"][0]["collateral_value"] == 83_600 and w["accepted"]
