"""Body records of every transaction kind (pure data; meaning lives in settlement/).

Owns: the field layout of each kind's body.  Each record is registered under
its kind name with :func:`ledger.tx.register_kind`.  Validation here is only
structural (types and lengths); amounts, roles and permissions are checked by
the settlement state machine, which gives a receipt with the reason.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from .codec import MaxLen, Range, Record
from .tx import Address, Amount, Symbol, register_kind

__all__ = ["CreateAsset", "Issue", "RegisterAccount", "Transfer"]

Role = Annotated[str, MaxLen(16)]


@register_kind("register_account")
@dataclass(frozen=True, slots=True)
class RegisterAccount(Record):
    """Admin grants ``role`` to ``address`` (creating the account if new)."""

    address: Address
    role: Role


@register_kind("create_asset")
@dataclass(frozen=True, slots=True)
class CreateAsset(Record):
    """Admin creates a new asset with a fixed issuer and number of decimals."""

    symbol: Symbol
    decimals: Annotated[int, Range(0, 18)]
    issuer: Address


@register_kind("issue")
@dataclass(frozen=True, slots=True)
class Issue(Record):
    """The asset's issuer mints ``amount`` base units to ``to``."""

    asset: Symbol
    amount: Amount
    to: Address


@register_kind("transfer")
@dataclass(frozen=True, slots=True)
class Transfer(Record):
    """Move ``amount`` base units of ``asset`` from the sender to ``to``."""

    to: Address
    asset: Symbol
    amount: Amount
    memo: Annotated[str, MaxLen(256)]

from . import txkinds_risk  # noqa: E402,F401  (risk-engine kinds register themselves)
