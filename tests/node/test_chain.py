"""The node's Chain around the pure block rules: signatures verified once (inline or in the
verifier pool) and remembered only for a block whose signatures all verify."""
from __future__ import annotations

import pytest

from ledger.block import Block
from ledger.codec import decode, encode
from ledger.tx import Tx
from node.chain import InvalidProposal
from node.verifier import Verifier
from settlement.blockrules import BadSignature
from settlement.transfers import Transfer
from tests.settlement.builders import Chain


def forged(tx: Tx) -> Tx:
    obj = decode(tx.raw)
    obj[5] = bytes(64)
    return Tx.decode(encode(obj))


@pytest.mark.parametrize("pool", [False, True], ids=["inline", "verifier-pool"])
def test_a_bad_signature_is_refused_and_only_a_fully_verified_block_is_remembered(pool):
    leader, follower = Chain.fresh(), Chain.fresh()
    verifier = Verifier(2, chunk=2) if pool else None
    follower.node.verifier = verifier
    try:
        txs = [leader.sign("alice", Transfer(leader.addr("bob"), "USD", 1, "")) for _ in range(5)]
        txs[3] = forged(txs[3])
        header = leader.node.propose(txs, 2_000, leader.addr("validator"), max_txs=10, max_bytes=1 << 20).block.header
        bad = Block.make(header, txs)  # the proposer trusted its candidates; a validator does not
        root = follower.node.state_root
        with pytest.raises(BadSignature, match=r"^tx 3: bad signature$"):
            follower.node.validate(bad)
        assert isinstance(BadSignature(0), InvalidProposal)
        assert not any(tx.hash in follower.node.verified for tx in txs)
        assert (follower.node.height, follower.node.state_root) == (0, root)

        good = leader.node.propose(txs[:3], 2_000, leader.addr("validator"), max_txs=10, max_bytes=1 << 20).block
        follower.node.validate(good)
        assert all(tx.hash in follower.node.verified for tx in good.txs)
        if verifier is not None:
            checked = verifier.verified
            follower.node.validate(good)  # every signature remembered: the pool is not asked again
            assert verifier.verified == checked
    finally:
        if verifier is not None:
            verifier.close()
