"""The node's assembly: builds its components, wires their ports, starts and stops them.

Owns the node's lifetime (open, run, stop cleanly) and nothing else: every
component (chain, mempool, tx intake, commit pipeline, consensus driver,
gossip, block sync, status beacon, RPC) is built here with the ports it uses
(``node/ports.py``) and never sees the :class:`Node`.  All tasks are started
and cancelled here; the store is closed last.

A write that fails (store, consensus WAL, safety data), or any
:class:`ledger.errors.Halt`, halts the node through its
:class:`~node.halt.HaltSwitch`: one CRITICAL line with the cause, no further
votes or commits, submissions refused, ``/health`` 503 with the cause, and
an exit with :data:`~node.halt.EXIT_HALTED` after ``halt_linger_ms``.
Carrying on after a write the node cannot trust would wedge consensus
silently.

Never: decide a rule, handle a message, or answer a request itself.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import socket
from typing import Awaitable, Callable

from ledger.chainstore import ChainStore
from ledger.errors import SettleError
from ledger.keys import PrivateKey, format_address
from ledger.store_leveldb import WRITE_BUFFER_BYTES, LevelDBKV
from settlement.genesis import Genesis

from .chain import Chain, ChainError
from .commits import CommitPipeline
from .config import NodeConfig
from .consensus_driver import ConsensusDriver, consensus_config
from .gossip import TOPIC_CONSENSUS, TOPIC_STATUS, TOPIC_TXS, StatusBeacon, TxGossip
from .halt import EXIT_HALTED, HaltSwitch, NodeHalted
from .intake import ClientTxs, TxIntake, admission_check
from .mempool import Mempool
from .methods import CORE_METHODS, RpcApi, method_table
from .methods_options import OPTION_METHODS
from .methods_pm import PM_METHODS
from .methods_bridge import BRIDGE_METHODS
from .methods_discover import DISCOVER_METHODS
from .methods_proof import PROOF_METHODS
from .methods_risk import RISK_METHODS
from .metrics import MetricsSources, NodeCounters
from .ports import Network
from .rpc import RPCServer
from .sync import SYNC_PROTOCOL, BlockSync
from .verifier import Verifier

__all__ = ["EXIT_HALTED", "Node", "NodeError", "NodeHalted", "NodeStatus", "PeerRoutes"]

log = logging.getLogger("settle.node")


def _resolve(maddr: str) -> str | None:
    """Turn ``/dns4/NAME/...`` into ``/ip4/ADDR/...``; None if NAME does not resolve (yet)."""
    parts = maddr.split("/")
    if len(parts) > 2 and parts[1] in ("dns4", "dns"):
        try:
            addr = socket.getaddrinfo(parts[2], None, socket.AF_INET)[0][4][0]
        except OSError:
            return None
        parts[1:3] = ["ip4", addr]
    return "/".join(parts)


def memtable_bytes(pubkey: bytes, validators: list[bytes]) -> int:
    """This node's LevelDB memtable size: 16-32 MB, different on each validator.

    Validators write the same blocks, so with equal memtables they flush and
    compact at the same moment: a 4-node net on one machine stalled for
    seconds every ~90 s at 1,600 tx/s, all nodes at once.  Spread out, a
    compaction slows one node while the others (a quorum) go on.  Validator
    i of n (by sorted public key) gets 16 MB x (1 + i/n); other nodes a size
    fixed by their key.
    """
    ranked = sorted(validators)
    if pubkey in ranked:
        return WRITE_BUFFER_BYTES + WRITE_BUFFER_BYTES * ranked.index(pubkey) // len(ranked)
    spread = int.from_bytes(hashlib.sha256(b"settle/memtable/v1" + pubkey).digest()[:4], "big") % WRITE_BUFFER_BYTES
    return WRITE_BUFFER_BYTES + spread


# Every JSON-RPC method the node serves (node/openrpc.json describes each; tests/node/test_openrpc.py checks both ways).
RPC_METHOD_GROUPS = (CORE_METHODS, BRIDGE_METHODS, DISCOVER_METHODS, OPTION_METHODS, PM_METHODS, PROOF_METHODS, RISK_METHODS)


class NodeError(SettleError):
    """The node cannot start (bad genesis, key, p2p peer, or a data dir in use): exit code 1."""


class PeerRoutes:
    """The transport's way in: topic -> message handler and protocol -> request handler.

    The transport is built before the components that handle its traffic
    (they need it to send), so it is given these tables, which the assembly
    fills once they exist.  A message on a topic with no handler is dropped.
    """

    def __init__(self) -> None:
        self.topics: dict[str, Callable[[str, bytes], None]] = {}
        self.requests: dict[str, Callable[[str, bytes], Awaitable[bytes]]] = {}

    async def on_message(self, topic: str, peer_id: str, data: bytes) -> None:
        handler = self.topics.get(topic)
        if handler is not None:
            handler(peer_id, data)

    async def serve_sync(self, peer_id: str, payload: bytes) -> bytes:
        return await self.requests[SYNC_PROTOCOL](peer_id, payload)


class NodeStatus:
    """What RPC says about this node (the :class:`~node.ports.StatusView` port)."""

    def __init__(self, *, moniker: str, validator: bytes | None, genesis_doc: dict, net: Network | None,
                 consensus: ConsensusDriver):
        self.moniker = moniker
        self.validator = validator
        self.genesis_doc = genesis_doc
        self._net = net
        self._consensus = consensus

    def peer_count(self) -> int:
        return len(self._net.peers()) if self._net is not None else 0

    def peer_ids(self) -> list[str]:
        return sorted(self._net.peers()) if self._net is not None else []

    def evidence(self) -> list:
        return self._consensus.evidence


class Node:
    """One node, assembled from ``cfg``; :meth:`run` serves until stopped.

    Args:
        cfg: the node's configuration.
        net: a transport to use instead of building one from ``cfg.p2p``
            (a test's recording transport); with neither, a node alone.

    Raises:
        NodeError: the node cannot start (the message says why).
    """

    def __init__(self, cfg: NodeConfig, *, net: Network | None = None):
        self.cfg = cfg
        try:
            genesis_doc = cfg.genesis_path.read_bytes()
            self.genesis = Genesis.from_json(json.loads(genesis_doc))
        except FileNotFoundError:
            raise NodeError(f"no genesis at {cfg.genesis_path}") from None
        except ValueError as exc:
            raise NodeError(f"bad genesis {cfg.genesis_path}: {exc}") from None
        try:
            self.key = PrivateKey.load(cfg.key_path)
        except ValueError as exc:
            raise NodeError(str(exc)) from None
        try:
            memtable = memtable_bytes(self.key.pubkey, [v.pubkey for v in self.genesis.validators])
            self.kv = LevelDBKV(str(cfg.data_dir), write_buffer_bytes=memtable)
        except SettleError as exc:  # StoreLockedError, or the store cannot be opened or created
            raise NodeError(str(exc)) from None
        self.store = ChainStore(self.kv)
        try:
            self.chain = Chain(self.store, self.genesis, genesis_doc)
        except (ChainError, SettleError) as exc:  # another genesis, a corrupt or unreadable store: cannot start
            self.kv.close()
            raise NodeError(str(exc)) from None
        try:
            self._assemble(cfg, net)
        except BaseException:
            self.kv.close()
            raise

    def _assemble(self, cfg: NodeConfig, net: Network | None) -> None:
        """Build every component and wire its ports (no task starts here)."""
        chain, store = self.chain, self.store
        self.halting = HaltSwitch(cfg.halt_linger_ms)
        self.counters = NodeCounters()
        self.mempool = Mempool(cfg.mempool, check=admission_check(chain), is_committed=lambda h: store.tx_location(h) is not None)
        self.verifier = Verifier(cfg.verifier.workers or None, processes=cfg.verifier.pool == "processes")
        chain.verifier = self.verifier
        new_tx = asyncio.Event()  # set on every admission: consensus paces blocks on it
        self.intake = TxIntake(chain=chain, mempool=self.mempool, verifier=self.verifier, counters=self.counters,
                               halt=self.halting, new_tx=new_tx)
        self.subscribers: set = set()  # node.rpc.Subscription objects
        self.is_validator = self.key.address in chain.vset
        self.routes = PeerRoutes()
        if net is None and (cfg.p2p.peers or cfg.p2p.allow):
            net = self._p2p_network()
        self.net = net
        self.commits = CommitPipeline(chain=chain, mempool=self.mempool, counters=self.counters, halt=self.halting,
                                      subscribers=self.subscribers, net=net)
        self.sync = BlockSync(chain, store, self.commits, net) if net is not None else None
        self.gossip = TxGossip(self.intake, self.mempool, net, is_validator=self.is_validator) if net is not None else None
        self.consensus = ConsensusDriver(
            config=consensus_config(cfg, self.genesis.consensus_params), block=cfg.block,
            consensus_dir=cfg.consensus_dir, key=self.key if self.is_validator else None, chain=chain,
            committer=self.commits, pool=self.mempool, new_tx=new_tx, halt=self.halting, counters=self.counters,
            net=net, sync=self.sync,
        )
        self.beacon = StatusBeacon(chain, net, self.consensus, self.counters) if net is not None else None
        if net is not None:
            self.routes.topics.update({TOPIC_CONSENSUS: self.consensus.on_message, TOPIC_TXS: self.gossip.on_batch,
                                       TOPIC_STATUS: self.beacon.on_status})
            self.routes.requests[SYNC_PROTOCOL] = self.sync.serve
        self.client_txs = ClientTxs(self.intake, self.gossip)
        status = NodeStatus(moniker=cfg.moniker, validator=self.key.address if self.is_validator else None,
                            genesis_doc=self.genesis.doc, net=net, consensus=self.consensus)
        api = RpcApi(chain=chain, blocks=store, pool=self.mempool, txs=self.client_txs, commits=self.commits,
                     status=status, max_batch=cfg.rpc.max_batch)
        metrics = MetricsSources(counters=self.counters, chain=chain, halt=self.halting, mempool=self.mempool,
                                 subscribers=self.subscribers, verifier=self.verifier, net=net, sync=self.sync,
                                 gossip=self.gossip)
        methods = method_table(*RPC_METHOD_GROUPS)
        self.rpc = RPCServer(cfg=cfg.rpc, api=api, methods=methods,
                             counters=self.counters, halt=self.halting, subscribers=self.subscribers, metrics=metrics)

    def _p2p_network(self) -> Network:
        """The libp2p transport for ``cfg.p2p`` (not started)."""
        # Imported here, not at the top: node.p2p loads py-libp2p (about a
        # second), which a node without peers (and every import of this
        # module by the CLI and tests) never needs.
        from .p2p import P2PNetwork, load_or_create_seed, route_libp2p_logging

        cfg = self.cfg
        # py-libp2p's connection chatter (dials, failed streams) only when the node logs at debug level.
        route_libp2p_logging(logging.INFO if logging.getLogger("settle").isEnabledFor(logging.DEBUG) else logging.CRITICAL)
        allowed: dict[str, str | None] = {}
        for maddr in cfg.p2p.peers:
            if "/p2p/" not in maddr:
                raise NodeError(f"p2p peer {maddr!r} must end in /p2p/<peer id>")
            allowed[maddr.rsplit("/p2p/", 1)[1]] = _resolve(maddr)
        for pid in cfg.p2p.allow:
            allowed.setdefault(pid, None)
        return P2PNetwork(
            load_or_create_seed(cfg.p2p_seed_path),
            cfg.p2p.host,
            cfg.p2p.port,
            allowed,
            topics=[TOPIC_TXS, TOPIC_CONSENSUS, TOPIC_STATUS],
            on_message=self.routes.on_message,
            request_handlers={SYNC_PROTOCOL: self.routes.serve_sync},
            relay=cfg.p2p.relay,
        )

    # ------------------------------------------------------------------ lifetime

    async def run(self) -> None:
        """Serve until the halt switch's ``stopping`` is set; then shut down cleanly."""
        await self.rpc.start()
        tasks: list[asyncio.Task] = []
        try:
            if self.net is not None:
                await self.net.start()
                log.info("p2p listening on %s:%d as %s", self.cfg.p2p.host, self.cfg.p2p.port, self.net.peer_id)
                tasks.append(asyncio.create_task(self.gossip.run()))
                tasks.append(asyncio.create_task(self.beacon.run()))
            log.info(
                "node %s started: chain=%s height=%d validator=%s rpc=%s peers=%d",
                self.cfg.moniker,
                self.chain.chain_id,
                self.chain.height,
                format_address(self.key.address) if self.is_validator else "no",
                self.cfg.rpc_url,
                len(self.cfg.p2p.peers),
            )
            self.consensus.start()
            await self.halting.stopping.wait()
        finally:
            for t in tasks:
                t.cancel()
            if self.gossip is not None:
                self.gossip.stop()
            try:
                self.consensus.stop()
            except OSError as exc:  # closing the WAL syncs it: the disk may be what failed
                log.error("closing the consensus WAL failed: %s", exc)
            if self.net is not None:
                await self.net.stop()
            await self.rpc.stop()
            self.close()
            log.info("node %s stopped at height %d", self.cfg.moniker, self.chain.height)

    def close(self) -> None:
        """Release everything the node holds (waiters, WAL files, verifier pool, store); idempotent."""
        self.commits.close()
        try:
            self.consensus.stop()
        except OSError as exc:
            log.error("closing the consensus WAL failed: %s", exc)
        self.verifier.close()
        self.kv.close()
