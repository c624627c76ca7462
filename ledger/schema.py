"""Every key the ledger stores, and the format of its value, in one place.

Owns: the key layouts of the chain store, all behind one version prefix
(``b"v1/"``) so that a later layout can live beside this one and a store in an
unknown layout is recognised instead of misread; and the encoding of the small
values that are not records (heights, tx locations, the schema version).  The
families are listed as data in :data:`LAYOUT`, which tests check for
overlaps and documentation can be generated from.

Never: read or write a store (that is ``chainstore.py``), or build a key
anywhere else: a key spelled outside this module is a bug.

Heights in keys are 8-byte big-endian, so the bytewise order of a family's
keys is the height order.  py-evm's ``eth/db/schema.py`` is the model; unlike
it, the version prefix is on every key, the metadata keys included.
"""
from __future__ import annotations

from dataclasses import dataclass

from .codec import DecodeError, decode, encode

__all__ = [
    "BLOCK",
    "BLOCK_HASH",
    "CERT",
    "GENESIS_DOC",
    "GENESIS_HASH",
    "LATEST_HEIGHT",
    "LAYOUT",
    "MAX_HEIGHT",
    "META",
    "PREFIX",
    "RECEIPTS",
    "ROOT_ACC",
    "SCHEMA_VERSION",
    "STATE",
    "TREE",
    "TREE_STALE",
    "TX",
    "VERSION",
    "KeyFamily",
    "block_hash_key",
    "block_key",
    "cert_key",
    "decode_height",
    "decode_schema_version",
    "decode_tx_location",
    "encode_height",
    "encode_schema_version",
    "encode_tx_location",
    "receipts_key",
    "state_key",
    "tree_key",
    "tree_stale_key",
    "tx_key",
]

VERSION = 1
PREFIX = b"v1/"
MAX_HEIGHT = 2**63 - 1

BLOCK = PREFIX + b"b/"
BLOCK_HASH = PREFIX + b"h/"
CERT = PREFIX + b"c/"
TX = PREFIX + b"t/"
RECEIPTS = PREFIX + b"r/"
STATE = PREFIX + b"s/"
TREE = PREFIX + b"n/"
TREE_STALE = PREFIX + b"x/"
META = PREFIX + b"m/"

LATEST_HEIGHT = META + b"latest_height"
ROOT_ACC = META + b"root_acc"
GENESIS_HASH = META + b"genesis_hash"
GENESIS_DOC = META + b"genesis_doc"
SCHEMA_VERSION = META + b"schema_version"


@dataclass(frozen=True, slots=True)
class KeyFamily:
    """One family of keys: its prefix, what follows it, and what it maps to."""

    name: str
    prefix: bytes
    key: str
    value: str


LAYOUT: tuple[KeyFamily, ...] = (
    KeyFamily("block", BLOCK, "height (8 bytes, big-endian)", "canonical block bytes (Block.encode)"),
    KeyFamily("block_hash", BLOCK_HASH, "block id (32 bytes)", "height (8 bytes, big-endian)"),
    KeyFamily("cert", CERT, "height (8 bytes, big-endian)", "CommitCertificate.encode()"),
    KeyFamily("tx", TX, "tx hash (32 bytes)", "encode([height, index in block])"),
    KeyFamily("receipts", RECEIPTS, "height (8 bytes, big-endian)", "encode_receipts(receipts)"),
    KeyFamily("state", STATE, "settlement state key (opaque bytes)", "settlement state value (opaque)"),
    KeyFamily("tree", TREE, "state tree key (ledger/statetree/tree.py: a node, its leaves carrying their values)", "its bytes"),
    KeyFamily("tree_stale", TREE_STALE, "version (8 bytes, big-endian)", "encode([state tree keys that became stale at that version])"),
    KeyFamily("latest_height", LATEST_HEIGHT, "(none)", "height (8 bytes, big-endian); absent means 0"),
    KeyFamily("root_acc", ROOT_ACC, "(none)", "the settlement state root after the latest block (opaque)"),
    KeyFamily("genesis_hash", GENESIS_HASH, "(none)", "genesis hash (opaque)"),
    KeyFamily("genesis_doc", GENESIS_DOC, "(none)", "genesis document bytes (opaque)"),
    KeyFamily("schema_version", SCHEMA_VERSION, "(none)", "encode(VERSION)"),
)


# --------------------------------------------------------------------------- heights


def encode_height(height: int) -> bytes:
    """A height as 8 big-endian bytes (used in keys and as a value).

    Raises:
        ValueError: ``height`` is outside ``[0, 2**63 - 1]``.
    """
    if not 0 <= height <= MAX_HEIGHT:
        raise ValueError(f"height {height} outside [0, {MAX_HEIGHT}]")
    return height.to_bytes(8, "big")


def decode_height(data: bytes) -> int:
    """Inverse of :func:`encode_height`; raises DecodeError for a wrong length or range."""
    if len(data) != 8:
        raise DecodeError(f"a stored height is 8 bytes, got {len(data)}")
    height = int.from_bytes(data, "big")
    if height > MAX_HEIGHT:
        raise DecodeError(f"stored height {height} exceeds {MAX_HEIGHT}")
    return height


# --------------------------------------------------------------------------- keys


def block_key(height: int) -> bytes:
    return BLOCK + encode_height(height)


def block_hash_key(block_id: bytes) -> bytes:
    return BLOCK_HASH + block_id


def cert_key(height: int) -> bytes:
    return CERT + encode_height(height)


def tx_key(tx_hash: bytes) -> bytes:
    return TX + tx_hash


def receipts_key(height: int) -> bytes:
    return RECEIPTS + encode_height(height)


def state_key(key: bytes) -> bytes:
    return STATE + key


def tree_key(key: bytes) -> bytes:
    return TREE + key


def tree_stale_key(version: int) -> bytes:
    return TREE_STALE + encode_height(version)


# --------------------------------------------------------------------------- small values


def encode_tx_location(height: int, index: int) -> bytes:
    # fixarray(2) || enc(height) || enc(index): encode([height, index]) without walking a list (one per committed tx)
    return b"\x92" + encode(height) + encode(index)


def decode_tx_location(data: bytes) -> tuple[int, int]:
    """``(height, index)`` of a tx; raises DecodeError for anything else."""
    obj = decode(data)
    if (
        type(obj) is not list
        or len(obj) != 2
        or any(type(x) is not int for x in obj)
        or not 1 <= obj[0] <= MAX_HEIGHT
        or obj[1] < 0
    ):
        raise DecodeError(f"tx location: expected [height >= 1, index >= 0], got {obj!r}")
    return obj[0], obj[1]


def encode_schema_version(version: int = VERSION) -> bytes:
    return encode(version)


def decode_schema_version(data: bytes) -> int:
    """The stored schema version; raises DecodeError unless it is an int."""
    obj = decode(data)
    if type(obj) is not int:
        raise DecodeError(f"schema version: expected an int, got {obj!r}")
    return obj
