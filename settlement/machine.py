"""The block transition: ``apply_block`` and the proposer's ``build_block``.

Owns the order of a block's work: for each transaction, in block order,
check it may be included (chain id, registered sender, next nonce), bump the
nonce, run its handler inside a snapshot, and write a receipt; then the
end-of-block steps; then the net state writes and the new state root.

Owns, too, the one table of what a block can do: ``HANDLERS`` maps every tx
kind to its handler, built here from each family module's own ``HANDLERS``,
and ``END_BLOCK_STEPS`` lists the end-of-block work in the order it runs (the
risk engine's prices, funding and liquidation sweep).  Nothing registers
itself by being imported.

Contract: the caller has verified every transaction signature (the node
verifies each once, at mempool entry or block validation, and caches the
verdict).  Everything else about validity is decided here, deterministically.
A transaction that fails a rule changes nothing but its sender's nonce.
It never reads a clock (block time is the header's), never does I/O and never
verifies a signature itself.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping

from ledger.errors import PeerMisbehaviour
from ledger.keys import format_address
from ledger.receipt import Event, Receipt, receipts_root
from ledger.tx import Tx

from .accounts import Account, get_account, put_account
from .context import BlockContext
from .errors import NotIncludable, SettlementError
from . import swaps, transfers
from .risk import engine as risk_engine
from .state import State, StateTree, StateView

__all__ = [
    "BLOCK_EVENTS_TX_HASH",
    "END_BLOCK_STEPS",
    "HANDLERS",
    "BlockResult",
    "InvalidBlock",
    "apply_block",
    "build_block",
    "check_includable",
    "execute_tx",
]

Handler = Callable[[State, BlockContext, bytes, object], list[Event]]
EndBlockHook = Callable[[State, BlockContext], list[Event]]


def _handler_table(*families: Mapping[str, Handler]) -> dict[str, Handler]:
    """One kind -> handler table from the families' tables; a kind claimed twice is a bug."""
    table: dict[str, Handler] = {}
    for family in families:
        for kind in sorted(family):
            if kind in table:
                raise ValueError(f"handler for {kind!r} defined twice")
            table[kind] = family[kind]
    return table


# Every tx kind a block may carry, by family (never changed after import).
HANDLERS: dict[str, Handler] = _handler_table(transfers.HANDLERS, swaps.HANDLERS, risk_engine.HANDLERS)
# The end-of-block work, run in this order after the block's transactions.
END_BLOCK_STEPS: tuple[EndBlockHook, ...] = (risk_engine.end_block,)
BLOCK_EVENTS_TX_HASH = bytes(32)


class InvalidBlock(PeerMisbehaviour):
    """A block holds a transaction that may not be included (see NotIncludable): its proposer's fault."""

    def __init__(self, index: int, reason: str):
        super().__init__(f"tx {index}: {reason}")
        self.index = index
        self.reason = reason


@dataclass
class BlockResult:
    txs: list[Tx]
    receipts: list[Receipt]
    writes: dict[bytes, bytes | None]
    tree: StateTree  # the state tree after the block; its batch holds the new nodes
    skipped: list[tuple[Tx, str]] = field(default_factory=list)
    _encoded: list[bytes] | None = field(default=None, repr=False, compare=False)

    @property
    def state_root(self) -> bytes:
        return self.tree.root

    @property
    def encoded_receipts(self) -> list[bytes]:
        """Each receipt's canonical bytes, encoded once (for the root and the store)."""
        if self._encoded is None:
            self._encoded = [r.encode() for r in self.receipts]
        return self._encoded

    @property
    def receipts_root(self) -> bytes:
        return receipts_root(self.receipts, self.encoded_receipts)


def check_includable(state: State, chain_id: str, tx: Tx, *, allow_future_nonce: bool = False) -> Account:
    """Raise NotIncludable unless ``tx`` may be executed now.

    Args:
        allow_future_nonce: accept nonces above the account's next nonce
            (the mempool queues them; a block never may).
    """
    if tx.chain_id != chain_id:
        raise NotIncludable(f"wrong chain id {tx.chain_id!r}, this chain is {chain_id!r}")
    if tx.kind not in HANDLERS:
        raise NotIncludable(f"tx kind {tx.kind!r} is not supported")
    sender = tx.sender_address
    acct = get_account(state, sender)
    if acct is None:
        raise NotIncludable(f"sender {format_address(sender)} is not a registered account")
    if tx.nonce < acct.nonce:
        raise NotIncludable(f"nonce {tx.nonce} already used (next nonce is {acct.nonce})")
    if tx.nonce > acct.nonce and not allow_future_nonce:
        raise NotIncludable(f"nonce {tx.nonce} is ahead of the next nonce {acct.nonce}", future_nonce=True)
    return acct


def execute_tx(state: State, ctx: BlockContext, tx: Tx) -> Receipt:
    """Run one includable tx; raises NotIncludable (state untouched) otherwise."""
    acct = check_includable(state, ctx.chain_id, tx)
    sender = tx.sender_address
    put_account(state, sender, Account(acct.roles, acct.nonce + 1))
    snap = state.snapshot()
    try:
        events = HANDLERS[tx.kind](state, ctx, sender, tx.body)
    except SettlementError as exc:
        state.revert(snap)
        return Receipt(tx.hash, exc.code, exc.name, str(exc)[:1024], ())
    return Receipt(tx.hash, 0, "", "", tuple(events))


def _end_block(state: State, ctx: BlockContext) -> list[Receipt]:
    events: list[Event] = []
    for step in END_BLOCK_STEPS:
        events.extend(step(state, ctx))
    if not events:
        return []
    return [Receipt(BLOCK_EVENTS_TX_HASH, 0, "", "block events", tuple(events))]


def _finish(state: State, tree: StateTree, txs, receipts, skipped=()) -> BlockResult:
    writes, tree = state.finish(tree)  # the next version: a node's tree is at the parent's height
    return BlockResult(list(txs), receipts, writes, tree, list(skipped))


def apply_block(view: StateView, tree: StateTree, ctx: BlockContext, txs: Iterable[Tx]) -> BlockResult:
    """Apply a proposed or committed block's transactions.

    Raises:
        InvalidBlock: a tx may not be included (the block must be rejected).
    """
    state = State(view)
    receipts = []
    txs = list(txs)
    for i, tx in enumerate(txs):
        try:
            receipts.append(execute_tx(state, ctx, tx))
        except NotIncludable as exc:
            raise InvalidBlock(i, str(exc)) from None
    receipts.extend(_end_block(state, ctx))
    return _finish(state, tree, txs, receipts)


def build_block(
    view: StateView,
    tree: StateTree,
    ctx: BlockContext,
    candidates: Iterable[Tx],
    *,
    max_txs: int = 10_000,
    max_bytes: int = 4 * 1024 * 1024,
) -> BlockResult:
    """Proposer side: include candidates in order, skipping non-includable ones.

    A candidate whose nonce is ahead is skipped (its predecessor may come
    later in ``candidates`` only if the mempool ordered them wrongly).
    """
    state = State(view)
    included: list[Tx] = []
    receipts: list[Receipt] = []
    skipped: list[tuple[Tx, str]] = []
    size = 0
    for tx in candidates:
        if len(included) >= max_txs or size + len(tx.raw) > max_bytes:
            break
        try:
            receipts.append(execute_tx(state, ctx, tx))
        except NotIncludable as exc:
            skipped.append((tx, str(exc)))
            continue
        included.append(tx)
        size += len(tx.raw)
    receipts.extend(_end_block(state, ctx))
    return _finish(state, tree, included, receipts, skipped)

