"""Signature verification of many transactions on all cores, off the event loop.

Owns the node's verifier pool.  Ed25519 verification is what a transaction
costs most, so chunks of a batch verify in parallel while the event loop goes
on admitting, building and committing.  Callers get one verdict per
transaction, in order; they decide what a bad signature means (a refusal at
mempool entry, an invalid proposal).

Two kinds of pool (``[verifier] pool``): worker *processes* (the default: a
node that owns its machine; each verification still runs some Python, and in
threads that Python fights the event loop for the GIL -- measured 9.3k tx/s
with threads, 11.1k with processes on one validator) or *threads*
(libsodium's ``crypto_sign_open`` releases the GIL; cheaper when several
nodes share a machine's cores, as in a local devnet).

Two ways in: :meth:`Verifier.verify` awaits the verdicts from the event loop;
:meth:`Verifier.verify_blocking` is for synchronous callers (block
validation) and verifies one chunk in the calling thread while the workers
take the rest.  Small batches are verified inline: a thread hop costs more
than a few verifications.
"""
from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import Sequence

from ledger.keys import verify_many
from ledger.tx import Tx

__all__ = ["Verifier"]

INLINE_MAX = 8  # at most this many signatures are verified without a thread hop


def _exit_with_parent(parent: int) -> None:
    """Worker initializer: leave when the node dies, even by kill -9.

    A pool worker blocks on its task queue and would outlive a killed node
    forever; this watch thread ends the worker once it is reparented.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="settle-verify-parent", daemon=True).start()


def _inputs(txs: Sequence[Tx]) -> list[tuple[bytes, bytes]]:
    return [(tx.signed_message(), tx.sender) for tx in txs]


class Verifier:
    """A pool of verifier threads or processes (one per core by default)."""

    def __init__(self, threads: int | None = None, *, chunk: int = 128, processes: bool = False):
        self.threads = max(1, threads or os.cpu_count() or 1)
        self.chunk = chunk
        self.processes = processes
        if processes:
            self._pool = ProcessPoolExecutor(
                max_workers=self.threads,
                mp_context=multiprocessing.get_context("spawn"),  # never fork a process that runs threads
                initializer=_exit_with_parent,
                initargs=(os.getpid(),),
            )
        else:
            self._pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="settle-verify")
        self.verified = 0  # signatures checked (a metric)

    def _chunks(self, items: list) -> list[list]:
        # at least one chunk per thread, at most ``chunk`` items each
        size = min(self.chunk, max(1, -(-len(items) // self.threads)))
        return [items[i : i + size] for i in range(0, len(items), size)]

    async def verify(self, txs: Sequence[Tx]) -> list[bool]:
        """One verdict per tx, computed in the worker threads."""
        items = _inputs(txs)
        self.verified += len(items)
        if len(items) <= INLINE_MAX:
            return verify_many(items)
        loop = asyncio.get_running_loop()
        parts = await asyncio.gather(*[loop.run_in_executor(self._pool, verify_many, c) for c in self._chunks(items)])
        return [ok for part in parts for ok in part]

    def verify_blocking(self, txs: Sequence[Tx]) -> list[bool]:
        """One verdict per tx; with threads, the caller's thread takes chunks too."""
        items = _inputs(txs)
        self.verified += len(items)
        if len(items) <= INLINE_MAX:
            return verify_many(items)
        chunks = self._chunks(items)
        if self.processes:
            futures = [self._pool.submit(verify_many, c) for c in chunks]
            return [ok for f in futures for ok in f.result()]
        results: list[list[bool]] = [[] for _ in chunks]
        todo = iter(range(len(chunks)))
        lock = threading.Lock()

        def work() -> None:  # the caller and the workers take chunks until none is left
            while True:
                with lock:
                    i = next(todo, None)
                if i is None:
                    return
                results[i] = verify_many(chunks[i])

        futures = [self._pool.submit(work) for _ in range(min(self.threads, len(chunks) - 1))]
        work()
        for f in futures:
            f.result()
        return [ok for part in results for ok in part]

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
