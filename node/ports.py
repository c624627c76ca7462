"""The ports of the node: the narrow interfaces its components are built with.

Owns the contract between node components, one :class:`typing.Protocol` per
port, each saying who provides it and who uses it.  A component receives the
ports it uses in its constructor and nothing else: never the
:class:`~node.app.Node`, which only builds the components and wires these
ports between them (aptos hands consensus a ``TSafetyRules``, never the
node; py-evm's ``eth/abc.py`` names each collaborator).  A component's unit
test builds it with a small fake of each port.

Providers satisfy the protocols structurally: ``Chain`` and ``ChainStore``
do not import this module.

Never: implement anything, or import a node component (this module sits
below all of them).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sized
from typing import Any, Protocol

from ledger.block import Block, Header
from ledger.commit import CommitCertificate
from ledger.receipt import Receipt
from ledger.tx import Tx
from ledger.validators import ValidatorSet
from settlement.genesis import Genesis
from settlement.machine import BlockResult

__all__ = [
    "BlockListener",
    "BlockReader",
    "ChainReader",
    "CommitWaiter",
    "Committer",
    "Halter",
    "MetricsSink",
    "Network",
    "PeerSync",
    "PendingTxs",
    "StatusView",
    "SyncTrigger",
    "TxAdmission",
    "TxOutbox",
    "TxSink",
]


class ChainReader(Protocol):
    """The committed tip and its state, read-only.

    Provided by :class:`node.chain.Chain`.  Used by the RPC methods, block
    sync, the consensus driver, the status beacon and metrics.
    """

    chain_id: str
    height: int
    vset: ValidatorSet
    genesis: Genesis

    @property
    def view(self) -> Any: ...  # committed settlement state: ``get(key)``, ``iterate(prefix)``

    @property
    def last_block_id(self) -> bytes: ...

    @property
    def last_time_ms(self) -> int: ...

    @property
    def state_root(self) -> bytes: ...

    def state_tree(self, height: int) -> Any: ...  # ledger.statetree.StateTree after ``height``; KeyError if not retained


class BlockReader(Protocol):
    """Committed blocks, certificates and receipts, read-only.

    Provided by :class:`ledger.chainstore.ChainStore`.  Used by the RPC
    methods and WebSocket feed (blocks, receipts) and by block sync (serving
    ranges to peers).
    """

    def latest_height(self) -> int: ...

    def block_raw(self, height: int) -> bytes | None: ...

    def block(self, height: int) -> Block | None: ...

    def header(self, height: int) -> Header | None: ...

    def commit_cert(self, height: int) -> CommitCertificate | None: ...

    def receipts(self, height: int) -> list[Receipt]: ...

    def receipt(self, tx_hash: bytes) -> tuple[int, int, Receipt] | None: ...


class Committer(Protocol):
    """Build, check and commit the next block.

    Provided by :class:`node.commits.CommitPipeline` (the node's: commit also
    evicts the mempool, wakes waiters, notifies subscribers, and halts the
    node when the write fails) and, structurally, by a bare
    :class:`node.chain.Chain` (persist only).  Used by the consensus driver
    (propose, validate, commit) and block sync (validate, commit).
    """

    @property
    def height(self) -> int: ...

    def propose(self, candidates: Iterable[Tx], time_ms: int, proposer: bytes, *, max_txs: int, max_bytes: int) -> Any:
        """The next block built from ``candidates``: an object with ``block`` and ``result``."""

    def validate(self, block: Block) -> BlockResult:
        """Re-execute a proposed block; raises ``node.chain.InvalidProposal`` naming the rule it breaks."""

    def commit(self, block: Block, result: BlockResult, cert: CommitCertificate) -> None:
        """Persist a decided block.  Raises a :class:`ledger.errors.Halt` when the node must stop."""


class PendingTxs(Sized, Protocol):
    """The mempool as its readers see it.

    Provided by :class:`node.mempool.Mempool`.  Used by the consensus driver
    (reap a proposal, look up a proposal's txs, pace on ready txs), tx gossip
    (send only ready txs) and the RPC methods (sizes, pending nonces).
    """

    ready: Mapping[bytes, Tx]
    by_hash: Mapping[bytes, Tx]
    max_txs: int
    bytes: int
    promotions: int

    def __contains__(self, tx_hash: object) -> bool: ...

    def reap(self, max_txs: int, max_bytes: int) -> list[Tx]: ...

    def next_nonce(self, sender: bytes) -> int | None: ...


class TxAdmission(Protocol):
    """Mempool admission of a transaction, whatever its path.

    Provided by :class:`node.intake.TxIntake`.  Used by tx gossip (a peer's
    batch) and by :class:`node.intake.ClientTxs`.
    """

    def admit(self, tx: Tx, *, verified: bool = False) -> None:
        """Raises ``node.mempool.MempoolRejection`` (an InvalidInput) with a reason code."""

    async def verify_batch(self, txs: list[Tx]) -> set[bytes]: ...


class TxSink(Protocol):
    """Where a client's transactions go: admitted here, then gossiped.

    Provided by :class:`node.intake.ClientTxs`.  Used by the RPC methods
    (``broadcast_tx``, ``broadcast_tx_batch``).
    """

    def submit(self, tx: Tx, *, verified: bool = False) -> None:
        """Raises ``node.mempool.MempoolRejection`` with a reason code."""

    async def verify_batch(self, txs: list[Tx]) -> set[bytes]: ...


class TxOutbox(Protocol):
    """Sends this node's clients' transactions to the other nodes.

    Provided by :class:`node.gossip.TxGossip`.  Used by :class:`node.intake.ClientTxs`.
    """

    def queue(self, tx: Tx) -> None: ...


class CommitWaiter(Protocol):
    """Wait for a transaction's block.

    Provided by :class:`node.commits.CommitPipeline`.  Used by the RPC
    methods (``mode: commit``).
    """

    async def wait_commit(self, tx_hash: bytes, timeout: float) -> tuple[int, int, Receipt] | None: ...


class BlockListener(Protocol):
    """Told of every committed block.

    Provided by :class:`node.rpc.Subscription` (one per WebSocket client).
    Used by :class:`node.commits.CommitPipeline`.
    """

    def on_block(self, block: Block, receipts: list[Receipt]) -> None: ...


class Halter(Protocol):
    """The node's halt switch: why it halted (None while it serves), and the way to halt it.

    Provided by :class:`node.halt.HaltSwitch`.  Used by the consensus driver
    (no input once halted; a failed write halts), the commit pipeline, tx
    intake (submissions refused), block sync, and RPC (``/health``).
    """

    @property
    def halted(self) -> str | None: ...

    def halt(self, reason: str) -> None: ...


class MetricsSink(Protocol):
    """The node's plain integer counters, bumped on the hot paths and read at scrape time.

    Provided by :class:`node.metrics.NodeCounters`.  Used by RPC (requests,
    errors), tx intake (rejections), the commit pipeline (blocks, txs), the
    consensus driver and the status beacon (garbage, evidence).
    """

    txs_committed: int
    txs_failed: int
    blocks_committed: int
    last_block_seconds: float
    last_commit_monotonic: float
    rpc_requests: int
    rpc_errors: int
    mempool_rejections: int
    garbage_messages: int
    evidence: int


class Network(Protocol):
    """What the node needs from a transport.

    Provided by :class:`node.p2p.P2PNetwork`.  Used by tx gossip, block
    sync, the consensus driver, the status beacon and the commit log line.
    """

    def publish(self, topic: str, data: bytes) -> bool: ...

    async def request(self, peer_id: str, protocol: str, payload: bytes, timeout: float) -> bytes: ...

    def peers(self) -> list[str]: ...

    def report_garbage(self, peer_id: str) -> None: ...


class PeerSync(Protocol):
    """Catching up from peers.

    Provided by :class:`node.sync.BlockSync`.  Used by the consensus driver,
    which starts a catch-up and restarts its core at the new tip.
    """

    running: bool

    def note_peer_height(self, peer_id: str, height: int) -> None: ...

    async def catch_up(self, timeout: float = 10.0) -> int: ...


class SyncTrigger(Protocol):
    """Tell consensus that a peer is ahead.

    Provided by :class:`node.consensus_driver.ConsensusDriver`.  Used by the
    status beacon (``node.gossip.StatusBeacon``).
    """

    def note_peer_height(self, peer_id: str, height: int) -> None: ...

    def request_sync(self) -> None: ...

    def stalled(self) -> bool:
        """True when consensus has not decided for a while (it may have missed a decision)."""


class StatusView(Protocol):
    """What RPC says about the node itself.

    Provided by :class:`node.app.NodeStatus`.  Used by the RPC methods
    ``status``, ``genesis`` and ``evidence``.
    """

    moniker: str
    validator: bytes | None  # this node's validator address, None on a full node
    genesis_doc: dict

    def peer_count(self) -> int: ...

    def peer_ids(self) -> list[str]:
        """The connected peers' ids, sorted."""

    def evidence(self) -> list: ...

