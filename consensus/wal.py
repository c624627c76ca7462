"""Consensus write-ahead log: what the core persists before acting, and replay after a crash.

Owns: the byte encoding of WAL records (:func:`encode_record`,
:func:`decode_record`) and :func:`restore`, which builds a fresh core for the
node's next height and feeds the log back.  The file itself (framing,
checksums, fsync, rotation) belongs to ``node/``.

Must never: open files, skip the safety module, or let :func:`decode_record`
raise anything but ``DecodeError``.

What is logged
--------------
The core is deterministic, so its state at a height is a function of the
inputs it accepted there.  It emits ``WalWrite`` for:

* every input that changed its state -- ``StartHeight``, a
  ``ProposalReceived`` (with the receive time the node stamped, so replay
  judges its block time alike) / ``VoteReceived`` it counted, a ``TimeoutElapsed`` it
  acted on, the node's ``BlockProposal`` (our block: without it a restarted
  node would build a different one) and ``BlockValidity`` verdicts;
* ``OwnMessage``: each proposal or vote it signed, right before the
  ``Broadcast`` of it;
* ``EnterHeight(h)``: a marker written when the core moves to height ``h``.

The node must persist records in order and fsync before carrying out any
later ``Broadcast``; since the file is sequential, that one fsync also makes
every input that led to the signed message durable, so a restarted node never
forgets a lock it acted on.  Received messages may be lost in a crash when no
broadcast followed them; that is equivalent to never having received them.

Replay
------
:func:`restore` takes the records after the last ``EnterHeight`` marker at or
below the node's next height (older records are harmless: the core ignores
lower heights), hands the ``OwnMessage`` records to the new core so it reuses
those signatures instead of asking the signer again, and feeds every input
back in order.  Whatever the log lost, the safety module's own storage still
refuses to sign anything conflicting, so replay can never double-sign.
"""
from __future__ import annotations

from typing import Iterable

from ledger.codec import DecodeError, decode, encode
from ledger.commit import Vote

from .events import (
    Action,
    BlockProposal,
    BlockValidity,
    EnterHeight,
    OwnMessage,
    ProposalReceived,
    ScheduleTimeout,
    StartHeight,
    Step,
    TimeoutElapsed,
    VoteReceived,
    WalRecord,
    WalWrite,
)
from .messages import MAX_MESSAGE_BYTES, Proposal, decode_message, encode_message
from .state import ConsensusCore

__all__ = ["LEGACY_RECEIVED_MS", "decode_record", "encode_record", "records_to_replay", "restore"]

#: Receive time given to ``ProposalReceived`` / ``BlockProposal`` records written before
#: receive times were logged, and to own proposals replayed from ``OwnMessage`` (which a
#: ``BlockProposal`` record or a re-proposal has already logged with its time): the Unix
#: epoch, against which no real block time is timely, so replay may prevote nil but never
#: for a block it could not judge.  (The WAL holds one height: this matters at most once.)
LEGACY_RECEIVED_MS = 0

_TAGS: dict[type, int] = {
    StartHeight: 1, ProposalReceived: 2, VoteReceived: 3, TimeoutElapsed: 4,
    BlockProposal: 5, BlockValidity: 6, EnterHeight: 7, OwnMessage: 8,
}


def encode_record(record: WalRecord) -> bytes:
    """Canonical bytes ``encode([tag, fields...])`` of one WAL record.

    Raises:
        TypeError: ``record`` is not a WAL record type.
    """
    t = type(record)
    tag = _TAGS.get(t)
    if tag is None:
        raise TypeError(f"not a WAL record: {t.__name__}")
    if t is StartHeight or t is EnterHeight:
        body = [record.height]
    elif t is ProposalReceived:
        body = [record.proposal.to_obj(), record.received_ms]
    elif t is VoteReceived:
        body = [record.vote.to_obj()]
    elif t is TimeoutElapsed:
        body = [record.height, record.round, int(record.step)]
    elif t is BlockProposal:
        body = [record.height, record.round, record.block_id, record.block, record.received_ms]
    elif t is BlockValidity:
        body = [record.height, record.round, record.block_id, record.valid]
    else:
        body = [encode_message(record.message)]
    return encode([tag, *body])


def decode_record(data: bytes) -> WalRecord:
    """Decode one WAL record.

    Raises:
        DecodeError: the bytes are not a canonical, well-typed record (nothing else).
    """
    obj = decode(data, max_bytes=MAX_MESSAGE_BYTES + 1024)
    if type(obj) is not list or not obj or type(obj[0]) is not int:
        raise DecodeError("WAL record: expected [tag, fields...]")
    tag, body = obj[0], obj[1:]
    try:
        if tag in (1, 7) and len(body) == 1:
            return (StartHeight if tag == 1 else EnterHeight)(body[0])
        if tag == 2 and len(body) in (1, 2):
            return ProposalReceived(Proposal.from_obj(body[0]), *body[1:] or [LEGACY_RECEIVED_MS])
        if tag == 3 and len(body) == 1:
            return VoteReceived(Vote.from_obj(body[0]))
        if tag == 4 and len(body) == 3 and body[2] in (1, 2, 3) and type(body[2]) is int:
            return TimeoutElapsed(body[0], body[1], Step(body[2]))
        if tag == 5 and len(body) in (4, 5):
            return BlockProposal(*body) if len(body) == 5 else BlockProposal(*body, LEGACY_RECEIVED_MS)
        if tag == 6 and len(body) == 4:
            return BlockValidity(*body)
        if tag == 8 and len(body) == 1 and type(body[0]) is bytes:
            message = decode_message(body[0])
            return OwnMessage(message)
    except DecodeError:
        raise
    except (ValueError, TypeError) as exc:
        raise DecodeError(f"WAL record (tag {tag}): {exc}") from None
    raise DecodeError(f"WAL record: unknown tag {tag} or wrong field count")


def records_to_replay(records: Iterable[WalRecord], height: int) -> list[WalRecord]:
    """The records after the last ``EnterHeight`` marker at or below ``height`` (all if none)."""
    records = list(records)
    start = 0
    for i, rec in enumerate(records):
        if type(rec) is EnterHeight and rec.height <= height:
            start = i + 1
    return records[start:]


def restore(records: Iterable[WalRecord], **core_args) -> tuple[ConsensusCore, list[Action]]:
    """Build a core for ``core_args["height"]`` and replay the WAL into it.

    Args:
        records: the decoded WAL, oldest first.
        core_args: keyword arguments of :class:`ConsensusCore` (not ``own_messages``).

    Returns:
        The core and the actions the node should still carry out: every
        ``Broadcast`` (re-sending own messages is harmless and helps peers
        who missed them), ``Decide`` for heights the store lacks (skip those
        already stored), requests (answers to ones already answered are
        ignored), evidence, and the timeouts of the core's current round.
        ``WalWrite`` actions are dropped: those records are already in the log.
    """
    tail = records_to_replay(records, core_args["height"])
    own = [r.message for r in tail if type(r) is OwnMessage]
    core = ConsensusCore(**core_args, own_messages=own)
    actions: list[Action] = []
    for rec in tail:
        if type(rec) is EnterHeight:
            continue
        if type(rec) is OwnMessage:
            m = rec.message
            rec = ProposalReceived(m, LEGACY_RECEIVED_MS) if type(m) is Proposal else VoteReceived(m)
        actions.extend(core.handle(rec))
    keep = []
    for a in actions:
        if type(a) is WalWrite:
            continue
        if type(a) is ScheduleTimeout and (a.height, a.round) != (core.height, core.round):
            continue
        keep.append(a)
    return core, keep
