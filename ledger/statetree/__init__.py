"""The authenticated state tree: a Merkle tree over the settlement state entries.

``proof.py`` holds what a verifier needs (the hashing rules, :class:`StateProof`,
:func:`verify_state`); ``tree.py`` holds the versioned, stored tree that a node
updates once per block and proves from.  See ``docs/interop.md`` "## State tree".
"""
from .proof import EMPTY_TREE_ROOT, StatePath, StateProof, verify_state
from .tree import NodeSource, StateTree, TreeBatch

__all__ = ["EMPTY_TREE_ROOT", "NodeSource", "StatePath", "StateProof", "StateTree", "TreeBatch", "verify_state"]
