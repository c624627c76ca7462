"""Shared fakes for consensus tests: a caching signature verifier, a safety storage
that fails at write k, and deterministic validator keys.

Never: sleeps, reads the clock, or keeps state between tests beyond pure caches
(keys derived from names, verification results of identical inputs).
"""
from __future__ import annotations

import hashlib
from functools import lru_cache

from consensus.interfaces import SafetyData, SafetyStorage, SafetyStorageError
from consensus.safety import MemorySafetyStorage
from ledger.codec import DecodeError, decode
from ledger.keys import PrivateKey, verify
from ledger.validators import Validator, ValidatorSet

CHAIN_ID = "settle-sim"

#: Simulated wall-clock time (Unix ms) at scheduler time 0; the chain's genesis time.
GENESIS_TIME_MS = 1_700_000_000_000


def block_id_of(block: bytes) -> bytes:
    """Block ids in the simulator: sha256 of the opaque block bytes."""
    return hashlib.sha256(block).digest()


def block_time_of(block: bytes) -> int:
    """The time field of a simulated block (``tests/sim/app.py``); ValueError if it has none."""
    try:
        obj = decode(block)
    except DecodeError:
        raise ValueError("not a simulated block") from None
    if type(obj) is not list or len(obj) != 6 or obj[0] != "sim-block" or type(obj[5]) is not int:
        raise ValueError("not a simulated block")
    return obj[5]


@lru_cache(maxsize=None)
def validator_key(i: int) -> PrivateKey:
    return PrivateKey.from_name(f"sim-validator-{i}")


def make_validators(n: int, powers: list[int] | None = None) -> tuple[list[PrivateKey], ValidatorSet]:
    """``n`` keys (index order) and their validator set (address order)."""
    keys = [validator_key(i) for i in range(n)]
    powers = powers or [1] * n
    return keys, ValidatorSet([Validator(k.pubkey, p) for k, p in zip(keys, powers)])


class CachedVerifier:
    """``ledger.keys.verify`` with memoised results: in the simulator every broadcast
    message is checked by every receiver, and ed25519 costs ~55 us per check."""

    def __init__(self) -> None:
        self._seen: dict[tuple[bytes, bytes, bytes], bool] = {}
        self.calls = 0
        self.misses = 0

    def __call__(self, pubkey: bytes, message: bytes, signature: bytes) -> bool:
        self.calls += 1
        key = (pubkey, message, signature)
        ok = self._seen.get(key)
        if ok is None:
            self.misses += 1
            ok = self._seen[key] = verify(pubkey, message, signature)
        return ok


class FailingSafetyStorage(SafetyStorage):
    """Wraps a storage and fails its ``fail_at``-th save (1-based), and every later one
    if ``sticky``.  ``torn``: the failing save still reaches the inner storage (the
    crash hit after the data became durable but before the caller learned it)."""

    def __init__(self, inner: SafetyStorage | None = None, fail_at: int | None = None,
                 sticky: bool = False, torn: bool = False):
        self.inner = inner or MemorySafetyStorage()
        self.fail_at = fail_at
        self.sticky = sticky
        self.torn = torn
        self.saves = 0

    def load(self) -> SafetyData | None:
        return self.inner.load()

    def save(self, data: SafetyData) -> None:
        self.saves += 1
        failing = self.fail_at is not None and (
            self.saves == self.fail_at or (self.sticky and self.saves > self.fail_at))
        if failing:
            if self.torn:
                self.inner.save(data)
            raise SafetyStorageError(f"injected failure at save {self.saves}")
        self.inner.save(data)
