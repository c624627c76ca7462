"""Option positions: :func:`ofill`, the one function that changes an option position and moves its premium,
and the holders set of each series (who must be settled at expiry).

Owns the holders pages (``r/op/h/<series>/<page>``: the sorted addresses
holding a position in the series whose first byte modulo :data:`PAGES` is
``page``) and the bookkeeping a fill carries: the account's ``series`` list,
the series' open interest, the holders set.  It never checks margin, bands or
signatures (``trading.py``) and never prices (``pricing.py``).

Conservation: a fill of ``delta`` contracts for ``cost`` moves ``cost`` out of
the buyer's cash into the seller's (the caller applies the opposite fill to
the counterparty with ``-delta`` and ``-cost``), so trades conserve the
settlement asset exactly, and long and short contracts of a series sum to zero.
"""
from __future__ import annotations

from bisect import bisect_left, insort

from ledger.codec import decode, encode

from ..optrecords import HOLDERS
from ..records import Session

__all__ = ["PAGES", "holders", "ofill"]

PAGES = 64


def _page_key(sid: str, page: int) -> bytes:
    return HOLDERS + sid.encode() + b"/" + bytes([page])


def _page(sess: Session, sid: str, page: int) -> list[bytes]:
    cache = sess.holder_pages
    k = (sid, page)
    p = cache.get(k)
    if p is None:
        raw = sess.state.get(_page_key(sid, page))
        p = cache[k] = [] if raw is None else list(decode(raw))
    return p


def _add_holder(sess: Session, sid: str, addr: bytes) -> None:
    page = addr[0] % PAGES
    p = _page(sess, sid, page)
    i = bisect_left(p, addr)
    if i == len(p) or p[i] != addr:
        p.insert(i, addr)
        sess.state.put(_page_key(sid, page), encode(p))


def _remove_holder(sess: Session, sid: str, addr: bytes) -> None:
    page = addr[0] % PAGES
    p = _page(sess, sid, page)
    i = bisect_left(p, addr)
    if i < len(p) and p[i] == addr:
        del p[i]
        sess.state.put(_page_key(sid, page), encode(p) if p else None)


def holders(sess: Session, sid: str) -> list[bytes]:
    """Every address holding a position in ``sid``, sorted."""
    out: list[bytes] = []
    for page in range(PAGES):
        out.extend(_page(sess, sid, page))
    out.sort()
    return out


def ofill(sess: Session, addr: bytes, asset: str, sid: str, delta: int, cost: int) -> None:
    """Change ``addr``'s position in ``sid`` by ``delta`` contracts for ``cost`` (cash -= cost).

    ``cost`` is the premium paid (negative when received).  Keeps the
    position's premium basis (pro rata on a reduction, truncated toward
    zero), the account's series list, the holders set and the series' open
    interest (long contracts).  The caller applies the opposite fill to the
    counterparty and checks margin.
    """
    p = sess.opos(addr, sid)
    m = sess.macc(addr, asset)
    old = p.size
    new = old + delta
    if old == 0 or (old > 0) == (delta > 0):
        p.cost += cost
    else:
        closed = min(abs(delta), abs(old))
        basis = abs(p.cost) * closed // abs(old)
        p.cost -= basis if p.cost > 0 else -basis
        if abs(delta) > abs(old):  # flipped: the part past zero opens at this fill's price
            rest = abs(cost) * (abs(delta) - closed) // abs(delta)
            p.cost += rest if cost > 0 else -rest
    if new == 0:
        p.cost = 0
    p.size = new
    m.cash -= cost
    if old == 0 and new != 0:
        insort(m.series, sid)
        _add_holder(sess, sid, addr)
    elif new == 0 and old != 0:
        m.series.remove(sid)
        _remove_holder(sess, sid, addr)
    ss = sess.sstate(sid)
    ss.oi += max(new, 0) - max(old, 0)
    sess.touch_ss(sid)
    sess.touch_opos(addr, sid)
    sess.touch_macc(addr, asset)
