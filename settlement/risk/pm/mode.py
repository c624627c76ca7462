"""Portfolio margin mode: state keys, grid parameters, and the requirement ``margin.evaluate`` uses for a portfolio account.

Owns the ``r/pm/`` keys, the default grid and :func:`requirement_terms`: for
an account in portfolio mode, the sum over its underlyings of the scenario
requirement (``scenarios.py``), which replaces its standard IMR and MMR in one
collateral asset.  Never changes a position or a mode (``handlers.py``) and
never prices (``options/pricing.py``).

Keys (bytes; the store adds its own versioned prefix):

===========================  ===========================================================
``r/pm/mode/`` + addr(20)    ``b"portfolio"`` while the account is in portfolio mode (absent: standard)
``r/pm/n``                   the number of accounts in portfolio mode (absent: 0), so that a
                             session of a chain without any reads no per-account key
``r/pm/pa/`` + underlying    :class:`~ledger.txkinds_pm.PmParams` (absent: :data:`PM_DEFAULTS`)
===========================  ===========================================================

Formulas (docs/portfolio-margin.md "Formulas"), per collateral asset Q, over
the underlyings ``u`` of the account's positions settled in Q (a perpetual
market is its own underlying; an option's is its series' ``underlying``)::

    IMR = sum_u req_u                                  (no credit across underlyings)
    MMR = sum_u ceil(req_u x mmr_fraction_u / 10^6)    (rounded up: against the account)

Equity is unchanged (cash + positions at mark, ``margin.evaluate``).  The
trigger budget (``Eval.scaled_surplus``) of a portfolio account is the
sentinel ``-2^200``, so that no standard trigger, option band or collateral
band spends its margin; ``margin.reindex`` files its re-check bands instead
(``bands.py``: a safe interval of each underlying's price, before a time and
within the vol epochs, derived from the scenario requirement).

Collateral shocks: ``margin.evaluate`` adds a portfolio account's collateral,
shocked by each asset's own scan range, as a term of its own after these
(``collateral.shock_terms``).
"""
from __future__ import annotations

from ledger.codec import decode, encode
from ledger.txkinds_pm import PmParams

from ..optrecords import CALL
from ..records import ONE, Session
from .scenarios import OptionLeg, array_key, requirement, risk_arrays

__all__ = ["MODES", "PM_DEFAULTS", "PORTFOLIO", "STANDARD", "SENTINEL", "book", "count", "params", "portfolio", "requirement_terms",
           "set_mode", "set_params", "underlying_requirements"]

STANDARD, PORTFOLIO = "standard", "portfolio"
MODES = (STANDARD, PORTFOLIO)
MODE = b"r/pm/mode/"
COUNT = b"r/pm/n"
PARAMS = b"r/pm/pa/"
SENTINEL = -(2**200)  # a portfolio account's trigger budget (its bands are bands.py's)

# Defaults: CME SPAN's extreme moves (3 x the scan range, 35 % of the loss counted); a 15 % price scan
# and +-30 % relative vol shocks in the range Deribit's portfolio margin uses for BTC options; a short-option
# minimum of 1 % of the underlying value per contract; MMR = IMR / 1.3 (Deribit: IM = 1.3 x MM).
PM_DEFAULTS = PmParams(
    scan_range_ppm=150_000,
    vol_up_ppm=300_000,
    vol_down_ppm=300_000,
    extreme_multiple=3,
    extreme_fraction_ppm=350_000,
    short_option_min_ppm=10_000,
    mmr_fraction_ppm=769_231,
)


def _memo(sess: Session) -> dict:
    return sess.oext.setdefault("pm", {})


def count(sess: Session) -> int:
    """The number of accounts in portfolio mode (one read per session)."""
    memo = _memo(sess)
    n = memo.get(COUNT)
    if n is None:
        raw = sess.state.get(COUNT)
        n = memo[COUNT] = 0 if raw is None else decode(raw)
    return n


def portfolio(sess: Session, addr: bytes) -> bool:
    """True if ``addr`` is in portfolio mode (one read per session while no account is; one per account after)."""
    if not count(sess):
        return False
    memo = _memo(sess)
    mode = memo.get(addr)
    if mode is None:
        mode = memo[addr] = sess.state.get(MODE + addr) is not None
    return mode


def set_mode(sess: Session, addr: bytes, mode: str) -> None:
    """Record ``addr``'s mode (and the count of portfolio accounts)."""
    was = portfolio(sess, addr)
    now = mode == PORTFOLIO
    if was == now:
        return
    memo = _memo(sess)
    n = memo[COUNT] + (1 if now else -1)
    sess.state.put(COUNT, encode(n) if n else None)
    sess.state.put(MODE + addr, PORTFOLIO.encode() if now else None)
    memo[COUNT], memo[addr] = n, now


def params(sess: Session, u: str) -> PmParams:
    """The grid of underlying ``u`` (:data:`PM_DEFAULTS` unless the admin set one)."""
    cache = _memo(sess).setdefault("params", {})
    if u not in cache:
        raw = sess.state.get(PARAMS + u.encode())
        cache[u] = PM_DEFAULTS if raw is None else PmParams.decode(raw)
    return cache[u]


def set_params(sess: Session, u: str, p: PmParams) -> None:
    sess.state.put(PARAMS + u.encode(), p.encode())
    _memo(sess).setdefault("params", {})[u] = p


def book(sess: Session, addr: bytes, m) -> dict[str, tuple[int, list[OptionLeg]]]:
    out: dict[str, tuple[int, list[OptionLeg]]] = {mid: (sess.pos(addr, mid).size, []) for mid in m.markets}
    now = sess.ctx.time_ms
    for sid in m.series:
        series = sess.series(sid)
        ss = sess.sstate(sid)
        if ss.settled:
            continue  # final value, no risk left
        u = series.underlying
        if u not in out:
            out[u] = (0, [])
        op = sess.oparams(u)
        t = series.expiry_ms - (ss.mark_time_ms or now)
        out[u][1].append(OptionLeg(sess.opos(addr, sid).size, series.contract_lots, series.kind == CALL, series.strike,
                                   ss.iv_ppm, t, op.rate_ppm if op is not None else 0, ss.mark6))
    return out


def underlying_requirements(sess: Session, addr: bytes, m) -> list[tuple[str, int, list[tuple[str, int]], str]]:
    """[(underlying, requirement, P&L table, binding scenario)] of the account in sorted underlying order.

    Each option leg's :func:`~.scenarios.risk_array` is memoised in the session
    (``oext["risk_arrays"]``, keyed by :func:`~.scenarios.array_key`: everything
    it depends on), so every account of a block holding a series shares one
    array (docs/portfolio-margin.md "Risk arrays").
    """
    arrays = sess.oext.setdefault("risk_arrays", {})
    out = []
    for u, (size, legs) in sorted(book(sess, addr, m).items()):
        spot, p = sess.mstate(u).price, params(sess, u)
        rows = []
        for leg in legs:
            key = array_key(spot, leg, p)
            pair = arrays.get(key)
            if pair is None:
                pair = arrays[key] = risk_arrays(spot, leg, p)
            rows.append(pair[0] if leg.is_call else pair[1])
        req, table, binding = requirement(spot, size, legs, p, rows)
        out.append((u, req, table, binding))
    return out


def requirement_terms(sess: Session, addr: bytes, m) -> tuple[int, int, int]:
    """(IMR, MMR, trigger budget) of a portfolio account in one collateral asset (module docstring)."""
    imr = mmr = 0
    for u, req, _, _ in underlying_requirements(sess, addr, m):
        imr += req
        mmr += -(-req * params(sess, u).mmr_fraction_ppm // ONE)
    return imr, mmr, SENTINEL
