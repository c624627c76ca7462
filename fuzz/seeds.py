"""Seed corpora built from real, signed objects (nothing binary is committed).

Owns: deterministic keys, one valid body of every registered tx kind
(synthesised from the body record's own field annotations, so a new kind is
seeded without touching this file), signed transactions, blocks, commit
certificates, votes, proposals, equivocation evidence and the peer messages
that carry them.  Every seed is the canonical encoding of a value the
decoders accept, so the fuzzer starts from inside the accepted language and
mutates outwards.

Never: writes outside the directory it is given, or reads the clock or a
random source (the same seeds every run).
"""
from __future__ import annotations

import dataclasses
import hashlib
import types
import typing
from pathlib import Path
from typing import Any, Iterable

from ledger.block import Block, Header, tx_root
from ledger.codec import Len, MaxLen, Range, Record, encode
from ledger.commit import CommitCertificate, CommitSig, Vote, VoteType, proposal_sign_bytes, vote_sign_bytes
from ledger.hashing import ZERO_HASH
from ledger.keys import PrivateKey
from ledger.tx import Tx, body_type, known_kinds, sign_tx
from ledger.validators import Validator, ValidatorSet

CHAIN_ID = "settle-fuzz"
VALIDATOR_KEYS = tuple(PrivateKey.from_name(f"fuzz-validator-{i}", CHAIN_ID) for i in range(4))
VSET = ValidatorSet([Validator(k.pubkey, 10) for k in VALIDATOR_KEYS])
SENDER = PrivateKey.from_name("fuzz-sender", CHAIN_ID)


# --------------------------------------------------------------------------- tx bodies


def _sample(tp: Any, variant: int) -> Any:
    """A value of annotation ``tp`` that its record check accepts (``variant`` picks small/large)."""
    constraints: tuple = ()
    if typing.get_origin(tp) is typing.Annotated:
        tp, *rest = typing.get_args(tp)
        constraints = tuple(rest)
    length = next((c.n for c in constraints if isinstance(c, Len)), None)
    max_len = next((c.n for c in constraints if isinstance(c, MaxLen)), None)
    rng = next((c for c in constraints if isinstance(c, Range)), None)
    origin = typing.get_origin(tp)
    if tp is int:
        lo, hi = (rng.lo, rng.hi) if rng else (0, 2**40)
        return max(lo, min(hi, 1 if variant == 0 else 10**12))
    if tp is bool:
        return variant == 1
    if tp is bytes:
        n = length if length is not None else min(max_len or 8, 8)
        return bytes([0x11 + variant]) * n
    if tp is str:
        n = length if length is not None else min(max_len or 8, 3 + variant)
        return "USD"[:n].ljust(n, "X")
    if origin is list:
        (item,) = typing.get_args(tp)
        return [] if variant == 0 else [_sample(item, 0)]
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)][0]
        return None if variant == 0 else _sample(inner, variant)
    if isinstance(tp, type) and issubclass(tp, Record):
        return _record(tp, variant)
    if tp is Any:
        return {"k": [1, b"v"]}
    raise TypeError(f"no sample for {tp!r}")


def _record(cls: type[Record], variant: int) -> Record:
    hints = typing.get_type_hints(cls, include_extras=True)
    return cls(*[_sample(hints[f.name], variant) for f in dataclasses.fields(cls)])


def bodies() -> list[Record]:
    """Valid bodies of every registered kind (those whose own checks refuse a sample are skipped)."""
    out = []
    for kind in known_kinds():
        for variant in (0, 1):
            try:
                out.append(_record(body_type(kind), variant))
            except (ValueError, TypeError):
                continue
    return out


def txs() -> list[Tx]:
    """Transactions of every kind, signed by :data:`SENDER` on :data:`CHAIN_ID`."""
    return [sign_tx(SENDER, CHAIN_ID, nonce, body) for nonce, body in enumerate(bodies())]


# --------------------------------------------------------------------------- blocks and votes


def block(height: int, tx_list: Iterable[Tx], prev: bytes = ZERO_HASH) -> Block:
    tx_list = tuple(tx_list)
    header = Header(
        chain_id=CHAIN_ID,
        height=height,
        time_ms=1_700_000_000_000 + height,
        prev_hash=prev,
        tx_root=tx_root(tx_list),
        state_root=hashlib.sha256(b"state").digest(),
        receipts_root=hashlib.sha256(b"receipts").digest(),
        proposer=VALIDATOR_KEYS[0].address,
        validators_hash=VSET.hash,
    )
    return Block.make(header, tx_list)


def blocks() -> list[Block]:
    all_txs = txs()
    first = block(1, [])
    return [first, block(2, all_txs[:3], first.id), block(3, all_txs, first.id)]


def vote(key: PrivateKey, type_: int, height: int, round_: int, block_id: bytes) -> Vote:
    sig = key.sign(vote_sign_bytes(CHAIN_ID, type_, height, round_, block_id))
    return Vote(type_, height, round_, block_id, key.address, sig)


def certificate(blk: Block, round_: int = 0) -> CommitCertificate:
    """Precommits of every validator for ``blk``: verifies against :data:`VSET`."""
    keys = sorted(VALIDATOR_KEYS, key=lambda k: k.address)
    msg = vote_sign_bytes(CHAIN_ID, VoteType.PRECOMMIT, blk.height, round_, blk.id)
    return CommitCertificate(blk.height, round_, blk.id, tuple(CommitSig(k.address, k.sign(msg)) for k in keys))


def votes() -> list[Vote]:
    blk = blocks()[1]
    return [vote(VALIDATOR_KEYS[1], t, blk.height, r, bid) for t in (1, 2) for r in (0, 3) for bid in (blk.id, b"")]


def consensus_messages() -> list:
    """Proposals (fresh and re-proposed), votes and evidence, as records."""
    from consensus.messages import DuplicateVoteEvidence, Proposal

    out: list = []
    key = VALIDATOR_KEYS[0]
    for blk in blocks()[:2]:
        for round_, pol in ((0, -1), (2, 1)):
            sig = key.sign(proposal_sign_bytes(CHAIN_ID, blk.height, round_, blk.id, pol))
            out.append(Proposal(blk.height, round_, pol, blk.id, blk.encode(), key.address, sig))
    out += votes()[:4]
    a, b = blocks()[1:3]
    out.append(DuplicateVoteEvidence.of(vote(key, 1, 2, 0, a.id), vote(key, 1, 2, 0, b.id)))
    return out


# --------------------------------------------------------------------------- corpus files


def write_corpus(directory: Path, seeds: Iterable[bytes]) -> int:
    """Write each seed as a file named by its hash (libFuzzer's own naming); returns the count."""
    directory.mkdir(parents=True, exist_ok=True)
    n = 0
    for data in seeds:
        (directory / hashlib.sha1(data).hexdigest()).write_bytes(data)
        n += 1
    return n


def encoded(records: Iterable[Any]) -> list[bytes]:
    return [r.encode() if hasattr(r, "encode") else encode(r) for r in records]
