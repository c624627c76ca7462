"""The consensus write-ahead log on disk: framed, checksummed, fsynced records.

Owns the file format and its durability; the record encoding is
``consensus.wal``'s.  Frame: 4-byte big-endian length, 4-byte CRC32 of the
payload, payload.  Reading stops at the first torn or corrupt frame (a crash
mid-append) and truncates the file there, so appends continue from a clean
end.  :meth:`sync` makes everything appended so far durable (one fsync; the
driver calls it before any signed message leaves the node).  :meth:`reset`
empties the log once a decided block is safely in the store.
"""
from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

__all__ = ["WalFile"]

_HDR = struct.Struct(">II")
MAX_RECORD = 16 * 1024 * 1024


class WalFile:
    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        self._dirty = False

    def read_all(self) -> list[bytes]:
        """Every intact record, oldest first; a torn tail is cut off."""
        with open(self.path, "rb") as f:
            data = f.read()
        out: list[bytes] = []
        pos = 0
        while pos + _HDR.size <= len(data):
            length, crc = _HDR.unpack_from(data, pos)
            end = pos + _HDR.size + length
            if length > MAX_RECORD or end > len(data):
                break
            payload = data[pos + _HDR.size:end]
            if zlib.crc32(payload) != crc:
                break
            out.append(payload)
            pos = end
        if pos != len(data):
            os.ftruncate(self._fd, pos)
            os.fsync(self._fd)
        return out

    def append(self, payload: bytes) -> None:
        os.write(self._fd, _HDR.pack(len(payload), zlib.crc32(payload)) + payload)
        self._dirty = True

    def sync(self) -> None:
        if self._dirty:
            os.fsync(self._fd)
            self._dirty = False

    def reset(self) -> None:
        """Empty the log (the store now holds everything it protected)."""
        os.ftruncate(self._fd, 0)
        os.fsync(self._fd)
        self._dirty = False

    def close(self) -> None:
        try:
            self.sync()
        finally:
            os.close(self._fd)
