"""The root of every Settle error, and its three whose-fault branches.

Owns the one question every ``except`` must answer: *whose fault is this,
and so what happens next?*  h11 draws the line with ``LocalProtocolError``
and ``RemoteProtocolError``; py-evm keeps one tree in ``eth/exceptions.py``.
Here:

* :class:`InvalidInput` — *the caller's fault* (a client, an operator, a
  transaction's signer).  Refuse this one input with a reason; change
  nothing else; carry on.  The node answers with a JSON-RPC error code or a
  mempool refusal code; settlement writes a failed receipt.
* :class:`PeerMisbehaviour` — *a peer's fault*.  Drop what it sent, count it
  against that peer (``report_garbage``: strikes, then a ban), try another.
* :class:`Halt` — *our own store or state cannot be trusted* (a failed or
  refused write, a value that does not decode, an invariant broken).  Stop
  before signing or committing anything more: the node halts and exits with
  its halt code (``node/halt.py``).

Where each family sits (each module keeps its own classes; their docstrings
say when they are raised):

=============================================  =====================
``ledger.codec.DecodeError`` / ``EncodeError``  InvalidInput
``ledger.tx.SignatureError``                    InvalidInput
``ledger.keys.KeyFileError``                    InvalidInput
``settlement.errors.SettlementError`` (all)     InvalidInput
``settlement.errors.NotIncludable``             InvalidInput
``settlement.genesis.GenesisError``             InvalidInput
``node.config.ConfigError``                     InvalidInput
``node.mempool.MempoolRejection``               InvalidInput
``node.methods.RPCError``                       InvalidInput
``ledger.proofs.ProofError``                    InvalidInput
``settlement.blockrules.InvalidProposal``       PeerMisbehaviour (one subclass per block rule)
``ledger.commit.CertificateError``              PeerMisbehaviour
``settlement.machine.InvalidBlock``             PeerMisbehaviour
``node.sync.SyncError``                         PeerMisbehaviour
``node.p2p.mesh.MeshFrameError``                PeerMisbehaviour
``ledger.interfaces.StoreError`` (all)          Halt
:class:`StateCorrupt`                           Halt (a StoreError)
``consensus.SafetyStorageError``                Halt
``node.halt.NodeHalted``                        Halt
``node.chain.ChainError``                       Halt (the store belongs to another genesis)
=============================================  =====================

A class names the usual fault where it is raised.  A boundary that knows
better says so by raising the other branch: the chain store turns a
``DecodeError`` of a stored value into :class:`StateCorrupt`; block sync
turns a peer's undecodable block into a ``SyncError``; the node's RPC turns
a client's ``DecodeError`` into an ``RPCError``.  Classes that subclass
``ValueError`` keep doing so (callers catch them as such).

Errors that are nobody's fault sit directly under :class:`SettleError`: a
transport failure (``node.p2p.P2PError``: a peer unreachable, a request
timed out; try again later), the safety module's refusal to sign
(``consensus.SafetyError``: logged, the step goes unsigned) and a start-up
failure (``node.app.NodeError``: exit code 1).

Never: import anything (this is the bottom of the bottom layer).
"""
from __future__ import annotations

__all__ = ["Halt", "InvalidInput", "PeerMisbehaviour", "SettleError", "StateCorrupt", "StoreError"]


class SettleError(Exception):
    """Base of every error Settle raises on purpose (anything else is a bug)."""


class InvalidInput(SettleError):
    """The caller's input breaks a rule: refuse it with a reason, change nothing else, carry on."""


class PeerMisbehaviour(SettleError):
    """A peer sent something malformed or unverifiable: drop it, count it against the peer."""


class Halt(SettleError):
    """This node's own store or state cannot be trusted: stop before signing anything more."""


class StoreError(Halt):
    """Base of every storage error (``ledger/interfaces.py`` documents the contract).

    Raised as such when the backend itself fails (disk full, permission denied,
    a corruption reported by the storage engine); the engine's exception is
    chained as ``__cause__``.  Subclasses name the more specific rules.  Every
    one is a :class:`Halt`: a store that failed or refused a write no longer
    holds what the node believes it wrote.
    """


class StateCorrupt(StoreError):
    """A stored value does not decode, or contradicts another stored value or an invariant.

    The one class for both: raised by the chain store (a block, receipt or
    height that does not decode) and by the state machine (an account, balance or market record
    out of range).  A bug or a damaged disk: the node halts rather than diverge.

    Attributes:
        key: the store key whose value is corrupt, or None when no one key is to blame.
    """

    def __init__(self, detail: str, key: bytes | None = None) -> None:
        super().__init__(detail if key is None else f"corrupt store value under {key!r}: {detail}")
        self.key = key
