"""Transaction envelope, its sign-bytes and hash.

Owns: :class:`Tx` (chain id, sender public key, per-sender nonce, kind, body,
signature), the domain-separated bytes a sender signs and the tx hash.  The
kind name -> body record table is ``ledger.txkinds.KINDS``.  It never looks at
state: whether a nonce is the next one or the sender is registered is the
settlement layer's question.

Wire form: the canonical encoding of ``[chain_id, sender, nonce, kind, body,
signature]``.  The hash of a transaction is ``sha256`` of exactly those bytes.
Sign-bytes: ``b"settle/tx/v1\\x00" || encode([chain_id, sender, nonce, kind, body])``
so a signature can never be replayed as a vote, a proposal or on another chain.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .codec import DecodeError, Record, encode, require_canonical, unpack
from .errors import InvalidInput
from .fields import Address, Amount, Hash32, Symbol  # re-exported: records of every layer use them
from .hashing import sha256
from .keys import PrivateKey, address_from_pubkey, verify_signed
from .recordgen import fast_init
from .txkinds import KINDS

__all__ = [
    "MAX_TX_BYTES",
    "Address",
    "Amount",
    "Hash32",
    "Symbol",
    "SignatureError",
    "Tx",
    "body_type",
    "known_kinds",
    "sign_tx",
]

TX_DOMAIN = b"settle/tx/v1\x00"
MAX_TX_BYTES = 64 * 1024
MAX_CHAIN_ID = 64

class SignatureError(InvalidInput, ValueError):
    """A transaction's signature does not verify for its sender and sign-bytes."""


def body_type(kind: str) -> type[Record]:
    """Record type of a kind's body; raises DecodeError for an unknown kind."""
    try:
        return KINDS[kind]
    except KeyError:
        raise DecodeError(f"unknown tx kind {kind!r}") from None


def known_kinds() -> list[str]:
    return sorted(KINDS)


@fast_init
@dataclass(frozen=True, slots=True)
class Tx:
    """A signed transaction.  ``body`` is the typed record for ``kind``."""

    chain_id: str
    sender: bytes  # Ed25519 public key (32 bytes)
    nonce: int
    kind: str
    body: Record
    signature: bytes
    raw: bytes = field(default=b"", compare=False, repr=False)
    hash: bytes = field(default=b"", compare=False, repr=False)
    address: bytes = field(default=b"", compare=False, repr=False)  # derived once at decode

    # ------------------------------------------------------------------ derived

    @property
    def sender_address(self) -> bytes:
        return self.address or address_from_pubkey(self.sender)

    def sign_bytes(self) -> bytes:
        raw = self.raw
        # The canonical wire form is fixarray(6) || enc(chain_id..body) ||
        # bin8(64) signature, and the signed part is fixarray(5) || the same
        # middle bytes: cut it out of raw instead of re-encoding the body.
        if len(raw) > 67 and raw[0] == 0x96 and raw[-66:-64] == b"\xc4\x40":
            return TX_DOMAIN + b"\x95" + raw[1:-66]
        return tx_sign_bytes(self.chain_id, self.sender, self.nonce, self.kind, self.body)

    def signed_message(self) -> bytes:
        """signature || sign-bytes: the input of Ed25519 ``crypto_sign_open``."""
        return self.signature + self.sign_bytes()

    def verify_signature(self) -> None:
        """Raise SignatureError unless the signature verifies."""
        if not verify_signed(self.signed_message(), self.sender):
            raise SignatureError("signature does not verify for the sender's key")

    # ------------------------------------------------------------------ wire

    def encode(self) -> bytes:
        return self.raw

    @classmethod
    def decode(cls, data: bytes) -> "Tx":
        """Strictly decode a signed transaction; raises DecodeError only."""
        if len(data) > MAX_TX_BYTES:
            raise DecodeError(f"transaction of {len(data)} bytes exceeds the limit of {MAX_TX_BYTES}")
        data = bytes(data)
        obj = unpack(data, max_bytes=MAX_TX_BYTES)
        tx = cls.from_obj(obj, raw=data)
        # from_obj type-checked every field; a body with no Any field leaves
        # nothing but lists and leaves, so re-packing is the canonical check
        require_canonical(obj, data, walk=not type(tx.body).plain_only())
        return tx

    @classmethod
    def from_obj(cls, obj: Any, raw: bytes | None = None) -> "Tx":
        if type(obj) is not list or len(obj) != 6:
            raise DecodeError("Tx: expected a list of 6 fields [chain_id, sender, nonce, kind, body, signature]")
        chain_id, sender, nonce, kind, body, signature = obj
        if type(chain_id) is not str or not 0 < len(chain_id) <= MAX_CHAIN_ID:
            raise DecodeError(f"Tx.chain_id: expected a str of 1..{MAX_CHAIN_ID} characters")
        if type(sender) is not bytes or len(sender) != 32:
            raise DecodeError("Tx.sender: expected a 32-byte Ed25519 public key")
        if type(nonce) is not int or not 0 <= nonce < 2**63:
            raise DecodeError("Tx.nonce: expected an int in [0, 2**63)")
        if type(kind) is not str:
            raise DecodeError("Tx.kind: expected str")
        if type(signature) is not bytes or len(signature) != 64:
            raise DecodeError("Tx.signature: expected 64 bytes")
        typed_body = body_type(kind)._from_obj(body, f"Tx.body({kind})")
        if raw is None:
            raw = encode(obj)
        return cls(chain_id, sender, nonce, kind, typed_body, signature, raw, sha256(raw), address_from_pubkey(sender))

    def to_obj(self) -> list:
        return [self.chain_id, self.sender, self.nonce, self.kind, self.body.to_obj(), self.signature]


def tx_sign_bytes(chain_id: str, sender: bytes, nonce: int, kind: str, body: Record) -> bytes:
    return TX_DOMAIN + encode([chain_id, sender, nonce, kind, body.to_obj()])


def sign_tx(key: PrivateKey, chain_id: str, nonce: int, body: Record) -> Tx:
    """Build and sign a transaction whose kind is given by ``body``'s type."""
    kind = getattr(type(body), "KIND", None)
    if kind is None or KINDS.get(kind) is not type(body):
        raise ValueError(f"{type(body).__name__} is not a registered tx body")
    sig = key.sign(tx_sign_bytes(chain_id, key.pubkey, nonce, kind, body))
    obj = [chain_id, key.pubkey, nonce, kind, body.to_obj(), sig]
    return Tx.from_obj(obj)

