"""Connectivity of the trio side: who stays connected, who is struck and banned.

Owns, for one :class:`~node.p2p.service.P2PService` on its trio thread:
strikes against misbehaving peers and the bans they lead to (cutting a
banned peer off: pubsub blacklist, no direct-peer redial, every connection
closed; undone when the ban ends), and the keeper task that redials
allowlisted peers, repairs connections that lost their pubsub stream,
lifts expired bans and publishes the peers snapshot.

Never does: read or send messages (the service does), decide what is
misbehaviour (callers strike; the gate counts), or run a task outside the
service's nursery (``spawn``).
"""
from __future__ import annotations

import logging
from collections.abc import Callable

import trio
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo

from .config import P2PCounters, P2PLimits
from .gate import PeerGate

__all__ = ["PeerKeeper"]

log = logging.getLogger("settle.p2p")

KEEPER_TICK_S = 0.1
PUBSUB_REPAIR_AFTER_S = 2.0
DISCONNECT_ROUNDS = 5  # a peer that keeps registering connections while we close them is left to the keeper


class PeerKeeper:
    """Strikes, bans and reconnects for one libp2p host (trio thread only).

    Args:
        host, pubsub, router: the service's libp2p host, Pubsub and GossipSub router.
        gate: the allowlist and the ban book.
        dialable: allowlisted peers with an address (dialled and kept connected).
        names: peer ID -> its base58 name, for every allowlisted peer.
        spawn: ``spawn(fn, *args) -> bool`` starts a task in the service's
            nursery; False while the service is not running (nothing started).
    """

    def __init__(self, *, host, pubsub, router, gate: PeerGate, dialable: dict[ID, PeerInfo], names: dict[ID, str],
                 limits: P2PLimits, counters: P2PCounters, spawn: Callable[..., bool]) -> None:
        self.host = host
        self.pubsub = pubsub
        self.router = router
        self.gate = gate
        self.dialable = dialable
        self.names = names
        self.limits = limits
        self.counters = counters
        self._spawn = spawn
        self.peers_snapshot: tuple[str, ...] = ()
        self._dialing: set[ID] = set()
        self._disconnecting: set[ID] = set()
        self._last_dial: dict[ID, float] = {}
        self._repairing: set[ID] = set()
        self._no_pubsub_since: dict[ID, float] = {}

    def strike(self, peer: ID, why: str) -> None:
        """Count a strike against ``peer``; at the gate's limit, ban and cut it off."""
        if not self.gate.strike(peer):
            log.debug("p2p: strike against %s: %s", peer, why)
            return
        self.counters.bans += 1
        log.warning("p2p: banning %s for %.0f s (%s)", self.names.get(peer, peer), self.limits.ban_seconds, why)
        self.isolate(peer)

    def isolate(self, peer: ID) -> None:
        """Cut a banned peer off; :meth:`_release` undoes it when the ban ends."""
        self.pubsub.add_to_blacklist(peer)  # drops its messages, also when forwarded by others
        self.router.direct_peers.pop(peer, None)  # or gossipsub keeps redialling it
        self._start_disconnect(peer)

    def _release(self, peer: ID) -> None:
        self.pubsub.remove_from_blacklist(peer)
        info = self.dialable.get(peer)
        if info is not None:
            self.router.direct_peers[peer] = info
        log.info("p2p: ban on %s lifted", self.names.get(peer, peer))

    def _start_disconnect(self, peer: ID) -> None:
        if peer not in self._disconnecting and self._spawn(self._disconnect, peer):
            self._disconnecting.add(peer)

    async def _disconnect(self, peer: ID) -> None:
        # Not host.disconnect: py-libp2p's close_peer awaits each close and
        # then drops the peer's whole entry, so a connection that registered
        # meanwhile (the peer dialling us as we dialled it) stayed open and
        # untracked -- the banned peer kept it, and never redialled to be
        # refused.  Each connection removes itself when closed; repeat until
        # none is left.
        network = self.host.get_network()
        try:
            for _ in range(DISCONNECT_ROUNDS):
                conns = network.get_connections(peer)
                if not conns:
                    break
                for conn in conns:
                    await conn.close()
        except Exception as exc:  # a connection that fails to close is closed already, or the next round retries
            log.debug("p2p: disconnecting %s: %s", peer, exc)
        finally:
            self._disconnecting.discard(peer)

    async def run(self) -> None:
        """Once every ``KEEPER_TICK_S``: lift bans, cut off peers the gate refuses, redial, repair."""
        network = self.host.get_network()
        while True:
            try:
                self._keep(network)
            except Exception:  # a bug in one step must not end reconnects for good: logged, tried again next tick
                log.exception("p2p: keeper step failed")
            await trio.sleep(KEEPER_TICK_S)

    def _keep(self, network) -> None:
        for peer in self.gate.expire_bans():
            self._release(peer)
        now = trio.current_time()
        connected = set(network.connections)
        for peer in connected:
            if not self.gate.admits(peer):
                self._start_disconnect(peer)
        for peer, info in self.dialable.items():
            if peer in connected or peer in self._dialing or self.gate.is_banned(peer):
                continue
            if now - self._last_dial.get(peer, -1e9) < self.limits.reconnect_interval_s:
                continue
            self._last_dial[peer] = now
            self._dialing.add(peer)
            self._spawn(self._dial, peer, info)
        # A connection whose pubsub stream died (reset after a bad frame, a
        # race at connect) is never re-registered by libp2p: open it again.
        for peer in connected:
            if peer in self.pubsub.peers or not self.gate.admits(peer):
                self._no_pubsub_since.pop(peer, None)
                continue
            since = self._no_pubsub_since.setdefault(peer, now)
            if now - since >= PUBSUB_REPAIR_AFTER_S and peer not in self._repairing and self._spawn(self._repair_pubsub, peer):
                self._repairing.add(peer)
        for peer in [p for p in self._no_pubsub_since if p not in connected]:
            del self._no_pubsub_since[peer]
        ready = [self.names[p] for p in self.pubsub.peers if p in connected and self.gate.admits(p)]
        self.peers_snapshot = tuple(sorted(ready))

    async def _dial(self, peer: ID, info: PeerInfo) -> None:
        try:
            # libp2p refuses to redial a peer for 60 s after all its addresses
            # failed once; for a handful of known validators that only delays
            # recovery from a restart or a partition.
            cache = getattr(self.host.get_network(), "_negative_peer_cache", None)
            if cache is not None:
                cache.evict(str(peer))
            with trio.move_on_after(self.limits.dial_timeout_s):
                await self.host.connect(info)
        except Exception as exc:  # libp2p's dial raises assorted types for an unreachable peer: redialled later
            log.debug("p2p: dial %s failed: %s", self.names.get(peer, peer), exc)
        finally:
            self._dialing.discard(peer)

    async def _repair_pubsub(self, peer: ID) -> None:
        try:
            with trio.move_on_after(self.limits.dial_timeout_s):
                await self.pubsub.ensure_peer_stream(peer, timeout=self.limits.dial_timeout_s)
        except Exception as exc:  # as for a dial: the next keeper round tries again
            log.debug("p2p: reopening pubsub stream to %s failed: %s", peer, exc)
        finally:
            self._repairing.discard(peer)
            self._no_pubsub_since.pop(peer, None)
