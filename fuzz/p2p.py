"""Fuzz target: what a node does with bytes from a peer (a real node, no sockets).

The first input byte picks the entry point, the rest is the peer's bytes:

0. a ``status`` beacon (through the node's ``PeerRoutes.on_message``);
1. a ``txs`` gossip batch (same handler; decoded txs go through mempool admission);
2. a block-sync request this node serves (``PeerRoutes.serve_sync``);
3. a block-sync response to this node's request (``BlockSync._fetch_from``).

Property: nothing escapes the handlers (garbage is reported to the
transport), except ``SyncError`` from a fetched response; the background
work they start (admission, a requested sync) ends without an exception;
a served sync response is a canonical list.  The consensus topic is the
``consensus`` target: its decoding is ``decode_message``.
"""
from __future__ import annotations

from .harness import instrumented, main

with instrumented():
    from ledger.codec import decode, encode
    from node.gossip import TOPIC_STATUS, TOPIC_TXS
    from node.sync import SyncError

    from . import seeds
    from .nodehome import PEER, make_node

FN = make_node()


async def status(payload: bytes) -> None:
    await FN.node.routes.on_message(TOPIC_STATUS, PEER, payload)


async def txs(payload: bytes) -> None:
    await FN.node.routes.on_message(TOPIC_TXS, PEER, payload)


async def sync_request(payload: bytes) -> None:
    served = decode(await FN.node.routes.serve_sync(PEER, payload))
    assert type(served) is list


async def sync_response(payload: bytes) -> None:
    FN.net.response = payload
    try:
        await FN.node.sync._fetch_from(PEER, 1.0)
    except SyncError:
        pass
    finally:
        FN.net.response = encode([])


test_one_input = FN.entry_points([status, txs, sync_request, sync_response])


def corpus() -> list[bytes]:
    chain = FN.node.chain
    out = [bytes([0]) + encode([h, chain.last_block_id]) for h in (0, 1, 2, 9)]
    out += [bytes([1]) + encode([t.raw for t in batch]) for batch in (FN.txs, seeds.txs()[:5], [])]
    out += [bytes([2]) + encode(r) for r in ([1, 64], [0, 0], [2, 1])]
    out += [bytes([3]) + FN.next_block, bytes([3]) + encode([])]
    blk = seeds.blocks()[0]
    out.append(bytes([3]) + encode([[blk.encode(), seeds.certificate(blk).encode()]]))
    return out


if __name__ == "__main__":
    main("p2p", test_one_input, corpus)
