"""Fixtures of the SDK's tests: the node fixtures of tests/node (a real node's home, its ``Node`` in process)."""
from __future__ import annotations

from tests.node.conftest import node_home, node_in_process  # noqa: F401 (fixtures)
