"""Who may talk to this node: persistent identity, the allowlist, bans.

Owns: the node's libp2p identity (an Ed25519 key derived from a 32-byte
seed kept in the node home, separate from the validator signing key), the
permissioned allowlist (peer ID -> optional dial address), the strike and
ban book, and :class:`GatedNoise`, the Noise transport that refuses any
remote peer not on the allowlist, or currently banned, right after the
handshake proves its identity, in both directions.

Never does: start tasks, touch sockets itself, or talk to asyncio.  The ban
book is mutated only on the trio thread; :attr:`PeerGate.banned_snapshot`
is an immutable copy other threads may read.
"""
from __future__ import annotations

import logging
import os
import secrets
import time
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path

import multiaddr
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.crypto.keys import KeyPair
from libp2p.crypto.x25519 import create_new_key_pair as create_noise_key_pair
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo
from libp2p.security.exceptions import HandshakeFailure
from libp2p.security.noise.transport import Transport as NoiseTransport

__all__ = [
    "GatedNoise",
    "PeerGate",
    "identity_from_seed",
    "load_or_create_seed",
    "parse_allowlist",
    "peer_id_from_seed",
]

log = logging.getLogger("settle.p2p")

SEED_BYTES = 32


def identity_from_seed(seed: bytes) -> KeyPair:
    """The node's libp2p Ed25519 key pair; the same seed gives the same peer ID.

    Raises:
        ValueError: the seed is not exactly 32 bytes.
    """
    if not isinstance(seed, (bytes, bytearray)) or len(seed) != SEED_BYTES:
        raise ValueError(f"p2p identity seed must be {SEED_BYTES} bytes")
    return create_new_key_pair(bytes(seed))


def peer_id_from_seed(seed: bytes) -> str:
    """The peer ID (``12D3KooW...``) a node started with ``seed`` will have."""
    return ID.from_pubkey(identity_from_seed(seed).public_key).to_base58()


def load_or_create_seed(path: str | os.PathLike) -> bytes:
    """Read the 32-byte identity seed (hex) at ``path``, creating it (0600) if absent.

    Raises:
        ValueError: the file exists but does not hold 64 hex digits.
    """
    p = Path(path)
    if not p.exists():
        p.parent.mkdir(parents=True, exist_ok=True)
        seed = secrets.token_bytes(SEED_BYTES)
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(seed.hex() + "\n")
        return seed
    text = p.read_text().strip()
    try:
        seed = bytes.fromhex(text)
    except ValueError:
        raise ValueError(f"{p}: p2p identity seed is not hex") from None
    if len(seed) != SEED_BYTES:
        raise ValueError(f"{p}: p2p identity seed must be {SEED_BYTES} bytes, got {len(seed)}")
    return seed


def parse_allowlist(allowed: Mapping[str, str | None]) -> dict[ID, PeerInfo | None]:
    """Validate ``{peer_id: multiaddr or None}``; None or "" means accept-only.

    The address may end in ``/p2p/<peer_id>``; if it does, it must name the
    same peer.

    Raises:
        ValueError: a malformed peer ID or address, naming the entry.
    """
    out: dict[ID, PeerInfo | None] = {}
    for pid_str, addr in allowed.items():
        try:
            pid = ID.from_base58(pid_str)
            if pid.to_base58() != pid_str:
                raise ValueError("not canonical base58")
        except Exception as exc:  # base58 and multihash parsers raise assorted types: all mean a bad ID
            raise ValueError(f"allowed peer {pid_str!r}: bad peer ID ({exc})") from None
        if not addr:
            out[pid] = None
            continue
        try:
            maddr = multiaddr.Multiaddr(addr)
            named = maddr.value_for_protocol("p2p") if "/p2p/" in addr else None
        except Exception as exc:  # the multiaddr parser raises assorted types: all mean a bad address
            raise ValueError(f"allowed peer {pid_str}: bad address {addr!r} ({exc})") from None
        if named is not None:
            if named != pid_str:
                raise ValueError(f"allowed peer {pid_str}: address names another peer {named}")
            maddr = maddr.decapsulate(multiaddr.Multiaddr(f"/p2p/{named}"))
        out[pid] = PeerInfo(pid, [maddr])
    return out


class PeerGate:
    """Allowlist plus the strike/ban book (trio thread only, except snapshots).

    Args:
        allowed: peer IDs allowed to connect (self may be among them).
        strikes_to_ban: strikes within ``strike_window_s`` that ban a peer.
        ban_seconds: ban duration.
        clock: monotonic clock, injectable for tests.
    """

    def __init__(
        self,
        allowed: set[ID],
        *,
        strikes_to_ban: int,
        strike_window_s: float,
        ban_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.allowed = frozenset(allowed)
        self.strikes_to_ban = strikes_to_ban
        self.strike_window_s = strike_window_s
        self.ban_seconds = ban_seconds
        self._clock = clock
        self._strikes: dict[ID, deque[float]] = {}
        self._banned_until: dict[ID, float] = {}
        self.banned_snapshot: frozenset[str] = frozenset()

    def is_allowed(self, peer: ID) -> bool:
        return peer in self.allowed

    def is_banned(self, peer: ID) -> bool:
        until = self._banned_until.get(peer)
        return until is not None and self._clock() < until

    def admits(self, peer: ID) -> bool:
        """May ``peer`` hold a connection to us right now?"""
        return self.is_allowed(peer) and not self.is_banned(peer)

    def strike(self, peer: ID) -> bool:
        """Record one offence by an allowlisted peer; True when it is now banned.

        Memory stays bounded: at most ``strikes_to_ban`` timestamps per
        allowlisted peer, and strangers are never recorded.
        """
        if peer not in self.allowed or self.is_banned(peer):
            return False
        now = self._clock()
        times = self._strikes.setdefault(peer, deque(maxlen=self.strikes_to_ban))
        times.append(now)
        while times and now - times[0] > self.strike_window_s:
            times.popleft()
        if len(times) < self.strikes_to_ban:
            return False
        times.clear()
        self._banned_until[peer] = now + self.ban_seconds
        self._refresh_snapshot()
        return True

    def banned(self) -> list[ID]:
        return [p for p in self._banned_until if self.is_banned(p)]

    def expire_bans(self) -> list[ID]:
        """Lift bans whose time is up; returns the peers released."""
        now = self._clock()
        released = [p for p, until in self._banned_until.items() if now >= until]
        for p in released:
            del self._banned_until[p]
        if released:
            self._refresh_snapshot()
        return released

    def _refresh_snapshot(self) -> None:
        self.banned_snapshot = frozenset(p.to_base58() for p in self._banned_until)


class GatedNoise(NoiseTransport):
    """Noise XX, then refuse the remote unless :meth:`PeerGate.admits` it.

    The check runs after the handshake because only then is the remote's
    peer ID proven (it signed its Noise static key).  A refused connection
    is closed and :class:`HandshakeFailure` raised, so the swarm never
    registers it: a stranger dialling us gets nothing past Noise, and our
    own dials to a peer that turns out to be someone else fail the same way.
    """

    def __init__(self, key_pair: KeyPair, gate: PeerGate, counters) -> None:
        super().__init__(key_pair, create_noise_key_pair().private_key)
        self.gate = gate
        self.counters = counters  # P2PCounters; ``refused`` is written here

    async def secure_inbound(self, conn):  # type: ignore[override]
        return await self._check(await super().secure_inbound(conn), "inbound")

    async def secure_outbound(self, conn, peer_id: ID):  # type: ignore[override]
        return await self._check(await super().secure_outbound(conn, peer_id), "outbound")

    async def _check(self, secure_conn, direction: str):
        remote = secure_conn.get_remote_peer()
        if self.gate.admits(remote):
            return secure_conn
        self.counters.refused += 1
        why = "banned" if self.gate.is_banned(remote) else "not on the allowlist"
        log.info("p2p: refused %s connection from %s: %s", direction, remote, why)
        try:
            await secure_conn.close()
        except Exception:  # the socket may already be gone
            pass
        raise HandshakeFailure(f"peer {remote} {why}")
