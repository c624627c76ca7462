"""py-libp2p's chatty loggers stay quiet once the node routes libp2p logging."""
from __future__ import annotations

import logging

from node.p2p import route_libp2p_logging


def test_auto_connector_dial_lines_are_not_logged():
    import libp2p.network.auto_connector  # noqa: F401  (it sets its own logger to INFO on import)

    route_libp2p_logging()
    # "... initiating N new dials", every 10 s per node, at INFO
    assert not logging.getLogger("libp2p.network.auto_connector").isEnabledFor(logging.INFO)
    assert logging.getLogger("libp2p.network.auto_connector").isEnabledFor(logging.CRITICAL)
