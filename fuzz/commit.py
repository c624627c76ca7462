"""Fuzz target: commit certificates and votes (``ledger.commit``), as block sync receives them.

Property: any input decodes or raises ``DecodeError``; a decoded value
re-encodes to the same bytes; ``verify_commit`` raises only
``CertificateError``; ``Vote.verify`` only answers.
"""
from __future__ import annotations

from .harness import instrumented, main

with instrumented():
    from ledger.codec import DecodeError
    from ledger.commit import CertificateError, CommitCertificate, Vote, verify_commit

    from . import seeds


def test_one_input(data: bytes) -> None:
    try:
        cert = CommitCertificate.decode(data)
    except DecodeError:
        pass
    else:
        assert cert.encode() == data, "certificate re-encodes to other bytes"
        try:
            verify_commit(cert, seeds.VSET, seeds.CHAIN_ID)
        except CertificateError:
            pass
    try:
        vote = Vote.decode(data)
    except DecodeError:
        return
    assert vote.encode() == data, "vote re-encodes to other bytes"
    assert vote.verify(seeds.CHAIN_ID, seeds.VSET) in (True, False)


def corpus() -> list[bytes]:
    certs = [seeds.certificate(b, r) for b in seeds.blocks() for r in (0, 5)]
    return [c.encode() for c in certs] + [v.encode() for v in seeds.votes()]


if __name__ == "__main__":
    main("commit", test_one_input, corpus)
