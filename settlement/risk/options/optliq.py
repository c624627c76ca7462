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

All option positions close at once (no partial liquidation of options): the
standard margin of a short is its mark plus a fraction of the underlying, and
the sweep's one-pass partial formula assumes requirements proportional to
notional, which option requirements are not.
"""
from __future__ import annotations

from ..records import FUND, ONE, Session
from .positions import ofill

__all__ = ["close_options"]


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
