"""Standard (Deribit) margin of option positions, counted into the account's cross margin.

Owns the option terms of an account's equity, IMR, MMR and trigger budget in
one collateral asset (``margin.evaluate`` adds them when ``MAcc.series`` is
non-empty), and whether a series' mark is this block's (``mark_fresh``).  Never changes a position
(``positions.ofill``), never prices (``pricing.py``: the marks are the series
state's ``mark6``) and never decides a liquidation.

Per position of ``n`` contracts of ``c = contract_lots`` lots, mark
``mark6`` (10^6 x quote per lot), underlying price ``S``, strike ``K``,
``OTM = max(K - S, 0)`` for a call, ``max(S - K, 0)`` for a put::

    long:   equity += floor(n x c x mark6 / 10^6)        IMR, MMR += 0
    short:  equity -= ceil(|n| x c x mark6 / 10^6)       (L, the mark liability)
            IMR    += ceil(|n| x c x max(im_base x S - OTM x 10^6, im_floor x S) / 10^6) + L
            MMR    += ceil(|n| x c x mm x S / 10^6) + L                       call
            MMR    += ceil(|n| x c x max(mm x S, mm x mark6 / 10^6) / 10^6) + L  put
            put IMR = max(IMR as above, MMR)

(Deribit's standard margin for options; fractions in ppm: ``im_base`` 0.15,
``im_floor`` 0.10, ``mm`` 0.075.)  Every rounding is against the account.
The short's mark is counted twice -- once as the liability in equity and once
in the requirement -- exactly as Deribit's margin balance includes the
option's value and its MM adds the mark price.

The trigger budget counts each term unrounded (``scaled_surplus`` is
``10^6 x (equity - MMR)``; the put's ``max`` rounded up, against the account):
a short's three roundings shift the real surplus by less than 3 units, which
``margin.reindex`` reserves (``SLACK_SHORT``).
"""
from __future__ import annotations

from ..optrecords import CALL
from .marks import MARKED
from ..records import ONE, Session

__all__ = ["SLACK_SHORT", "mark_fresh", "option_equity6", "option_terms", "position_terms"]

SLACK_SHORT = 3  # units of rounding in a short's equity and MMR terms (a long's: 1)


def mark_fresh(sess: Session, sid: str, ss=None) -> bool:
    """True if series ``sid``'s mark is its last block's (``mark_state == MARKED``, ``marks.py``) or final (settled)."""
    if ss is None:
        ss = sess.sstate(sid)
    return bool(ss.settled) or ss.mark_state == MARKED


def position_terms(series, ss, params, n: int, spot: int) -> tuple[int, int, int, int]:
    """(equity, IMR, MMR, scaled surplus) of ``n`` contracts of ``series`` (module docstring)."""
    c = series.contract_lots
    mark6 = ss.mark6
    if n > 0:
        v = n * c * mark6
        return v // ONE, 0, 0, v
    q = -n * c
    liab6 = q * mark6
    liab = -(-liab6 // ONE)
    mm = params.mm_ppm
    if series.kind == CALL:
        otm = series.strike - spot
        mm6 = q * mm * spot
    else:
        otm = spot - series.strike
        mm6 = q * max(mm * spot * ONE, mm * mark6)
        mm6 = -(-mm6 // ONE)  # the put's max(.., mm x mark) rounded up: against the account
    otm = otm if otm > 0 else 0
    im6 = q * max(params.im_base_ppm * spot - otm * ONE, params.im_floor_ppm * spot)
    mmr = -(-mm6 // ONE) + liab
    imr = -(-im6 // ONE) + liab
    if series.kind != CALL and imr < mmr:
        imr = mmr
    return -liab, imr, mmr, -liab6 - mm6 - liab6


def option_terms(sess: Session, addr: bytes, m) -> tuple[int, int, int, int, bool]:
    """Sum of :func:`position_terms` over the account's series (``m``: its margin account), and whether any input is stale.

    Stale: a series' underlying price is stale.  A series whose vol is missing
    keeps its last mark (``marks.py``), which margin and liquidation use as
    they use a perpetual's last price; a mark that is not this block's only
    refuses new risk (``trading.py``), as a converging price does.
    """
    equity = imr = mmr = surplus = 0
    stale = False
    for sid in m.series:
        series = sess.series(sid)
        ss = sess.sstate(sid)
        params = sess.oparams(series.underlying)
        ms = sess.mstate(series.underlying)
        e, i, mm, s6 = position_terms(series, ss, params, sess.opos(addr, sid).size, ms.price)
        equity += e
        imr += i
        mmr += mm
        surplus += s6
        stale = stale or ms.stale
    return equity, imr, mmr, surplus, stale


def option_equity6(sess: Session, addr: bytes, m) -> int:
    """10^6 x the option part of the account's equity, unrounded (``sum n x c x mark6``; the ADL queue's exact equity)."""
    e6 = 0
    for sid in m.series:
        e6 += sess.opos(addr, sid).size * sess.series(sid).contract_lots * sess.sstate(sid).mark6
    return e6
