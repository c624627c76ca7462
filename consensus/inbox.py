"""Bounded buffer of verified messages for heights just above the current one.

Owns: :class:`FutureBuffer`.  A node finishing height ``h`` a little after its
peers receives their height ``h+1`` proposal and votes early; dropping them
would cost a round of timeouts.  The buffer keeps them until the core enters
that height (with the time each arrived: a proposal's receive time decides
whether its block time is timely), within hard bounds:

* only heights ``h+1 .. h+window`` (older are useless, further ones mean we
  are far behind and need catch-up, not buffering);
* at most ``per_sender`` messages per (height, sender), so memory is at most
  ``window * n * per_sender`` messages whatever peers send.

Must never: verify signatures (the caller buffers only verified messages),
interpret messages, or grow without bound.
"""
from __future__ import annotations

from typing import Union

from ledger.commit import Vote

from .messages import Proposal

__all__ = ["FutureBuffer"]

Message = Union[Proposal, Vote]


def sender_of(message: Message) -> bytes:
    return message.proposer if type(message) is Proposal else message.validator


class FutureBuffer:
    """Messages for heights above the current one, keyed by height then sender.

    Args:
        window: how many heights above the current one are kept.
        per_sender: cap per (height, sender).
    """

    def __init__(self, window: int, per_sender: int):
        self._window = window
        self._per_sender = per_sender
        self._by_height: dict[int, dict[bytes, list[Message]]] = {}
        self._received_ms: dict[Message, int] = {}

    def accepts(self, current_height: int, message: Message) -> bool:
        """Would :meth:`add` keep ``message``?  (Ask before paying for a signature check.)"""
        h = message.height
        if not current_height < h <= current_height + self._window:
            return False
        held = self._by_height.get(h, {}).get(sender_of(message), ())
        return len(held) < self._per_sender and message not in held

    def add(self, current_height: int, message: Message, received_ms: int = 0) -> bool:
        """Keep a verified ``message`` (arrived at ``received_ms``) if :meth:`accepts` says so;
        return whether it was kept."""
        if not self.accepts(current_height, message):
            return False
        self._by_height.setdefault(message.height, {}).setdefault(sender_of(message), []).append(message)
        self._received_ms[message] = received_ms
        return True

    def take(self, height: int) -> list[tuple[Message, int]]:
        """Remove and return ``(message, received_ms)`` for ``height`` (proposals first),
        dropping older heights."""
        for h in [h for h in self._by_height if h < height]:
            for msgs in self._by_height.pop(h).values():
                for m in msgs:
                    self._received_ms.pop(m, None)
        by_sender = self._by_height.pop(height, {})
        out = [(m, self._received_ms.pop(m, 0)) for sender in sorted(by_sender) for m in by_sender[sender]]
        out.sort(key=lambda item: type(item[0]) is not Proposal)
        return out

    def __len__(self) -> int:
        return sum(len(v) for senders in self._by_height.values() for v in senders.values())
