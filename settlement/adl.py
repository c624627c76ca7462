"""Auto-deleveraging: the last step of the default waterfall, when the insurance fund cannot cover bad debt.

Owns the ADL ranking and the closing of a bankrupt account's positions at its
bankruptcy price against opposite positions.  Never chooses whom to liquidate
(``liquidation.py``) and never touches an account without an open opposite
position: a flat account cannot pay for anyone's losses.

Bankruptcy price
----------------
The bankrupt account has equity ``-D`` (funding settled).  ``D`` is split
over its markets in proportion to notional, ``D_m = floor(D x |s_m| P_m /
N)`` with the remainder on the last market (by id).  Closing all ``|s_m|``
lots of market ``m`` for ``s_m x P_m + D_m`` instead of ``s_m x P_m`` leaves
the account at exactly zero: that is trading at the bankruptcy price
``P_m + D_m / s_m`` per lot.

Ranking and allocation
----------------------
Eligible counterparties hold the opposite side of market ``m``, are not the
insurance fund, have a profitable position (``profit = s x P - open
notional > 0``) and positive equity.  They are ranked by::

    score = floor(profit x notional x 10^6 / equity)     (profit x leverage)

highest first, ties by address; the ranking is computed once per sweep per
(market, side) from the at-risk index's holder list (ADL is rare, and this
is the one place that visits every holder of a side).  Walking the ranking,
each counterparty closes ``x = min(lots left, its |size|)`` lots and pays
``share = ceil(D_left x x / lots_left)`` (rounded against it; the last one
pays exactly what is left), capped at its equity so ADL never makes it
insolvent.  Lots or debt that no counterparty can take stay with the
insurance fund (its cash may go negative: the ``uncovered`` figure of the
market state and an ``adl_uncovered`` event report it).

The insurance fund itself
-------------------------
The fund takes over liquidated positions, so it carries market risk.  It is
held to the same maintenance rule as everyone, but it cannot be liquidated
to itself: when its equity falls below its MMR, ``liquidation.rebalance_fund``
sheds inventory here -- with equity > 0, just enough lots (``ceil(|s| x (IMR
- E) / IMR)`` per market) to be back at its IMR, closed at the oracle price
(``debt == 0``: the counterparties lose nothing but the position); with
equity <= 0, everything, at the fund's bankruptcy price.
"""
from __future__ import annotations

from ledger.receipt import Event

from .margin import ceil_div, evaluate, fill, reindex, unindex
from .risk_state import FUND, LONG, ONE, SHORT, Session, pack_int

__all__ = ["adl_ranking", "deleverage"]


def adl_ranking(sess: Session, mid: str, side: int, cache: dict) -> list[bytes]:
    """Eligible counterparties on ``side`` of ``mid``, best first (see the module docstring)."""
    key = (mid, side)
    if key in cache:
        return cache[key]
    quote = sess.market(mid).quote
    price = sess.mstate(mid).price
    scored = []
    for addr, _ in sess.index.holders(mid, side):
        p = sess.pos(addr, mid)
        profit = p.size * price - p.on
        if profit <= 0:
            continue
        ev = evaluate(sess, addr, quote)
        if ev.equity <= 0:
            continue
        scored.append((-(profit * ev.notional * ONE // ev.equity), addr))
    scored.sort()
    cache[key] = [a for _, a in scored]
    return cache[key]


def _split(debt: int, weights: list[int]) -> list[int]:
    total = sum(weights)
    parts = [debt * w // total for w in weights]
    parts[-1] += debt - sum(parts)
    return parts


def deleverage(sess: Session, addr: bytes, asset: str, debt: int, events: list[Event], cache: dict,
               lots: dict[str, int] | None = None) -> None:
    """Close ``lots`` (default: all) of ``addr``'s positions against ranked opposite accounts, passing on ``debt``.

    ``addr``'s own index entries must already be removed.  With ``debt == 0``
    the closes happen at the oracle price (the insurance fund shedding
    inventory); otherwise at the bankruptcy price (module docstring).
    """
    m = sess.macc(addr, asset)
    if lots is None:
        lots = {mid: abs(sess.pos(addr, mid).size) for mid in m.markets}
    mids = [mid for mid in sorted(lots) if lots[mid]]
    if not mids:
        return
    notionals = [lots[mid] * sess.mstate(mid).price for mid in mids]
    for mid, d_m in zip(mids, _split(debt, notionals)):
        s = sess.pos(addr, mid).size
        price = sess.mstate(mid).price
        sign = 1 if s > 0 else -1
        lots_left, debt_left = lots[mid], d_m
        for c in adl_ranking(sess, mid, SHORT if s > 0 else LONG, cache):
            if not lots_left:
                break
            cp = sess.pos(c, mid)
            if c == addr or cp.size == 0 or (cp.size > 0) == (s > 0):
                continue
            unindex(sess, c, asset)
            cev = evaluate(sess, c, asset)
            x = min(lots_left, abs(cp.size))
            share = min(ceil_div(debt_left * x, lots_left), max(0, cev.equity))
            delta = -sign * x
            cost = delta * price - share
            fill(sess, addr, asset, mid, delta, cost)
            fill(sess, c, asset, mid, -delta, -cost)
            reindex(sess, c, asset, indexed=False)
            cache.setdefault("touched", set()).add((c, asset))
            lots_left -= x
            debt_left -= share
            events.append(Event("adl", {
                "from": addr, "counterparty": c, "market": mid, "lots": -delta, "oracle_price": price,
                "paid": pack_int(share), "counterparty_position": sess.pos(c, mid).size,
                "reason": "fund_inventory" if addr == FUND and not debt else "bankruptcy",
            }))
        if (lots_left or debt_left) and addr != FUND:
            delta = -sign * lots_left
            cost = delta * price - debt_left
            if lots_left:
                fill(sess, addr, asset, mid, delta, cost)
                fill(sess, FUND, asset, mid, -delta, -cost)
            else:
                sess.macc(addr, asset).cash += debt_left
                sess.macc(FUND, asset).cash -= debt_left
                sess.touch_macc(addr, asset)
                sess.touch_macc(FUND, asset)
        if debt_left or (lots_left and addr == FUND):
            ms = sess.mstate(mid)
            ms.uncovered += debt_left
            sess.touch_ms(mid)
            events.append(Event("adl_uncovered", {
                "from": addr, "market": mid, "lots_to_fund": lots_left, "debt_to_fund": pack_int(debt_left),
                "fund_cash": pack_int(sess.macc(FUND, asset).cash),
            }))
