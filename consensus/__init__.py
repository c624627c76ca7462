"""Settle consensus: Tendermint BFT as a pure, sans-I/O state machine.

No asyncio, sockets, threads, clock or randomness anywhere in this package:
values in, values out.  The node (``node/``) owns the network, the timers,
the WAL file and the safety-data file; it feeds inputs to
:class:`ConsensusCore` and carries out the actions it returns.

Modules: ``messages`` (wire types), ``events`` (inputs, actions, WAL
records), ``config`` (timeouts, PBTS bounds), ``timeliness`` (the PBTS
``timely`` predicate), ``state`` (the rules), ``log`` (one
height's checked messages), ``votes`` (quorum accounting), ``proposer``
(rotation), ``inbox`` (future-height buffer),
``safety`` (the only code holding a key), ``interfaces`` (contracts),
``wal`` (log encoding and replay).

Driving the core (what ``node/`` does)
--------------------------------------
* Start: ``core, actions = wal.restore(records, chain_id=..., validators=...,
  height=store_height + 1, block_id_of=..., block_time_of=..., signer=SafetyRules(key,
  FileSafetyStorage(path), chain_id))`` and carry out ``actions``.
* Feed every input through ``core.handle`` from one task; stamp each
  ``ProposalReceived`` with the wall clock when the message arrived (and each
  ``BlockProposal`` when the block was built): the core judges block times
  against these stamps and never reads a clock.  Carry out the returned
  actions in order:

  - ``WalWrite``: append ``wal.encode_record(record)``; fsync before the next
    ``Broadcast`` (one fsync covers all earlier records).
  - ``Broadcast``: send to peers (the core counted it already).
  - ``ScheduleTimeout``: feed ``TimeoutElapsed`` back after the duration.
  - ``RequestProposal``: build a block from the mempool (config limits),
    dated with the wall clock (never before the parent), answer
    ``BlockProposal`` (late answers are ignored).
  - ``RequestValidation``: check id == bytes, signatures, nonces, settlement
    result, header fields, time not going backwards against the parent;
    answer ``BlockValidity``.
  - ``Decide``: commit block + certificate atomically in the store, then
    feed ``StartHeight(height + 1)`` after ``timeout_commit_ms`` if the
    mempool has transactions, else after ``empty_block_interval_ms``.
  - ``EvidenceFound``: keep it (RPC ``evidence``, metrics).
  - ``SigningFailed``: log and count; stop on storage errors.

* Gossip: send peers ``core.messages_for_height()`` they lack (votes before a
  second proposal of a round, which is kept only once votes back it); answer
  a lagging peer with the stored block + certificate (block sync) and feed
  ``StartHeight(new_height)`` after applying synced blocks.
"""
from .config import ConsensusConfig
from .events import (
    Action,
    BlockProposal,
    BlockValidity,
    Broadcast,
    Decide,
    EnterHeight,
    EvidenceFound,
    Input,
    OwnMessage,
    ProposalReceived,
    RequestProposal,
    RequestValidation,
    ScheduleTimeout,
    SigningFailed,
    StartHeight,
    Step,
    TimeoutElapsed,
    VoteReceived,
    WalRecord,
    WalWrite,
)
from .messages import DuplicateVoteEvidence, Proposal, decode_message, encode_message
from .safety import MemorySafetyStorage, SafetyRules
from .state import RULES, ConsensusCore, CoreSnapshot

__all__ = [
    "Action", "BlockProposal", "BlockValidity", "Broadcast", "ConsensusConfig", "ConsensusCore",
    "CoreSnapshot", "Decide", "DuplicateVoteEvidence", "EnterHeight", "EvidenceFound", "Input",
    "MemorySafetyStorage", "OwnMessage", "Proposal", "ProposalReceived", "RULES", "RequestProposal",
    "RequestValidation", "SafetyRules", "ScheduleTimeout", "SigningFailed", "StartHeight", "Step",
    "TimeoutElapsed", "VoteReceived", "WalRecord", "WalWrite", "decode_message", "encode_message",
]
