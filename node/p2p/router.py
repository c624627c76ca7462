"""The libp2p pubsub classes, adjusted for a small permissioned full mesh.

Owns two subclasses of py-libp2p 0.8.1 classes, each overriding the least
it can: :class:`DirectMeshGossipSub` (no GRAFTs to direct peers, optional
no-relay, equivocation check that keeps digests instead of payloads) and
:class:`GuardedPubsub` (a received message that makes libp2p raise is
dropped and reported instead of cancelling the pubsub service).

Never does: networking of its own, or anything outside the trio thread.
"""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable

from libp2p.peer.id import ID
from libp2p.pubsub.gossipsub import GossipSub
from libp2p.pubsub.pubsub import Pubsub

__all__ = ["DirectMeshGossipSub", "GuardedPubsub"]

log = logging.getLogger("settle.p2p")


class DirectMeshGossipSub(GossipSub):
    """GossipSub that never GRAFTs a direct peer, and may skip relaying.

    py-libp2p 0.8.1 picks mesh candidates from every subscribed peer,
    direct ones included; the remote refuses (direct peers must not be
    grafted), PRUNEs, logs a warning and records a "GRAFT flood" penalty,
    every heartbeat.  Direct peers already receive every message.

    With ``relay`` False a node forwards only its own messages: in a full
    mesh every origin already sends to every peer, and each relayed copy
    costs every receiver CPU for a message it then drops as a duplicate.
    """

    relay = True  # False: forward nothing we did not publish (see P2PNetwork)

    def _get_peers_to_send(self, topic_ids, msg_forwarder, origin, msg_id=None):
        if not self.relay and self.pubsub is not None and msg_forwarder != self.pubsub.my_id:
            return iter(())
        return super()._get_peers_to_send(topic_ids, msg_forwarder, origin, msg_id)

    def _get_in_topic_gossipsub_peers_from_minus(self, topic, num_to_select, minus, backoff_check=False):
        excluded = set(minus) | set(self.direct_peers)
        return super()._get_in_topic_gossipsub_peers_from_minus(topic, num_to_select, excluded, backoff_check)

    def _check_equivocation(self, msg) -> bool:
        """Same rule as libp2p's, but remembers a digest, not the whole message.

        libp2p keeps up to ~1000 recent messages *with their payloads* for
        this check (trimmed to 500 once a heartbeat): with 1-4 MB payloads
        that alone could hold gigabytes.
        """
        key = msg.from_id + msg.seqno
        digest = hashlib.blake2b(msg.data, digest_size=16)
        for topic in msg.topicIDs:
            digest.update(b"\0" + topic.encode())
        seen = self.equivocation_detection.get(key)
        if seen is None:
            self.equivocation_detection[key] = digest.digest()
            return True
        return seen == digest.digest()


class GuardedPubsub(Pubsub):
    """Pubsub whose per-message task cannot take the service down.

    libp2p runs ``push_msg`` for every received message as a service task,
    and any exception in a service task cancels the whole service: a
    message with a malformed ``key`` makes signature checking raise.  Here
    such a message is dropped and reported through ``on_bad_message``.
    """

    on_bad_message: Callable[[ID, BaseException], None] | None = None

    async def push_msg(self, msg_forwarder: ID, msg) -> None:
        try:
            await super().push_msg(msg_forwarder, msg)
        except Exception as exc:  # a malformed message must not cancel the whole pubsub service (class docstring)
            if msg_forwarder == self.my_id or self.on_bad_message is None:
                log.exception("p2p: publishing a message failed")
            else:
                self.on_bad_message(msg_forwarder, exc)
