"""Safety rules: the only code that holds a validator key and signs proposals and votes.

Owns: the :class:`SafetyRules` signer, its named predicates
(:func:`safe_to_sign_proposal`, :func:`safe_to_vote`, built on
:func:`check_hrs`) and :class:`MemorySafetyStorage`.  The file-backed storage
is ``node/safety_store.py`` (the one that does I/O).

Must never: release a signature before the new :class:`SafetyData` is
persisted; sign two different byte strings for one (height, round, step);
sign at a (height, round, step) below the last one signed; import the state
machine (it trusts nothing the core says, only the request in front of it).

Every signature follows one fixed order (aptos ``safety_rules_2chain.rs``):

1. **verify** the request against the persisted :class:`SafetyData` with the
   named predicate;
2. if it repeats the last signed (height, round, step) with the same
   sign-bytes, return the stored signature (CometBFT ``CheckHRS``, aptos
   ``last_vote``) -- nothing else happens;
3. **update a copy** of the safety data, **sign**, **persist** the copy
   through :class:`SafetyStorage`;
4. only then adopt the copy in memory and **release** the signature.

If persisting raises, the caller gets :class:`SafetyStorageError` and no
signature; in-memory state is unchanged (the store holds the old or the new
value -- either is safe because nothing was released).
"""
from __future__ import annotations

from dataclasses import replace

from ledger.codec import DecodeError
from ledger.commit import VoteType, proposal_sign_bytes, vote_sign_bytes
from ledger.keys import PrivateKey

from .events import Step
from .interfaces import (
    DoubleSignRefused,
    HeightRegression,
    InvalidSignRequest,
    ProposalRequest,
    RoundRegression,
    SafetyData,
    SafetyStorage,
    SafetyStorageError,
    Signer,
    StepRegression,
    VoteRequest,
)

__all__ = ["MemorySafetyStorage", "SafetyRules", "check_hrs", "safe_to_sign_proposal", "safe_to_vote"]

_VOTE_STEP = {int(VoteType.PREVOTE): Step.PREVOTE, int(VoteType.PRECOMMIT): Step.PRECOMMIT}


def check_hrs(data: SafetyData, height: int, round_: int, step: int, sign_bytes: bytes) -> bool:
    """Compare a request's (height, round, step) with the last signed one.

    Returns:
        True if (height, round, step) is strictly later than the last signed
        one (sign it); False if it is the same (height, round, step) with the
        same sign-bytes (return the stored signature).

    Raises:
        HeightRegression: ``height`` below the last signed height.
        RoundRegression: same height, lower round.
        StepRegression: same height and round, lower step.
        DoubleSignRefused: same (height, round, step), different sign-bytes.
    """
    if height != data.height:
        if height < data.height:
            raise HeightRegression(height, data.height)
        return True
    if round_ != data.round:
        if round_ < data.round:
            raise RoundRegression(height, round_, data.round)
        return True
    if step != data.step:
        if step < data.step:
            raise StepRegression(height, round_, step, data.step)
        return True
    if sign_bytes != data.sign_bytes:
        raise DoubleSignRefused(height, round_, step)
    return False


def safe_to_sign_proposal(data: SafetyData, request: ProposalRequest, sign_bytes: bytes) -> bool:
    """Is it safe to sign this proposal?  Conditions, in order:

    1. ``-1 <= pol_round < round`` (a proof-of-lock round lies in the past);
    2. ``block_id`` is 32 bytes (a proposal is never nil);
    3. :func:`check_hrs` at step PROPOSE: strictly after the last signature,
       or an exact repeat of it.

    Returns True to sign anew, False to return the stored signature.

    Raises:
        InvalidSignRequest: 1 or 2 fails.
        HeightRegression, RoundRegression, StepRegression, DoubleSignRefused: 3 fails.
    """
    if not -1 <= request.pol_round < request.round:
        raise InvalidSignRequest(f"pol_round {request.pol_round} must be in [-1, round {request.round})")
    if len(request.block_id) != 32:
        raise InvalidSignRequest("a proposal needs a 32-byte block id")
    return check_hrs(data, request.height, request.round, Step.PROPOSE, sign_bytes)


def safe_to_vote(data: SafetyData, request: VoteRequest, sign_bytes: bytes) -> bool:
    """Is it safe to sign this prevote or precommit?  Conditions, in order:

    1. ``type`` is PREVOTE or PRECOMMIT;
    2. ``block_id`` is nil (empty) or 32 bytes;
    3. :func:`check_hrs` at the vote's step: strictly after the last
       signature (so one vote per height/round/type, and never a prevote
       after a precommit of the same round), or an exact repeat of it.

    Returns True to sign anew, False to return the stored signature.

    Raises:
        InvalidSignRequest: 1 or 2 fails.
        HeightRegression, RoundRegression, StepRegression, DoubleSignRefused: 3 fails.
    """
    step = _VOTE_STEP.get(request.type)
    if step is None:
        raise InvalidSignRequest(f"unknown vote type {request.type}")
    if len(request.block_id) not in (0, 32):
        raise InvalidSignRequest("block_id must be empty (nil) or 32 bytes")
    return check_hrs(data, request.height, request.round, step, sign_bytes)


class SafetyRules(Signer):
    """Holds the key; signs only what the predicates allow, persisting first.

    Args:
        key: the validator's signing key.
        storage: where :class:`SafetyData` lives; loaded once here.
        chain_id: baked into every sign-bytes; requests cannot change it.

    Raises:
        SafetyStorageError: the storage holds something unreadable.
    """

    def __init__(self, key: PrivateKey, storage: SafetyStorage, chain_id: str):
        self._key = key
        self._storage = storage
        self._chain_id = chain_id
        self._address = key.address
        loaded = storage.load()
        self._data = loaded if loaded is not None else SafetyData.initial()

    @property
    def address(self) -> bytes:
        return self._address

    @property
    def data(self) -> SafetyData:
        """The last persisted safety data (read-only copy)."""
        return self._data

    def sign_proposal(self, request: ProposalRequest) -> bytes:
        msg = proposal_sign_bytes(self._chain_id, request.height, request.round, request.block_id,
                                  request.pol_round)
        fresh = safe_to_sign_proposal(self._data, request, msg)
        return self._sign(fresh, request.height, request.round, Step.PROPOSE, msg)

    def sign_vote(self, request: VoteRequest) -> bytes:
        msg = vote_sign_bytes(self._chain_id, request.type, request.height, request.round, request.block_id)
        fresh = safe_to_vote(self._data, request, msg)
        return self._sign(fresh, request.height, request.round, _VOTE_STEP[request.type], msg)

    def _sign(self, fresh: bool, height: int, round_: int, step: int, msg: bytes) -> bytes:
        if not fresh:
            return self._data.signature
        update = replace(self._data, height=height, round=round_, step=int(step), sign_bytes=msg, signature=b"")
        signature = self._key.sign(msg)
        update = replace(update, signature=signature)
        try:
            self._storage.save(update)
        except SafetyStorageError:
            raise
        except Exception as exc:  # any failure to persist: release nothing
            raise SafetyStorageError(f"could not persist safety data: {type(exc).__name__}: {exc}") from exc
        self._data = update
        return signature


class MemorySafetyStorage(SafetyStorage):
    """Safety data kept in memory (tests and the simulator; survives "crashes" of
    the object that uses it, not of the process)."""

    def __init__(self) -> None:
        self._blob: bytes | None = None
        self.writes = 0

    def load(self) -> SafetyData | None:
        if self._blob is None:
            return None
        try:
            return SafetyData.decode(self._blob)
        except DecodeError as exc:  # pragma: no cover - only our own encoding is ever stored
            raise SafetyStorageError(f"stored safety data is unreadable: {exc}") from None

    def save(self, data: SafetyData) -> None:
        self._blob = data.encode()
        self.writes += 1
