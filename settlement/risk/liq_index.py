"""The at-risk index: which positions may have breached maintenance margin, found without a full scan.

Owns the stored index and its bucket arithmetic.  It never decides whether an
account is liquidated (``liquidation.py`` re-evaluates every candidate
exactly) and never computes a trigger (``margin.py`` does).

Theory of operation
-------------------
``margin.py`` shows that an account's maintenance surplus (x 10^6) is linear
in one market-global *coordinate* per (market, side)::

    X_long  = P x (10^6 - mmf_eff) - F - L    X_short = P x (10^6 + mmf_eff) - F + L

(P: oracle price per lot, mmf_eff: dynamic maintenance fraction in ppm, F:
cumulative funding index, L: social-loss index of ``adl.py``), so price
moves, volatility-driven margin changes, funding and socialized losses all
move the same coordinate.  Each position is filed under its
market and side with a *trigger* T: a long fires once ``X_long < T``, a short
once ``X_short > T``.  Triggers are conservative (an account cannot breach
before one of its triggers fires), so the sweep only has to look at fired
entries: the cost grows with the accounts near or past their triggers, not
with the number of accounts.

Layout per (market, side), all in state so the index is part of the root:

* pages ``r/x/<market>/<side><bucket:8><page:1>``: a sorted list of
  ``[address, T]`` for the entries whose T falls into ``bucket`` and whose
  address's first byte modulo the page count is ``page`` (64 pages per bucket
  keep each value small; the ADL index, read a bucket at a time, uses 8);
* the directory ``.../<side>d``: sorted bucket ids that may hold entries
  (added on insert, dropped when a sweep finds a bucket empty);
* the watermark ``.../<side>w``: an upper (long) / lower (short) bound of
  every T, so a block in which nothing moved past it costs one read.

Buckets are logarithmic: 64 per octave of ``|T|`` (about 1.1 % wide), signed
so that their order is the order of T.  A fired scan reads only the buckets
between the current coordinate and the watermark.
"""
from __future__ import annotations

from bisect import bisect_left, bisect_right

import msgpack

from ledger.codec import decode, encode

from ..errors import StateCorrupt
from ..state import State
from .units import LONG, SHORT, pack, pack_int, unpack_int

__all__ = ["IndexCache", "bucket"]

MANTISSA_BITS = 6
PAGES = 64
_SIDE = {LONG: b"L", SHORT: b"S"}
_OFFSET = 2**63
_PAGE_BYTE = [bytes([i]) for i in range(256)]


def _pos_bucket(x: int) -> int:
    e = x.bit_length()
    shift = e - MANTISSA_BITS - 1
    m = x >> shift if shift > 0 else x << -shift
    return (e << MANTISSA_BITS) + (m - (1 << MANTISSA_BITS)) + 1


def bucket(x: int) -> int:
    """Monotone (non-decreasing) bucket id of a coordinate."""
    if x > 0:
        return _pos_bucket(x)
    if x == 0:
        return 0
    return -_pos_bucket(-x)


class IndexCache:
    """Write-back cache of the index pages, directories and watermarks touched by one session.

    The same bucketed layout serves the ADL ranking index (``adl_index.py``):
    another key ``root`` and no watermark.
    """

    def __init__(self, state: State, root: bytes, *, watermark: bool = True, pages: int = PAGES):
        self.state = state
        self.root = root
        self.keep_watermark = watermark
        self.pages = pages
        self.memo: dict = {}  # per-session figures its user derives from the entries (adl_index.py: exact equity)
        self._prefixes: dict[tuple[str, int], bytes] = {}
        self._pages: dict[bytes, dict[bytes, int]] = {}
        self._dirs: dict[tuple[str, int], list[int]] = {}
        self._wm: dict[tuple[str, int], int | None] = {}
        self._dirty_pages: set[bytes] = set()
        self._dirty_dirs: set[tuple[str, int]] = set()
        self._dirty_wm: set[tuple[str, int]] = set()

    def _prefix(self, mid: str, side: int) -> bytes:
        k = (mid, side)
        p = self._prefixes.get(k)
        if p is None:
            p = self._prefixes[k] = self.root + mid.encode() + b"/" + _SIDE[side]
        return p

    def _page_key(self, mid: str, side: int, b: int, page: int) -> bytes:
        return self._prefix(mid, side) + (b + _OFFSET).to_bytes(8, "big") + _PAGE_BYTE[page]

    # ------------------------------------------------------------------ loading

    def _page(self, key: bytes) -> dict[bytes, int]:
        p = self._pages.get(key)
        if p is None:
            raw = self.state.get(key)
            p = {} if raw is None else {a: unpack_int(t) for a, t in msgpack.unpackb(raw)}
            self._pages[key] = p
        return p

    def _dir(self, mid: str, side: int) -> list[int]:
        k = (mid, side)
        d = self._dirs.get(k)
        if d is None:
            raw = self.state.get(self._prefix(mid, side) + b"d")
            d = self._dirs[k] = [] if raw is None else list(decode(raw))
        return d

    def watermark(self, mid: str, side: int) -> int | None:
        k = (mid, side)
        if k not in self._wm:
            raw = self.state.get(self._prefix(mid, side) + b"w")
            self._wm[k] = None if raw is None else unpack_int(decode(raw))
        return self._wm[k]

    def _set_wm(self, mid: str, side: int, w: int | None) -> None:
        self._wm[(mid, side)] = w
        self._dirty_wm.add((mid, side))

    # ------------------------------------------------------------------ updates

    def insert(self, mid: str, side: int, addr: bytes, t: int) -> None:
        """File ``addr`` under (mid, side) with trigger ``t``."""
        b = _pos_bucket(t) if t > 0 else (-_pos_bucket(-t) if t else 0)  # bucket(t), inline: the hot path of a sweep
        k = (mid, side)
        key = (self._prefixes.get(k) or self._prefix(mid, side)) + (b + _OFFSET).to_bytes(8, "big") + _PAGE_BYTE[addr[0] % self.pages]
        page = self._pages.get(key)
        if page is None:
            page = self._page(key)
        if not page:  # a page with entries has its bucket in the directory already
            d = self._dirs.get(k)
            if d is None:
                d = self._dir(mid, side)
            i = bisect_left(d, b)
            if i == len(d) or d[i] != b:
                d.insert(i, b)
                self._dirty_dirs.add(k)
        page[addr] = t
        self._dirty_pages.add(key)
        if self.keep_watermark:
            w = self._wm[k] if k in self._wm else self.watermark(mid, side)
            if w is None or (t > w if side == LONG else t < w):
                self._set_wm(mid, side, t)

    def remove(self, mid: str, side: int, addr: bytes, t: int) -> None:
        """Remove the entry filed with trigger ``t`` (a missing entry is a bug)."""
        b = _pos_bucket(t) if t > 0 else (-_pos_bucket(-t) if t else 0)
        k = (mid, side)
        key = (self._prefixes.get(k) or self._prefix(mid, side)) + (b + _OFFSET).to_bytes(8, "big") + _PAGE_BYTE[addr[0] % self.pages]
        page = self._pages.get(key)
        if page is None:
            page = self._page(key)
        if page.pop(addr, None) is None:
            raise StateCorrupt(f"index entry of {addr.hex()} in {mid} side {side} missing")
        self._dirty_pages.add(key)

    def pop_fired(self, mid: str, side: int, x: int) -> list[tuple[bytes, int]]:
        """Remove and return every entry fired by coordinate ``x`` (long: T > x, short: T < x).

        Reads only the buckets between ``x`` and the watermark; afterwards the
        watermark is ``x`` (every remaining T is on the safe side of it).
        """
        w = self.watermark(mid, side)
        if w is None or (w <= x if side == LONG else w >= x):
            return []
        d = self._dir(mid, side)
        if side == LONG:
            lo, hi = bisect_left(d, bucket(x + 1)), bisect_right(d, bucket(w))
        else:
            lo, hi = bisect_left(d, bucket(w)), bisect_right(d, bucket(x - 1))
        fired: list[tuple[bytes, int]] = []
        emptied: list[int] = []
        for b in d[lo:hi]:
            left = 0
            for page in range(self.pages):
                key = self._page_key(mid, side, b, page)
                entries = self._page(key)
                if not entries:
                    continue
                hit = [a for a, t in entries.items() if (t > x if side == LONG else t < x)]
                if hit:
                    hit.sort()
                    for a in hit:
                        fired.append((a, entries.pop(a)))
                    self._dirty_pages.add(key)
                left += len(entries)
            if not left:
                emptied.append(b)
        if emptied:
            gone = set(emptied)
            d[:] = [b for b in d if b not in gone]
            self._dirty_dirs.add((mid, side))
        self._set_wm(mid, side, x)
        return fired

    def buckets_from(self, mid: str, side: int, x: int, upwards: bool) -> list[int]:
        """Non-empty bucket ids from the bucket of ``x`` on, upwards (ascending) or downwards (descending)."""
        d = self._dir(mid, side)
        b = bucket(x)
        if upwards:
            return d[bisect_left(d, b):]
        return d[:bisect_right(d, b)][::-1]

    def bucket_entries(self, mid: str, side: int, b: int) -> list[tuple[bytes, int]]:
        """Every (address, key) filed in bucket ``b``, in page then address order; drops ``b`` from the directory if empty."""
        out = []
        for page in range(self.pages):
            entries = self._page(self._page_key(mid, side, b, page))
            if entries:
                out.extend(sorted(entries.items()))
        if not out:
            d = self._dir(mid, side)
            i = bisect_left(d, b)
            if i < len(d) and d[i] == b:
                del d[i]
                self._dirty_dirs.add((mid, side))
        return out

    def is_empty(self, mid: str, side: int) -> bool:
        """True if no bucket of (mid, side) may hold an entry."""
        return not self._dir(mid, side)

    def set_watermark(self, mid: str, side: int, w: int | None) -> None:
        self._set_wm(mid, side, w)

    def holders(self, mid: str, side: int) -> list[tuple[bytes, int]]:
        """Every indexed (address, trigger) of (mid, side), sorted by address (used by ADL only)."""
        out = []
        for b in self._dir(mid, side):
            for page in range(self.pages):
                out.extend(self._page(self._page_key(mid, side, b, page)).items())
        out.sort()
        return out

    # ------------------------------------------------------------------ write back

    def flush(self) -> None:
        out: dict[bytes, bytes | None] = {}
        for key in self._dirty_pages:
            p = self._pages[key]
            out[key] = pack([[a, pack_int(p[a])] for a in sorted(p)]) if p else None
        for mid, side in self._dirty_dirs:
            d = self._dirs[(mid, side)]
            out[self._prefix(mid, side) + b"d"] = encode(d) if d else None
        for mid, side in self._dirty_wm:
            w = self._wm[(mid, side)]
            out[self._prefix(mid, side) + b"w"] = None if w is None else encode(pack_int(w))
        for key in sorted(out):
            self.state.put(key, out[key])
        self._dirty_pages.clear()
        self._dirty_dirs.clear()
        self._dirty_wm.clear()
