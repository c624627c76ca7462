"""Liquidation of option positions: a breached account's options close into the insurance fund at mark.

Owns the close of every option position of a breached account (the fund takes
the other side) and the penalty it owes for them.  ``liquidation.py`` calls it
before its perpetual steps and charges the penalty; the waterfall after it
(fund, ADL, socialized loss) is the perpetuals' own.  Never chooses whom to
liquidate and never evaluates margin.

Close at mark: ``n`` long contracts are sold to the fund for
``floor(n x c x mark6 / 10^6)``, ``|n|`` short contracts bought back for
``ceil(|n| x c x mark6 / 10^6)`` -- exactly the amounts the account's equity
counted (``optmargin.py``), so the close itself leaves its equity unchanged,
and the fund pays or receives the same integer (conserved).  The penalty,
``ceil(|n| x c x S x liq_penalty_ppm / 10^6)`` summed over the closed series
(S: the underlying's price), is the "mark +- penalty" of the close, charged as
one amount capped at the account's equity (as for perpetuals).

The fund's option inventory (``deleverage_options``): while the fund's equity
is >= 0 it holds what it took over, as for perpetuals.  Once it is negative
(``liquidation.rebalance_fund``), each of its option positions (series in id
order) is closed at mark against the holders of the opposite side, ranked by
profit on premium (``floor(upnl x 10^12 / max(|premium basis|, 1))``, highest
first, ties by address; eligible: not the fund, positive equity).  Each
closes ``x = min(left, |size|)`` contracts and pays
``ceil(D_left x x / contracts left)`` of the fund's debt ``D`` (over all its
option contracts), capped at its equity -- the perpetual ADL's rule.  What no
counterparty takes stays with the fund; the debt left goes on to the fund's
perpetual deleverage, or is socialized over the underlying's perpetual
holders (``adl.socialize``) when it has none.

All option positions close at once (no partial liquidation of options): the
standard margin of a short is its mark plus a fraction of the underlying, and
the sweep's one-pass partial formula assumes requirements proportional to
notional, which option requirements are not.
"""
from __future__ import annotations

from ledger.receipt import Event

from ..margin import evaluate, reindex, unindex
from ..records import FUND, ONE, Session, pack_int
from .positions import holders, ofill

__all__ = ["close_options", "deleverage_options"]


def close_options(sess: Session, addr: bytes, asset: str) -> tuple[list[dict], int]:
    """Close every option position of ``addr`` in ``asset`` into the fund at mark; returns (closes, penalty due)."""
    m = sess.macc(addr, asset)
    closes, due = [], 0
    for sid in list(m.series):
        n = sess.opos(addr, sid).size
        series = sess.series(sid)
        c = series.contract_lots
        v6 = n * c * sess.sstate(sid).mark6
        proceeds = v6 // ONE  # long: floor; short: -ceil (what equity counted)
        ofill(sess, addr, asset, sid, -n, -proceeds)
        ofill(sess, FUND, asset, sid, n, proceeds)
        params = sess.oparams(series.underlying)
        q = n if n > 0 else -n
        due += -(-q * c * sess.mstate(series.underlying).price * params.liq_penalty_ppm // ONE)
        closes.append({"series": sid, "contracts": -n, "value": proceeds})
    return closes, due


def _queue(sess: Session, sid: str, want_long: bool, asset: str) -> list[tuple[int, bytes]]:
    """Opposite holders of ``sid`` by profit on premium, highest first (module docstring)."""
    c = sess.series(sid).contract_lots
    mark6 = sess.sstate(sid).mark6
    out = []
    for a in holders(sess, sid):
        if a == FUND:
            continue
        p = sess.opos(a, sid)
        if (p.size > 0) != want_long:
            continue
        upnl = p.size * c * mark6 // ONE - p.cost
        out.append((-(upnl * 10**12 // max(abs(p.cost), 1)), a))
    out.sort()
    return out


def deleverage_options(sess: Session, asset: str, debt: int, events: list[Event], cache: dict) -> int:
    """Close the fund's option positions at mark against ranked opposite holders; returns the debt they did not cover."""
    fm = sess.macc(FUND, asset)
    sids = list(fm.series)
    left_total = sum(abs(sess.opos(FUND, sid).size) for sid in sids)
    touched = cache.setdefault("touched", set())
    for sid in sids:
        n = sess.opos(FUND, sid).size
        c = sess.series(sid).contract_lots
        mark6 = sess.sstate(sid).mark6
        for _, cp in _queue(sess, sid, n < 0, asset):
            if not n or left_total <= 0:
                break
            unindex(sess, cp, asset)
            eq = evaluate(sess, cp, asset).equity
            if eq <= 0:
                reindex(sess, cp, asset, indexed=False)
                continue
            size = sess.opos(cp, sid).size
            x = min(abs(n), abs(size))
            share = min(-(-debt * x // left_total), eq) if debt > 0 else 0
            d = x if n < 0 else -x  # the fund's change
            value = d * c * mark6 // ONE  # at mark, rounded against the fund
            ofill(sess, FUND, asset, sid, d, value - share)
            ofill(sess, cp, asset, sid, -d, share - value)
            reindex(sess, cp, asset, indexed=False)
            touched.add((cp, asset))
            cache.setdefault("safe", set()).discard((cp, asset))
            n += d
            left_total -= x
            debt -= share
            events.append(Event("option_adl", {"series": sid, "counterparty": cp, "contracts": x, "paid": pack_int(share),
                                               "counterparty_position": sess.opos(cp, sid).size}))
        left_total -= abs(n)  # no counterparty left: the fund keeps these contracts
    return debt
