"""Genesis: the chain's first state, from a JSON document.

Owns: parsing and validating the genesis document (chain id, genesis time,
validators, assets with their issuers, accounts with roles and balances), its
hash, and the initial state writes plus state-root accumulator.  Never reads
files: the caller passes the parsed JSON.

Genesis JSON::

    {"chain_id": "settle-devnet", "genesis_time_ms": 0,
     "validators": [{"name": "node0", "pubkey": "<64 hex>", "power": 10}],
     "assets":     [{"symbol": "USD", "decimals": 6, "issuer": "st..."}],
     "accounts":   [{"name": "alice", "address": "st...", "roles": ["participant"],
                     "balances": {"USD": 1000000}}]}

``name`` fields are labels for people and are not part of the genesis hash.
The hash is sha256 of the canonical encoding of the normalised document
(accounts and assets sorted, balances as sorted pairs).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ledger.codec import encode
from ledger.errors import InvalidInput
from ledger.hashing import sha256
from ledger.keys import parse_address
from ledger.validators import Validator, ValidatorSet

from .accounts import (
    CHAIN,
    MAX_AMOUNT,
    ROLES,
    SYMBOL_RE,
    VALIDATORS,
    Account,
    Asset,
    ChainParams,
    put_account,
    put_asset,
    set_balance,
)
from .state import DictView, State, StateTree

__all__ = ["Genesis", "GenesisError", "validator_set"]


class GenesisError(InvalidInput, ValueError):
    """The genesis document is malformed or inconsistent."""


def _req(doc: dict, key: str, typ: type, where: str) -> Any:
    if key not in doc:
        raise GenesisError(f"{where}: missing field {key!r}")
    v = doc[key]
    if typ is int and (type(v) is not int):
        raise GenesisError(f"{where}.{key}: expected an integer")
    if typ is not int and not isinstance(v, typ):
        raise GenesisError(f"{where}.{key}: expected {typ.__name__}")
    return v


@dataclass(frozen=True)
class Genesis:
    chain_id: str
    genesis_time_ms: int
    validators: tuple[Validator, ...]
    assets: tuple[tuple[str, int, bytes], ...]  # (symbol, decimals, issuer)
    accounts: tuple[tuple[bytes, tuple[str, ...], tuple[tuple[str, int], ...]], ...]
    doc: dict
    # chain-wide consensus parameters every validator must share (sorted (name, value) pairs; absent:
    # the consensus defaults).  Part of the genesis hash only when present, so older documents keep theirs.
    consensus_params: tuple[tuple[str, int], ...] = ()

    @classmethod
    def from_json(cls, doc: dict) -> "Genesis":
        """Validate a parsed genesis JSON document; raises GenesisError."""
        if not isinstance(doc, dict):
            raise GenesisError("genesis must be a JSON object")
        chain_id = _req(doc, "chain_id", str, "genesis")
        if not 0 < len(chain_id) <= 64:
            raise GenesisError("genesis.chain_id must have 1..64 characters")
        gtime = _req(doc, "genesis_time_ms", int, "genesis")
        vals = []
        for i, v in enumerate(_req(doc, "validators", list, "genesis")):
            where = f"validators[{i}]"
            try:
                pk = bytes.fromhex(_req(v, "pubkey", str, where))
            except ValueError:
                raise GenesisError(f"{where}.pubkey is not hex") from None
            power = _req(v, "power", int, where)
            if len(pk) != 32 or not 1 <= power <= 2**40:
                raise GenesisError(f"{where}: pubkey must be 32 bytes and power in [1, 2**40]")
            vals.append(Validator(pk, power))
        try:
            vset = ValidatorSet(vals)
        except ValueError as exc:
            raise GenesisError(f"validators: {exc}") from None
        accounts: dict[bytes, tuple] = {}
        for i, a in enumerate(_req(doc, "accounts", list, "genesis")):
            where = f"accounts[{i}]"
            try:
                addr = parse_address(_req(a, "address", str, where))
            except ValueError as exc:
                raise GenesisError(f"{where}: {exc}") from None
            if addr in accounts:
                raise GenesisError(f"{where}: duplicate account")
            roles = _req(a, "roles", list, where)
            if not roles or any(r not in ROLES for r in roles) or len(set(roles)) != len(roles):
                raise GenesisError(f"{where}.roles: a non-empty list of distinct roles from {ROLES}")
            bal = a.get("balances", {})
            if not isinstance(bal, dict):
                raise GenesisError(f"{where}.balances: expected an object")
            for sym, amt in bal.items():
                if type(amt) is not int or not 0 <= amt <= MAX_AMOUNT:
                    raise GenesisError(f"{where}.balances.{sym}: amount must be an integer in [0, 2**63)")
            pairs = tuple(sorted((s, n) for s, n in bal.items() if n))
            accounts[addr] = (addr, tuple(sorted(roles)), pairs)
        assets: dict[str, tuple] = {}
        for i, s in enumerate(_req(doc, "assets", list, "genesis")):
            where = f"assets[{i}]"
            sym = _req(s, "symbol", str, where)
            dec = _req(s, "decimals", int, where)
            try:
                issuer = parse_address(_req(s, "issuer", str, where))
            except ValueError as exc:
                raise GenesisError(f"{where}: {exc}") from None
            if not SYMBOL_RE.match(sym) or not 0 <= dec <= 18 or sym in assets:
                raise GenesisError(f"{where}: symbol must match {SYMBOL_RE.pattern}, be unique, decimals 0..18")
            if issuer not in accounts or "issuer" not in accounts[issuer][1]:
                raise GenesisError(f"{where}: issuer must be a genesis account with the issuer role")
            assets[sym] = (sym, dec, issuer)
        supply: dict[str, int] = {s: 0 for s in assets}
        for addr, _, pairs in accounts.values():
            for sym, amt in pairs:
                if sym not in assets:
                    raise GenesisError(f"account balance in unknown asset {sym}")
                supply[sym] += amt
        for sym, total in supply.items():
            if total > MAX_AMOUNT:
                raise GenesisError(f"genesis supply of {sym} exceeds {MAX_AMOUNT}")
        if not any("admin" in roles for _, roles, _ in accounts.values()):
            raise GenesisError("genesis needs at least one admin account")
        return cls(
            chain_id,
            gtime,
            vset.validators,
            tuple(assets[s] for s in sorted(assets)),
            tuple(accounts[a] for a in sorted(accounts)),
            doc,
            _consensus_params(doc),
        )

    def canonical(self) -> list:
        out = [
            self.chain_id,
            self.genesis_time_ms,
            [v.to_obj() for v in self.validators],
            [list(a) for a in self.assets],
            [[addr, list(roles), [list(p) for p in pairs]] for addr, roles, pairs in self.accounts],
        ]
        if self.consensus_params:
            out.append([list(p) for p in self.consensus_params])
        return out

    @property
    def hash(self) -> bytes:
        return sha256(encode(self.canonical()))

    def validator_set(self) -> ValidatorSet:
        return ValidatorSet(self.validators)

    def initial_state(self) -> tuple[dict[bytes, bytes | None], StateTree]:
        """The state writes of genesis and the state tree of that state (version 0, in memory)."""
        state = State(DictView())
        state.put(CHAIN, ChainParams(self.chain_id, self.genesis_time_ms, self.hash).encode())
        state.put(VALIDATORS, encode([v.to_obj() for v in self.validators]))
        supply = {sym: 0 for sym, _, _ in self.assets}
        for addr, roles, pairs in self.accounts:
            put_account(state, addr, Account(roles, 0))
            for sym, amt in pairs:
                set_balance(state, addr, sym, amt)
                supply[sym] += amt
        for sym, dec, issuer in self.assets:
            put_asset(state, Asset(sym, dec, issuer, supply[sym]))
        return state.finish(StateTree.empty(), 0)


CONSENSUS_PARAMS = {  # name -> (min, max); meaning and defaults: consensus/config.py
    "pbts_precision_ms": (1, 3_600_000),  # proposer-based timestamps: clock precision
    "pbts_message_delay_ms": (1, 3_600_000),  # proposer-based timestamps: message delay in round 0
}


def _consensus_params(doc: dict) -> tuple[tuple[str, int], ...]:
    params = doc.get("consensus_params", {})
    if not isinstance(params, dict):
        raise GenesisError("genesis.consensus_params: expected an object")
    for name, v in params.items():
        if name not in CONSENSUS_PARAMS:
            raise GenesisError(f"genesis.consensus_params.{name}: unknown (known: {', '.join(sorted(CONSENSUS_PARAMS))})")
        lo, hi = CONSENSUS_PARAMS[name]
        if type(v) is not int or not lo <= v <= hi:
            raise GenesisError(f"genesis.consensus_params.{name}: must be an integer in [{lo}, {hi}]")
    return tuple(sorted(params.items()))


def validator_set(genesis: Genesis) -> ValidatorSet:
    return genesis.validator_set()
