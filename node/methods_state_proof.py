"""The "state" kind of the ``proof`` RPC method: one state entry (or its absence) and its Merkle path.

Owns the parameters of a state proof request (a raw state key, or a named
entry mapped to its key by the settlement module that owns it) and the
``proof`` part of the answer: the key, the path fields
(``ledger.statetree.StatePath``) and the :class:`~ledger.statetree.StateProof`'s
canonical bytes.  :func:`state_kind` is the ``"state"`` entry of
``node.methods_proof.PROOF_KINDS``: the dispatcher adds the header whose
``state_root`` the path leads to, its commit certificate and the validator
set, in the same shape as every other kind.

Never decides whether a proof is valid (``ledger.statetree.verify_state``
does, on the client's side) and never spells a state key itself.

Params::

    {"kind": "state", "key": HEX, "height": H (optional, default latest)}
    {"kind": "state", "key": {"entry": "balance", "address": ADDR, "asset": SYM}, ...}
    {"kind": "state", "key": {"entry": "position", "address": ADDR, "market": MARKET}, ...}
    {"kind": "state", "key": {"entry": "htlc", "id": HEX}, ...}
    {"kind": "state", "key": {"entry": "account", "address": ADDR}, ...}

Answer's ``proof``::

    {"key": HEX, "depth": D, "present": HEX, "siblings": [HEX, ...], "other": HEX,
     "state_proof": HEX (the StateProof's canonical bytes: key, value, path)}
"""
from __future__ import annotations

from typing import Any

from ledger.keys import parse_address
from settlement.accounts import account_key, balance_key
from settlement.risk.records import htlc_key, pos_key

from .methods import INVALID_PARAMS, NOT_FOUND, RPCError, RpcApi, _height, _param

__all__ = ["NAMED_ENTRIES", "state_key_of", "state_kind"]


def _address(entry: dict) -> bytes:
    try:
        return parse_address(entry.get("address"))
    except ValueError as exc:
        raise RPCError(INVALID_PARAMS, f"key.address: {exc}") from None


def _text(entry: dict, name: str) -> str:
    v = entry.get(name)
    if not isinstance(v, str) or not v:
        raise RPCError(INVALID_PARAMS, f"key.{name} must be a non-empty string")
    return v


def _htlc(entry: dict) -> bytes:
    try:
        hid = bytes.fromhex(_text(entry, "id"))
    except ValueError:
        raise RPCError(INVALID_PARAMS, "key.id must be hex") from None
    if len(hid) != 32:
        raise RPCError(INVALID_PARAMS, "key.id must be 32 bytes")
    return htlc_key(hid)


# Named entry -> its state key (each key builder belongs to the settlement module owning the entry).
NAMED_ENTRIES = {
    "account": lambda e: account_key(_address(e)),
    "balance": lambda e: balance_key(_address(e), _text(e, "asset")),
    "htlc": _htlc,
    "position": lambda e: pos_key(_address(e), _text(e, "market")),
}


def state_key_of(key: Any) -> bytes:
    """The state key a ``key`` parameter names: hex, or ``{"entry": NAME, ...}``."""
    if isinstance(key, str):
        try:
            return bytes.fromhex(key)
        except ValueError:
            raise RPCError(INVALID_PARAMS, "parameter 'key' must be hex or a named entry") from None
    if isinstance(key, dict):
        build = NAMED_ENTRIES.get(key.get("entry"))
        if build is None:
            raise RPCError(INVALID_PARAMS, f"key.entry must be one of {', '.join(sorted(NAMED_ENTRIES))}")
        return build(key)
    raise RPCError(INVALID_PARAMS, "parameter 'key' must be hex or a named entry")


def state_kind(api: RpcApi, params) -> tuple[int, bytes | None, dict]:
    """``(height, value or None, proof)`` of one state entry after the block at ``height`` (default latest)."""
    if not isinstance(params, dict):
        raise RPCError(INVALID_PARAMS, "params must be an object")
    key = state_key_of(_param(params, "key", object))
    chain = api.chain
    height = _height(chain, params, pos=None)
    try:
        tree = chain.state_tree(height)
    except KeyError:
        raise RPCError(NOT_FOUND, f"the state at height {height} is no longer kept (latest is {chain.height})") from None
    proof = tree.prove(key)
    path = proof.path
    return height, proof.value, {
        "key": key.hex(),
        "depth": path.depth,
        "present": path.present.hex(),
        "siblings": [s.hex() for s in path.siblings],
        "other": path.other.hex(),
        "state_proof": proof.encode().hex(),
    }
