"""Read-only queries over committed state for RPC and the CLI.

Owns: turning stored records into plain dicts (addresses as ``st...`` strings,
amounts as integers).  Takes a view that can also iterate a key prefix in
sorted order; never writes.
"""
from __future__ import annotations

from typing import Iterator, Protocol

from ledger.codec import decode
from ledger.keys import format_address

from .accounts import ASSET, BALANCE, Account, Asset, account_key

__all__ = ["IterableView", "account_info", "asset_list"]


class IterableView(Protocol):
    def get(self, key: bytes) -> bytes | None: ...

    def iterate(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]: ...


def account_info(view: IterableView, addr: bytes) -> dict | None:
    raw = view.get(account_key(addr))
    if raw is None:
        return None
    acct = Account.decode(raw)
    prefix = BALANCE + addr + b"/"
    balances = {k[len(prefix):].decode(): decode(v) for k, v in view.iterate(prefix)}
    return {
        "address": format_address(addr),
        "roles": list(acct.roles),
        "nonce": acct.nonce,
        "balances": balances,
    }


def asset_list(view: IterableView) -> list[dict]:
    out = []
    for _, v in view.iterate(ASSET):
        a = Asset.decode(v)
        out.append({"symbol": a.symbol, "decimals": a.decimals, "issuer": format_address(a.issuer), "supply": a.supply})
    return out
