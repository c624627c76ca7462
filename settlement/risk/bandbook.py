"""Filed price bands: the record and at-risk index entries of an account's bands, shared by the option and portfolio bands.

Owns the storage shape of one account's bands in one collateral asset: a
record ``[[u, lo, hi], ...], t_until`` under a key prefix, and its entries in
an at-risk index (``liq_index.IndexCache``) -- under ``u`` side LONG ``lo``
(fires when the price is below it), side SHORT ``hi`` (fires above it); under
``"~" + asset`` side SHORT ``t_until`` (fires once the block time reaches it)
-- and the popping of fired entries (one fired entry removes all of the
account's).  Never computes a band (``options/optindex.py``,
``pm/bands.py``) and never evaluates an account.
"""
from __future__ import annotations

from ledger.codec import decode

from .records import LONG, SHORT, Session
from .units import pack, pack_int, unpack_int

__all__ = ["BandBook", "time_mid"]

_BEYOND = 2**201  # beyond every filed value (the sentinels are +-2^200)


def time_mid(asset: str) -> str:
    """The index name of the ``t_until`` entries of ``asset``."""
    return "~" + asset


class BandBook:
    """The bands filed under key prefix ``prefix`` in the session's index ``index`` (an attribute name), memo ``memo``."""

    def __init__(self, prefix: bytes, index: str, memo: str):
        self.prefix, self.index, self.memo = prefix, index, memo

    def _key(self, addr: bytes, asset: str) -> bytes:
        return self.prefix + addr + b"/" + asset.encode()

    def record(self, sess: Session, addr: bytes, asset: str):
        """``(rows, t_until)`` of ``addr``'s bands in ``asset`` (rows ``[u, packed lo, packed hi]``), None if none is filed."""
        bands = sess.oext.setdefault(self.memo, {})
        k = (addr, asset)
        if k not in bands:
            raw = sess.state.get(self._key(addr, asset))
            bands[k] = None if raw is None else tuple(decode(raw))
        return bands[k]

    def put(self, sess: Session, addr: bytes, asset: str, rows: list[tuple[str, int, int]], t_until: int) -> None:
        """File ``rows`` ``(u, lo, hi)`` and ``t_until`` (nothing of ``addr``'s in ``asset`` may be filed)."""
        idx = getattr(sess, self.index)
        for u, lo, hi in rows:
            idx.insert(u, LONG, addr, lo)
            idx.insert(u, SHORT, addr, hi)
        idx.insert(time_mid(asset), SHORT, addr, t_until)
        packed = [[u, pack_int(lo), pack_int(hi)] for u, lo, hi in rows]
        sess.state.put(self._key(addr, asset), pack([packed, t_until]))
        sess.oext.setdefault(self.memo, {})[(addr, asset)] = (packed, t_until)

    def remove(self, sess: Session, addr: bytes, asset: str, popped: tuple | None = None) -> None:
        """Remove every band of ``addr`` in ``asset`` but the ``popped`` ``(name, side)`` entry (already gone)."""
        rec = self.record(sess, addr, asset)
        if rec is None:
            return
        rows, t_until = rec
        idx = getattr(sess, self.index)
        for u, lo, hi in rows:
            if popped != (u, LONG):
                idx.remove(u, LONG, addr, unpack_int(lo))
            if popped != (u, SHORT):
                idx.remove(u, SHORT, addr, unpack_int(hi))
        if popped != (time_mid(asset), SHORT):
            idx.remove(time_mid(asset), SHORT, addr, t_until)
        sess.state.put(self._key(addr, asset), None)
        sess.oext[self.memo][(addr, asset)] = None

    def pop(self, sess: Session, name: str, side: int, x: int, asset: str, out: set) -> None:
        """Pop the entries of (``name``, ``side``) fired by ``x`` (``IndexCache.pop_fired``).

        Their accounts' bands are removed and the accounts added to ``out``.
        """
        for addr, _ in getattr(sess, self.index).pop_fired(name, side, x):
            self.remove(sess, addr, asset, (name, side))
            out.add((addr, asset))

    def pop_all(self, sess: Session, name: str, asset: str) -> list[tuple[bytes, tuple]]:
        """Pop every entry under ``name``: [(address, its record)] in address order, their bands removed."""
        out = []
        for addr, _ in getattr(sess, self.index).pop_fired(name, LONG, -_BEYOND):  # every filed value is above
            out.append((addr, self.record(sess, addr, asset)))
            self.remove(sess, addr, asset, (name, LONG))  # and with it the SHORT entry
        return out

    def refile(self, sess: Session, addr: bytes, asset: str, rec: tuple) -> None:
        """:meth:`put` a record as :meth:`record` returned it (bands that stay valid)."""
        rows, t_until = rec
        self.put(sess, addr, asset, [(u, unpack_int(lo), unpack_int(hi)) for u, lo, hi in rows], t_until)

    def pop_moved(self, sess: Session, u: str, price: int, asset: str, out: set) -> None:
        """:meth:`pop` both sides of ``u`` at ``price``: the bands it left."""
        self.pop(sess, u, LONG, price, asset, out)
        self.pop(sess, u, SHORT, price, asset, out)

    def pop_due(self, sess: Session, assets, out: set) -> None:
        """:meth:`pop` the ``t_until`` entries of ``assets`` that the block time reached."""
        now = sess.ctx.time_ms
        for asset in sorted(assets):
            self.pop(sess, time_mid(asset), SHORT, now + 1, asset, out)
