"""`settle options` input handling that needs no node: expiries, vols, points, parameters and order files.

Each refusal is one ``error: ...`` line on stderr with exit code 1, before
anything is signed or sent (the end-to-end test covers the commands against
real nodes).
"""
from __future__ import annotations

import json

import pytest

from cli.main import main
from cli.options import _expiry, _point, _vol_ppm
from ledger.keys import PrivateKey
from ledger.txkinds_options import OptionOrder, sign_option_order
from ledger.txkinds_risk import ANY_TAKER


def _fails(capsys, *argv) -> str:
    with pytest.raises(SystemExit) as exc:
        main(list(argv))
    err = capsys.readouterr().err
    assert exc.value.code == 1 and len(err.strip().splitlines()) == 1 and err.startswith("error: "), err
    return err


def test_expiries_vols_and_points_parse_exactly():
    now = lambda: 1_000  # noqa: E731 - the latest block time
    assert [_expiry(t, now) for t in ("1767225600000", "+250ms", "+90s", "+5m", "+2h", "+7d")] == [
        1_767_225_600_000, 1_250, 91_000, 301_000, 7_201_000, 604_801_000]
    assert [_vol_ppm(t) for t in ("80%", "80", "55.5%", "0.0001%", "1000%")] == [800_000, 800_000, 555_000, 1, 10_000_000]
    p = _point("+1h:105000000:61.25%", now)
    assert (p.expiry_ms, p.strike, p.vol_ppm) == (3_601_000, 105_000_000, 612_500)


@pytest.mark.parametrize("argv, words", [
    (("vol-report", "--from", "oracle", "--underlying", "BTC-PERP", "1:2"), "expected EXPIRY:STRIKE:VOL%"),
    (("vol-report", "--from", "oracle", "--underlying", "BTC-PERP", "5:100:12.34567%"), "at most 4 decimals"),
    (("vol-report", "--from", "oracle", "--underlying", "BTC-PERP", "5:100:-3%"), "must be positive"),
    (("vol-report", "--from", "oracle", "--underlying", "BTC-PERP", "5:abc:30%"), "strike must be an integer"),
    (("vol-report", "--from", "oracle", "--underlying", "BTC-PERP"), "no vol points"),
    (("list-series", "--from", "admin", "--underlying", "BTC-PERP", "--kind", "call", "--strike", "1", "--expiry", "+3y"),
     "relative expiry must end in one of"),
    (("params", "--from", "admin", "--underlying", "BTC-PERP", "--param", "margin=1"), "unknown option parameter 'margin'"),
    (("params", "--from", "admin", "--underlying", "BTC-PERP", "--param", "mm_ppm=lots"), "must be an integer"),
])
def test_bad_input_is_one_line_before_any_node_is_asked(capsys, tmp_path, argv, words):
    assert words in _fails(capsys, "options", *argv, "--home", str(tmp_path), "--rpc", "http://127.0.0.1:9")


def test_an_order_file_that_is_not_a_signed_option_order_is_refused(capsys, tmp_path):
    key = PrivateKey.from_name("maker")
    so = sign_option_order(key, "c1", OptionOrder("BTC-PERP-5-100-C", "sell", 10, 7, 99, 3, ANY_TAKER))
    doc = {"chain_id": "c1", "order": {"series": "BTC-PERP-5-100-C", "side": "sell", "size": 10, "price": 8, "expiry_height": 99,
                                       "nonce": 3, "taker": "any"}, "maker_pubkey": so.maker.hex(), "signature": so.signature.hex()}
    tampered, garbled = tmp_path / "tampered.json", tmp_path / "garbled.json"
    tampered.write_text(json.dumps(doc))  # price 8, signed at 7
    garbled.write_text(json.dumps({"order": {"series": "x"}}))
    base = ("options", "trade", "--from", "bob", "--home", str(tmp_path), "--rpc", "http://127.0.0.1:9")
    assert "does not verify for chain 'c1'" in _fails(capsys, *base, str(tampered))
    assert "malformed option order file" in _fails(capsys, *base, str(garbled))
    assert "cannot read order" in _fails(capsys, *base, str(tmp_path / "missing.json"))
