"""Ed25519 keys, addresses and key files.

Owns: signing keys, public-key verification (libsodium through PyNaCl, about
twice as fast as OpenSSL for verification on these machines), the address
format, and reading/writing key files with mode 0600.

An address is the first 20 bytes of ``sha256(b"settle/address/v1" || pubkey)``
shown as ``st`` followed by 40 lowercase hex digits.  Every signature Settle
makes is over domain-separated bytes built by the caller (see ``tx.py`` and
``block.py``); this module signs exactly the bytes it is given.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import nacl.bindings
import nacl.exceptions
import nacl.signing

from .errors import InvalidInput

__all__ = [
    "ADDRESS_PREFIX",
    "KeyFileError",
    "PrivateKey",
    "address_from_pubkey",
    "format_address",
    "parse_address",
    "read_key_file",
    "verify",
    "write_key_file",
]

ADDRESS_PREFIX = "st"
ADDRESS_LEN = 20


class KeyFileError(InvalidInput, ValueError):
    """A key file is missing, unreadable or malformed."""


# Every decoded transaction derives its sender's address; a busy network has a
# few thousand senders, so the hash is remembered (a pure function; bounded,
# cleared when full).
_ADDRESSES: dict[bytes, bytes] = {}
_ADDRESSES_MAX = 65_536


def address_from_pubkey(pubkey: bytes) -> bytes:
    """The 20-byte address of an Ed25519 public key."""
    if type(pubkey) is not bytes:  # a bytearray is not hashable; a memoryview would pin its buffer
        pubkey = bytes(pubkey)
    addr = _ADDRESSES.get(pubkey)
    if addr is None:
        addr = hashlib.sha256(b"settle/address/v1" + pubkey).digest()[:ADDRESS_LEN]
        if len(_ADDRESSES) >= _ADDRESSES_MAX:
            _ADDRESSES.clear()
        _ADDRESSES[pubkey] = addr
    return addr


def format_address(addr: bytes) -> str:
    """Human form of an address: ``st`` + 40 hex digits."""
    return ADDRESS_PREFIX + addr.hex()


def parse_address(text: str) -> bytes:
    """Parse ``st`` + 40 hex digits; raises ValueError with a readable message."""
    if not isinstance(text, str) or not text.startswith(ADDRESS_PREFIX):
        raise ValueError(f"address must start with {ADDRESS_PREFIX!r}: {text!r}")
    body = text[len(ADDRESS_PREFIX):]
    if len(body) != 2 * ADDRESS_LEN:
        raise ValueError(f"address must have {2 * ADDRESS_LEN} hex digits after the prefix: {text!r}")
    try:
        return bytes.fromhex(body)
    except ValueError:
        raise ValueError(f"address is not hex: {text!r}") from None


def verify(pubkey: bytes, message: bytes, signature: bytes) -> bool:
    """True iff ``signature`` is a valid Ed25519 signature of ``message`` by ``pubkey``."""
    if len(signature) != 64:
        return False
    return verify_signed(signature + message, pubkey)


def verify_signed(signed: bytes, pubkey: bytes) -> bool:
    """True iff ``signed`` (64-byte signature || message) verifies for ``pubkey``.

    libsodium's ``crypto_sign_open`` (what ``VerifyKey.verify`` calls), called
    directly; it releases the GIL, so threads verify in parallel.
    """
    if len(pubkey) != 32 or len(signed) < 64:
        return False
    try:
        nacl.bindings.crypto_sign_open(signed, pubkey)
        return True
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, nacl.exceptions.TypeError):
        return False


def verify_many(items: list[tuple[bytes, bytes]]) -> list[bool]:
    """:func:`verify_signed` of each ``(signed, pubkey)``; a verifier pool's unit of work."""
    return [verify_signed(signed, pubkey) for signed, pubkey in items]


@dataclass(frozen=True)
class PrivateKey:
    """An Ed25519 signing key (32-byte seed)."""

    seed: bytes

    def __post_init__(self) -> None:
        if len(self.seed) != 32:
            raise ValueError("an Ed25519 seed is 32 bytes")
        object.__setattr__(self, "_sk", nacl.signing.SigningKey(self.seed))

    @classmethod
    def generate(cls) -> "PrivateKey":
        return cls(os.urandom(32))

    @classmethod
    def from_name(cls, name: str, chain_salt: str = "settle-demo") -> "PrivateKey":
        """Deterministic key from a name: ONLY for tests and demo accounts."""
        return cls(hashlib.sha256(f"{chain_salt}/{name}".encode()).digest())

    @property
    def pubkey(self) -> bytes:
        return bytes(self._sk.verify_key)  # type: ignore[attr-defined]

    @property
    def address(self) -> bytes:
        return address_from_pubkey(self.pubkey)

    def sign(self, message: bytes) -> bytes:
        return self._sk.sign(message).signature  # type: ignore[attr-defined]

    def __repr__(self) -> str:  # never print the seed
        return f"PrivateKey({format_address(self.address)})"

    # ------------------------------------------------------------------ files

    def save(self, path: str | os.PathLike, name: str | None = None) -> None:
        """Write the key as plain JSON with mode 0600 (see :func:`write_key_file`)."""
        write_key_file(path, {
            "type": "ed25519",
            "name": name,
            "address": format_address(self.address),
            "pubkey": self.pubkey.hex(),
            "seed": self.seed.hex(),
        })

    @classmethod
    def load(cls, path: str | os.PathLike) -> "PrivateKey":
        """Read a plain key file written by :meth:`save`; raises KeyFileError (also for an encrypted one)."""
        return cls.from_doc(read_key_file(path), path)

    @classmethod
    def from_doc(cls, doc: dict, path: str | os.PathLike = "<key>") -> "PrivateKey":
        """The key of a plain key file's document; raises KeyFileError."""
        if isinstance(doc, dict) and "seed" not in doc and "ciphertext" in doc:
            raise KeyFileError(f"key file {path} is encrypted: it needs its passphrase")
        try:
            key = cls(bytes.fromhex(doc["seed"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise KeyFileError(f"malformed key file {path}: {exc}") from None
        if doc.get("pubkey") not in (None, key.pubkey.hex()):
            raise KeyFileError(f"key file {path}: pubkey does not match seed")
        return key


def read_key_file(path: str | os.PathLike) -> dict:
    """The JSON document of a key file (plain or encrypted); raises KeyFileError."""
    try:
        doc = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise KeyFileError(f"key file not found: {path}") from None
    except (OSError, ValueError) as exc:
        raise KeyFileError(f"malformed key file {path}: {exc}") from None
    if not isinstance(doc, dict):
        raise KeyFileError(f"malformed key file {path}: not a JSON object")
    return doc


def write_key_file(path: str | os.PathLike, doc: dict) -> None:
    """Write a key file's JSON atomically with mode 0600: a temporary file created
    with that mode (never widened), synced, then renamed over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, (json.dumps(doc, indent=2) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
