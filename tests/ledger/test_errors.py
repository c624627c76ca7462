"""One error tree: every error Settle raises on purpose sits under SettleError, in the branch
that says whose fault it is; classes callers catch as ValueError still are ValueErrors."""
from __future__ import annotations

import pytest

from consensus.interfaces import DoubleSignRefused, SafetyError, SafetyStorageError
from ledger.chainstore import HeightNotNextError, StateCorrupt as StoreStateCorrupt
from ledger.codec import DecodeError, EncodeError, decode
from ledger.commit import CertificateError
from ledger.errors import Halt, InvalidInput, PeerMisbehaviour, SettleError, StateCorrupt, StoreError
from ledger.interfaces import StoreClosedError, StoreLockedError
from ledger.keys import KeyFileError
from ledger.proofs import ProofError
from ledger.tx import SignatureError
from node.config import ConfigError
from node.halt import NodeHalted
from node.mempool import MempoolRejection
from node.methods import RPCError
from node.p2p.errors import P2PError, RequestTimeout
from node.p2p.mesh import MeshFrameError
from node.sync import SyncError
from settlement.errors import InsufficientBalance, NotIncludable, SettlementError
from settlement.errors import StateCorrupt as SettlementStateCorrupt
from node.chain import ChainError
from settlement.blockrules import InvalidProposal, WrongStateRoot
from settlement.genesis import GenesisError
from settlement.machine import InvalidBlock

BRANCHES = {
    InvalidInput: [DecodeError, EncodeError, SignatureError, KeyFileError, SettlementError, InsufficientBalance,
                   NotIncludable, GenesisError, ConfigError, MempoolRejection, RPCError, ProofError],
    PeerMisbehaviour: [InvalidProposal, WrongStateRoot, CertificateError, InvalidBlock, SyncError, MeshFrameError],
    Halt: [StoreError, StoreClosedError, StoreLockedError, HeightNotNextError, StateCorrupt, SafetyStorageError,
           NodeHalted, ChainError],
}


@pytest.mark.parametrize("branch", list(BRANCHES), ids=lambda b: b.__name__)
def test_each_error_is_in_its_whose_fault_branch_and_no_other(branch):
    for cls in BRANCHES[branch]:
        assert issubclass(cls, branch) and issubclass(cls, SettleError), cls
        assert [b for b in BRANCHES if issubclass(cls, b)] == [branch], cls


def test_nobodys_fault_errors_sit_under_the_root_only():
    for cls in (P2PError, RequestTimeout, SafetyError, DoubleSignRefused):
        assert issubclass(cls, SettleError) and not any(issubclass(cls, b) for b in BRANCHES), cls


def test_value_errors_stay_value_errors():
    for cls in (DecodeError, EncodeError, SignatureError, KeyFileError, CertificateError, GenesisError, ConfigError,
                ProofError):
        assert issubclass(cls, ValueError), cls
    with pytest.raises(ValueError):
        decode(b"\xc1")


def test_store_and_state_corruption_are_one_class():
    assert StoreStateCorrupt is StateCorrupt is SettlementStateCorrupt
    err = StateCorrupt("does not decode", key=b"k")
    assert err.key == b"k" and "b'k'" in str(err) and "does not decode" in str(err)
    assert StateCorrupt("record out of range").key is None
