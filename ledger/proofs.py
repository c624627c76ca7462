"""Proof verification errors (the ix-proofs branch adds the Merkle proofs themselves).

Owns :class:`ProofError`, the one error every proof verifier raises.
"""
from __future__ import annotations

from .errors import InvalidInput

__all__ = ["ProofError"]


class ProofError(InvalidInput, ValueError):
    """A proof does not verify: it names the first check that failed."""
