"""The keyring: named Ed25519 key files under ``HOME/keys``.

Owns: where named keys live, resolving ``--from NAME|KEYFILE`` and
``--to ADDR|NAME`` arguments, and the default home (``--home``, then
``$SETTLE_HOME``, then ``~/.settle/devnet``).  Key files are mode 0600.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from ledger.keys import PrivateKey, format_address, parse_address

__all__ = ["Keyring", "default_home"]

NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def default_home(home: str | os.PathLike | None = None) -> Path:
    if home:
        return Path(home).expanduser()
    env = os.environ.get("SETTLE_HOME")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".settle" / "devnet"


class Keyring:
    def __init__(self, home: Path):
        self.dir = home / "keys"

    def path(self, name: str) -> Path:
        if not NAME_RE.match(name):
            raise ValueError(f"key name {name!r} may only hold letters, digits, '_', '.', '-'")
        return self.dir / f"{name}.json"

    def create(self, name: str, key: PrivateKey | None = None, *, overwrite: bool = False) -> PrivateKey:
        path = self.path(name)
        if path.exists() and not overwrite:
            raise ValueError(f"key {name!r} already exists at {path}")
        key = key or PrivateKey.generate()
        key.save(path, name=name)
        return key

    def names(self) -> list[str]:
        if not self.dir.is_dir():
            return []
        return sorted(p.stem for p in self.dir.glob("*.json"))

    def load(self, name_or_file: str) -> PrivateKey:
        """A key by keyring name or by key-file path."""
        p = Path(name_or_file).expanduser()
        if p.suffix == ".json" or os.sep in name_or_file:
            return PrivateKey.load(p)
        path = self.path(name_or_file)
        if not path.exists():
            known = ", ".join(self.names()) or "none"
            raise ValueError(f"no key named {name_or_file!r} in {self.dir} (known: {known})")
        return PrivateKey.load(path)

    def address(self, addr_or_name: str) -> bytes:
        """An address given as ``st...`` or as a keyring name."""
        if addr_or_name.startswith("st") and len(addr_or_name) == 42:
            return parse_address(addr_or_name)
        try:
            return self.load(addr_or_name).address
        except ValueError:
            raise ValueError(f"{addr_or_name!r} is neither an address (st + 40 hex) nor a key in {self.dir}") from None

    def label(self, addr: bytes) -> str:
        for name in self.names():
            try:
                if PrivateKey.load(self.path(name)).address == addr:
                    return name
            except ValueError:
                continue
        return format_address(addr)
