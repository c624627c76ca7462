"""Settle consensus: Tendermint BFT as a pure, sans-I/O state machine.

No asyncio, sockets, threads, clock or randomness anywhere in this package:
values in, values out.  The node (``node/``) owns the network, the timers,
the WAL file and the safety-data file; it feeds inputs to
:class:`ConsensusCore` and carries out the actions it returns.

Modules: ``messages`` (wire types), ``events`` (inputs, actions, WAL
records), ``config`` (timeouts), ``state`` (the rules), ``log`` (one height's
checked messages), ``votes`` (quorum accounting), ``proposer`` (rotation), ``inbox`` (future-height buffer),
``safety`` (the only code holding a key), ``interfaces`` (contracts),
``wal`` (log encoding and replay).
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
