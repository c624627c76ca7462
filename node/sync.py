"""Block sync: fetch committed blocks with their certificates from peers.

Owns the request/response protocol ``/settle/sync/1`` and catching up:

* request  = ``encode([start_height, max_count])``
* response = ``encode([[block_bytes, cert_bytes], ...])`` — consecutive
  heights from ``start_height``, at most ``MAX_BLOCKS`` blocks and about
  ``MAX_RESPONSE_BYTES`` (at least one block if the peer has it).

A node that was down, or is new, asks a peer that is ahead for the next
range, and for every block verifies the commit certificate against the
genesis validator set (> 2/3 of the power signed this block id), re-executes
it (same state root, same receipts, or the peer is lying), and commits it.
Anything malformed or unverifiable is garbage from that peer: reported, and
the next peer is tried.  Never trusts a peer for anything a certificate and
re-execution do not prove.

A long catch-up logs one progress line at most every ``PROGRESS_EVERY_S``
seconds (height, target, blocks per second) and one line when it is done.
"""
from __future__ import annotations

import logging
import time

from ledger.block import Block
from ledger.codec import DecodeError, decode, encode
from ledger.commit import CertificateError, CommitCertificate, verify_commit
from ledger.errors import Halt, PeerMisbehaviour, SettleError

from .chain import InvalidProposal
from .ports import BlockReader, ChainReader, Committer, Network

__all__ = ["BlockSync", "SYNC_PROTOCOL"]

log = logging.getLogger("settle.sync")

SYNC_PROTOCOL = "/settle/sync/1"
MAX_BLOCKS = 64
MAX_RESPONSE_BYTES = 4 * 1024 * 1024
PROGRESS_EVERY_S = 5.0


class SyncError(PeerMisbehaviour):
    """A peer's sync response is malformed or does not verify."""


class BlockSync:
    """Serves committed ranges to peers and catches up from them (the :class:`~node.ports.PeerSync` port).

    Args:
        chain: our tip, the validator set and chain id certificates are checked against.
        blocks: what we serve.
        committer: validates (re-executes) and commits a fetched block.
        net: the transport.
    """

    def __init__(self, chain: ChainReader, blocks: BlockReader, committer: Committer, net: Network):
        self._chain = chain
        self._blocks = blocks
        self._committer = committer
        self.net = net
        self.peer_heights: dict[str, int] = {}
        self.fetched_blocks = 0
        self.bad_responses = 0
        self.running = False

    # ------------------------------------------------------------------ serve

    async def serve(self, peer_id: str, payload: bytes) -> bytes:
        """Answer a range request from committed blocks."""
        try:
            req = decode(payload, max_bytes=64)
            if type(req) is not list or len(req) != 2 or not all(type(x) is int for x in req):
                raise DecodeError("sync request: expected [start, count]")
            start, count = req
        except DecodeError:
            self.net.report_garbage(peer_id)
            return encode([])
        store = self._blocks
        out: list[list[bytes]] = []
        size = 0
        h = max(1, start)
        latest = store.latest_height()
        while h <= latest and len(out) < min(max(count, 1), MAX_BLOCKS):
            raw = store.block_raw(h)
            cert = store.commit_cert(h)
            if raw is None or cert is None:
                break
            item = [raw, cert.encode()]
            size += len(raw) + 200
            if out and size > MAX_RESPONSE_BYTES:
                break
            out.append(item)
            h += 1
        return encode(out)

    # ------------------------------------------------------------------ fetch

    def note_peer_height(self, peer_id: str, height: int) -> None:
        self.peer_heights[peer_id] = max(height, self.peer_heights.get(peer_id, 0))

    def best_peer(self) -> tuple[str, int] | None:
        connected = set(self.net.peers())
        ahead = sorted(
            ((h, p) for p, h in self.peer_heights.items() if p in connected and h > self._chain.height),
            reverse=True,
        )
        return (ahead[0][1], ahead[0][0]) if ahead else None

    async def catch_up(self, timeout: float = 10.0) -> int:
        """Fetch and commit blocks while a connected peer is ahead; returns blocks applied."""
        if self.running:
            return 0
        self.running = True
        applied = 0
        progress = _Progress(self._chain.height)
        try:
            while True:
                best = self.best_peer()
                if best is None:
                    progress.done(self._chain.height)
                    return applied
                peer, target = best
                try:
                    n = await self._fetch_from(peer, timeout)
                except SyncError as exc:
                    log.warning("sync from %s failed: %s", peer[:16], exc)
                    self.bad_responses += 1
                    self.peer_heights.pop(peer, None)
                    self.net.report_garbage(peer)
                    continue
                except Halt:
                    raise  # a commit failed and halted the node: stop syncing
                except (SettleError, ValueError) as exc:  # the transport's RequestError, or a peer no longer allowed
                    log.info("sync request to %s failed: %s", peer[:16], exc)
                    self.peer_heights.pop(peer, None)
                    continue
                if n == 0:
                    self.peer_heights.pop(peer, None)
                applied += n
                progress.step(self._chain.height, target)
        finally:
            self.running = False

    async def _fetch_from(self, peer: str, timeout: float) -> int:
        chain = self._chain
        start = chain.height + 1
        payload = await self.net.request(peer, SYNC_PROTOCOL, encode([start, MAX_BLOCKS]), timeout)
        try:
            items = decode(payload, max_bytes=MAX_RESPONSE_BYTES + MAX_BLOCKS * 1024 + 1024)
            if type(items) is not list:
                raise DecodeError("expected a list")
        except DecodeError as exc:
            raise SyncError(f"malformed response: {exc}") from None
        n = 0
        for item in items:
            if type(item) is not list or len(item) != 2 or not all(type(x) is bytes for x in item):
                raise SyncError("malformed item")
            try:
                block = Block.decode(item[0])
                cert = CommitCertificate.decode(item[1])
            except DecodeError as exc:
                raise SyncError(f"malformed block or certificate: {exc}") from None
            if block.height <= chain.height:
                continue  # consensus committed it meanwhile
            if block.height != chain.height + 1:
                raise SyncError(f"got height {block.height}, expected {chain.height + 1}")
            try:
                verify_commit(cert, chain.vset, chain.chain_id, height=block.height, block_id=block.id)
                result = self._committer.validate(block)
            except (CertificateError, InvalidProposal) as exc:
                raise SyncError(f"block {block.height} does not verify: {exc}") from None
            self._committer.commit(block, result, cert)
            self.fetched_blocks += 1
            n += 1
        if n:
            log.debug("synced %d block(s) from %s, now at height %d", n, peer[:16], chain.height)
        return n


class _Progress:
    """The log lines of one catch-up: every ``PROGRESS_EVERY_S`` at most, and one at the end if it was long."""

    def __init__(self, height: int, clock=time.monotonic):
        self.clock = clock
        self.start_height = height
        self.started = self.last = clock()
        self.lines = 0

    def _rate(self, height: int, now: float) -> float:
        return (height - self.start_height) / max(now - self.started, 1e-3)

    def step(self, height: int, target: int) -> None:
        now = self.clock()
        if now - self.last >= PROGRESS_EVERY_S:
            self.last = now
            self.lines += 1
            log.info("sync: height %d of %d (%.0f blocks/s)", height, target, self._rate(height, now))

    def done(self, height: int) -> None:
        if height == self.start_height:
            return
        now = self.clock()
        # A block or two fetched by a node just behind is routine (debug); a catch-up that needed progress lines is not.
        level = logging.INFO if self.lines or height - self.start_height > 2 else logging.DEBUG
        log.log(level, "sync: caught up at height %d (%d blocks in %.1f s, %.0f blocks/s)",
                height, height - self.start_height, now - self.started, self._rate(height, now))
