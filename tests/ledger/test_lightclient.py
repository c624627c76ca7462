"""Light client checks: a header is accepted only when the trusted validators committed it,
and a follower accepts only the next, linked header.  Headers and certificates are real
(signed precommits of real keys)."""
from __future__ import annotations

from dataclasses import replace

import pytest

from ledger.block import Header
from ledger.codec import encode
from ledger.commit import CommitCertificate, CommitSig, VoteType, vote_sign_bytes
from ledger.hashing import ZERO_HASH, sha256
from ledger.keys import PrivateKey
from ledger.lightclient import HeaderFollower, decode_validator_set, validator_set_bytes, verify_header
from ledger.proofs import ProofError
from ledger.validators import Validator, ValidatorSet

CHAIN = "light-test"
KEYS = sorted((PrivateKey.from_name(f"light-val{i}") for i in range(4)), key=lambda k: k.address)
VSET = ValidatorSet([Validator(k.pubkey, 10) for k in KEYS])


def header_at(height: int, prev: bytes, time_ms: int | None = None, vset: ValidatorSet = VSET) -> Header:
    return Header(CHAIN, height, time_ms if time_ms is not None else height * 1000, prev, sha256(b"t%d" % height),
                  sha256(b"s"), sha256(b"r"), KEYS[0].address, vset.hash)


def certify(header: Header, signers=KEYS, chain_id: str = CHAIN, round_: int = 0) -> CommitCertificate:
    msg = vote_sign_bytes(chain_id, VoteType.PRECOMMIT, header.height, round_, header.id)
    sigs = [CommitSig(k.address, k.sign(msg)) for k in sorted(signers, key=lambda k: k.address)]
    return CommitCertificate(header.height, round_, header.id, tuple(sigs))


def chain(n: int) -> list[tuple[Header, CommitCertificate]]:
    out, prev = [], ZERO_HASH
    for h in range(1, n + 1):
        header = header_at(h, prev)
        out.append((header, certify(header)))
        prev = header.id
    return out


def test_a_certified_header_returns_its_signing_power():
    header, cert = chain(1)[0]
    assert verify_header(VSET, CHAIN, header, cert) == 40
    assert verify_header(VSET, CHAIN, header, certify(header, KEYS[:3])) == 30


@pytest.mark.parametrize("case, reason", [
    ("chain id", "trusted chain is"),
    ("validator set", "names validator set"),
    ("cert height", "certificate is for height"),
    ("cert block", "certificate is for block"),
    ("header field", "certificate is for block"),
    ("two thirds", "not more than 2/3"),
    ("signature", "invalid signature"),
    ("signed for another chain", "invalid signature"),
    ("stranger", "is not a validator"),
    ("power", "names validator set"),
])
def test_each_broken_rule_is_refused_with_its_reason(case, reason):
    header, cert = chain(1)[0]
    vset, chain_id = VSET, CHAIN
    if case == "chain id":
        chain_id = "other"
    elif case == "validator set":
        header = replace(header, validators_hash=sha256(b"x"))
    elif case == "cert height":
        cert = replace(cert, height=2)
    elif case == "cert block":
        cert = replace(cert, block_id=sha256(b"y"))
    elif case == "header field":
        header = replace(header, time_ms=header.time_ms + 1)
    elif case == "two thirds":
        cert = certify(header, KEYS[:2])
    elif case == "signature":
        s = cert.signatures[1]
        cert = replace(cert, signatures=(cert.signatures[0], CommitSig(s.validator, bytes([s.signature[0] ^ 1]) + s.signature[1:]), *cert.signatures[2:]))
    elif case == "signed for another chain":
        cert = certify(header, chain_id="other")
    elif case == "stranger":
        cert = certify(header, [*KEYS[:3], PrivateKey.from_name("stranger")])
    elif case == "power":
        vset = ValidatorSet([Validator(k.pubkey, 10 + (i == 0)) for i, k in enumerate(KEYS)])
    with pytest.raises(ProofError, match=reason):
        verify_header(vset, chain_id, header, cert)


def test_the_follower_accepts_a_linked_chain_and_refuses_gaps_forks_and_time_going_back():
    headers = chain(4)
    f = HeaderFollower(VSET, CHAIN)
    with pytest.raises(ProofError, match="next height is 1"):
        f.advance(*headers[1])
    assert f.advance(*headers[0]) == 40 and f.height == 1
    with pytest.raises(ProofError, match="next height is 2"):
        f.advance(*headers[2])
    fork = header_at(2, sha256(b"another parent"))
    with pytest.raises(ProofError, match="does not link"):
        f.advance(fork, certify(fork))
    back = header_at(2, headers[0][0].id, time_ms=1)
    with pytest.raises(ProofError, match="before its parent"):
        f.advance(back, certify(back))
    for header, cert in headers[1:]:
        f.advance(header, cert)
    assert f.latest == headers[-1][0]
    resumed = HeaderFollower(VSET, CHAIN, start=headers[1][0])
    resumed.advance(*headers[2])
    assert resumed.height == 3


def test_a_refused_header_leaves_the_follower_where_it_was():
    headers = chain(2)
    f = HeaderFollower(VSET, CHAIN)
    f.advance(*headers[0])
    with pytest.raises(ProofError):
        f.advance(headers[1][0], certify(headers[1][0], KEYS[:2]))
    assert f.height == 1
    f.advance(*headers[1])


def test_validator_set_bytes_round_trip_and_hash_to_the_set_hash():
    raw = validator_set_bytes(VSET)
    assert sha256(raw) == VSET.hash
    assert decode_validator_set(raw).hash == VSET.hash
    with pytest.raises(ProofError, match="does not decode"):
        decode_validator_set(raw[:-1])
    with pytest.raises(ProofError, match="does not decode"):
        decode_validator_set(b"\x90")  # an empty set
    with pytest.raises(ProofError, match="canonical order"):
        decode_validator_set(encode(list(reversed(VSET.to_obj()))))
