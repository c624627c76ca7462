"""Transaction intake: mempool admission on every path (RPC, batch, gossip).

Owns the door of the mempool: includability against committed state
(chain, sender, nonce) and settlement's door checks
(:func:`settlement.checktx.check_tx`), so a tx any block would fail is
refused here instead of burning a nonce on a failed receipt; the refusal of
every submission once the node halted; batch signature checks in the
verifier pool; and, for a client's tx, handing it to gossip after admission.

Never: decide a settlement rule (it asks ``settlement``), send anything on
the network itself (``ClientTxs`` hands txs to a :class:`~node.ports.TxOutbox`),
or hold the node.
"""
from __future__ import annotations

import asyncio
from typing import Callable

from ledger.errors import Halt
from ledger.tx import Tx
from settlement.checktx import check_tx
from settlement.errors import NotIncludable, SettlementError

from .chain import Chain
from .mempool import Mempool, MempoolRejection
from .ports import Halter, MetricsSink, TxAdmission, TxOutbox
from .verifier import Verifier

__all__ = ["ClientTxs", "TxIntake", "admission_check"]


def admission_check(chain: Chain) -> Callable[[Tx], int]:
    """The mempool's ``check``: includability, then settlement's door checks; returns the committed nonce.

    Raises:
        MempoolRejection: ``not_includable``, or the settlement error's name.
    """

    def check(tx: Tx) -> int:
        try:
            nonce = chain.check_tx(tx)
            check_tx(chain.view, tx)
        except NotIncludable as exc:
            raise MempoolRejection("not_includable", str(exc)) from None
        except SettlementError as exc:
            raise MempoolRejection(exc.name, str(exc)) from None
        return nonce

    return check


class TxIntake:
    """Admission to the mempool (the :class:`~node.ports.TxAdmission` port).

    Args:
        chain: the signature memo (``verified``, ``mark_verified``) and nonces.
        mempool: where admitted txs go.
        verifier: the signature pool for batches.
        counters: ``mempool_rejections`` is counted here.
        halt: no admission once the node halted.
        new_tx: set on every admission (consensus paces blocks on it).
    """

    def __init__(self, *, chain: Chain, mempool: Mempool, verifier: Verifier, counters: MetricsSink,
                 halt: Halter, new_tx: asyncio.Event):
        self._chain = chain
        self._pool = mempool
        self._verifier = verifier
        self._counters = counters
        self._halt = halt
        self._new_tx = new_tx

    def admit(self, tx: Tx, *, verified: bool = False) -> None:
        """Admit ``tx`` to the mempool; raises MempoolRejection.

        Args:
            verified: the signature was checked already (by the verifier pool);
                otherwise the mempool checks it here, once, unless this node
                checked it before (``chain.verified``: any path, any time).
        """
        halted = self._halt.halted
        if halted is not None:
            raise MempoolRejection("halted", f"node halted: {halted}")
        try:
            self._pool.add(tx, verified=verified or tx.hash in self._chain.verified)
        except MempoolRejection:
            self._counters.mempool_rejections += 1
            raise
        except Halt as exc:  # the admission check read corrupt state: halt; the tx is refused as any is now
            self._halt.halt(f"tx admission: {type(exc).__name__}: {exc}")
            raise MempoolRejection("halted", f"node halted: {self._halt.halted}") from exc
        self._chain.mark_verified(tx)
        self._new_tx.set()

    async def verify_batch(self, txs: list[Tx]) -> set[bytes]:
        """Hashes of the txs whose signatures verify, checked in the verifier pool.

        Txs whose signatures this node checked before (``chain.verified``, which
        :meth:`admit` consults for every tx), txs already in the mempool (a
        duplicate is refused as such anyway) and txs the mempool will refuse
        for their nonce (used, pending, beyond the nonce window: a future-nonce
        flood costs no signature work) are not sent to the pool; a tx left
        out and not in the memo is checked inline at mempool entry, so a bad
        signature is refused in the mempool's usual order.
        """
        seen, pool, nonce_of = self._chain.verified, self._pool, self._chain.nonce_of
        todo = []
        earlier: dict[bytes, int] = {}  # a sender's txs before this one in the batch
        for tx in txs:
            sender = tx.sender_address
            k = earlier.get(sender, 0)
            earlier[sender] = k + 1
            if tx.hash not in seen and tx.hash not in pool and not pool.nonce_hopeless(tx, nonce_of, k):
                todo.append(tx)
        verdicts = await self._verifier.verify(todo)
        return {tx.hash for tx, ok in zip(todo, verdicts) if ok}


class ClientTxs:
    """A client's transactions (the :class:`~node.ports.TxSink` port): admit, then gossip.

    Args:
        admission: the mempool's door.
        outbox: gossip to the other nodes; None on a node without peers.
    """

    def __init__(self, admission: TxAdmission, outbox: TxOutbox | None):
        self._admission = admission
        self._outbox = outbox

    def submit(self, tx: Tx, *, verified: bool = False) -> None:
        """Admit ``tx`` (raises MempoolRejection), then queue it for gossip."""
        self._admission.admit(tx, verified=verified)
        if self._outbox is not None:
            self._outbox.queue(tx)

    async def verify_batch(self, txs: list[Tx]) -> set[bytes]:
        return await self._admission.verify_batch(txs)
