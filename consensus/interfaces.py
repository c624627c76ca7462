"""Contracts between the consensus core, the safety module and their storage.

Owns: the plain, serialisable request records a signer accepts
(:class:`VoteRequest`, :class:`ProposalRequest`), the persisted
:class:`SafetyData`, the :class:`Signer` and :class:`SafetyStorage`
interfaces, and the :class:`SafetyError` family that names each safety rule.
Implementations document only what they add; the contract is here (py-evm
``eth/abc.py`` style, one file per package).

Must never: implement signing or storage itself, or import the state machine.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Annotated

from ledger.codec import Len, MaxLen, Range, Record
from ledger.errors import Halt, SettleError
from ledger.fields import BlockHeight, PolRound, Round

__all__ = [
    "DoubleSignRefused",
    "HeightRegression",
    "InvalidSignRequest",
    "ProposalRequest",
    "RoundRegression",
    "SAFETY_DATA_VERSION",
    "SafetyData",
    "SafetyError",
    "SafetyStorage",
    "SafetyStorageError",
    "Signer",
    "StepRegression",
    "VoteRequest",
]

SAFETY_DATA_VERSION = 1


# --------------------------------------------------------------------------- requests and data


@dataclass(frozen=True, slots=True)
class VoteRequest(Record):
    """Ask for a prevote (``type`` 1) or precommit (2) signature; ``block_id`` b"" is nil."""

    type: Annotated[int, Range(1, 2)]
    height: BlockHeight
    round: Round
    block_id: Annotated[bytes, MaxLen(32)]


@dataclass(frozen=True, slots=True)
class ProposalRequest(Record):
    """Ask for a proposal signature over (height, round, block_id, pol_round)."""

    height: BlockHeight
    round: Round
    block_id: Annotated[bytes, Len(32)]
    pol_round: PolRound


@dataclass(frozen=True, slots=True)
class SafetyData(Record):
    """The last thing this validator signed; persisted before a signature is released.

    ``step`` uses ``events.Step`` numbers (1 propose, 2 prevote, 3
    precommit); ``height == 0`` means nothing was ever signed.  ``version``
    lets later formats keep loading this one (tested with a golden encoding).
    """

    version: Annotated[int, Range(1, 1)]
    height: Annotated[int, Range(0, 2**63 - 1)]
    round: Round
    step: Annotated[int, Range(0, 3)]
    sign_bytes: Annotated[bytes, MaxLen(1024)]
    signature: Annotated[bytes, MaxLen(64)]

    @classmethod
    def initial(cls) -> "SafetyData":
        return cls(SAFETY_DATA_VERSION, 0, 0, 0, b"", b"")


# --------------------------------------------------------------------------- errors


class SafetyError(SettleError):
    """Base of every refusal or failure of the safety module.  No signature was released.

    A refusal is nobody's fault to punish (the core asked again after a
    restart, or a bug asked for an unsafe signature): it is logged and the
    step goes unsigned.  Only :class:`SafetyStorageError` is a halt.
    """


class InvalidSignRequest(SafetyError):
    """The request is malformed (e.g. ``pol_round`` not below ``round``, bad block id)."""


class HeightRegression(SafetyError):
    """Asked to sign at ``height`` below the last signed height ``last_height``."""

    def __init__(self, height: int, last_height: int):
        super().__init__(f"height regression: asked to sign at height {height}, last signed {last_height}")
        self.height, self.last_height = height, last_height


class RoundRegression(SafetyError):
    """Asked to sign at ``round`` below the last signed round of the same height."""

    def __init__(self, height: int, round_: int, last_round: int):
        super().__init__(f"round regression at height {height}: asked round {round_}, last signed {last_round}")
        self.height, self.round, self.last_round = height, round_, last_round


class StepRegression(SafetyError):
    """Asked to sign a step below the last signed step of the same height and round."""

    def __init__(self, height: int, round_: int, step: int, last_step: int):
        super().__init__(
            f"step regression at height {height} round {round_}: asked step {step}, last signed {last_step}")
        self.height, self.round, self.step, self.last_step = height, round_, step, last_step


class DoubleSignRefused(SafetyError):
    """Already signed different bytes for this (height, round, step)."""

    def __init__(self, height: int, round_: int, step: int):
        super().__init__(f"refusing to double-sign at height {height} round {round_} step {step}")
        self.height, self.round, self.step = height, round_, step


class SafetyStorageError(SafetyError, Halt):
    """Persisting or loading safety data failed; nothing was released.  The node halts."""


# --------------------------------------------------------------------------- interfaces


class SafetyStorage(abc.ABC):
    """Durable home of one :class:`SafetyData` value (the conformance suite is
    ``tests/consensus/test_safety_storage.py``)."""

    @abc.abstractmethod
    def load(self) -> SafetyData | None:
        """The last saved value, or None if nothing was ever saved.

        Raises:
            SafetyStorageError: something is stored but cannot be read; the
                node must not start signing (never treat it as "empty").
        """

    @abc.abstractmethod
    def save(self, data: SafetyData) -> None:
        """Durably replace the stored value; returns only once it survives a crash.

        Raises:
            SafetyStorageError or OSError: the write failed.  Afterwards the
                store holds either the old or the new value, never a mix.
        """


class Signer(abc.ABC):
    """What the consensus core may ask of the key holder (``safety.SafetyRules``).

    Requests are plain records so the signer can later live in another
    process behind a serialising client (aptos ``serializer.rs``).
    """

    @property
    @abc.abstractmethod
    def address(self) -> bytes:
        """The 20-byte validator address of the key."""

    @abc.abstractmethod
    def sign_proposal(self, request: ProposalRequest) -> bytes:
        """64-byte signature over ``proposal_sign_bytes`` for ``request``.

        Raises:
            SafetyError: a rule refuses (regression, double sign, bad
                request) or persisting failed; nothing was released.
        """

    @abc.abstractmethod
    def sign_vote(self, request: VoteRequest) -> bytes:
        """64-byte signature over ``vote_sign_bytes`` for ``request``.

        Raises:
            SafetyError: as for :meth:`sign_proposal`.
        """
