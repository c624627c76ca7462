"""Builders for tests that drive one ``ConsensusCore`` by hand.

Owns: :class:`Bench` -- a core for validator 0 of ``n`` equal-power validators,
plus helpers that sign proposals and votes *as the other validators* (with
their raw keys: they are the test's script, not nodes), and small queries over
action lists.  Never: hides what the core does -- every helper returns the
actions so tests assert on them.
"""
from __future__ import annotations

from typing import Any

from consensus.config import ConsensusConfig
from consensus.events import (
    BlockProposal,
    BlockValidity,
    Broadcast,
    ProposalReceived,
    RequestValidation,
    StartHeight,
    VoteReceived,
    WalWrite,
)
from consensus.interfaces import SafetyStorage
from consensus.messages import Proposal
from consensus.safety import MemorySafetyStorage, SafetyRules
from consensus.state import ConsensusCore
from ledger.commit import NIL, Vote, proposal_sign_bytes, vote_sign_bytes

from .app import make_block
from .fakes import CHAIN_ID, GENESIS_TIME_MS, block_id_of, block_time_of, make_validators

PREVOTE, PRECOMMIT = 1, 2


def block(height: int, tag: int = 0, time_ms: int = GENESIS_TIME_MS) -> tuple[bytes, bytes]:
    """(block_id, bytes) of a valid simulated block, dated ``time_ms`` (the bench's clock by default)."""
    return make_block(height, 99, True, tag, time_ms)


def of_type(actions: list, cls: type) -> list:
    return [a for a in actions if type(a) is cls]


def broadcasts(actions: list) -> list:
    return [a.message for a in of_type(actions, Broadcast)]


def votes_sent(actions: list, vote_type: int | None = None) -> list[Vote]:
    return [m for m in broadcasts(actions) if type(m) is Vote and (vote_type is None or m.type == vote_type)]


class Bench:
    """A core for validator ``me`` (index into the key list) among ``n``.

    Args:
        n: number of equal-power validators.
        me: which validator the core signs for (None: an observer).
        storage: safety storage (default: fresh memory storage).
    """

    def __init__(self, n: int = 4, me: int | None = 0, height: int = 1, storage: SafetyStorage | None = None,
                 config: ConsensusConfig | None = None, powers: list[int] | None = None, **core_args: Any):
        self.keys, self.vset = make_validators(n, powers)
        self.by_address = {k.address: i for i, k in enumerate(self.keys)}
        self.storage = storage if storage is not None else MemorySafetyStorage()
        self.me = me
        self.config = config or ConsensusConfig()
        self.core_args = dict(chain_id=CHAIN_ID, validators=self.vset, block_id_of=block_id_of,
                              block_time_of=block_time_of, config=self.config, **core_args)
        self.now_ms = GENESIS_TIME_MS  # the bench's clock: stamps every proposal it delivers
        self.core = self.make_core(height)

    def signer(self) -> SafetyRules | None:
        return None if self.me is None else SafetyRules(self.keys[self.me], self.storage, CHAIN_ID)

    def make_core(self, height: int, **extra: Any) -> ConsensusCore:
        return ConsensusCore(height=height, signer=self.signer(), **self.core_args, **extra)

    # ------------------------------------------------------------------ scripted peers

    def proposer(self, height: int, round_: int) -> int:
        return self.by_address[self.core.proposer(height, round_)]

    def rounds_proposed_by(self, who: int, height: int = 1, limit: int = 40) -> list[int]:
        return [r for r in range(limit) if self.proposer(height, r) == who]

    def proposal(self, height: int, round_: int, blk: tuple[bytes, bytes], pol_round: int = -1,
                 by: int | None = None) -> Proposal:
        who = self.proposer(height, round_) if by is None else by
        bid, raw = blk
        sig = self.keys[who].sign(proposal_sign_bytes(CHAIN_ID, height, round_, bid, pol_round))
        return Proposal(height, round_, pol_round, bid, raw, self.keys[who].address, sig)

    def vote(self, who: int, vote_type: int, height: int, round_: int, block_id: bytes = NIL) -> Vote:
        sig = self.keys[who].sign(vote_sign_bytes(CHAIN_ID, vote_type, height, round_, block_id))
        return Vote(vote_type, height, round_, block_id, self.keys[who].address, sig)

    def others(self) -> list[int]:
        return [i for i in range(len(self.keys)) if i != self.me]

    # ------------------------------------------------------------------ feeding

    def feed(self, event: Any) -> list:
        return self.core.handle(event)

    def deliver(self, message: Any) -> list:
        if type(message) is Proposal:
            return self.feed(ProposalReceived(message, self.now_ms))
        return self.feed(VoteReceived(message))

    def deliver_valid(self, p: Proposal, valid: bool = True) -> list:
        """Deliver a proposal and answer its validation request at once."""
        out = self.deliver(p)
        for req in of_type(out, RequestValidation):
            out += self.feed(BlockValidity(req.height, req.round, req.block_id, valid))
        return out

    def votes_from(self, who: list[int], vote_type: int, height: int, round_: int, block_id: bytes = NIL) -> list:
        out = []
        for i in who:
            out += self.deliver(self.vote(i, vote_type, height, round_, block_id))
        return out

    def start(self, height: int = 1) -> list:
        return self.feed(StartHeight(height))

    def answer_proposal(self, height: int, round_: int, blk: tuple[bytes, bytes]) -> list:
        return self.feed(BlockProposal(height, round_, blk[0], blk[1], self.now_ms))

    def wal(self, actions: list) -> list:
        return [a.record for a in of_type(actions, WalWrite)]
