"""``check_tx``: what it refuses at the door is exactly what a block would fail."""
from __future__ import annotations

import pytest

from ledger.txkinds import Issue, Transfer
from ledger.txkinds_risk import HtlcLock, InsuranceDeposit, MarginDeposit, MarginWithdraw
from settlement.accounts import MAX_AMOUNT
from settlement.checktx import check_body, check_tx
from settlement.errors import SettlementError
from tests.settlement.builders import Chain

H = b"\x11" * 32


def _cases(c: Chain):
    bob, mallory = c.addr("bob"), c.addr("mallory")
    return [
        ("alice", Transfer(bob, "USD", 0, ""), "bad_amount"),
        ("alice", Transfer(bob, "USD", -5, ""), "bad_amount"),
        ("alice", Transfer(bob, "USD", MAX_AMOUNT + 1, ""), "bad_amount"),
        ("alice", Transfer(bob, "XYZ", 1, ""), "unknown_asset"),
        ("alice", Transfer(mallory, "USD", 1, ""), "not_registered"),
        ("admin", Issue("USD", 0, bob), "bad_amount"),
        ("admin", Issue("NOPE", 1, bob), "unknown_asset"),
        ("admin", Issue("USD", 1, mallory), "not_registered"),
        ("alice", MarginDeposit("USD", 0), "bad_amount"),
        ("alice", MarginDeposit("XYZ", 1), "unknown_asset"),
        ("alice", MarginWithdraw("USD", -1), "bad_amount"),
        ("alice", InsuranceDeposit("XYZ", 1), "unknown_asset"),
        ("alice", HtlcLock("USD", 0, bob, H, 100), "bad_amount"),
        ("alice", HtlcLock("USD", 1, mallory, H, 100), "not_registered"),
    ]


def _error_name(fn, *args) -> str | None:
    try:
        fn(*args)
    except SettlementError as exc:
        return exc.name
    return None


def test_each_refusal_names_the_rule_the_block_would_break():
    c = Chain.fresh()
    cases = _cases(c)
    txs = [c.sign(who, body) for who, body, _ in cases]
    assert [_error_name(check_tx, c.node.view, t) for t in txs] == [want for _, _, want in cases]
    # Executed in a block, each fails with that same error (so refusing it early changes no outcome).
    _, res = c.commit_txs(txs)
    assert [r.error for r in res.receipts[: len(txs)]] == [want for _, _, want in cases]


def test_valid_transactions_pass():
    c = Chain.fresh()
    bob = c.addr("bob")
    for who, body in [("alice", Transfer(bob, "USD", 1, "")), ("admin", Issue("EUR", 5, bob)), ("alice", MarginDeposit("USD", 3)),
                      ("alice", HtlcLock("USD", 1, bob, H, 100))]:
        check_tx(c.node.view, c.sign(who, body))


@pytest.mark.parametrize("amount", [0, -1, MAX_AMOUNT + 1])
def test_the_stateless_part_needs_no_state(amount):
    with pytest.raises(SettlementError, match="amount"):
        check_body("transfer", Transfer(b"\x00" * 20, "USD", amount, ""))
    check_body("transfer", Transfer(b"\x00" * 20, "USD", 1, ""))
