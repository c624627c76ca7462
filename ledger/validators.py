"""The validator set: public keys and voting powers, fixed at genesis.

Owns: :class:`Validator`, :class:`ValidatorSet` (sorted by address, no
duplicates, positive powers), its hash, and the quorum arithmetic (> 2/3 of
the total power, computed in integers).  This is the one place the validator
set lives; consensus and certificate checks take it as an argument.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Annotated

from .codec import Len, Range, Record, encode
from .hashing import sha256
from .keys import address_from_pubkey

__all__ = ["Validator", "ValidatorSet"]


@dataclass(frozen=True, slots=True)
class Validator(Record):
    pubkey: Annotated[bytes, Len(32)]
    power: Annotated[int, Range(1, 2**40)]

    @property
    def address(self) -> bytes:
        return address_from_pubkey(self.pubkey)


class ValidatorSet:
    """An immutable, address-ordered set of validators."""

    def __init__(self, validators: list[Validator] | tuple[Validator, ...]):
        vs = sorted(validators, key=lambda v: v.address)
        if not vs:
            raise ValueError("a validator set needs at least one validator")
        addrs = [v.address for v in vs]
        if len(set(addrs)) != len(addrs):
            raise ValueError("duplicate validator")
        self.validators: tuple[Validator, ...] = tuple(vs)
        self.by_address: dict[bytes, Validator] = dict(zip(addrs, vs))
        self.index: dict[bytes, int] = {a: i for i, a in enumerate(addrs)}
        self.total_power: int = sum(v.power for v in vs)

    def __len__(self) -> int:
        return len(self.validators)

    def __contains__(self, address: bytes) -> bool:
        return address in self.by_address

    @cached_property
    def hash(self) -> bytes:
        return sha256(encode([v.to_obj() for v in self.validators]))

    def power_of(self, address: bytes) -> int:
        v = self.by_address.get(address)
        return v.power if v else 0

    def is_quorum(self, power: int) -> bool:
        """True iff ``power`` is strictly more than 2/3 of the total."""
        return 3 * power > 2 * self.total_power

    def is_one_third(self, power: int) -> bool:
        """True iff ``power`` is strictly more than 1/3 of the total (f+1)."""
        return 3 * power > self.total_power

    def to_obj(self) -> list:
        return [v.to_obj() for v in self.validators]
