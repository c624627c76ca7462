"""The ADL ranking index: who is deleveraged first, found without visiting every holder of a side.

Owns the stored ranking index (keys ``r/q/``, same bucketed layout as the
at-risk index of ``liq_index.py``), the exact ADL score and the best-first
search that pops counterparties in score order.  Never moves a position or
cash (``adl.py`` does) and never decides that ADL is needed
(``liquidation.py``).

Score (Hyperliquid's ranking: unrealized PnL % times leverage)
--------------------------------------------------------------
For a position ``s`` lots with open notional ``on`` at price ``P`` in an
account whose exact equity is ``E`` (unrounded, unsettled funding and social
loss included)::

    score = floor( upnl x |s| x P x 10^18 / (|on| x E6) )
          = (upnl / |on|) x (|s| x P / E) x 10^12           upnl = s x P - on,  E6 = 10^6 x E

Only profitable positions (``upnl > 0``) of accounts with ``E > 0`` are
eligible; highest score first, ties by address.  Size alone does not decide:
a small 10x account 11 % in profit goes before a large 1.3x account with the
same PnL %.

What is indexed (exact for single-market accounts)
--------------------------------------------------
Per (market, side) let ``Y = P x 10^6 - F -+ L`` (the at-risk coordinate of
``liq_index.py`` without the margin fraction; ``F`` funding index, ``L``
social-loss index, ``-`` for longs).  Then ``E6 = K + s x Y`` where ``K``
depends only on the account's stored state (its other markets held fixed).
Each position is filed with its **bankruptcy coordinate**
``key = floor(Y - E6 / s)``, the ``Y`` at which its account's equity is 0.
At any later price, funding or social-loss index the distance
``d = |Y - key|`` gives the leverage exactly: ``|s| x P / E = P x 10^6 / d``
(for a single-market account), so the nearer an entry is to the current
``Y`` the higher its leverage.  PnL % is ``P / entry - 1`` (long) or
``1 - P / entry`` (short), bounded for the whole side by the most
favourable entry price ever filed there (the side's ``watermark`` slot).

Search (``AdlQueue``): walk the buckets outward from the current ``Y``
(longs downwards, shorts upwards), compute the exact score of every entry
visited, and release the best visited one as soon as its score exceeds the
bound ``floor(PnL%_max x P x 10^18 / d_min)`` of every entry not yet
visited (``d_min``: the distance of the last bucket read).  This is the
threshold algorithm (Fagin): the order released is exactly the brute-force
ranking for single-market accounts.  **Approximation:** a cross-margin
account's key is exact when filed; once its *other* markets move its true
leverage differs from the one its key implies, so it may be released later
(or earlier) than its exact score would place it.  Its key may even lie
beyond the current ``Y`` (bankrupt by its key, solvent by its equity): the
search reads those buckets last, after every bucket on the near side, so no
eligible position is ever left out.  Its score, once visited, is exact.  Every state change of an account (trade, deposit, withdrawal,
liquidation, ADL, funding or social-loss settlement) re-files its entries
(``margin.reindex``), so keys are never older than the account's last change.

Cost: one ADL visits the buckets between the current ``Y`` and the first
``d_min`` whose bound falls below the best score found -- in a crash, the
most leveraged profitable positions are the nearest ones.
"""
from __future__ import annotations

from heapq import heappop, heappush

from .options.optmargin import option_equity6
from .records import FUND, LONG, ONE, SHORT, Session

__all__ = ["AdlQueue", "equity6", "file_adl", "refile", "score", "unfile", "ycoord"]

SCALE = 10**18  # score = PnL fraction x leverage x 10^12, and leverage is P x 10^6 / d


def ycoord(sess: Session, mid: str, side: int) -> int:
    """Y of (mid, side): price x 10^6 minus funding index, minus (long) / plus (short) the social-loss index."""
    ms = sess.mstate(mid)
    if side == LONG:
        return ms.price * ONE - ms.findex - ms.sloss
    return ms.price * ONE - ms.findex + ms.sloss


def equity6(sess: Session, addr: bytes, asset: str) -> int:
    """10^6 x the account's exact equity (no rounding): cash + positions - unsettled funding and social loss."""
    m = sess.macc(addr, asset)
    e6 = m.cash * ONE
    for mid in m.markets:
        p = sess.pos(addr, mid)
        ms = sess.mstate(mid)
        s = p.size
        e6 += s * ms.price * ONE - s * (ms.findex - p.funding_snap) - abs(s) * (ms.sloss - p.loss_snap)
    if m.series:
        e6 += option_equity6(sess, addr, m)
    return e6


def score(sess: Session, addr: bytes, asset: str, mid: str, e6: int | None = None) -> int | None:
    """The ADL score of ``addr``'s position in ``mid`` (module docstring), None if it is not eligible.

    The account's exact equity comes from the session's memo when ``refile``
    put it there: it stays valid until the account changes (``unfile`` drops
    it) or a social-loss index moves (``adl.socialize`` clears the memo);
    prices and funding do not move during a sweep.
    """
    p = sess.pos(addr, mid)
    if not p.size or not p.open_notional:
        return None
    upnl = p.size * sess.mstate(mid).price - p.open_notional
    if upnl <= 0:
        return None
    if e6 is None:
        memo = sess.adl.memo
        e6 = memo.get((addr, asset))
        if e6 is None:
            e6 = memo[(addr, asset)] = equity6(sess, addr, asset)
    if e6 <= 0:
        return None
    return upnl * abs(p.size) * sess.mstate(mid).price * SCALE // (abs(p.open_notional) * e6)


def unfile(sess: Session, addr: bytes, asset: str) -> None:
    """Remove the ADL entries of every position of ``addr`` in ``asset`` markets."""
    sess.adl.memo.pop((addr, asset), None)
    for mid in sess.macc(addr, asset).markets:
        p = sess.pos(addr, mid)
        if p.adl_side:
            sess.adl.remove(mid, p.adl_side, addr, p.adl_key)
            p.adl_side = 0
            sess.touch_pos(addr, mid)


def refile(sess: Session, addr: bytes, asset: str) -> None:
    """(Re-)file every position of ``addr`` in ``asset`` markets under its bankruptcy coordinate.

    An entry whose key did not change stays where it is (a safe account
    re-checked by the sweep: its key moves only when its own state does).
    """
    if addr == FUND:
        return  # the fund is never an ADL counterparty
    m = sess.macc(addr, asset)
    if not m.markets:
        sess.adl.memo.pop((addr, asset), None)
        return
    pos, mstate = sess.pos, sess.mstate
    rows = []
    e6 = m.cash * ONE
    for mid in m.markets:
        p, ms = pos(addr, mid), mstate(mid)
        s = p.size
        e6 += s * ms.price * ONE - s * (ms.findex - p.funding_snap) - (s if s > 0 else -s) * (ms.sloss - p.loss_snap)
        rows.append((mid, p, ms))
    if m.series:
        e6 += option_equity6(sess, addr, m)
    idx = sess.adl
    idx.memo[(addr, asset)] = e6
    for mid, p, ms in rows:
        s = p.size
        if s > 0:
            side, key = LONG, ms.price * ONE - ms.findex - ms.sloss + (-e6) // s  # floor(Y - E6 / s)
        else:
            side, key = SHORT, ms.price * ONE - ms.findex + ms.sloss + (-e6) // s
        if p.adl_side:
            if p.adl_side == side and p.adl_key == key:
                continue
            idx.remove(mid, p.adl_side, addr, p.adl_key)
        file_adl(sess, addr, mid, p, side, key)


def file_adl(sess: Session, addr: bytes, mid: str, p, side: int, key: int) -> None:
    """File position ``p`` (not filed now) under ``key`` and keep the side's most favourable entry price (``refile``)."""
    idx = sess.adl
    fresh_side = idx.is_empty(mid, side)
    idx.insert(mid, side, addr, key)
    p.adl_key, p.adl_side = key, side
    sess.touch_pos(addr, mid)
    # the side's most favourable entry price (a bound of every PnL %): longs the lowest, shorts the highest
    w = idx.watermark(mid, side)
    if side == LONG:
        entry = max(1, p.open_notional // p.size)
        if fresh_side or w is None or entry < w:
            idx.set_watermark(mid, side, entry)
    else:
        entry = -(p.open_notional // -p.size) if p.open_notional < 0 else 0  # ceil(on / s)
        if fresh_side or w is None or entry > w:
            idx.set_watermark(mid, side, entry)


class AdlQueue:
    """Eligible counterparties on ``side`` of ``mid`` in exact score order (module docstring).

    Args:
        exclude: addresses never to release (the account being deleveraged).
    """

    def __init__(self, sess: Session, mid: str, side: int, asset: str, exclude: set[bytes]):
        self.sess, self.mid, self.side, self.asset = sess, mid, side, asset
        self.price = sess.mstate(mid).price
        self.y = ycoord(sess, mid, side)
        self.seen = set(exclude)
        self.heap: list[tuple[int, bytes]] = []
        self.edge: int | None = None  # the key of the last entry read (the farthest from Y so far)
        entry = sess.adl.watermark(mid, side)
        self.num, self.den = 0, 1  # PnL % bound of the side, num / den
        if entry:
            self.num, self.den = (self.price - entry, entry) if side == LONG else (entry - self.price, entry)
        self.buckets = []
        if self.num > 0:
            idx, outward = sess.adl, side == SHORT
            self.buckets = idx.buckets_from(mid, side, self.y, outward)
            # then the entries filed beyond Y (bankrupt by their key): a cross-margin account
            # whose other markets gained since it was filed can still be solvent and eligible
            behind = idx.buckets_from(mid, side, self.y, not outward)
            self.buckets += behind[1:] if behind and self.buckets and behind[0] == self.buckets[0] else behind
        self.next_bucket = 0

    def _bound(self) -> int | None:
        """Upper bound of the score of every entry not visited yet (None: unbounded)."""
        if self.edge is None:
            return None
        d = self.y - self.edge if self.side == LONG else self.edge - self.y
        if d <= 0:
            return None
        return self.num * self.price * SCALE // (self.den * d)

    def _read_bucket(self) -> None:
        b = self.buckets[self.next_bucket]
        self.next_bucket += 1
        sess, mid, side, asset, price = self.sess, self.mid, self.side, self.asset, self.price
        seen, heap, edge = self.seen, self.heap, self.edge
        pos, macc, memo = sess.pos, sess.macc, sess.adl.memo
        ms = sess.mstate(mid)
        findex, sloss = ms.findex, ms.sloss
        for addr, key in sess.adl.bucket_entries(mid, side, b):
            if edge is None or (key < edge if side == LONG else key > edge):
                edge = key
            if addr in seen:
                continue
            seen.add(addr)
            p = pos(addr, mid)  # score(), inline: the price does not move while the queue lives
            s, on = p.size, p.open_notional
            if not s or not on:
                continue
            upnl = s * price - on
            if upnl <= 0:
                continue
            e6 = memo.get((addr, asset))
            if e6 is None:
                m = macc(addr, asset)
                if len(m.markets) == 1 and m.markets[0] == mid and not m.series:  # equity6(), inline: this position is its only one
                    e6 = m.cash * ONE + s * price * ONE - s * (findex - p.funding_snap) - abs(s) * (sloss - p.loss_snap)
                else:
                    e6 = equity6(sess, addr, asset)
                memo[(addr, asset)] = e6
            if e6 > 0:
                heappush(heap, (-(upnl * abs(s) * price * SCALE // (abs(on) * e6)), addr))
        self.edge = edge

    def pop(self) -> tuple[bytes, int] | None:
        """The next counterparty and its score, or None when no eligible one is left."""
        while True:
            if self.heap:
                best = -self.heap[0][0]
                bound = self._bound() if self.next_bucket < len(self.buckets) else -1
                if bound is not None and best > bound:
                    sc, addr = heappop(self.heap)
                    return addr, -sc
            if self.next_bucket >= len(self.buckets):
                if not self.heap:
                    return None
                sc, addr = heappop(self.heap)
                return addr, -sc
            self._read_bucket()
