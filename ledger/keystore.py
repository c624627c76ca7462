"""Encrypted keystores: a private key sealed under a passphrase.

Owns the keystore format (version 1) and its crypto: scrypt stretches the
passphrase into a 32-byte key, ChaCha20-Poly1305 (from ``cryptography``)
seals the 32-byte Ed25519 seed.  The associated data is every header field
(format, version, name, address, public key, kdf and its parameters, salt,
cipher, nonce) in canonical JSON, so an edited or swapped header fails the
same way as a wrong passphrase or a flipped ciphertext bit.  The address and
public key stay in clear: listing keys or resolving ``--to NAME`` needs no
passphrase.  Anchored on Ethereum's Web3 Secret Storage (scrypt + cipher +
MAC) and EIP-2335 (NFKD-normalised passphrases, a versioned JSON document);
the AEAD tag takes the place of their separate MAC.

Never does I/O, prompts or draws randomness: the salt and nonce come from
the caller (``cli/keyring.py`` draws them), documents go in and out as dicts.
"""
from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from .keys import KeyFileError, PrivateKey, address_from_pubkey, format_address

__all__ = [
    "DEFAULT_PARAMS",
    "FORMAT",
    "KeystoreError",
    "NONCE_LEN",
    "SALT_LEN",
    "ScryptParams",
    "VERSION",
    "WrongPassphrase",
    "decrypt",
    "encrypt",
    "is_keystore",
    "normalize",
    "params_of",
]

FORMAT = "settle-keystore"
VERSION = 1
CIPHER = "chacha20-poly1305"
SALT_LEN = 32
NONCE_LEN = 12
KEY_LEN = 32
# Bounds on the parameters a file may ask for: a file is input, and scrypt's memory is 128*n*r bytes.
MIN_LOG2_N = 10  # 2^10 with r=8: 1 MiB, ~2 ms (tests); the default below is 128x that
MAX_LOG2_N = 20  # 2^20 with r=8: 1 GiB
MAX_R = 32
MAX_P = 16
MAX_MEMORY = 1 << 30


class KeystoreError(KeyFileError):
    """A keystore is malformed, of an unknown version, or asks for scrypt parameters out of bounds."""


class WrongPassphrase(KeystoreError):
    """The AEAD tag did not verify: a wrong passphrase, or a header or ciphertext changed since sealing."""


@dataclass(frozen=True)
class ScryptParams:
    """scrypt cost: ``n`` (a power of two, CPU and memory), ``r`` (block size), ``p`` (parallelism).

    The default n=2^17, r=8, p=1 takes 128 MiB and about 0.23 s on the
    project's 2-core machines (Web3 Secret Storage's 'standard' is n=2^18).
    """

    n: int = 1 << 17
    r: int = 8
    p: int = 1

    def __post_init__(self) -> None:
        for field in ("n", "r", "p"):
            if type(getattr(self, field)) is not int:
                raise KeystoreError(f"scrypt {field} must be an integer")
        if self.n < 2 or self.n & (self.n - 1):
            raise KeystoreError(f"scrypt n must be a power of two: {self.n}")
        if not (1 << MIN_LOG2_N) <= self.n <= (1 << MAX_LOG2_N):
            raise KeystoreError(f"scrypt n must be between 2^{MIN_LOG2_N} and 2^{MAX_LOG2_N}: {self.n}")
        if not 1 <= self.r <= MAX_R or not 1 <= self.p <= MAX_P:
            raise KeystoreError(f"scrypt r must be 1..{MAX_R} and p 1..{MAX_P}: r={self.r} p={self.p}")
        if 128 * self.n * self.r > MAX_MEMORY:
            raise KeystoreError(f"scrypt n*r needs more than {MAX_MEMORY >> 20} MiB")


DEFAULT_PARAMS = ScryptParams()


def normalize(passphrase: str) -> bytes:
    """The bytes scrypt stretches: the passphrase NFKD-normalised (as EIP-2335), UTF-8 encoded.

    So the same passphrase typed on two keyboards (a precomposed 'é' or 'e'
    and a combining accent) opens the same file.
    """
    if not isinstance(passphrase, str) or not passphrase:
        raise KeystoreError("the passphrase must be a non-empty string")
    return unicodedata.normalize("NFKD", passphrase).encode("utf-8")


def _derive(passphrase: str, params: ScryptParams, salt: bytes) -> bytes:
    return Scrypt(salt=salt, length=KEY_LEN, n=params.n, r=params.r, p=params.p).derive(normalize(passphrase))


def _associated_data(header: dict) -> bytes:
    """Canonical JSON of the header (sorted keys, no spaces, UTF-8): what the AEAD tag also covers."""
    return json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _header(name: str | None, key_pubkey: bytes, params: ScryptParams, salt: bytes, nonce: bytes) -> dict:
    return {
        "format": FORMAT,
        "version": VERSION,
        "name": name,
        "address": format_address(address_from_pubkey(key_pubkey)),
        "pubkey": key_pubkey.hex(),
        "kdf": {"name": "scrypt", "n": params.n, "r": params.r, "p": params.p, "salt": salt.hex()},
        "cipher": {"name": CIPHER, "nonce": nonce.hex()},
    }


def encrypt(key: PrivateKey, passphrase: str, params: ScryptParams, salt: bytes, nonce: bytes,
            name: str | None = None) -> dict:
    """A keystore document (a JSON-ready dict) sealing ``key``; ``salt`` and ``nonce`` must be fresh random bytes."""
    if len(salt) != SALT_LEN or len(nonce) != NONCE_LEN:
        raise KeystoreError(f"the salt is {SALT_LEN} bytes and the nonce {NONCE_LEN}")
    header = _header(name, key.pubkey, params, salt, nonce)
    sealed = ChaCha20Poly1305(_derive(passphrase, params, salt)).encrypt(nonce, key.seed, _associated_data(header))
    return {**header, "ciphertext": sealed.hex()}


def is_keystore(doc: object) -> bool:
    """True iff ``doc`` says it is a keystore (of any version); a plain key file says ``"type": "ed25519"``."""
    return isinstance(doc, dict) and doc.get("format") == FORMAT


def params_of(doc: dict) -> ScryptParams:
    """The scrypt parameters a keystore asks for (checked against the bounds), before any derivation."""
    return _parse(doc)[1]


def _parse(doc: dict) -> tuple[dict, ScryptParams, bytes, bytes, bytes]:
    """``(header, params, salt, nonce, ciphertext)`` of a keystore; raises KeystoreError on any shape error."""
    if not is_keystore(doc):
        raise KeystoreError("not a settle keystore")
    if doc.get("version") != VERSION:
        raise KeystoreError(f"unsupported keystore version {doc.get('version')!r} (this build reads {VERSION})")
    try:
        header = {k: v for k, v in doc.items() if k != "ciphertext"}
        kdf, cipher = doc["kdf"], doc["cipher"]
        if kdf["name"] != "scrypt" or cipher["name"] != CIPHER:
            raise KeystoreError(f"unsupported kdf or cipher: {kdf['name']!r}, {cipher['name']!r}")
        params = ScryptParams(kdf["n"], kdf["r"], kdf["p"])
        salt, nonce = bytes.fromhex(kdf["salt"]), bytes.fromhex(cipher["nonce"])
        ciphertext = bytes.fromhex(doc["ciphertext"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        if isinstance(exc, KeystoreError):
            raise
        raise KeystoreError(f"malformed keystore: {exc!r}") from None
    if len(salt) != SALT_LEN or len(nonce) != NONCE_LEN or len(ciphertext) != KEY_LEN + 16:
        raise KeystoreError("malformed keystore: salt, nonce or ciphertext of the wrong length")
    return header, params, salt, nonce, ciphertext


def decrypt(doc: dict, passphrase: str) -> PrivateKey:
    """The key sealed in ``doc``; raises WrongPassphrase (wrong passphrase or tampered) or KeystoreError."""
    header, params, salt, nonce, ciphertext = _parse(doc)
    try:
        seed = ChaCha20Poly1305(_derive(passphrase, params, salt)).decrypt(nonce, ciphertext, _associated_data(header))
    except InvalidTag:
        raise WrongPassphrase("wrong passphrase, or the keystore was modified") from None
    key = PrivateKey(seed)
    if header.get("pubkey") != key.pubkey.hex() or header.get("address") != format_address(key.address):
        # Only a faulty writer gets here: the header is authenticated, so nobody edited it since sealing.
        raise KeystoreError("keystore header does not match its key")
    return key
