"""Transactions of the permissioned asset ledger: accounts, assets, issue, transfer.

Owns the rules of ``register_account``, ``create_asset``, ``issue`` and
``transfer``.  Each handler checks everything first and writes last, takes
``(state, ctx, sender, body)`` and returns the events of its receipt, or
raises a :class:`~settlement.errors.SettlementError` naming the rule broken
(the state machine then reverts whatever the handler wrote); a handler never
checks signatures or nonces (the state machine did).

Conservation: ``issue`` is the only way supply grows, and it grows the
asset's ``supply`` by exactly what it credits; ``transfer`` debits and credits
the same amount.  So for every asset, supply == sum of balances (plus, once
the risk engine lands, what is held in margin, HTLCs and the insurance fund).
"""
from __future__ import annotations

from ledger.keys import format_address
from ledger.receipt import Event
from ledger.txkinds import CreateAsset, Issue, RegisterAccount, Transfer

from .accounts import (
    MAX_AMOUNT,
    ROLES,
    SYMBOL_RE,
    Account,
    Asset,
    get_account,
    get_asset,
    get_balance,
    put_account,
    put_asset,
    set_balance,
)
from .context import BlockContext
from .errors import (
    AlreadyExists,
    BadAmount,
    InsufficientBalance,
    InvalidParameter,
    NotPermitted,
    NotRegistered,
    UnknownAsset,
)
from .state import State

__all__ = ["check_amount", "require_registered", "require_role"]


def check_amount(amount: int) -> None:
    """Raise BadAmount unless 0 < amount <= MAX_AMOUNT."""
    if amount <= 0:
        raise BadAmount(f"amount must be positive, got {amount}")
    if amount > MAX_AMOUNT:
        raise BadAmount(f"amount {amount} exceeds the maximum {MAX_AMOUNT}")


def require_role(state: State, addr: bytes, role: str) -> Account:
    acct = get_account(state, addr)
    if acct is None or not acct.has(role):
        raise NotPermitted(f"{format_address(addr)} does not have the {role} role")
    return acct


def require_registered(state: State, addr: bytes, what: str = "recipient") -> Account:
    acct = get_account(state, addr)
    if acct is None:
        raise NotRegistered(f"{what} {format_address(addr)} is not a registered account")
    return acct


def require_spendable(state: State, addr: bytes, symbol: str, amount: int) -> int:
    """The spendable balance of ``addr`` in ``symbol``; raise InsufficientBalance if below ``amount``."""
    have = get_balance(state, addr, symbol)
    if have < amount:
        raise InsufficientBalance(f"balance {have} {symbol} is less than {amount}")
    return have


def require_asset(state: State, symbol: str) -> Asset:
    asset = get_asset(state, symbol)
    if asset is None:
        raise UnknownAsset(f"unknown asset {symbol!r}")
    return asset


def register_account(state: State, ctx: BlockContext, sender: bytes, body: RegisterAccount) -> list[Event]:
    require_role(state, sender, "admin")
    if body.role not in ROLES:
        raise InvalidParameter(f"unknown role {body.role!r}; roles are {', '.join(ROLES)}")
    acct = get_account(state, body.address)
    if acct is None:
        acct = Account(roles=(body.role,), nonce=0)
    elif acct.has(body.role):
        raise AlreadyExists(f"{format_address(body.address)} already has the {body.role} role")
    else:
        acct = Account(roles=tuple(sorted(acct.roles + (body.role,))), nonce=acct.nonce)
    put_account(state, body.address, acct)
    return [Event("account_registered", {"address": body.address, "role": body.role})]


def create_asset(state: State, ctx: BlockContext, sender: bytes, body: CreateAsset) -> list[Event]:
    require_role(state, sender, "admin")
    if not SYMBOL_RE.match(body.symbol):
        raise InvalidParameter(f"asset symbol {body.symbol!r} must match {SYMBOL_RE.pattern}")
    if get_asset(state, body.symbol) is not None:
        raise AlreadyExists(f"asset {body.symbol} already exists")
    require_role(state, body.issuer, "issuer")
    put_asset(state, Asset(body.symbol, body.decimals, body.issuer, 0))
    return [Event("asset_created", {"symbol": body.symbol, "decimals": body.decimals, "issuer": body.issuer})]


def issue(state: State, ctx: BlockContext, sender: bytes, body: Issue) -> list[Event]:
    check_amount(body.amount)
    asset = require_asset(state, body.asset)
    if asset.issuer != sender:
        raise NotPermitted(f"only the issuer {format_address(asset.issuer)} may issue {asset.symbol}")
    require_role(state, sender, "issuer")
    require_registered(state, body.to)
    if asset.supply + body.amount > MAX_AMOUNT:
        raise BadAmount(f"issuing {body.amount} would take the supply of {asset.symbol} over {MAX_AMOUNT}")
    put_asset(state, Asset(asset.symbol, asset.decimals, asset.issuer, asset.supply + body.amount))
    set_balance(state, body.to, asset.symbol, get_balance(state, body.to, asset.symbol) + body.amount)
    return [Event("issued", {"asset": asset.symbol, "amount": body.amount, "to": body.to})]


def transfer(state: State, ctx: BlockContext, sender: bytes, body: Transfer) -> list[Event]:
    check_amount(body.amount)
    require_asset(state, body.asset)
    require_registered(state, body.to)
    have = require_spendable(state, sender, body.asset, body.amount)
    set_balance(state, sender, body.asset, have - body.amount)
    set_balance(state, body.to, body.asset, get_balance(state, body.to, body.asset) + body.amount)
    return [Event("transfer", {"from": sender, "to": body.to, "asset": body.asset, "amount": body.amount})]


HANDLERS = {
    "register_account": register_account,
    "create_asset": create_asset,
    "issue": issue,
    "transfer": transfer,
}
