"""``settle xswap`` without networks: the state file's writes, and refusals before anything is sent."""
from __future__ import annotations

import json

import pytest

from cli import xswap, xswap_plan as plan
from cli.common import CLIError
from cli.main import main
from ledger.keys import PrivateKey

from .xswap_world import World


def test_state_file_is_replaced_whole_and_private(tmp_path):
    path = tmp_path / "sub" / "swap.json"
    swap = plan.initiate(World().terms(b"s" * 32), plan.Policy(), b"s" * 32)
    xswap.write_state(path, {**plan.to_doc(swap), "shell": {"rpc_a": "x"}})
    xswap.write_state(path, {**plan.to_doc(swap), "shell": {"rpc_a": "y"}})
    assert [p.name for p in path.parent.iterdir()] == ["swap.json"]  # no temporary file left
    assert path.stat().st_mode & 0o777 == 0o600
    got, shell = xswap.read_state(path)
    assert got == swap and shell == {"rpc_a": "y"}


@pytest.mark.parametrize("text", ["", "{", json.dumps({"format": "settle-xswap/1", "role": "nobody"}), json.dumps({"format": "x"})])
def test_unreadable_state_file_is_one_clear_error(tmp_path, text):
    path = tmp_path / "swap.json"
    path.write_text(text)
    with pytest.raises(CLIError):
        xswap.read_state(path)


@pytest.mark.parametrize("args, message", [
    (["--give", "USD", "--get", "EUR:1"], "--give must be ASSET:AMOUNT"),
    (["--give", "USD:0", "--get", "EUR:1"], "--give must be ASSET:AMOUNT"),
    (["--give", "USD:5", "--get", "EUR:1", "--lock", "10", "--margin", "9"], "lock_ms > margin_ms + 2 * min_window_ms"),
])
def test_initiate_refuses_bad_arguments_before_any_network(tmp_path, capsys, args, message):
    keys = tmp_path / "keys"
    keys.mkdir()
    PrivateKey.generate().save(keys / "me.json", name="me")
    addr = "st" + "11" * 20
    with pytest.raises(SystemExit) as exc:
        main(["xswap", "initiate", "--home", str(tmp_path), "--rpc-a", "http://127.0.0.1:9", "--rpc-b", "http://127.0.0.1:9",
              "--key-a", "me", "--key-b", "me", "--counterparty-a", addr, "--counterparty-b", addr, "--offer", str(tmp_path / "o.json"),
              *args])
    err = capsys.readouterr().err
    assert exc.value.code == 1 and message in err and len(err.strip().splitlines()) == 1


def test_respond_refuses_an_offer_other_than_agreed(tmp_path, capsys):
    terms = plan.to_doc(plan.initiate(World().terms(b"s" * 32), plan.Policy(), b"s" * 32))["terms"]  # 1000 USD on A for 900 EUR on B
    offer = tmp_path / "offer.json"
    offer.write_text(json.dumps({"format": xswap.OFFER_FORMAT, "terms": terms, "initiator_nonce_a": 0, "expires_a_ms": 1}))
    with pytest.raises(SystemExit) as exc:
        main(["xswap", "respond", "--home", str(tmp_path), "--rpc-a", "http://127.0.0.1:9", "--rpc-b", "http://127.0.0.1:9",
              "--key-a", "me", "--key-b", "me", "--offer", str(offer), "--give", "EUR:9000", "--get", "USD:1000"])
    err = capsys.readouterr().err
    assert exc.value.code == 1 and "not what you agreed" in err and len(err.strip().splitlines()) == 1
