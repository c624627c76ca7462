"""The mempool: verified, deduplicated transactions waiting for a block.

Owns: admission (size, duplicate, signature verified exactly once: here,
or before by the node's verifier pool,
includability against committed state, per-sender nonce slot, nonce window,
per-sender and pool limits) with a clear reason for every refusal; per-sender
nonce order; a ready queue a proposer can take a batch from in O(batch);
eviction of what a committed block made stale, of what waited too long, and
of the lowest-priority tx when a ready one needs the room.  No asyncio, no
I/O, and no say over what is gossiped (node/gossip.py sends only ready txs).

Structure: a sender's transactions are *ready* when their nonces run without
gap from the sender's committed nonce; later ones wait in *future* until the
gap fills.  ``ready`` is an insertion-ordered dict, and a sender's nonce n+1
is always inserted after n, so taking ready txs from the front never breaks a
sender's nonce order.

Rules (limits from :class:`node.config.MempoolConfig`, which holds the defaults):

* Window: a sender's *next expected nonce* is its committed nonce plus its
  ready txs here; a tx more than ``nonce_window`` above it is refused
  (``nonce_too_far``), so one sender queues at most ``nonce_window`` future
  txs (more only when an expired tx sends its successors back to future).
* Per sender: at most ``max_txs_per_sender`` txs and ``max_bytes_per_sender``
  bytes, ready and future together (``sender_full``); a ready tx of a sender
  at its cap takes the place of that sender's own highest future txs.
* Full pool (``max_txs`` / ``max_bytes``): a future tx is refused
  (``mempool_full``); a ready tx takes the place of the lowest-priority tx,
  again until it fits.  Lowest priority: (1) any future tx: the
  highest-nonce future tx of the sender with the most txs; (2) then the
  highest-nonce (newest) ready tx of the sender with the most txs, only if
  that sender holds at least two more txs than the newcomer's sender (two
  senders never take places back and forth); else the newcomer is refused,
  and a refused tx evicts nothing (the evictions are planned before any is made).
  Ties between senders go to the larger address.  So a ready tx always wins
  a place over queued future txs, and a flood of one sender's ready txs
  gives way to other senders.
* Expiry: at each commit, a tx that has waited more than ``ttl_blocks``
  commits or more than ``ttl_seconds`` (0: no limit) is dropped; the same
  sender's later ready txs go back to future (they wait for that nonce again).
  Seconds count from the first commit after the tx entered (its entry time
  is not kept), so a tx goes up to one block interval late, never early.
* Evicting or expiring a tx never leaves a gap inside ``ready``: victims are
  a sender's highest nonces, and an expired ready tx takes its later ready
  txs back to future.

A tx the pool would refuse for its nonce or its sender's cap is known
without a signature check (:meth:`Mempool.nonce_hopeless`): the node's batch
paths (RPC, gossip) verify no signature of a far-future flood.

Costs: admission, reaping and commit are O(1) per tx on the usual path.  The
"sender with the most txs" is found by a scan, only when the pool is full:
of the senders with future txs (normally a handful), else of all senders.
Expiry walks the txs in entry order and stops at the first young one, and
walks at all only once the oldest may have expired.
"""
from __future__ import annotations

import collections
import time
from typing import Callable, Iterable

from ledger.errors import InvalidInput
from ledger.tx import MAX_TX_BYTES, SignatureError, Tx

from .config import MempoolConfig

__all__ = ["Mempool", "MempoolRejection"]


class MempoolRejection(InvalidInput):
    """A transaction refused at mempool entry; ``code`` is a short machine name."""

    def __init__(self, code: str, reason: str):
        super().__init__(reason)
        self.code = code
        self.reason = reason


class _Sender:
    """One sender's pending txs (a plain slotted class: one is made per admitted tx at full load)."""

    __slots__ = ("next_ready", "future", "pending", "bytes")

    def __init__(self, next_ready: int):
        self.next_ready = next_ready  # nonce the next ready tx of this sender must have
        self.future: dict[int, Tx] = {}
        self.pending: dict[int, Tx] = {}  # nonce -> tx, ready or future
        self.bytes = 0  # bytes of the pending txs


class Mempool:
    """Pending transactions.

    Args:
        cfg: the limits (:class:`MempoolConfig`; its defaults when None).
        check: ``check(tx) -> committed_nonce`` raises MempoolRejection when the
            tx cannot be included on top of committed state (wrong chain,
            unknown sender, used nonce); it must accept future nonces.
        is_committed: ``is_committed(tx_hash) -> bool`` names a refused replay
            of a committed tx (asked only when ``check`` refused the tx).
        clock: seconds, monotonic (for ``ttl_seconds``).
    """

    def __init__(
        self,
        cfg: MempoolConfig | None = None,
        *,
        check: Callable[[Tx], int],
        is_committed: Callable[[bytes], bool],
        clock: Callable[[], float] = time.monotonic,
    ):
        cfg = cfg or MempoolConfig()
        self.max_txs = cfg.max_txs
        self.max_bytes = cfg.max_bytes
        self.max_txs_per_sender = cfg.max_txs_per_sender
        self.max_bytes_per_sender = cfg.max_bytes_per_sender
        self.nonce_window = cfg.nonce_window
        self.ttl_blocks = cfg.ttl_blocks
        self.ttl_seconds = cfg.ttl_seconds
        self._check = check
        self._is_committed = is_committed
        self._clock = clock
        self.by_hash: dict[bytes, Tx] = {}
        self.ready: dict[bytes, Tx] = {}
        self.senders: dict[bytes, _Sender] = {}
        self.bytes = 0
        self._queued: dict[bytes, None] = {}  # senders that hold future txs
        self.blocks = 0  # commits seen (update calls): a tx's age in blocks counts these
        self._since: dict[bytes, int] = {}  # tx hash -> self.blocks when it entered (entry order)
        self._epochs: collections.deque[tuple[int, float]] = collections.deque()  # (blocks, clock when it began)
        self._time_cut = -1  # txs that entered while self.blocks <= this waited more than ttl_seconds
        self._oldest = 0  # no tx entered while self.blocks < this (a lower bound; expiry walks only from here)
        self.promotions = 0  # future txs that became ready (gossip looks for them when this moves)
        self.evicted = 0  # txs dropped for a ready newcomer
        self.expired = 0  # txs dropped by ttl

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
        size = len(tx.raw)
        if size > MAX_TX_BYTES:
            raise MempoolRejection("too_large", f"transaction of {size} bytes exceeds {MAX_TX_BYTES}")
        if tx.hash in self.by_hash:
            raise MempoolRejection("duplicate", "transaction is already in the mempool")
        try:
            committed_nonce = self._check(tx)
        except MempoolRejection:
            # A committed tx always fails the check (its nonce is used), so
            # the tx index is read only then, never on the hot path.
            if self._is_committed(tx.hash):
                raise MempoolRejection("already_committed", "transaction is already committed") from None
            raise
        sender = tx.sender_address
        st = self.senders.get(sender)
        if st is None:
            st = _Sender(next_ready=committed_nonce)
        nonce = tx.nonce
        if nonce in st.pending:
            raise MempoolRejection("nonce_pending", f"another transaction with nonce {nonce} is pending")
        if nonce < st.next_ready:
            raise MempoolRejection("nonce_used", f"nonce {nonce} already used (next is {st.next_ready})")
        if nonce - st.next_ready > self.nonce_window:
            raise MempoolRejection(
                "nonce_too_far", f"nonce {nonce} is more than {self.nonce_window} above the next expected nonce {st.next_ready}"
            )
        ready = nonce == st.next_ready
        over_sender = len(st.pending) >= self.max_txs_per_sender or st.bytes + size > self.max_bytes_per_sender
        if over_sender and not (ready and self._own_room(st, size)):
            raise MempoolRejection(
                "sender_full",
                f"sender holds {len(st.pending)} txs, {st.bytes} bytes (at most {self.max_txs_per_sender}, "
                f"{self.max_bytes_per_sender} bytes per sender)",
            )
        full = len(self.by_hash) >= self.max_txs or self.bytes + size > self.max_bytes
        if full and not ready:
            raise self._full()
        if not verified:  # after the cheaper checks (stale, duplicate and far-future spam costs little)
            try:
                tx.verify_signature()
            except SignatureError as exc:
                raise MempoolRejection("bad_signature", str(exc)) from None
        if over_sender or full:  # a ready tx: others give way, all of them or none
            victims = self._victims(st, sender, size, over_sender, full)
            if victims is None:
                raise self._full()
            for victim in victims:
                self._drop(victim)
                self.evicted += 1
        self.senders[sender] = st
        st.pending[nonce] = tx
        st.bytes += size
        self.by_hash[tx.hash] = tx
        self._since[tx.hash] = self.blocks
        self.bytes += size
        if ready:
            self._promote(st, tx, sender)
        else:
            st.future[nonce] = tx
            self._queued[sender] = None

    def _full(self) -> MempoolRejection:
        return MempoolRejection("mempool_full", f"mempool is full ({len(self.by_hash)} txs, {self.bytes} bytes)")

    def _own_room(self, st: _Sender, size: int) -> bool:
        """Would dropping all of the sender's future txs make room for a ready tx of ``size``?"""
        kept = len(st.pending) - len(st.future)
        kept_bytes = st.bytes - sum(len(t.raw) for t in st.future.values())
        return kept < self.max_txs_per_sender and kept_bytes + size <= self.max_bytes_per_sender

    def _victims(self, st: _Sender, sender: bytes, size: int, over_sender: bool, full: bool) -> list[Tx] | None:
        """The txs to evict, in order, so that a ready tx of ``size`` from ``st`` fits; None if it cannot.

        Planned on counts before anything is evicted, so a tx that is refused
        in the end evicts nothing.  First (``over_sender``) the sender's own
        highest future txs, until it is within its own limits; then (``full``)
        the lowest-priority txs of the pool (module docstring): the highest
        future tx of the queued sender holding most, else the highest ready tx
        of the sender holding most, as long as it holds at least two more than
        the newcomer's sender.
        """
        senders = self.senders
        taken: dict[bytes, int] = {}  # txs planned away per sender; nothing is copied that the plan does not touch
        futures: dict[bytes, list[int]] = {}
        next_ready: dict[bytes, int] = {}
        drained: set[bytes] = set()  # queued senders whose future txs the plan takes all of
        txs, total, own = len(self.by_hash), self.bytes, st.bytes
        victims: list[Tx] = []

        def count(a: bytes) -> int:
            return len((st if a == sender else senders[a]).pending) - taken.get(a, 0)

        def take(a: bytes, tx: Tx) -> None:
            nonlocal txs, total, own
            victims.append(tx)
            taken[a] = taken.get(a, 0) + 1
            txs, total = txs - 1, total - len(tx.raw)
            if a == sender:
                own -= len(tx.raw)

        def take_future(a: bytes) -> None:
            f = futures.get(a)
            if f is None:
                f = futures[a] = sorted(senders[a].future)
            take(a, senders[a].pending[f.pop()])
            if not f:
                drained.add(a)

        if over_sender:  # checked by the caller: the sender's future txs alone make room
            while count(sender) >= self.max_txs_per_sender or own + size > self.max_bytes_per_sender:
                take_future(sender)
        while full and (txs >= self.max_txs or total + size > self.max_bytes):
            queued = [a for a in self._queued if a not in drained]
            if queued:
                take_future(max(queued, key=lambda a: (count(a), a)))
                continue
            a = max((a for a in senders if count(a)), key=lambda a: (count(a), a), default=None)
            if a is None or count(a) < count(sender) + 2:
                return None
            n = next_ready.get(a, senders[a].next_ready) - 1  # no future txs anywhere: its highest nonce is ready
            take(a, senders[a].pending[n])
            next_ready[a] = n
        return victims

    def _promote(self, st: _Sender, tx: Tx, sender: bytes) -> None:
        self.ready[tx.hash] = tx
        st.next_ready = tx.nonce + 1
        if st.future:
            self._promote_waiting(st, sender)

    def _promote_waiting(self, st: _Sender, sender: bytes) -> None:
        """Move the sender's future txs that now run without gap into ready."""
        future = st.future
        while st.next_ready in future:
            nxt = future.pop(st.next_ready)
            self.ready[nxt.hash] = nxt
            st.next_ready += 1
            self.promotions += 1
        if not future:
            self._queued.pop(sender, None)

    def nonce_hopeless(self, tx: Tx, committed_nonce: Callable[[bytes], int], earlier: int = 0) -> bool:
        """True when :meth:`add` would refuse ``tx`` on its nonce (used, pending, above the window) or as one too many of its sender.

        A caller checking a batch's signatures ahead of admission skips these
        (a future-nonce flood costs no signature work).  Each of ``earlier``
        may move the window by one; one that fills a gap can move it further,
        and then a skipped tx is admitted all the same, its signature checked
        by :meth:`add` itself.

        Args:
            committed_nonce: the sender's committed nonce (asked only for a sender with nothing here).
            earlier: txs of the same sender before this one in the batch.
        """
        sender = tx.sender_address
        st = self.senders.get(sender)
        nxt = st.next_ready if st is not None else committed_nonce(sender)
        n = tx.nonce
        if n < nxt or n - nxt > self.nonce_window + earlier:
            return True
        # at its cap, only a ready tx of a sender with future txs to give way gets in
        return st is not None and (n in st.pending or (len(st.pending) >= self.max_txs_per_sender and not st.future))

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
        """Remove committed txs and everything a block made stale; then expire old txs.

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
                self._promote_waiting(st, sender)
            if not st.pending:
                del self.senders[sender]
        self.blocks += 1
        if self.ttl_blocks or self.ttl_seconds:
            self._expire()

    def _expire(self) -> None:
        """Drop the txs that waited more than ``ttl_blocks`` commits or ``ttl_seconds``."""
        cut = self.blocks - self.ttl_blocks - 1 if self.ttl_blocks else -1  # entered while blocks <= cut: expired
        if self.ttl_seconds:
            # A tx that entered while blocks == e entered before blocks became e + 1.
            epochs = self._epochs
            epochs.append((self.blocks, self._clock()))
            limit = epochs[-1][1] - self.ttl_seconds
            while epochs and epochs[0][1] < limit:
                self._time_cut = epochs.popleft()[0] - 1
            cut = max(cut, self._time_cut)
        if cut < self._oldest:
            return
        old: list[bytes] = []
        self._oldest = self.blocks
        for h, entered in self._since.items():
            if entered > cut:
                self._oldest = entered
                break
            old.append(h)
        for h in old:
            self._drop(self.by_hash[h])
        self.expired += len(old)

    # ------------------------------------------------------------------ removal

    def _remove(self, tx: Tx) -> None:
        """Take ``tx`` (in the pool) out of every index; its sender's record stays."""
        h = tx.hash
        del self.by_hash[h]
        del self._since[h]
        size = len(tx.raw)
        self.bytes -= size
        sender = tx.sender_address
        st = self.senders[sender]
        st.bytes -= size
        del st.pending[tx.nonce]
        if self.ready.pop(h, None) is None:
            del st.future[tx.nonce]
            if not st.future:
                self._queued.pop(sender, None)

    def _drop(self, tx: Tx) -> None:
        """Evict or expire ``tx`` (not committed): the sender's later ready txs go back to future."""
        sender = tx.sender_address
        st = self.senders[sender]
        self._remove(tx)
        if tx.nonce < st.next_ready:
            for n in range(tx.nonce + 1, st.next_ready):
                later = st.pending[n]
                del self.ready[later.hash]
                st.future[n] = later
            st.next_ready = tx.nonce
            if st.future:
                self._queued[sender] = None
        if not st.pending:
            del self.senders[sender]
