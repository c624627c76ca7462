"""The keyring: named Ed25519 key files under ``HOME/keys``, plain or encrypted.

Owns: where named keys live, resolving ``--from NAME|KEYFILE`` and
``--to ADDR|NAME`` arguments, the default home (``--home``, then
``$SETTLE_HOME``, then ``~/.settle/devnet``), and unlocking encrypted keys:
the passphrase (``--passphrase-file``, then ``$SETTLE_PASSPHRASE``, then a
prompt on a terminal), the fresh salt and nonce, and the live "deriving key"
status on a terminal's stderr.  Key files are mode 0600 and rewritten
atomically.  The keystore format and its crypto are ``ledger.keystore``.
"""
from __future__ import annotations

import contextlib
import os
import re
import sys
from pathlib import Path

import click

from ledger import keystore
from ledger.keys import PrivateKey, format_address, parse_address, read_key_file, write_key_file

from .progress import StepProgress

__all__ = ["Keyring", "default_home", "passphrase_opt"]

NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
PASSPHRASE_ENV = "SETTLE_PASSPHRASE"
_FILE_META = "settle.passphrase_file"  # where --passphrase-file leaves its value in the click context


def default_home(home: str | os.PathLike | None = None) -> Path:
    if home:
        return Path(home).expanduser()
    env = os.environ.get("SETTLE_HOME")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".settle" / "devnet"


def _remember_file(ctx: click.Context, _param, value: str | None) -> None:
    if value is not None:
        ctx.meta[_FILE_META] = value


# On every command that may unlock a key; its value reaches the keyring through the click context,
# so a command's own function takes no extra argument.
passphrase_opt = click.option("--passphrase-file", type=click.Path(dir_okay=False), expose_value=False,
                              callback=_remember_file, help=f"file holding the passphrase of an encrypted key "
                              f"(default ${PASSPHRASE_ENV}, else a prompt on a terminal)")


def _context_value(get):
    ctx = click.get_current_context(silent=True)
    return get(ctx) if ctx is not None else None


def passphrase(name: str, *, confirm: bool = False) -> str:
    """The passphrase for key ``name``: ``--passphrase-file`` (its first line), ``$SETTLE_PASSPHRASE``,
    else a hidden prompt on a terminal (twice when ``confirm``); an empty one is refused."""
    file = _context_value(lambda ctx: ctx.meta.get(_FILE_META))
    if file is not None:
        try:
            text = Path(file).expanduser().read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"cannot read the passphrase file: {exc}") from None
        text = text.split("\n", 1)[0].removesuffix("\r")  # the first line; other spaces are the passphrase's
    elif os.environ.get(PASSPHRASE_ENV) is not None:
        text = os.environ[PASSPHRASE_ENV]
    elif sys.stdin.isatty():
        text = click.prompt(f"passphrase for {name}", hide_input=True, confirmation_prompt=confirm, err=True,
                            default="", show_default=False)
    else:
        raise ValueError(f"key {name!r} is encrypted: give its passphrase with --passphrase-file or ${PASSPHRASE_ENV}")
    if not text:
        raise ValueError("an empty passphrase is refused")
    return text


def _json_output() -> bool:
    """True when the running command prints JSON (its ``--json``): then no status line either."""
    return bool(_context_value(lambda ctx: ctx.params.get("as_json")))


class Keyring:
    def __init__(self, home: Path):
        self.dir = home / "keys"

    def path(self, name: str) -> Path:
        if not NAME_RE.match(name):
            raise ValueError(f"key name {name!r} may only hold letters, digits, '_', '.', '-'")
        return self.dir / f"{name}.json"

    def create(self, name: str, key: PrivateKey | None = None, *, overwrite: bool = False,
               params: keystore.ScryptParams | None = None) -> PrivateKey:
        """A new key under ``name``; with ``params``, encrypted under a passphrase asked for twice."""
        path = self.path(name)
        if path.exists() and not overwrite:
            raise ValueError(f"key {name!r} already exists at {path}")
        key = key or PrivateKey.generate()
        if params is None:
            key.save(path, name=name)
        else:
            write_key_file(path, self._seal(name, key, passphrase(name, confirm=True), params))
        return key

    def names(self) -> list[str]:
        if not self.dir.is_dir():
            return []
        return sorted(p.stem for p in self.dir.glob("*.json"))

    def _file(self, name_or_file: str) -> Path:
        p = Path(name_or_file).expanduser()
        if p.suffix == ".json" or os.sep in name_or_file:
            return p
        path = self.path(name_or_file)
        if not path.exists():
            known = ", ".join(self.names()) or "none"
            raise ValueError(f"no key named {name_or_file!r} in {self.dir} (known: {known})")
        return path

    def document(self, name_or_file: str) -> dict:
        """The key file's JSON document (a keystore's holds no secret in clear)."""
        return read_key_file(self._file(name_or_file))

    def encrypted(self, name_or_file: str) -> bool:
        return keystore.is_keystore(self.document(name_or_file))

    def load(self, name_or_file: str) -> PrivateKey:
        """A key by keyring name or by key-file path; an encrypted one is unlocked (see :func:`passphrase`)."""
        path = self._file(name_or_file)
        doc = read_key_file(path)
        if not keystore.is_keystore(doc):
            return PrivateKey.from_doc(doc, path)
        params = keystore.params_of(doc)  # out-of-bounds parameters are refused before any prompt
        secret = passphrase(name_or_file)
        with _deriving(name_or_file, params):
            try:
                return keystore.decrypt(doc, secret)
            except keystore.WrongPassphrase as exc:
                raise keystore.WrongPassphrase(f"key {name_or_file!r}: {exc}") from None

    def encrypt(self, name: str, params: keystore.ScryptParams) -> PrivateKey:
        """Rewrite plain key ``name`` as a keystore (passphrase asked for twice)."""
        doc = self.document(name)
        if keystore.is_keystore(doc):
            raise ValueError(f"key {name!r} is already encrypted")
        key = PrivateKey.from_doc(doc, self.path(name))
        write_key_file(self.path(name), self._seal(name, key, passphrase(name, confirm=True), params))
        return key

    def decrypt(self, name: str) -> PrivateKey:
        """Rewrite keystore ``name`` as a plain key file."""
        if not self.encrypted(name):
            raise ValueError(f"key {name!r} is not encrypted")
        key = self.load(name)
        key.save(self.path(name), name=name)
        return key

    def _seal(self, name: str, key: PrivateKey, secret: str, params: keystore.ScryptParams) -> dict:
        salt, nonce = os.urandom(keystore.SALT_LEN), os.urandom(keystore.NONCE_LEN)
        with _deriving(name, params):
            return keystore.encrypt(key, secret, params, salt, nonce, name=name)

    def address(self, addr_or_name: str) -> bytes:
        """An address given as ``st...`` or as a keyring name (read from the file's clear header: no passphrase)."""
        if addr_or_name.startswith("st") and len(addr_or_name) == 42:
            return parse_address(addr_or_name)
        try:
            return self.address_of(addr_or_name)
        except ValueError:
            raise ValueError(f"{addr_or_name!r} is neither an address (st + 40 hex) nor a key in {self.dir}") from None

    def address_of(self, name_or_file: str) -> bytes:
        """The address of a key file, plain or encrypted, without unlocking it."""
        path = self._file(name_or_file)
        doc = read_key_file(path)
        if not keystore.is_keystore(doc):
            return PrivateKey.from_doc(doc, path).address
        try:
            return parse_address(doc["address"])
        except (KeyError, ValueError) as exc:
            raise keystore.KeystoreError(f"malformed keystore {path}: {exc}") from None

    def label(self, addr: bytes) -> str:
        for name in self.names():
            try:
                if self.address_of(name) == addr:
                    return name
            except ValueError:
                continue
        return format_address(addr)


@contextlib.contextmanager
def _deriving(name: str, params: keystore.ScryptParams):
    """On a terminal's stderr (not with ``--json``, nothing off a terminal): a live
    "deriving key for NAME (scrypt n=N)" with the elapsed time, removed when done."""
    with StepProgress(quiet=_json_output(), transient=True) as progress:
        if progress.live:
            progress.step(f"deriving key for {name} (scrypt n={params.n})")
        yield
