"""Each block-validity rule of ``settlement/blockrules.py``: a valid block passes, each violation is
refused with its own error and message, and the first broken rule is the one reported."""
from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.block import Block, Header, tx_root
from ledger.codec import decode, encode
from ledger.hashing import ZERO_HASH
from ledger.keys import PrivateKey
from ledger.tx import Tx, sign_tx
from settlement import blockrules as br
from settlement.genesis import Genesis
from settlement.state import DictView
from settlement.transfers import Transfer
from tests.settlement.builders import genesis_doc

KEYS = {n: PrivateKey.from_name(n) for n in ("alice", "bob", "validator", "mallory")}
GENESIS_MS = 1_000


class Tip:
    """Genesis state and the rules of the test chain; blocks proposed and applied in memory."""

    def __init__(self):
        genesis = Genesis.from_json(genesis_doc())
        writes, self.acc = genesis.initial_state()
        self.view = DictView()
        self.view.apply(writes)
        self.rules = br.ChainRules(genesis.chain_id, genesis.genesis_time_ms, genesis.validator_set())
        self.parent: Header | None = None
        self.nonce = 0

    def transfer(self, amount: int = 1) -> Tx:
        tx = sign_tx(KEYS["alice"], self.rules.chain_id, self.nonce, Transfer(KEYS["bob"].address, "USD", amount, ""))
        self.nonce += 1
        return tx

    def propose(self, txs: list[Tx], clock_ms: int, proposer: bytes = KEYS["validator"].address) -> Block:
        block, _ = br.propose_block(self.view, self.acc, self.rules, self.parent, txs, clock_ms, proposer,
                                    max_txs=100, max_bytes=1 << 20)
        return block

    def validate(self, block: Block, **kw):
        return br.validate_block(self.view, self.acc, self.rules, self.parent, block, **kw)

    def commit(self, block: Block) -> None:
        result = self.validate(block)
        self.view.apply(result.writes)
        self.acc = result.tree
        self.parent = block.header


def with_header(block: Block, **fields) -> Block:
    return Block.make(replace(block.header, **fields), block.txs)


def bad_signature(tx: Tx) -> Tx:
    obj = decode(tx.raw)
    obj[5] = bytes(64)
    return Tx.decode(encode(obj))


@pytest.fixture
def tip() -> Tip:
    return Tip()


@pytest.fixture
def tip2(tip) -> Tip:
    """A tip at height 1, time 3000, so that the parent-link rules have a parent."""
    tip.commit(tip.propose([tip.transfer()], 3_000))
    return tip


def test_a_proposed_block_is_valid_and_its_result_is_the_proposers(tip2):
    txs = [tip2.transfer(5), tip2.transfer(7)]
    block, proposed = br.propose_block(tip2.view, tip2.acc, tip2.rules, tip2.parent, txs, 4_000,
                                       KEYS["validator"].address, max_txs=100, max_bytes=1 << 20)
    result = tip2.validate(block)
    assert (block.height, block.header.prev_hash, block.header.time_ms) == (2, tip2.parent.id, 4_000)
    assert result.state_root == proposed.state_root == block.header.state_root
    assert result.receipts_root == block.header.receipts_root
    assert [t.hash for t in result.txs] == [t.hash for t in txs]


def test_the_first_block_follows_a_zero_prev_hash_at_height_1(tip):
    block = tip.propose([], 2_000)
    assert (block.height, block.header.prev_hash) == (1, ZERO_HASH)
    tip.validate(block)


def test_the_proposer_clamps_its_clock_to_the_parent_time_and_the_genesis_time(tip):
    assert br.proposal_time(tip.rules, None, 5) == GENESIS_MS
    assert br.proposal_time(tip.rules, None, 2_500) == 2_500
    first = tip.propose([], 5)
    assert first.header.time_ms == GENESIS_MS
    tip.commit(with_header(first, time_ms=3_000))
    assert br.proposal_time(tip.rules, tip.parent, 2_000) == 3_000
    assert tip.propose([], 2_000).header.time_ms == 3_000
    tip.validate(tip.propose([], 2_000))


def test_the_proposer_skips_a_transaction_that_may_not_be_included(tip):
    ahead = sign_tx(KEYS["alice"], tip.rules.chain_id, 5, Transfer(KEYS["bob"].address, "USD", 1, ""))
    block = tip.propose([ahead, tip.transfer()], 2_000)
    assert [t.nonce for t in block.txs] == [0]
    tip.validate(block)


# ------------------------------------------------------------------ one error per rule

def test_another_chain_id_is_refused(tip2):
    block = with_header(tip2.propose([], 4_000), chain_id="other")
    with pytest.raises(br.WrongChainId, match=r"^chain id 'other' != 'test-chain'$") as info:
        tip2.validate(block)
    assert (info.value.got, info.value.want) == ("other", "test-chain")


def test_a_first_block_not_at_height_1_or_on_a_nonzero_prev_hash_is_refused(tip):
    block = tip.propose([], 2_000)
    for bad in (with_header(block, height=2), with_header(block, prev_hash=b"\x01" * 32)):
        with pytest.raises(br.WrongHeight, match=r"^the first block must have height 1 and a zero prev_hash$"):
            tip.validate(bad)


def test_a_height_that_does_not_follow_the_parent_is_refused(tip2):
    block = with_header(tip2.propose([], 4_000), height=3)
    with pytest.raises(br.WrongHeight, match=r"^height 3 does not follow 1$") as info:
        tip2.validate(block)
    assert (info.value.height, info.value.parent_height) == (3, 1)


def test_a_prev_hash_other_than_the_parent_id_is_refused(tip2):
    block = with_header(tip2.propose([], 4_000), prev_hash=ZERO_HASH)
    with pytest.raises(br.WrongPrevHash, match=r"^prev_hash is not the id of the previous block$"):
        tip2.validate(block)


def test_a_time_before_the_parents_is_refused_and_the_same_time_passes(tip2):
    block = tip2.propose([], 4_000)
    tip2.validate(with_header(block, time_ms=3_000))
    with pytest.raises(br.TimeGoesBack, match=r"^block time 2999 goes back from 3000$") as info:
        tip2.validate(with_header(block, time_ms=2_999))
    assert (info.value.time_ms, info.value.parent_time_ms) == (2_999, 3_000)


def test_a_time_before_genesis_is_refused_and_genesis_time_passes(tip):
    block = tip.propose([], 2_000)
    tip.validate(with_header(block, time_ms=GENESIS_MS))
    with pytest.raises(br.BeforeGenesis, match=r"^block time is before genesis time$"):
        tip.validate(with_header(block, time_ms=GENESIS_MS - 1))


def test_another_validator_set_hash_is_refused(tip2):
    block = with_header(tip2.propose([], 4_000), validators_hash=b"\x02" * 32)
    with pytest.raises(br.WrongValidators, match=r"^validators_hash does not match the validator set$"):
        tip2.validate(block)


def test_a_proposer_outside_the_validator_set_is_refused(tip2):
    block = tip2.propose([], 4_000, proposer=KEYS["mallory"].address)
    with pytest.raises(br.NotAValidator, match=r"^proposer is not a validator$") as info:
        tip2.validate(block)
    assert info.value.proposer == KEYS["mallory"].address


def test_a_tx_root_that_is_not_the_transactions_root_is_refused(tip2):
    block = tip2.propose([tip2.transfer()], 4_000)
    for bad in (Block.make(block.header, ()), with_header(block, tx_root=ZERO_HASH)):
        with pytest.raises(br.WrongTxRoot, match=r"^tx_root does not match the transactions$"):
            tip2.validate(bad)


def test_a_bad_signature_is_refused_naming_the_first_bad_tx(tip2):
    txs = [tip2.transfer(), bad_signature(tip2.transfer()), bad_signature(tip2.transfer())]
    header = tip2.propose(txs, 4_000).header  # the proposer trusts its candidates' signatures
    block = Block.make(header, txs)
    assert br.first_bad_signature(block.txs) == 1
    with pytest.raises(br.BadSignature, match=r"^tx 1: bad signature$") as info:
        tip2.validate(block)
    assert info.value.index == 1
    tip2.validate(block, bad_signature=lambda txs: None)  # the caller's verdicts decide (a cache)
    with pytest.raises(br.BadSignature, match=r"^tx 0: bad signature$"):
        tip2.validate(tip2.propose([], 4_000), bad_signature=lambda txs: 0)


def test_a_transaction_that_may_not_be_included_is_refused(tip2):
    ok, used = tip2.transfer(), sign_tx(KEYS["alice"], "test-chain", 0, Transfer(KEYS["bob"].address, "USD", 1, ""))
    header = tip2.propose([ok], 4_000).header
    block = Block.make(replace(header, tx_root=tx_root([ok, used])), [ok, used])
    with pytest.raises(br.TxNotIncludable, match=r"^tx 1: nonce 0 already used \(next nonce is 2\)$") as info:
        tip2.validate(block)
    assert info.value.index == 1


def test_a_state_root_other_than_the_executions_is_refused(tip2):
    block = with_header(tip2.propose([tip2.transfer()], 4_000), state_root=ZERO_HASH)
    with pytest.raises(br.WrongStateRoot, match=r"^state_root does not match the result of executing the block$"):
        tip2.validate(block)


def test_a_receipts_root_other_than_the_executions_is_refused(tip2):
    block = with_header(tip2.propose([tip2.transfer()], 4_000), receipts_root=ZERO_HASH)
    with pytest.raises(br.WrongReceiptsRoot, match=r"^receipts_root does not match the receipts of executing the block$"):
        tip2.validate(block)


def test_every_rule_error_is_an_invalid_proposal_and_the_first_broken_rule_is_reported(tip2):
    errors = [getattr(br, n) for n in br.__all__ if isinstance(getattr(br, n), type) and n != "ChainRules"]
    assert all(issubclass(e, br.InvalidProposal) for e in errors)
    block = with_header(tip2.propose([bad_signature(tip2.transfer())], 4_000), height=5, state_root=ZERO_HASH,
                        time_ms=1)
    with pytest.raises(br.WrongHeight):  # height before time, signature and roots
        tip2.validate(block)
    with pytest.raises(br.TimeGoesBack):
        tip2.validate(with_header(block, height=2))
    with pytest.raises(br.BadSignature):
        tip2.validate(with_header(block, height=2, time_ms=4_000))
    with pytest.raises(br.WrongStateRoot):
        tip2.validate(with_header(block, height=2, time_ms=4_000), bad_signature=lambda txs: None)


def test_validation_reads_the_state_and_writes_nothing(tip2):
    before = dict(tip2.view.data)
    tip2.validate(tip2.propose([tip2.transfer()], 4_000))
    with pytest.raises(br.WrongStateRoot):
        tip2.validate(with_header(tip2.propose([tip2.transfer()], 4_000), state_root=ZERO_HASH))
    assert tip2.view.data == before


# ------------------------------------------------------------------ the proposer meets the rules

SENDERS = ("alice", "bob", "mallory")  # mallory is not a registered account: never includable
tx_spec = st.tuples(st.sampled_from(SENDERS), st.integers(0, 3), st.integers(-1, 2_000_000))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5_000), st.lists(tx_spec, max_size=6)), min_size=1, max_size=4))
def test_every_block_the_proposer_builds_passes_validation(blocks):
    """Whatever its candidates (used or future nonces, unknown senders, failing amounts) and its
    clock (behind the parent, before genesis), a proposed block is valid and re-executes alike."""
    tip = Tip()
    for clock_ms, specs in blocks:
        candidates = [sign_tx(KEYS[name], tip.rules.chain_id, nonce,
                              Transfer(KEYS["bob" if name == "alice" else "alice"].address, "USD", max(amount, 0), ""))
                      for name, nonce, amount in specs]
        block, proposed = br.propose_block(tip.view, tip.acc, tip.rules, tip.parent, candidates, clock_ms,
                                           KEYS["validator"].address, max_txs=100, max_bytes=1 << 20)
        result = tip.validate(block)
        assert result.state_root == proposed.state_root and result.receipts_root == proposed.receipts_root
        assert block.header.time_ms == max(clock_ms, tip.parent.time_ms if tip.parent else GENESIS_MS)
        assert len(block.txs) + len(proposed.skipped) == len(candidates)
        tip.commit(block)
