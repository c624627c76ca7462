"""The mempool: verified, deduplicated transactions waiting for a block.

Owns: admission (size, duplicate, signature verified exactly once: here,
or before by the node's verifier pool,
includability against committed state, per-sender nonce slot, count and byte
limits) with a clear reason for every refusal; per-sender nonce order; a
ready queue a proposer can take a batch from in O(batch); and eviction of
what a committed block made stale.  No asyncio, no I/O.

Structure: a sender's transactions are *ready* when their nonces run without
gap from the sender's committed nonce; later ones wait in *future* until the
gap fills.  ``ready`` is an insertion-ordered dict, and a sender's nonce n+1
is always inserted after n, so taking ready txs from the front never breaks a
sender's nonce order.
"""
from __future__ import annotations

from typing import Callable, Iterable

from ledger.tx import MAX_TX_BYTES, SignatureError, Tx

__all__ = ["Mempool", "MempoolRejection"]


class MempoolRejection(Exception):
    """A transaction refused at mempool entry; ``code`` is a short machine name."""

    def __init__(self, code: str, reason: str):
        super().__init__(reason)
        self.code = code
        self.reason = reason


class _Sender:
    """One sender's pending txs (a plain slotted class: one is made per admitted tx at full load)."""

    __slots__ = ("next_ready", "future", "pending")

    def __init__(self, next_ready: int):
        self.next_ready = next_ready  # nonce the next ready tx of this sender must have
        self.future: dict[int, Tx] = {}
        self.pending: dict[int, Tx] = {}  # nonce -> tx, ready or future


class Mempool:
    """Pending transactions.

    Args:
        max_txs: most transactions held.
        max_bytes: most bytes of transactions held.
        check: ``check(tx) -> committed_nonce`` raises MempoolRejection when the
            tx cannot be included on top of committed state (wrong chain,
            unknown sender, used nonce); it must accept future nonces.
        is_committed: ``is_committed(tx_hash) -> bool`` names a refused replay
            of a committed tx (asked only when ``check`` refused the tx).
    """

    def __init__(
        self,
        *,
        max_txs: int = 50_000,
        max_bytes: int = 64 * 1024 * 1024,
        check: Callable[[Tx], int],
        is_committed: Callable[[bytes], bool],
    ):
        self.max_txs = max_txs
        self.max_bytes = max_bytes
        self._check = check
        self._is_committed = is_committed
        self.by_hash: dict[bytes, Tx] = {}
        self.ready: dict[bytes, Tx] = {}
        self.senders: dict[bytes, _Sender] = {}
        self.bytes = 0

    def __len__(self) -> int:
        return len(self.by_hash)

    def __contains__(self, tx_hash: bytes) -> bool:
        return tx_hash in self.by_hash

    # ------------------------------------------------------------------ admission

    def add(self, tx: Tx, *, verified: bool = False) -> None:
        """Admit ``tx`` or raise MempoolRejection saying why.

        Args:
            verified: the signature was already checked by the caller.
        """
        if len(tx.raw) > MAX_TX_BYTES:
            raise MempoolRejection("too_large", f"transaction of {len(tx.raw)} bytes exceeds {MAX_TX_BYTES}")
        if tx.hash in self.by_hash:
            raise MempoolRejection("duplicate", "transaction is already in the mempool")
        if len(self.by_hash) >= self.max_txs or self.bytes + len(tx.raw) > self.max_bytes:
            raise MempoolRejection("mempool_full", f"mempool is full ({len(self.by_hash)} txs, {self.bytes} bytes)")
        sender = tx.sender_address
        st = self.senders.get(sender)
        try:
            committed_nonce = self._check(tx)
        except MempoolRejection:
            # A committed tx always fails the check (its nonce is used), so
            # the tx index is read only then, never on the hot path.
            if self._is_committed(tx.hash):
                raise MempoolRejection("already_committed", "transaction is already committed") from None
            raise
        if st is None:
            st = _Sender(next_ready=committed_nonce)
        if tx.nonce in st.pending:
            raise MempoolRejection("nonce_pending", f"another transaction with nonce {tx.nonce} is pending")
        if tx.nonce < st.next_ready:
            raise MempoolRejection("nonce_used", f"nonce {tx.nonce} already used (next is {st.next_ready})")
        if not verified:  # last: the checks above are cheaper than a signature (stale and duplicate spam costs little)
            try:
                tx.verify_signature()
            except SignatureError as exc:
                raise MempoolRejection("bad_signature", str(exc)) from None
        self.senders[sender] = st
        st.pending[tx.nonce] = tx
        self.by_hash[tx.hash] = tx
        self.bytes += len(tx.raw)
        if tx.nonce == st.next_ready:
            self._promote(st, tx)
        else:
            st.future[tx.nonce] = tx

    def _promote(self, st: _Sender, tx: Tx) -> None:
        self.ready[tx.hash] = tx
        st.next_ready = tx.nonce + 1
        while st.next_ready in st.future:
            nxt = st.future.pop(st.next_ready)
            self.ready[nxt.hash] = nxt
            st.next_ready += 1

    def next_nonce(self, sender: bytes) -> int | None:
        """Next nonce after the sender's ready txs, or None if the pool has none."""
        st = self.senders.get(sender)
        return st.next_ready if st else None

    # ------------------------------------------------------------------ proposer

    def reap(self, max_txs: int, max_bytes: int) -> list[Tx]:
        """Ready transactions from the front, in order, within the limits."""
        out: list[Tx] = []
        size = 0
        for tx in self.ready.values():
            if len(out) >= max_txs or size + len(tx.raw) > max_bytes:
                break
            out.append(tx)
            size += len(tx.raw)
        return out

    # ------------------------------------------------------------------ commit

    def update(self, committed: Iterable[Tx], nonce_of: Callable[[bytes], int]) -> None:
        """Remove committed txs and everything a block made stale.

        Args:
            committed: the block's transactions.
            nonce_of: committed next nonce of an address after the block.
        """
        touched: dict[bytes, None] = {}
        for tx in committed:
            touched[tx.sender_address] = None
            if tx.hash in self.by_hash:
                self._remove(tx)
        for sender in touched:
            st = self.senders.get(sender)
            if st is None:
                continue
            if not st.pending:  # the block took all it had (the usual case): nothing can be stale
                del self.senders[sender]
                continue
            nonce = nonce_of(sender)
            for n in sorted(k for k in st.pending if k < nonce):
                self._remove(st.pending[n])
            if st.next_ready < nonce:
                st.next_ready = nonce
                while st.next_ready in st.future:
                    self._promote(st, st.future.pop(st.next_ready))
            if not st.pending:
                del self.senders[sender]

    def _remove(self, tx: Tx) -> None:
        self.by_hash.pop(tx.hash, None)
        self.ready.pop(tx.hash, None)
        self.bytes -= len(tx.raw)
        st = self.senders.get(tx.sender_address)
        if st is not None:
            st.pending.pop(tx.nonce, None)
            st.future.pop(tx.nonce, None)
