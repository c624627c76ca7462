"""Block validity: the rules a proposer follows and every validator checks.

Owns: every rule deciding whether a block may follow the tip, each a named
error with its message, checked in one fixed order (the first broken rule is
the one reported):

1. :func:`check_child` — the header's link to its parent: chain id, height
   parent+1 (or 1 with a zero ``prev_hash`` for the first block),
   ``prev_hash`` the parent's id, time not going back from the parent's;
2. :func:`check_header` — also: time not before genesis time, the validator
   set's hash, a proposer from that set, ``tx_root`` over the transactions;
3. every transaction signature valid (the check itself is passed in: the
   node verifies each tx once, in parallel, and remembers the verdict);
4. :func:`execute` — every transaction includable, and the state and
   receipts roots the header claims equal to those of re-executing it.

and how a proposer builds a block that meets them (:func:`propose_block`,
with the time clamp of :func:`proposal_time`).

Pure: the caller passes the committed state view, the state tree, the
parent header and the :class:`ChainRules` of its genesis.  Never caches,
stores, reads a clock or verifies a signature in a pool; those are the
node's (``node/chain.py``).  That a block's time is close to the validators'
own clocks is consensus's rule when they vote, not a validity rule.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from ledger.block import Block, Header, tx_root
from ledger.errors import PeerMisbehaviour
from ledger.hashing import ZERO_HASH
from ledger.tx import SignatureError, Tx
from ledger.validators import ValidatorSet

from .context import BlockContext
from .machine import BlockResult, InvalidBlock, apply_block, build_block
from .state import StateTree, StateView

__all__ = [
    "BadSignature",
    "BeforeGenesis",
    "ChainRules",
    "InvalidProposal",
    "NotAValidator",
    "TimeGoesBack",
    "TxNotIncludable",
    "WrongChainId",
    "WrongHeight",
    "WrongPrevHash",
    "WrongReceiptsRoot",
    "WrongStateRoot",
    "WrongTxRoot",
    "WrongValidators",
    "check_child",
    "check_header",
    "execute",
    "first_bad_signature",
    "proposal_time",
    "propose_block",
    "validate_block",
]


class InvalidProposal(PeerMisbehaviour):
    """A proposed block breaks a rule; the reason is in the message.

    A peer's fault: blocks reach a node as proposals and through block sync.
    """


class WrongChainId(InvalidProposal):
    """The header names another chain."""

    def __init__(self, got: str, want: str):
        super().__init__(f"chain id {got!r} != {want!r}")
        self.got, self.want = got, want


class WrongHeight(InvalidProposal):
    """The height is not the parent's + 1 (or the first block is not height 1 on a zero prev_hash)."""

    def __init__(self, height: int, parent_height: int | None):
        if parent_height is None:
            super().__init__("the first block must have height 1 and a zero prev_hash")
        else:
            super().__init__(f"height {height} does not follow {parent_height}")
        self.height, self.parent_height = height, parent_height


class WrongPrevHash(InvalidProposal):
    """``prev_hash`` is not the parent's id."""

    def __init__(self):
        super().__init__("prev_hash is not the id of the previous block")


class TimeGoesBack(InvalidProposal):
    """The block time is earlier than the parent's."""

    def __init__(self, time_ms: int, parent_time_ms: int):
        super().__init__(f"block time {time_ms} goes back from {parent_time_ms}")
        self.time_ms, self.parent_time_ms = time_ms, parent_time_ms


class BeforeGenesis(InvalidProposal):
    """The block time is earlier than the genesis time."""

    def __init__(self, time_ms: int, genesis_time_ms: int):
        super().__init__("block time is before genesis time")
        self.time_ms, self.genesis_time_ms = time_ms, genesis_time_ms


class WrongValidators(InvalidProposal):
    """``validators_hash`` is not the hash of the chain's validator set."""

    def __init__(self):
        super().__init__("validators_hash does not match the validator set")


class NotAValidator(InvalidProposal):
    """The proposer is not in the validator set."""

    def __init__(self, proposer: bytes):
        super().__init__("proposer is not a validator")
        self.proposer = proposer


class WrongTxRoot(InvalidProposal):
    """``tx_root`` is not the Merkle root of the block's transactions."""

    def __init__(self):
        super().__init__("tx_root does not match the transactions")


class BadSignature(InvalidProposal):
    """A transaction's signature does not verify."""

    def __init__(self, index: int):
        super().__init__(f"tx {index}: bad signature")
        self.index = index


class TxNotIncludable(InvalidProposal):
    """A transaction may not be included (wrong chain, unknown sender, nonce...)."""

    def __init__(self, index: int, reason: str):
        super().__init__(f"tx {index}: {reason}")
        self.index, self.reason = index, reason


class WrongStateRoot(InvalidProposal):
    """``state_root`` is not the root after executing the block."""

    def __init__(self):
        super().__init__("state_root does not match the result of executing the block")


class WrongReceiptsRoot(InvalidProposal):
    """``receipts_root`` is not the root of the receipts of executing the block."""

    def __init__(self):
        super().__init__("receipts_root does not match the receipts of executing the block")


@dataclass(frozen=True, slots=True)
class ChainRules:
    """What a chain's blocks are checked against, fixed at genesis."""

    chain_id: str
    genesis_time_ms: int
    vset: ValidatorSet


# --------------------------------------------------------------------------- header


def check_child(parent: Header | None, child: Header, chain_id: str) -> None:
    """Rule 1: the header's link to its parent (None for height 1).

    Raises:
        WrongChainId, WrongHeight, WrongPrevHash, TimeGoesBack.
    """
    if child.chain_id != chain_id:
        raise WrongChainId(child.chain_id, chain_id)
    if parent is None:
        if child.height != 1 or child.prev_hash != ZERO_HASH:
            raise WrongHeight(child.height, None)
        return
    if child.height != parent.height + 1:
        raise WrongHeight(child.height, parent.height)
    if child.prev_hash != parent.id:
        raise WrongPrevHash()
    if child.time_ms < parent.time_ms:
        raise TimeGoesBack(child.time_ms, parent.time_ms)


def check_header(rules: ChainRules, parent: Header | None, block: Block) -> None:
    """Rules 1 and 2: everything decided by the header and the tx list alone.

    Raises:
        the errors of :func:`check_child`, BeforeGenesis, WrongValidators,
        NotAValidator, WrongTxRoot.
    """
    h = block.header
    check_child(parent, h, rules.chain_id)
    if h.time_ms < rules.genesis_time_ms:
        raise BeforeGenesis(h.time_ms, rules.genesis_time_ms)
    if h.validators_hash != rules.vset.hash:
        raise WrongValidators()
    if h.proposer not in rules.vset:
        raise NotAValidator(h.proposer)
    if h.tx_root != tx_root(block.txs):
        raise WrongTxRoot()


# --------------------------------------------------------------------------- signatures

FirstBadSignature = Callable[[Sequence[Tx]], int | None]  # index of the first bad signature, or None


def first_bad_signature(txs: Sequence[Tx]) -> int | None:
    """Rule 3 checked one tx at a time: the index of the first bad signature, or None."""
    for i, tx in enumerate(txs):
        try:
            tx.verify_signature()
        except SignatureError:
            return i
    return None


# --------------------------------------------------------------------------- execution


def execute(view: StateView, tree: StateTree, rules: ChainRules, block: Block) -> BlockResult:
    """Rule 4: re-execute the block on committed state and compare its roots.

    Raises:
        TxNotIncludable, WrongStateRoot, WrongReceiptsRoot.
    """
    h = block.header
    ctx = BlockContext(rules.chain_id, h.height, h.time_ms, h.proposer)
    try:
        result = apply_block(view, tree, ctx, block.txs)
    except InvalidBlock as exc:
        raise TxNotIncludable(exc.index, exc.reason) from None
    if result.state_root != h.state_root:
        raise WrongStateRoot()
    if result.receipts_root != h.receipts_root:
        raise WrongReceiptsRoot()
    return result


def validate_block(
    view: StateView,
    tree: StateTree,
    rules: ChainRules,
    parent: Header | None,
    block: Block,
    bad_signature: FirstBadSignature = first_bad_signature,
) -> BlockResult:
    """Every rule, in order; the result of executing the block if it is valid.

    Args:
        bad_signature: given the block's txs, the index of the first one
            whose signature does not verify, or None (a cache of verdicts
            and a parallel verifier live behind it in the node).

    Raises:
        InvalidProposal: the subclass naming the first rule the block breaks.
    """
    check_header(rules, parent, block)
    bad = bad_signature(block.txs)
    if bad is not None:
        raise BadSignature(bad)
    return execute(view, tree, rules, block)


# --------------------------------------------------------------------------- propose


def proposal_time(rules: ChainRules, parent: Header | None, clock_ms: int) -> int:
    """The proposer's clock, clamped so the block time neither goes back nor precedes genesis."""
    return max(clock_ms, parent.time_ms if parent is not None else rules.genesis_time_ms)


def propose_block(
    view: StateView,
    tree: StateTree,
    rules: ChainRules,
    parent: Header | None,
    candidates: Iterable[Tx],
    clock_ms: int,
    proposer: bytes,
    *,
    max_txs: int,
    max_bytes: int,
) -> tuple[Block, BlockResult]:
    """Build the block after ``parent`` from ``candidates`` (signatures already verified).

    The block meets every rule of :func:`validate_block` when ``proposer`` is
    in the validator set: non-includable candidates are skipped, the time is
    clamped by :func:`proposal_time`, the roots are those of the execution.
    """
    height = parent.height + 1 if parent is not None else 1
    time_ms = proposal_time(rules, parent, clock_ms)
    ctx = BlockContext(rules.chain_id, height, time_ms, proposer)
    result = build_block(view, tree, ctx, candidates, max_txs=max_txs, max_bytes=max_bytes)
    header = Header(
        chain_id=rules.chain_id,
        height=height,
        time_ms=time_ms,
        prev_hash=parent.id if parent is not None else ZERO_HASH,
        tx_root=tx_root(result.txs),
        state_root=result.state_root,
        receipts_root=result.receipts_root,
        proposer=proposer,
        validators_hash=rules.vset.hash,
    )
    return Block.make(header, result.txs), result
