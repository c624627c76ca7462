"""The options queries and RPC methods over state built by real blocks: per-contract figures, rounding, errors.

A chain of 3-lot contracts is listed, three oracles report vols, a maker sells
calls and a taker buys them; the queries must turn the stored per-lot marks and
greeks into per-contract ones (floor), value a short at -ceil and a long at
floor, show the account's margin exactly as ``margin.evaluate`` computes it,
and the RPC methods must answer unknown names with -32001 and bad params with
-32602.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from ledger.txkinds_options import OptionOrder, OptionTrade, RegisterOptionChain, SetOptionParams, VolPoint, VolReport, sign_option_order
from ledger.txkinds_risk import ANY_TAKER
from node.methods import INVALID_PARAMS, NOT_FOUND, RPCError
from node.methods_options import OPTION_METHODS
from settlement.risk.margin import evaluate
from settlement.risk.options import queries as oq
from settlement.risk.options.series import default_option_params
from settlement.risk.optrecords import series_id
from tests.settlement.harness import Harness

U = "BTC-PERP"
SPOT = 100_000_000
STRIKES = [95_000_000, 105_000_000]
LOTS = 3


@pytest.fixture
def h():
    h = Harness()
    h.register_market(U)
    h.prices(U, SPOT)
    h.deposit("alice", 10**11)
    h.deposit("bob", 10**11)
    assert h.run("admin", SetOptionParams(U, default_option_params())).ok
    h.expiry = h.time_ms + 30 * 86_400_000
    assert h.run("admin", RegisterOptionChain(U, STRIKES, [h.expiry], LOTS)).ok
    h.block(*[h.tx(o, VolReport(U, [VolPoint(h.expiry, k, v + 10_000 * i) for k, v in zip(STRIKES, (700_000, 600_000))]))
              for i, o in enumerate(h.oracles)])
    h.block()  # marked at the end of a block
    return h


def _sell(h, sid: str, size: int, price: int, nonce: int = 1):
    order = OptionOrder(sid, "sell", size, price, 10**9, nonce, ANY_TAKER)
    return h.run("bob", OptionTrade(sign_option_order(h.keys["alice"], h.chain_id, order), size))


def test_series_figures_are_per_contract_and_positions_round_against_the_holder(h):
    sid = series_id(U, "call", STRIKES[1], h.expiry)
    sess = h.session()
    ss = sess.sstate(sid)
    info = oq.series_info(h.view, sid, h.time_ms)
    assert info["iv_ppm"] == ss.iv_ppm == 610_000  # lower median of the three oracles: 60 %, 61 %, 62 %
    assert info["mark"] == LOTS * ss.mark6 // 10**6 and info["mark6_per_lot"] == ss.mark6
    assert info["greeks"] == {g: LOTS * getattr(ss, g) for g in ("delta", "gamma", "vega", "theta")}
    assert info["time_to_expiry_ms"] == h.expiry - h.time_ms and not info["settled"] and info["settle_price"] is None

    r = _sell(h, sid, 7, info["mark"])
    assert r.ok, r.reason
    sess = h.session()
    ss = sess.sstate(sid)
    exact = 7 * LOTS * ss.mark6
    bob, alice = (oq.option_positions(h.view, h.addr(n), h.time_ms)["accounts"][0] for n in ("bob", "alice"))
    (long_,), (short,) = bob["positions"], alice["positions"]
    assert (long_["size"], short["size"]) == (7, -7)
    assert (long_["premium_paid"], short["premium_paid"]) == (7 * info["mark"], -7 * info["mark"])
    assert long_["mark_value"] == exact // 10**6 and short["mark_value"] == -(exact // 10**6) - (exact % 10**6 > 0)  # floor, -ceil
    if exact % 10**6:
        assert long_["mark_value"] + short["mark_value"] == -1  # both rounded against their holder
    assert long_["greeks"]["delta"] == 7 * LOTS * ss.delta == -short["greeks"]["delta"] == bob["greeks"]["delta"]
    for who, acc in (("bob", bob), ("alice", alice)):
        ev = evaluate(sess, h.addr(who), "USD")
        assert (acc["equity"], acc["imr"], acc["mmr"], acc["breached"]) == (ev.equity, ev.imr, ev.mmr, ev.breached)
    assert alice["mmr"] > 0 and alice["imr"] > alice["mmr"]
    assert oq.series_info(h.view, sid, h.time_ms)["open_interest"] == 7


def test_the_worked_example_of_docs_options_surface(h):
    """docs/options.md "Surface: RPC and CLI": the 3-lot 105,000,000 call, 30 days out at 61 %, sold 7 times."""
    sid = "BTC-PERP-2592005000-105000000-C"
    info = oq.series_info(h.view, sid, h.time_ms)
    assert (h.time_ms, info["expiry_ms"], info["time_to_expiry_ms"]) == (8_000, 2_592_005_000, 2_591_997_000)
    assert (info["mark"], info["mark6_per_lot"], info["iv_ppm"]) == (14_752_411, 4_917_470_428_624, 610_000)
    assert info["greeks"] == {"delta": 1_272_143_028, "gamma": 67_192_403_004, "vega": 336_882_068_988, "theta": -342_497_166_549}
    assert _sell(h, sid, 7, 14_752_411).ok
    bob, alice = (oq.option_positions(h.view, h.addr(n), h.time_ms)["accounts"][0] for n in ("bob", "alice"))
    assert h.session().sstate(sid).mark6 == 4_917_469_107_261
    assert [(p["mark_value"], p["unrealized_pnl"]) for p in (bob["positions"][0], alice["positions"][0])] == [
        (103_266_851, -26), (-103_266_852, 25)]
    assert (alice["cash"], alice["equity"], alice["imr"], alice["mmr"]) == (100_103_266_877, 100_000_000_025, 313_266_852, 260_766_852)


def test_lists_and_surface(h):
    rows = oq.series_list(h.view, h.time_ms)
    assert [r["series"] for r in rows] == sorted(series_id(U, k, s, h.expiry) for k in ("call", "put") for s in STRIKES)
    assert oq.series_list(h.view, h.time_ms, "ETH-PERP") == []
    sf = oq.surface_info(h.view, U, h.time_ms)
    assert sf["fresh_reports"] == 3 and sf["quorum"] == 3 and sf["spot"] == SPOT
    assert [(p["strike"], p["vol_ppm"]) for p in sf["surface"]["points"]] == [(STRIKES[0], 710_000), (STRIKES[1], 610_000)]
    assert sf["surface"]["epoch"] >= 1
    assert oq.surface_info(h.view, "ETH-PERP", h.time_ms) is None


@dataclass
class _Chain:  # the one port these methods read: committed state and the latest block time
    view: object
    last_time_ms: int


@dataclass
class _Api:
    chain: _Chain


def _call(h, name: str, params):
    method = {m.__name__: m for m in OPTION_METHODS}[name]
    return asyncio.run(method(_Api(_Chain(h.view, h.time_ms)), params))


def test_rpc_methods_answer_and_refuse_with_json_rpc_codes(h):
    sid = series_id(U, "put", STRIKES[0], h.expiry)
    assert _call(h, "option_series", {"series": sid})["kind"] == "put"
    assert _call(h, "option_series", [sid])["strike"] == STRIKES[0]
    assert len(_call(h, "option_series_list", {})) == 4 and _call(h, "option_series_list", {"underlying": "X"}) == []
    assert _call(h, "vol_surface", {"underlying": U})["underlying"] == U
    assert _call(h, "option_positions", {"address": "st" + h.addr("carol").hex()})["accounts"] == []
    for name, params, code in (("option_series", {"series": f"{U}-1-1-C"}, NOT_FOUND), ("option_series", {}, INVALID_PARAMS),
                               ("option_series", {"series": 5}, INVALID_PARAMS), ("vol_surface", {"underlying": "ETH-PERP"}, NOT_FOUND),
                               ("option_positions", {"address": "nope"}, INVALID_PARAMS), ("option_series_list", {"underlying": 1}, INVALID_PARAMS)):
        with pytest.raises(RPCError) as exc:
            _call(h, name, params)
        assert exc.value.code == code, (name, params)
