"""Multi-asset collateral's price bands: the at-risk index that finds a holder when its collateral falls.

Owns the holders' collateral price bands (keys ``r/col/x/``, ``r/col/b/`` and
``r/col/s/``, listed in ``collateral.py``): filing them out of an account's
trigger budget (:func:`file_bands`, ``margin.reindex``'s one call), reading
them (:func:`band`) and the sweep's candidates (:func:`candidates`).  It never
values collateral (``collateral.py``, "Value"), never writes the holders'
lists, never evaluates or liquidates an account (``margin.py``,
``liquidation.py``).  ``extra``, ``v_X``, the caps and haircuts below are
those of ``collateral.py`` ("Value").

Price bands (the at-risk index of the collateral)
-------------------------------------------------
``margin.reindex`` hands :func:`file_bands` the account's trigger budget
``S6`` (10^6 x its margin surplus) first.  With ``n`` held assets, the account's
``k = n + markets + series`` and the rounding slack ``s_n = (4n(n+1) + 4) x 10^6``,
each asset gets ``b = floor((S6 - s_n) / k)`` and the positions split what is
left, ``S6 - s_n - n x b``, as before.  Asset ``X`` (``cash_X`` held, price
``P0`` at this evaluation) gets the band ``[lo, +inf)``::

    lambda_X = 10^6 + sum_{Y held, Y != X} cap_Y
    lo       = P0 - floor(b x lot x 10^6 / (lambda_X x cash_X x (10^6 - haircut_X)))

filed in ``r/col/x/`` (side LONG of ``liq_index``: it fires when the price is
below ``lo``).  Nothing is filed for a disabled asset (worth 0 at every price)
or when ``lo <= 0``; ``S6 < s_n`` files the sentinel ``lo = 2^200``, which
fires at every sweep whose price is fresh.

Why it is safe.  Let ``extra*`` be ``extra`` without its floors.  (1) It never
falls when a price rises: each ``min(v_X, cap_X x T)`` is non-decreasing in
every ``v``.  So only falls matter.  (2) It is a continuous, piecewise linear
function of the ``v``'s whose partial derivative in ``v_X`` is at most
``lambda_X / 10^6``: ``v_X`` enters ``X``'s own term with slope 1 or ``cap_X``
and every other ``Y``'s through ``T`` with slope ``cap_Y`` at most.  ``v_X``
falls by ``cash_X x (10^6 - haircut_X) / (lot x 10^6)`` per unit of price, so
while every price stays at or above its ``lo``, 10^6 x ``extra*`` has lost at
most ``n x b`` (the half-width is rounded down).  (3) The floors:
``extra* - n(n+1) <= extra <= extra*`` (each ``v`` is floored once, ``T``
carries ``n`` of those, each cap one more).  For a portfolio account the
shock term (``collateral.py``,
"Portfolio-margin scenarios") subtracts ``MMR_c``: ``extra - MMR_c`` is, without
roundings, ``(1 - w) x extra*(P) + w x extra*(P')`` with ``w <= 1`` and the
shocked prices ``P'`` non-decreasing and 1-Lipschitz in ``P``, so (1) and (2)
hold for it too, and its roundings (floors at ``P`` and ``P'``, two ceilings)
stay within ``2n(n+1) + 2`` either way: ``s_n`` covers them.  So the
collateral loses less than ``n x b + s_n`` of the budget, the positions less
than their part (their own triggers), and the account cannot breach before a
band or a trigger fires.  ``extra`` also depends on the account's cash in
``X`` and ``backs`` (changed only by transactions and liquidations, which
re-index it; an ADL counterparty's one-pass re-index counts no ``extra`` at all,
which is conservative) and on the parameters: :func:`candidates` re-checks every holder of ``X`` in the
sweep after ``X``'s ``CollateralParams`` or its price market's ``PmParams``
changed (``r/col/s/X``).  Cost: a block in which ``X``'s price moves reads the
band index's watermark and the buckets it crossed, and evaluates only the
holders whose band it crossed, not every holder.

"""
from __future__ import annotations

from ledger.codec import decode, encode

from .collateral import BAND, BANDS, SEEN, held, holders, listed, memo, params, price_lot
from .liq_index import IndexCache
from .pm import mode as pm_mode
from .records import LONG, ONE, Session
from .units import pack_int, unpack_int

__all__ = ["ALWAYS", "band", "band_slack", "candidates", "file_bands"]

ALWAYS = 2**200  # the sentinel band: fires at every sweep whose price is fresh


def _bands(sess: Session) -> IndexCache:
    idx = memo(sess).get("x")
    if idx is None:
        idx = memo(sess)["x"] = IndexCache(sess.state, BANDS)
    return idx


def _band_key(addr: bytes, backs: str) -> bytes:
    return BAND + addr + b"/" + backs.encode()


def _unfile(sess: Session, addr: bytes, backs: str, popped: str | None = None) -> None:
    """Remove ``addr``'s filed bands for ``backs`` (``popped``: the asset whose entry the sweep already removed)."""
    key = _band_key(addr, backs)
    raw = sess.state.get(key)
    if raw is None:
        return
    idx = _bands(sess)
    for asset, lo in decode(raw):
        if asset != popped:
            idx.remove(asset, LONG, addr, unpack_int(lo))
    sess.state.put(key, None)


def band_slack(n: int) -> int:
    """The rounding slack (x 10^6) of an account's ``n`` collateral assets (module docstring, "Price bands")."""
    return (4 * n * (n + 1) + 4) * ONE


def file_bands(sess: Session, addr: bytes, backs: str, m, surplus: int) -> int:
    """File ``addr``'s collateral price bands out of its trigger budget ``surplus``; what is left for its positions.

    ``margin.reindex``'s one call (module docstring, "Price bands"): each held
    asset takes the share ``b = floor((surplus - slack) / k)`` (``k``: the held
    assets plus the account's markets and series), the positions split the
    rest.  A negative budget files the sentinel (fires at every fresh sweep).
    """
    assets = held(sess, addr, backs)
    if not assets:  # no read on the perps-only path; a band left from collateral held before only fires a re-check
        return surplus
    _unfile(sess, addr, backs)
    if not (m.markets or m.series) and m.cash >= 0:
        return surplus  # flat and owing nothing: no fall of its collateral can breach it
    budget = surplus - band_slack(len(assets))
    share = budget // (len(assets) + len(m.markets) + len(m.series))
    caps = sum(params(sess, x).cap_ppm for x in assets)
    idx, rows = _bands(sess), []
    for x in assets:
        p = params(sess, x)
        cash = sess.macc(addr, x).cash
        if not p.enabled or cash <= 0:
            continue  # worth 0 at any price; a parameter change re-checks every holder, a deposit re-files the account
        price, lot = price_lot(sess, p)
        if budget < 0:
            lo = ALWAYS
        else:
            slope = (ONE + caps - p.cap_ppm) * cash * (ONE - p.haircut_ppm)  # lambda x cash x (1 - h), x 10^12
            lo = price - share * lot * ONE // slope  # the half-width rounded down: against the account
            if lo <= 0:
                continue  # even a fall to 0 stays within the share
        idx.insert(x, LONG, addr, lo)
        rows.append([x, pack_int(lo)])
    idx.flush()
    if rows:
        sess.state.put(_band_key(addr, backs), encode(rows))
    return budget - len(assets) * share if budget >= 0 else budget


def band(sess: Session, addr: bytes, backs: str) -> dict[str, int]:
    """``addr``'s filed bands for ``backs``: asset -> the price below which it is re-checked ({} if none)."""
    raw = sess.state.get(_band_key(addr, backs))
    return {} if raw is None else {x: unpack_int(lo) for x, lo in decode(raw)}


def candidates(sess: Session) -> set[tuple[bytes, str]]:
    """The (holder, backs) the sweep must evaluate: bands the collateral price fell through, and every holder of an
    asset whose parameters (or its price market's grid) changed since the last sweep.

    A stale price market fires no band (its price, and so the value, did not
    change); they fire once it is fresh again.  Fired entries are removed with
    the rest of their account's bands (``margin.reindex`` files them again).
    """
    out: set[tuple[bytes, str]] = set()
    idx = _bands(sess)
    for asset in listed(sess):
        p = params(sess, asset)
        seen = encode([p.encode(), pm_mode.params(sess, p.price_market).encode()])
        key = SEEN + asset.encode()
        if sess.state.get(key) != seen:
            sess.state.put(key, seen)
            out.update((a, p.backs) for a in holders(sess, asset))
        ms = sess.mstate(p.price_market)
        if ms.stale or not ms.price:
            continue
        for addr, _ in idx.pop_fired(asset, LONG, ms.price):
            _unfile(sess, addr, p.backs, asset)
            out.add((addr, p.backs))
    idx.flush()
    return out
