"""Accounts, assets and balances: the state layout and typed access to it.

Owns: the settlement state keys (one place), the :class:`Account` and
:class:`Asset` records, and the helpers that read and write them through a
:class:`~settlement.state.State`.  Never decides whether an operation is
allowed: that is the job of the transaction modules (``transfers.py``...).

State keys (all bytes; the store adds its own versioned prefix):

====================================  =====================================
``a/`` + address(20)                  Account(roles, nonce)
``b/`` + address(20) + ``/`` + sym    balance: int > 0 (absent when zero)
``t/`` + sym                          Asset(symbol, decimals, issuer, supply)
``c/chain``                           ChainParams
``c/validators``                      the validator set (list of Validator)
====================================  =====================================
"""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Annotated

from ledger.codec import Len, MaxLen, Range, Record, decode, encode
from ledger.tx import Address

from .errors import StateCorrupt
from .state import State

__all__ = [
    "Account",
    "Asset",
    "ChainParams",
    "MAX_AMOUNT",
    "ROLES",
    "SYMBOL_RE",
]

MAX_AMOUNT = 2**63 - 1  # every balance, supply and amount fits in a signed 64-bit int
ROLES = ("admin", "issuer", "oracle", "participant")
SYMBOL_RE = re.compile(r"^[A-Z][A-Z0-9]{0,11}$")

ACCOUNT = b"a/"
BALANCE = b"b/"
ASSET = b"t/"
CHAIN = b"c/chain"
VALIDATORS = b"c/validators"


@dataclass(frozen=True, slots=True)
class Account(Record):
    roles: Annotated[list[str], MaxLen(len(ROLES))]
    nonce: Annotated[int, Range(0, 2**63 - 1)]

    def has(self, role: str) -> bool:
        return role in self.roles


@dataclass(frozen=True, slots=True)
class Asset(Record):
    symbol: Annotated[str, MaxLen(16)]
    decimals: Annotated[int, Range(0, 18)]
    issuer: Address
    supply: Annotated[int, Range(0, MAX_AMOUNT)]


@dataclass(frozen=True, slots=True)
class ChainParams(Record):
    chain_id: Annotated[str, MaxLen(64)]
    genesis_time_ms: Annotated[int, Range(0, 2**63 - 1)]
    genesis_hash: Annotated[bytes, Len(32)]


# --------------------------------------------------------------------------- keys


def account_key(addr: bytes) -> bytes:
    return ACCOUNT + addr


def balance_key(addr: bytes, symbol: str) -> bytes:
    return BALANCE + addr + b"/" + symbol.encode()


def asset_key(symbol: str) -> bytes:
    return ASSET + symbol.encode()


# --------------------------------------------------------------------------- typed access


# Decoding is a pure function of the stored bytes and records are immutable,
# so a decoded value is shared by every later read of the same bytes (the hot
# accounts of a busy block are decoded once, not once per read).  One memo per
# class (int: balances), keyed by the bytes alone; each bounded and
# cleared wholesale when full.  Never affects results, only speed.
_DECODED: defaultdict[type, dict[bytes, object]] = defaultdict(dict)
_DECODED_MAX = 65_536  # per class: a few blocks' working set; ~15 MB at most
_ACCOUNTS = _DECODED[Account]
_BALANCES = _DECODED[int]


def _load(state: State, key: bytes, cls, memo: dict | None = None):
    raw = state.get(key)
    if raw is None:
        return None
    if memo is None:
        memo = _DECODED[cls]
    rec = memo.get(raw)
    if rec is None:
        try:
            rec = cls.decode(raw)
        except ValueError as exc:
            raise StateCorrupt(f"state key {key!r}: {exc}") from None
        _remember(memo, raw, rec)
    return rec


def get_account(state: State, addr: bytes) -> Account | None:
    return _load(state, account_key(addr), Account, _ACCOUNTS)


def _remember(memo: dict, raw: bytes, value) -> None:
    if len(memo) >= _DECODED_MAX:
        memo.clear()
    memo[raw] = value


def put_account(state: State, addr: bytes, acct: Account) -> None:
    # the record must be one decoding would give back (it is remembered as such)
    if not 0 <= acct.nonce <= MAX_AMOUNT or len(acct.roles) > len(ROLES):
        raise StateCorrupt(f"account {addr.hex()} record out of range: {acct}")
    raw = acct.encode()
    _remember(_ACCOUNTS, raw, acct)  # the next read of this account needs no decode
    state.put(account_key(addr), raw)


def get_asset(state: State, symbol: str) -> Asset | None:
    return _load(state, asset_key(symbol), Asset)


def put_asset(state: State, asset: Asset) -> None:
    state.put(asset_key(asset.symbol), asset.encode())


def get_balance(state: State, addr: bytes, symbol: str) -> int:
    raw = state.get(balance_key(addr, symbol))
    if raw is None:
        return 0
    value = _BALANCES.get(raw)
    if value is None:
        try:
            value = decode(raw)
        except ValueError as exc:
            raise StateCorrupt(f"balance of {addr.hex()} in {symbol}: {exc}") from None
        _remember(_BALANCES, raw, value)
    if type(value) is not int or value <= 0:
        raise StateCorrupt(f"balance of {addr.hex()} in {symbol} is {value!r}")
    return value


def set_balance(state: State, addr: bytes, symbol: str, amount: int) -> None:
    if amount < 0 or amount > MAX_AMOUNT:
        raise StateCorrupt(f"balance {amount} of {addr.hex()} in {symbol} out of range")
    key = balance_key(addr, symbol)
    if amount:
        raw = encode(amount)
        _remember(_BALANCES, raw, amount)
        state.put(key, raw)
    else:
        state.put(key, None)


def get_chain_params(state: State) -> ChainParams:
    params = _load(state, CHAIN, ChainParams)
    if params is None:
        raise StateCorrupt("chain parameters missing: state has no genesis")
    return params
