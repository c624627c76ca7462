"""Whole-state audits: per-asset conservation and per-market position balance.

Owns the definition of "no value created or lost" once the risk engine
exists.  Used by tests, the stress replay and operators; never by the block
transition (a full audit visits every key).

Conservation, per asset ``A``::

    supply(A) == sum balances(A)                 spendable balances
               + sum cash of margin accounts(A)  includes realized PnL, settled funding, penalties;
                                                 the insurance fund's cash is listed apart
               + insurance fund cash(A)
               + funding pool(A)                 settled funding not yet received (>= rounding dust)
               + HTLC locked(A)                  open HTLCs
               + bridge escrow(A)                escrowed for vouchers on other chains (``br/e/``)

Unrealized PnL is not money yet: for every market ``sum_accounts size x
price == 0`` because positions sum to zero (the fund included), so it nets out.
Option premiums and expiry payouts move margin cash between accounts, and
long and short contracts of a series sum to zero too (``positions_balance``).

:func:`solvency` checks that the money is *real*: conservation alone holds even
when an account is left with negative cash and nothing to back it (the
counterparty's gain is then money nobody has).  Per asset::

    spendable(A) = balances(A) + HTLC locked(A) + sum_{accounts != fund} max(0, equity(A))
    claims(A)    = spendable(A) + max(0, equity of the fund(A))
    claims(A) <= supply(A)

``equity`` is ``margin.evaluate``'s (positions at the oracle price, unsettled
funding rounded against the account), so ``sum equity <= sum cash + funding
pool`` and the inequality holds exactly when no account is bankrupt.  It also
lists every account outside the fund with negative cash and no position
(``unbacked``) and every account with positions and negative equity
(``bankrupt``: allowed only while a market it holds is stale, when its
liquidation is paused).

:func:`conservation_delta` checks the same identity on one block's writes only
(``O(writes)``), which is how the stress replay checks every block of a run
with 100,000 accounts.
"""
from __future__ import annotations

from typing import Iterable

from ledger.codec import decode

from .accounts import ASSET, BALANCE, Asset
from .bridge.records import ESCROW
from .context import BlockContext
from .risk.margin import evaluate
from .risk.optrecords import OPOS, OPos
from .risk.records import FUND, HTLC, HTLC_TOTAL, MACC, POOL, POS, Htlc, MAcc, Pos, Session, unpack_int
from .state import DictView, State

__all__ = ["conservation", "conservation_delta", "positions_balance", "solvency"]

_COMPONENTS = ("balances", "margin_cash", "fund_cash", "funding_pool", "htlc_locked", "bridge_escrow")


def _contribution(key: bytes, value: bytes | None) -> tuple[str, str, int] | None:
    """(asset, component, amount) of one state entry, or None if it holds no money."""
    if value is None:
        return None
    if key.startswith(BALANCE):
        return key[len(BALANCE) + 21:].decode(), "balances", decode(value)
    if key.startswith(MACC):
        addr = key[len(MACC):len(MACC) + 20]
        m = MAcc.unpack(value, key)
        return key[len(MACC) + 21:].decode(), "fund_cash" if addr == FUND else "margin_cash", m.cash
    if key.startswith(POOL):
        return key[len(POOL):].decode(), "funding_pool", unpack_int(decode(value))
    if key.startswith(HTLC_TOTAL):
        return key[len(HTLC_TOTAL):].decode(), "htlc_locked", decode(value)
    if key.startswith(ESCROW):
        return key[len(ESCROW):].split(b"/", 1)[0].decode(), "bridge_escrow", decode(value)
    if key.startswith(ASSET):
        a = Asset.decode(value)
        return a.symbol, "supply", a.supply
    return None


def conservation(items: Iterable[tuple[bytes, bytes]]) -> dict[str, dict]:
    """Per-asset totals of every component, ``supply``, and ``ok`` (the identity holds).

    Also cross-checks the HTLC totals against the open HTLC records.
    """
    out: dict[str, dict] = {}
    open_htlc: dict[str, int] = {}
    for key, value in sorted(items):
        if key.startswith(HTLC) and not key.startswith(HTLC_TOTAL):
            h = Htlc.decode(value)
            if h.status == "open":
                open_htlc[h.asset] = open_htlc.get(h.asset, 0) + h.amount
            continue
        c = _contribution(key, value)
        if c is None:
            continue
        asset, comp, amount = c
        row = out.setdefault(asset, dict.fromkeys(_COMPONENTS + ("supply",), 0))
        row[comp] += amount
    for asset, row in out.items():
        held = sum(row[c] for c in _COMPONENTS)
        row["ok"] = held == row["supply"] and row["htlc_locked"] == open_htlc.get(asset, 0)
    return out


def conservation_delta(view, writes: dict[bytes, bytes | None]) -> dict[str, int]:
    """Per asset: change of (money held - supply) over one block's writes; all zero when conserved.

    Args:
        view: the state before the block (``get`` only).
        writes: the block's net writes.
    """
    out: dict[str, int] = {}
    for key in sorted(writes):
        for value, sign in ((view.get(key), -1), (writes[key], 1)):
            c = _contribution(key, value)
            if c is None:
                continue
            asset, comp, amount = c
            out[asset] = out.get(asset, 0) + sign * (-amount if comp == "supply" else amount)
    return out


def positions_balance(items: Iterable[tuple[bytes, bytes]]) -> dict[str, dict]:
    """Per market and per option series: ``net`` (sum of sizes, must be 0), ``longs`` (sum of long sizes), ``holders``.

    Option positions (``r/op/p/``, in contracts, the insurance fund's
    included) are keyed by their series id, which never equals a market id
    (it is ``<market>-<expiry>-<strike>-<C|P>``): long and short contracts of
    a series cancel exactly as long and short lots of a market do.
    """
    out: dict[str, dict] = {}
    for key, value in sorted(items):
        if key.startswith(POS):
            mid = key[len(POS) + 21:].decode()
            p = Pos.unpack(value, key)
        elif key.startswith(OPOS):
            mid = key[len(OPOS) + 21:].decode()
            p = OPos.unpack(value, key)
        else:
            continue
        row = out.setdefault(mid, {"net": 0, "longs": 0, "holders": 0})
        row["net"] += p.size
        row["longs"] += max(p.size, 0)
        row["holders"] += 1 if p.size else 0
    return out


def solvency(items: Iterable[tuple[bytes, bytes]]) -> dict[str, dict]:
    """Per asset: ``supply``, ``spendable``, ``claims``, ``unbacked``, ``bankrupt``, ``stale`` and ``ok`` (module docstring).

    ``ok`` is ``claims <= supply`` with nothing unbacked or bankrupt.  An
    account is listed as ``bankrupt`` even while a market it holds is stale
    (``stale`` lists those accounts' addresses too), so a caller decides
    whether a paused bankruptcy is acceptable at that point.
    """
    data = dict(items)
    sess = Session(State(DictView(data)), BlockContext("audit", 0, 0))
    out: dict[str, dict] = {}
    for asset, row in conservation(data.items()).items():
        out[asset] = {"supply": row["supply"], "spendable": row["balances"] + row["htlc_locked"], "claims": 0,
                      "unbacked": [], "bankrupt": [], "stale": []}
    for key in sorted(k for k in data if k.startswith(MACC)):
        addr, asset = key[len(MACC):len(MACC) + 20], key[len(MACC) + 21:].decode()
        row = out.setdefault(asset, {"supply": 0, "spendable": 0, "claims": 0, "unbacked": [], "bankrupt": [], "stale": []})
        ev = evaluate(sess, addr, asset)
        if addr == FUND:
            row["claims"] += max(0, ev.equity)
            continue
        row["spendable"] += max(0, ev.equity)
        if ev.market_count == 0 and ev.equity < 0:
            row["unbacked"].append((addr, ev.equity))
        elif ev.market_count and ev.equity < 0:
            row["bankrupt"].append((addr, ev.equity))
            if ev.stale:
                row["stale"].append(addr)
    for row in out.values():
        row["claims"] += row["spendable"]
        row["ok"] = row["claims"] <= row["supply"] and not row["unbacked"] and not row["bankrupt"]
    return out
