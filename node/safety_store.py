"""File-backed safety storage: the validator's last signature survives kill -9 and power loss.

Owns: :class:`FileSafetyStorage`, the on-disk home of
``consensus.interfaces.SafetyData`` (canonical msgpack via ``ledger.codec``).
The contract is ``consensus.interfaces.SafetyStorage``; the conformance suite
is ``tests/consensus/test_safety_storage.py`` and the crash test
``tests/consensus/test_safety_sigkill.py``.

Must never: return from :meth:`FileSafetyStorage.save` before the new value
is durable; lose the last durable value to a crash mid-write; treat an
unreadable file as "nothing signed yet" (that would allow double signing
after disk corruption -- the node must stop instead); or need a new file
descriptor to sign (a flood of connections elsewhere in the process must not
stop the validator signing).

Format (v2): the file is opened once and holds two slots of :data:`SLOT`
bytes, each ``MAGIC || seq (8) || length (4) || crc32 (4) || payload``, the
crc over seq, length and payload.  :meth:`save` writes the same record (seq
one higher) to slot 1, fsyncs, then to slot 0, fsyncs: a crash tears at most
one slot, and the other holds the new value or the one before it (whose
signature was never released).  :meth:`load` takes the valid slot with the
highest seq; a file with bytes in it but no valid slot is corrupt.  A file in
the first format (the bare msgpack value, written by atomic replace) still
loads; the first save rewrites it as v2 by one last atomic replace.
"""
from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

from consensus.interfaces import SafetyData, SafetyStorage, SafetyStorageError
from ledger.codec import DecodeError

__all__ = ["FileSafetyStorage"]

MAGIC = b"STLSAFE2"
SLOT = 4096
_HDR = struct.Struct(">8sQII")  # magic, seq, length, crc32


def _record(seq: int, blob: bytes) -> bytes:
    body = struct.pack(">QI", seq, len(blob)) + blob
    return _HDR.pack(MAGIC, seq, len(blob), zlib.crc32(body)) + blob


def _parse(slot: bytes) -> tuple[int, bytes] | None:
    """(seq, payload) of an intact record, None for a torn, empty or foreign slot."""
    if len(slot) < _HDR.size:
        return None
    magic, seq, length, crc = _HDR.unpack_from(slot)
    blob = slot[_HDR.size:_HDR.size + length]
    if magic != MAGIC or len(blob) != length or zlib.crc32(struct.pack(">QI", seq, length) + blob) != crc:
        return None
    return seq, blob


class FileSafetyStorage(SafetyStorage):
    """Safety data in one small file, opened once.

    Args:
        path: the file (it and its directory are created if missing, mode 0600).
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = self.path.with_name(self.path.name + ".tmp")
        created = not self.path.exists()
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        self._dir_fd = os.open(self.path.parent, os.O_RDONLY)
        if created:
            os.fsync(self._dir_fd)  # the new name is durable before anything is stored under it
        self._seq: int | None = None  # highest seq on disk, once read

    def _read(self) -> bytes:
        size = os.fstat(self._fd).st_size
        return os.pread(self._fd, size, 0) if size else b""

    def _slots(self, data: bytes) -> tuple[int, bytes] | None:
        found = [r for r in (_parse(data[:SLOT]), _parse(data[SLOT:2 * SLOT])) if r is not None]
        return max(found) if found else None

    def load(self) -> SafetyData | None:
        try:
            data = self._read()
        except OSError as exc:
            raise SafetyStorageError(f"cannot read safety data {self.path}: {exc}") from None
        if not data:
            return None
        latest = self._slots(data)
        if latest is not None:
            self._seq, blob = latest
        elif len(data) > SLOT and not data[:SLOT].strip(b"\0"):
            return None  # slot 0 never written: the first save did not complete (slot 1 is written first)
        elif not data.startswith(MAGIC[:1]) and len(data) < SLOT:
            self._seq, blob = None, data  # the first format: the bare value
        else:
            raise SafetyStorageError(f"safety data {self.path} has no intact record; refusing to sign")
        try:
            return SafetyData.decode(blob)
        except DecodeError as exc:
            raise SafetyStorageError(f"safety data {self.path} is corrupt ({exc}); refusing to sign") from None

    def save(self, data: SafetyData) -> None:
        blob = data.encode()
        if _HDR.size + len(blob) > SLOT:
            raise SafetyStorageError(f"safety data of {len(blob)} bytes does not fit a {SLOT}-byte slot")
        if self._seq is None:
            on_disk = self._read()
            latest = self._slots(on_disk)
            if latest is None and on_disk:
                self._upgrade(blob)
                return
            self._seq = latest[0] if latest else 0
        record = _record(self._seq + 1, blob)
        for offset in (SLOT, 0):
            view = memoryview(record)
            pos = offset
            while view:
                n = os.pwrite(self._fd, view, pos)
                view, pos = view[n:], pos + n
            os.fsync(self._fd)
        self._seq += 1

    def _upgrade(self, blob: bytes) -> None:
        """Replace a first-format file by a v2 one holding ``blob`` (atomic replace, once)."""
        record = _record(1, blob)
        fd = os.open(self._tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.pwrite(fd, record.ljust(SLOT, b"\0") + record, 0)
            os.fsync(fd)
            os.replace(self._tmp, self.path)
            os.fsync(self._dir_fd)
        except BaseException:
            os.close(fd)
            raise
        os.close(self._fd)
        self._fd, self._seq = fd, 1

    def close(self) -> None:
        fds, self._fd, self._dir_fd = (self._fd, self._dir_fd), -1, -1
        for fd in fds:
            if fd >= 0:
                os.close(fd)

    def __del__(self) -> None:
        if getattr(self, "_dir_fd", -1) >= 0:
            self.close()
