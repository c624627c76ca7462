"""The "state" kind of the ``proof`` RPC method: one state entry, its Merkle path, and what certifies the root.

Owns the parameters of a state proof request (a raw state key, or a named
entry mapped to its key by the settlement module that owns it), and the
JSON answer: the key and value, the path (``ledger.statetree.StatePath``, as
fields and as its canonical bytes), the header whose ``state_root`` it leads
to, that header's commit certificate and the validator set.  The proof
dispatcher (``proof`` method, ``node/methods_proof.py``) calls
:func:`state_proof` for ``"kind": "state"``.

Never decides whether a proof is valid (``ledger.statetree.verify_state``
does, on the client's side) and never spells a state key itself.

Params::

    {"kind": "state", "key": HEX, "height": H (optional, default latest)}
    {"kind": "state", "key": {"entry": "balance", "address": ADDR, "asset": SYM}, ...}
    {"kind": "state", "key": {"entry": "position", "address": ADDR, "market": MARKET}, ...}
    {"kind": "state", "key": {"entry": "htlc", "id": HEX}, ...}
    {"kind": "state", "key": {"entry": "account", "address": ADDR}, ...}
"""
from __future__ import annotations

from typing import Any

from ledger.keys import parse_address
from settlement.accounts import account_key, balance_key
from settlement.risk.records import htlc_key, pos_key

from .methods import INVALID_PARAMS, NOT_FOUND, RPCError, RpcApi, _param, validators
from .render import render_cert, render_header

__all__ = ["NAMED_ENTRIES", "state_key_of", "state_proof"]


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


async def state_proof(api: RpcApi, params) -> dict:
    """The proof of one state entry (or of its absence) after the block at ``height``."""
    if not isinstance(params, dict):
        raise RPCError(INVALID_PARAMS, "params must be an object")
    key = state_key_of(_param(params, "key", object))
    chain = api.chain
    height = _param(params, "height", int, chain.height)
    if not 1 <= height <= chain.height:
        raise RPCError(NOT_FOUND, f"no block at height {height} (latest is {chain.height})")
    try:
        tree = chain.state_tree(height)
    except KeyError:
        raise RPCError(NOT_FOUND, f"the state at height {height} is no longer kept (latest is {chain.height})") from None
    proof = tree.prove(key)
    header = api.blocks.header(height)
    cert = api.blocks.commit_cert(height)
    path = proof.path
    return {
        "kind": "state",
        "height": height,
        "key": key.hex(),
        "value": None if proof.value is None else proof.value.hex(),
        "path": {
            "depth": path.depth,
            "present": path.present.hex(),
            "siblings": [s.hex() for s in path.siblings],
            "other": path.other.hex(),
        },
        "proof": proof.encode().hex(),
        "header": render_header(header),
        "commit": None if cert is None else render_cert(cert),
        "validators": await validators(api, params),
    }
