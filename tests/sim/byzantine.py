"""Byzantine validators as different scripts around an unmodified core.

Owns the misbehaviours the simulator exercises (CometBFT ``byzantine_test.go``
does this by overwriting ``cs.decideProposal``; here each one is a node
driver that changes what it sends, signing with the raw key and so bypassing
the safety module, as a real attacker would):

* ``equivocating-proposer``: as proposer, sends different valid blocks to
  different peers;
* ``double-voter``: every vote goes to one half of the peers and a
  conflicting one to the other half (and now and then a forged signature);
* ``loud-double-voter``: every vote and a conflicting one to every peer;
* ``yes-voter``: amnesia -- also prevotes and precommits every proposal it
  sees, ignoring its lock;
* ``invalid-proposer``: proposes blocks the app judges invalid;
* lying clocks (PBTS): ``fast-clock`` dates its blocks ``CLOCK_LIE_MS`` ahead
  of its clock (a jump forward: every market would look stale);
  ``frozen-clock``'s clock stopped at genesis, so its blocks carry the
  parent's time (keeps old oracle reports fresh); ``slow-clock`` dates them
  ``CLOCK_LIE_MS`` behind, raised to the parent's time so that the monotonic
  check passes (a jump back).  Their blocks are otherwise valid; only
  timeliness stops them, once the lie exceeds the PBTS window;
* ``silent``: never starts;
* ``twin``: two honest instances sharing one key, each with its own safety
  storage (the misconfiguration safety storage cannot prevent).

Never: changes the consensus core or reads the clock.
"""
from __future__ import annotations

from consensus.messages import Proposal
from ledger.commit import NIL, Vote, proposal_sign_bytes, vote_sign_bytes

from .app import make_block
from .fakes import CHAIN_ID, GENESIS_TIME_MS
from .node import SimNode

__all__ = ["BYZANTINE_KINDS", "CLOCK_LIE_MS", "CLOCK_LIARS", "DoubleVoter", "EquivocatingProposer", "FastClock",
           "FrozenClock", "InvalidProposer", "SilentNode", "SlowClock", "LoudDoubleVoter", "TwinNode", "YesVoter",
           "node_class", "sign_vote"]

#: How far the fast and slow clocks lie (far beyond precision + message delay at low rounds).
CLOCK_LIE_MS = 60_000


class SilentNode(SimNode):
    byzantine = True
    kind = "silent"

    def boot(self) -> None:
        self.up = False


class EquivocatingProposer(SimNode):
    byzantine = True
    kind = "equivocating-proposer"

    def send_out(self, message) -> None:
        if type(message) is not Proposal:
            return super().send_out(message)
        rng = self.world.rng
        block_id, block = make_block(message.height, self.vindex, True, rng.getrandbits(32),
                                     self.block_time(message.height))
        other = Proposal(message.height, message.round, message.pol_round, block_id, block, self.address,
                         self.key.sign(proposal_sign_bytes(CHAIN_ID, message.height, message.round, block_id,
                                                           message.pol_round)))
        for peer in self.peers():
            self.send(peer, message if rng.random() < 0.5 else other)


class DoubleVoter(SimNode):
    """Each vote goes to one fixed half of the peers (chosen per height), a conflicting
    vote to the other half -- the split that makes a quorum visible to some only."""

    byzantine = True
    kind = "double-voter"

    def send_out(self, message) -> None:
        if type(message) is not Vote:
            return super().send_out(message)
        rng = self.world.rng
        if message.block_id != NIL:
            other_id = NIL
        else:
            seen = sorted(bid for (h, bid) in self.proposals_seen if h == message.height)
            other_id = rng.choice(seen) if seen else rng.randbytes(32)
        other = sign_vote(self, message, other_id)
        side = self._side(message.height)
        for peer in self.peers():
            self.send(peer, message if peer.inst in side else other)
            if rng.random() < 0.05:  # a forgery the core must drop
                self.send(peer, Vote(message.type, message.height, message.round, rng.randbytes(32),
                                     self.address, bytes(64)))

    def _side(self, height: int) -> set[int]:
        sides = self.__dict__.setdefault("_sides", {})
        if height not in sides:
            peers = [p.inst for p in self.peers()]
            sides[height] = set(self.world.rng.sample(peers, len(peers) // 2))
        return sides[height]


class LoudDoubleVoter(SimNode):
    """Sends every vote together with a conflicting one to every peer."""

    byzantine = True
    kind = "loud-double-voter"

    def send_out(self, message) -> None:
        if type(message) is not Vote:
            return super().send_out(message)
        other_id = NIL if message.block_id != NIL else self.world.rng.randbytes(32)
        other = sign_vote(self, message, other_id)
        for peer in self.peers():
            self.send(peer, message)
            self.send(peer, other)


class YesVoter(SimNode):
    """Amnesia: besides its core's votes, prevotes and precommits every proposal it
    sees, ignoring locks -- the behaviour locks exist to survive."""

    byzantine = True
    kind = "yes-voter"

    def deliver(self, src: int, payload) -> None:
        super().deliver(src, payload)
        if type(payload) is Proposal and self.up:
            for vote_type in (1, 2):
                template = Vote(vote_type, payload.height, payload.round, NIL, self.address, bytes(64))
                vote = sign_vote(self, template, payload.block_id)
                for peer in self.peers():
                    self.send(peer, vote)


def sign_vote(node: SimNode, vote: Vote, block_id: bytes) -> Vote:
    """``vote`` re-signed for ``block_id`` with the raw key (no safety module)."""
    sig = node.key.sign(vote_sign_bytes(CHAIN_ID, vote.type, vote.height, vote.round, block_id))
    return Vote(vote.type, vote.height, vote.round, block_id, node.address, sig)


class InvalidProposer(SimNode):
    byzantine = True
    kind = "invalid-proposer"

    def make_block(self, height: int) -> tuple[bytes, bytes]:
        return make_block(height, self.vindex, False, self.world.rng.getrandbits(32), self.block_time(height))


class FastClock(SimNode):
    """Jumps time forward: its blocks are dated ``CLOCK_LIE_MS`` after its clock."""

    byzantine = True
    kind = "fast-clock"

    def block_time(self, height: int) -> int:
        return super().block_time(height) + CLOCK_LIE_MS


class FrozenClock(SimNode):
    """Freezes time: its clock stopped at genesis, so its blocks carry the parent block's time."""

    byzantine = True
    kind = "frozen-clock"

    def block_time(self, height: int) -> int:
        return max(GENESIS_TIME_MS, self.parent_time(height) or 0)


class SlowClock(SimNode):
    """Jumps time back: ``CLOCK_LIE_MS`` before its clock, but never before the parent block."""

    byzantine = True
    kind = "slow-clock"

    def block_time(self, height: int) -> int:
        return max(self.clock() - CLOCK_LIE_MS, self.parent_time(height) or 0)


class TwinNode(SimNode):
    """An honest driver whose key is shared with a second instance."""

    byzantine = True
    kind = "twin"


CLOCK_LIARS = ("fast-clock", "frozen-clock", "slow-clock")
BYZANTINE_KINDS = ("equivocating-proposer", "double-voter", "loud-double-voter", "yes-voter", "invalid-proposer",
                   "silent", "twin") + CLOCK_LIARS
_CLASSES = {c.kind: c for c in (SilentNode, EquivocatingProposer, DoubleVoter, LoudDoubleVoter, YesVoter,
                                InvalidProposer, TwinNode, FastClock, FrozenClock, SlowClock)}


def node_class(kind: str) -> type[SimNode]:
    return SimNode if kind == "honest" else _CLASSES[kind]
