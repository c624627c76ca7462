"""Single-validator block production (a chain whose validator set is this node).

Owns the block cadence when there is no one to agree with: a block closes
``block.interval_ms`` after the previous one once transactions are ready, or
at once when a full block's worth is ready; an idle chain makes an empty
block only every ``block.empty_interval_ms``.  The block is certified by this
node's own precommit signature (a one-signature commit certificate, which
``ledger.commit.verify_commit`` accepts because it is all of the power).

Multi-validator chains are driven by consensus instead (``node/consensus``).
"""
from __future__ import annotations

import asyncio
import logging
import time

from ledger.commit import CommitCertificate, CommitSig, VoteType, vote_sign_bytes

log = logging.getLogger("settle.producer")

__all__ = ["run_single_validator"]


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


async def run_single_validator(node) -> None:
    chain = node.chain
    if not node.is_validator:
        log.info("not a validator: following only")
        await node.stopping.wait()
        return
    if len(chain.vset) != 1:
        raise RuntimeError("this build drives a single validator only; multi-validator chains need consensus")
    cfg = node.cfg.block
    last = time.monotonic()
    while True:
        empty_deadline = last + cfg.empty_interval_ms / 1000
        while not node.mempool.ready:
            node.new_tx.clear()
            remaining = empty_deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                await asyncio.wait_for(node.new_tx.wait(), remaining)
            except asyncio.TimeoutError:
                break
        # Let a block fill up: close it at the interval or when full.
        close_at = last + cfg.interval_ms / 1000
        while len(node.mempool.ready) < cfg.max_txs and time.monotonic() < close_at:
            node.new_tx.clear()
            try:
                await asyncio.wait_for(node.new_tx.wait(), max(0.0, close_at - time.monotonic()))
            except asyncio.TimeoutError:
                break
        produce_one(node)
        last = time.monotonic()
        await asyncio.sleep(0)


def produce_one(node) -> None:
    """Build, certify and commit one block on top of the tip."""
    chain = node.chain
    cfg = node.cfg.block
    candidates = node.mempool.reap(cfg.max_txs, cfg.max_bytes)
    proposal = chain.propose(candidates, _now_ms(), node.key.address, max_txs=cfg.max_txs, max_bytes=cfg.max_bytes)
    block = proposal.block
    sig = node.key.sign(vote_sign_bytes(chain.chain_id, VoteType.PRECOMMIT, block.height, 0, block.id))
    cert = CommitCertificate(block.height, 0, block.id, (CommitSig(node.key.address, sig),))
    for tx, reason in proposal.result.skipped:
        log.debug("skipped tx %s: %s", tx.hash.hex()[:16], reason)
    node.commit(block, proposal.result, cert)
