"""File-backed safety storage: the validator's last signature survives kill -9 and power loss.

Owns: :class:`FileSafetyStorage`, the on-disk home of
``consensus.interfaces.SafetyData`` (canonical msgpack via ``ledger.codec``).
The contract is ``consensus.interfaces.SafetyStorage``; the conformance suite
is ``tests/consensus/test_safety_storage.py`` and the crash test
``tests/consensus/test_safety_sigkill.py``.

Must never: return from :meth:`FileSafetyStorage.save` before the new value
is durable; leave a half-written file where the real one should be; or treat
an unreadable file as "nothing signed yet" (that would allow double signing
after disk corruption -- the node must stop instead).

Write protocol (the classic atomic replace): write ``<name>.tmp`` (mode
0600), fsync it, ``os.replace`` it over ``<name>``, fsync the directory so the
rename itself is durable.  A crash at any point leaves either the old or the
new file under ``<name>``; a leftover ``.tmp`` is ignored and overwritten.
"""
from __future__ import annotations

import os
from pathlib import Path

from consensus.interfaces import SafetyData, SafetyStorage, SafetyStorageError
from ledger.codec import DecodeError

__all__ = ["FileSafetyStorage"]


class FileSafetyStorage(SafetyStorage):
    """Safety data in one small file.

    Args:
        path: the file (its directory is created if missing).
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = self.path.with_name(self.path.name + ".tmp")

    def load(self) -> SafetyData | None:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise SafetyStorageError(f"cannot read safety data {self.path}: {exc}") from None
        try:
            return SafetyData.decode(data)
        except DecodeError as exc:
            raise SafetyStorageError(f"safety data {self.path} is corrupt ({exc}); refusing to sign") from None

    def save(self, data: SafetyData) -> None:
        blob = data.encode()
        fd = os.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            view = memoryview(blob)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(self._tmp, self.path)
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
