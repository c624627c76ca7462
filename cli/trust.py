"""What an offline verifier trusts: a genesis document, or the hash of a validator set.

Owns the ``--trust GENESIS`` / ``--trust-vset HASH`` options shared by
``settle verify`` and ``settle light``, and :class:`Trust`, which accepts a
validator set (and a chain id) only if it is the trusted one.  Never asks a
node anything: whatever a node or a file hands over is checked against this.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import click

from ledger.proofs import ProofError
from ledger.validators import ValidatorSet
from settlement.genesis import Genesis, GenesisError

from .common import CLIError

__all__ = ["Trust", "trust_options"]


@dataclass(frozen=True)
class Trust:
    """A trusted validator-set hash, and (from a genesis) the chain id and the set itself."""

    vset_hash: bytes
    chain_id: str | None = None
    vset: ValidatorSet | None = None
    source: str = ""

    @classmethod
    def from_options(cls, genesis: str | None, vset_hash: str | None) -> "Trust":
        """Exactly one of a genesis file path and a validator-set hash (64 hex digits)."""
        if (genesis is None) == (vset_hash is None):
            raise CLIError("give exactly one of --trust GENESIS.json and --trust-vset HASH")
        if genesis is not None:
            try:
                g = Genesis.from_json(json.loads(Path(genesis).read_text()))
            except (OSError, ValueError, GenesisError) as exc:
                raise CLIError(f"cannot use {genesis} as the trusted genesis: {exc}") from None
            vset = g.validator_set()
            return cls(vset.hash, g.chain_id, vset, f"genesis {genesis}")
        text = vset_hash.lower().removeprefix("0x")
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raw = b""
        if len(raw) != 32:
            raise CLIError("--trust-vset must be a validator-set hash of 64 hex digits")
        return cls(raw, source=f"validator set {text}")

    def check(self, chain_id: str, vset: ValidatorSet) -> None:
        """Accept ``vset`` on ``chain_id`` only if it is the trusted set (and chain).

        Raises:
            ProofError: naming what differs from the trust root.
        """
        if self.chain_id is not None and chain_id != self.chain_id:
            raise ProofError(f"it is for chain {chain_id!r}, the trusted genesis is chain {self.chain_id!r}")
        if vset.hash != self.vset_hash:
            raise ProofError(
                f"its validator set {vset.hash.hex()} is not the trusted one {self.vset_hash.hex()} ({self.source})"
            )


def trust_options(fn):
    """``--trust`` and ``--trust-vset`` on a command (it receives ``trust_genesis`` and ``trust_vset``)."""
    fn = click.option("--trust-vset", "trust_vset", default=None, metavar="HASH",
                      help="trust the validator set whose hash is HASH (64 hex digits)")(fn)
    return click.option("--trust", "trust_genesis", default=None, metavar="GENESIS.json",
                        help="trust the chain id and validator set of this genesis document")(fn)
