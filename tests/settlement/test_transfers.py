"""Settlement of registrations, issues and transfers: rules, receipts, invariants."""
from __future__ import annotations

import hashlib

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from ledger.keys import PrivateKey
from ledger.txkinds import CreateAsset, Issue, RegisterAccount, Transfer
from settlement.accounts import MAX_AMOUNT, Account, Asset, balance_key
from settlement.state import StateTree

from tests.settlement.builders import START_BALANCE, Chain

PARTIES = ("admin", "alice", "bob", "carol", "mallory")


def _supply(chain: Chain, sym: str) -> int:
    raw = chain.store.state_get(b"t/" + sym.encode())
    return Asset.decode(raw).supply if raw else 0


def _balances(chain: Chain, sym: str) -> list[int]:
    from ledger.codec import decode

    return [decode(v) for k, v in chain.store.state_iter(b"b/") if k.endswith(b"/" + sym.encode())]


def _root_from_scratch(chain: Chain) -> bytes:
    return StateTree.empty().update(dict(chain.store.state_iter(b"")), 0).root


def test_transfer_moves_exactly_the_amount_and_reports_it():
    c = Chain.fresh()
    _, res = c.commit_txs([c.sign("alice", Transfer(c.addr("bob"), "USD", 250, "rent"))])
    (r,) = res.receipts
    assert r.ok and r.events[0].attrs == {"from": c.addr("alice"), "to": c.addr("bob"), "asset": "USD", "amount": 250}
    assert c.store.state_get(balance_key(c.addr("alice"), "USD")) is not None
    bals = dict(zip(("alice", "bob"), [c.node.view.get(balance_key(c.addr(n), "USD")) for n in ("alice", "bob")]))
    from ledger.codec import decode

    assert decode(bals["alice"]) == START_BALANCE["USD"] - 250
    assert decode(bals["bob"]) == START_BALANCE["USD"] + 250


def test_failed_tx_changes_nothing_but_the_nonce():
    c = Chain.fresh()
    before = dict(c.store.state_iter(b"b/"))
    txs = [
        c.sign("alice", Transfer(c.addr("bob"), "USD", START_BALANCE["USD"] + 1, "")),
        c.sign("alice", Transfer(c.addr("bob"), "USD", 0, "")),
        c.sign("alice", Transfer(c.addr("bob"), "USD", -5, "")),
        c.sign("alice", Transfer(c.addr("bob"), "USD", MAX_AMOUNT + 1, "")),
        c.sign("alice", Transfer(c.addr("bob"), "XYZ", 1, "")),
        c.sign("alice", Transfer(c.addr("mallory"), "USD", 1, "")),
        c.sign("alice", Issue("USD", 10, c.addr("alice"))),
        c.sign("alice", RegisterAccount(c.addr("mallory"), "participant")),
        c.sign("admin", RegisterAccount(c.addr("bob"), "participant")),
        c.sign("admin", RegisterAccount(c.addr("mallory"), "king")),
        c.sign("admin", CreateAsset("usd", 2, c.addr("admin"))),
        c.sign("admin", CreateAsset("USD", 2, c.addr("admin"))),
        c.sign("admin", CreateAsset("GBP", 2, c.addr("alice"))),
    ]
    _, res = c.commit_txs(txs)
    errors = [r.error for r in res.receipts]
    assert errors == [
        "insufficient_balance",
        "bad_amount",
        "bad_amount",
        "bad_amount",
        "unknown_asset",
        "not_registered",
        "not_permitted",
        "not_permitted",
        "already_exists",
        "invalid_parameter",
        "invalid_parameter",
        "already_exists",
        "not_permitted",
    ]
    assert all(r.reason for r in res.receipts)
    assert dict(c.store.state_iter(b"b/")) == before
    assert Account.decode(c.store.state_get(b"a/" + c.addr("alice"))).nonce == 8
    assert Account.decode(c.store.state_get(b"a/" + c.addr("admin"))).nonce == 5


def test_admin_registers_creates_issues():
    c = Chain.fresh()
    _, res = c.commit_txs(
        [
            c.sign("admin", RegisterAccount(c.addr("mallory"), "participant")),
            c.sign("admin", RegisterAccount(c.addr("carol"), "issuer")),
            c.sign("admin", CreateAsset("GBP", 2, c.addr("carol"))),
            c.sign("carol", Issue("GBP", 1_000, c.addr("mallory"))),
            c.sign("mallory", Transfer(c.addr("alice"), "GBP", 400, "")),
        ]
    )
    assert [r.error for r in res.receipts] == [""] * 5
    assert _supply(c, "GBP") == 1_000 and sorted(_balances(c, "GBP")) == [400, 600]


class TransferMachine(RuleBasedStateMachine):
    """Random registrations, issues and transfers, valid and invalid, in random blocks."""

    def __init__(self):
        super().__init__()
        self.chain = Chain.fresh()
        self.pending = []
        self.log = []

    @rule(frm=st.sampled_from(PARTIES), to=st.sampled_from(PARTIES), asset=st.sampled_from(["USD", "EUR", "GBP"]),
          amount=st.one_of(st.integers(-3, 2_000_000), st.just(MAX_AMOUNT), st.just(MAX_AMOUNT + 1)))
    def transfer(self, frm, to, asset, amount):
        if frm != "mallory":
            self.pending.append(self.chain.sign(frm, Transfer(self.chain.addr(to), asset, amount, "")))

    @rule(to=st.sampled_from(PARTIES), amount=st.integers(-1, 10**15), signer=st.sampled_from(["admin", "alice"]))
    def issue(self, to, amount, signer):
        self.pending.append(self.chain.sign(signer, Issue("USD", amount, self.chain.addr(to))))

    @rule(who=st.sampled_from(PARTIES), role=st.sampled_from(["participant", "issuer", "oracle", "bogus"]),
          signer=st.sampled_from(["admin", "bob"]))
    def register(self, who, role, signer):
        self.pending.append(self.chain.sign(signer, RegisterAccount(self.chain.addr(who), role)))

    @rule()
    def close_block(self):
        pool = self.chain.mempool()
        for t in self.pending:
            try:
                pool.add(t, verified=True)
            except Exception:
                pass  # e.g. mallory before registration: not includable, stays out
        block, _ = self.chain.commit_pool(pool)
        self.log.append(block)
        self.pending = []
        self.chain.nonces = {n: self.chain.node.nonce_of(self.chain.addr(n)) for n in PARTIES}

    @invariant()
    def supply_is_exact_and_no_balance_negative(self):
        for sym in ("USD", "EUR"):
            bals = _balances(self.chain, sym)
            assert all(b > 0 for b in bals)
            assert sum(bals) == _supply(self.chain, sym)

    @invariant()
    def incremental_root_matches_recomputation(self):
        assert self.chain.node.state_root == _root_from_scratch(self.chain)

    def teardown(self):
        # Same genesis + same blocks => same state root on a fresh replica.
        replica = Chain.fresh()
        for block in self.log:
            result = replica.node.validate(block)
            assert result.state_root == block.header.state_root
            replica.node.commit(block, result, self.chain.store.commit_cert(block.height))
        assert replica.node.state_root == self.chain.node.state_root


TestTransferMachine = TransferMachine.TestCase
TestTransferMachine.settings = settings(max_examples=60, stateful_step_count=25, deadline=None)


def test_state_root_is_independent_of_history_order():
    """Two chains that reach the same balances by different paths have the same root."""
    a, b = Chain.fresh(), Chain.fresh()
    a.commit_txs([a.sign("alice", Transfer(a.addr("bob"), "USD", 10, "")), a.sign("bob", Transfer(a.addr("carol"), "USD", 10, ""))])
    b.commit_txs([b.sign("bob", Transfer(b.addr("carol"), "USD", 10, ""))])
    b.commit_txs([b.sign("alice", Transfer(b.addr("bob"), "USD", 10, ""))])
    assert a.node.state_root == b.node.state_root
    assert _root_from_scratch(a) == a.node.state_root
