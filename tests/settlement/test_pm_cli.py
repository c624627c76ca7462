"""`settle pm` and `settle collateral` input handling that needs no node, and the tables drawn from real query answers.

Each refusal is one ``error: ...`` line on stderr with exit code 1, before
anything is signed or sent.
"""
from __future__ import annotations

import pytest

from cli import pm as cpm
from cli.main import main
from settlement.risk import pm_queries as pq
from settlement.risk.optrecords import series_id
from tests.options.test_option_queries import SPOT, STRIKES, U, h  # noqa: F401 (h: the fixture)


def _fails(capsys, *argv) -> str:
    with pytest.raises(SystemExit) as exc:
        main(list(argv))
    err = capsys.readouterr().err
    assert exc.value.code in (1, 2) and len(err.strip().splitlines()) == 1 and err.startswith("error: "), err
    return err


NODE = ("--home", "HOME", "--rpc", "http://127.0.0.1:9")


@pytest.mark.parametrize("argv, words", [
    (("pm", "whatif", "st1x", "--side", "buy", "--size", "1", "--price", "5"), "exactly one of --market or --series"),
    (("pm", "whatif", "st1x", "--market", U, "--series", "S", "--side", "buy", "--size", "1", "--price", "5"), "exactly one of"),
    (("pm", "whatif", "st1x", "--market", U, "--side", "buy", "--size", "0", "--price", "5"), "must be positive"),
    (("pm", "whatif", "st1x", "--market", U, "--side", "hold", "--size", "1", "--price", "5"), "'hold' is not one of"),
    (("pm", "mode", "cross", "--from", "alice"), "'cross' is not one of"),
    (("pm", "params", U, "--from", "admin", "--param", "scan=1"), "unknown grid parameter 'scan'"),
    (("pm", "params", U, "--from", "admin", "--param", "scan_range_ppm=wide"), "must be an integer"),
    (("pm", "params", U, "--from", "admin", "--param", "scan_range_ppm=0"), "scan_range_ppm"),
    (("collateral", "set", "BTC", "--from", "admin", "--backs", "USD", "--price-market", U, "--param", "haircut=1"),
     "unknown collateral parameter 'haircut'"),
    (("collateral", "set", "BTC", "--from", "admin", "--backs", "USD", "--price-market", U, "--param", "cap_ppm=all"),
     "must be an integer"),
    (("collateral", "set", "BTC", "--from", "admin", "--backs", "USD", "--price-market", U, "--param", "haircut_ppm=1000000"),
     "haircut_ppm"),
])
def test_bad_input_is_one_line_before_any_node_is_asked(capsys, tmp_path, argv, words):
    argv = tuple(str(tmp_path) if a == "HOME" else a for a in (*argv, *NODE))
    assert words in _fails(capsys, *argv)


def test_an_unknown_signer_is_refused_before_anything_is_sent(capsys, tmp_path):
    err = _fails(capsys, "collateral", "set", "BTC", "--from", "nobody", "--backs", "USD", "--price-market", U,
                 "--home", str(tmp_path), "--rpc", "http://127.0.0.1:9")
    assert "nobody" in err


def test_tables_render_the_real_answers(h, capsys):
    alice, sid = h.addr("alice"), series_id(U, "call", STRIKES[1], h.expiry)
    assert h.trade("bob", "alice", "buy", 3, SPOT).ok
    cpm._render_scenarios(pq.pm_scenarios(h.view, alice, h.time_ms), "alice")
    w = pq.pm_whatif(h.view, alice, {"series": sid, "side": "sell", "size": 1, "price": 1_000}, h.time_ms)
    cpm._render_whatif(w, "what if")
    out = capsys.readouterr().out
    assert "alice: standard margin" in out and f"{U}: positions" in out and "call" in out  # the series id wraps in a narrow terminal
    assert f"{w['after']['accounts'][0]['imr']:,}" in out and "accepted" in out


def test_the_collateral_table_renders_the_real_answer(capsys):
    from tests.settlement.test_collateral import EURM, chain
    cpm._collateral_rows(pq.collateral_params(chain().view))
    out = capsys.readouterr().out
    assert "EUR" in out and EURM in out and "50000" in out and "1,100" in out
