"""Settle's peer-to-peer layer: permissioned libp2p gossip and request/response.

Owns every use of py-libp2p in the node.  The public surface is
:class:`P2PNetwork` (asyncio-facing), :class:`P2PLimits`, the identity
helpers and the errors; modules:

* ``network``  the asyncio API and the trio thread's lifetime
* ``service``  the trio side: host, gossip flow control, message guards
* ``keeper``   strikes, bans and reconnects (trio side)
* ``router``   the adjusted GossipSub and Pubsub subclasses
* ``requests`` request/response between trio and the asyncio handlers
* ``gate``     identity from a seed, the allowlist, bans, the gated Noise transport
* ``bridge``   bounded queues and wake-ups across the thread boundary
* ``tuning``   process-wide fixes to py-libp2p defaults that drop traffic
* ``config``   limits and counters; ``errors``  the exceptions

Never does: consensus, block sync logic or message decoding.  Payloads are
opaque bytes here; the node decodes and verifies them and reports garbage
back with :meth:`P2PNetwork.report_garbage`.
"""
from .config import P2PCounters, P2PLimits
from .errors import P2PError, P2PStartError, RequestError, RequestRefused, RequestTimeout
from .gate import load_or_create_seed, peer_id_from_seed
from .network import P2PNetwork
from .tuning import route_libp2p_logging

__all__ = [
    "P2PCounters",
    "P2PError",
    "P2PLimits",
    "P2PNetwork",
    "P2PStartError",
    "RequestError",
    "RequestRefused",
    "RequestTimeout",
    "load_or_create_seed",
    "peer_id_from_seed",
    "route_libp2p_logging",
]
