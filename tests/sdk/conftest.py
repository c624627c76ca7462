"""Fixtures of the SDK's tests: one real node for the package's end-to-end tests and examples, and the node
fixtures of tests/node (a node's home, its ``Node`` in process)."""
from __future__ import annotations

import pytest

from tests.node.conftest import node_home, node_in_process  # noqa: F401 (fixtures)
from tests.nodeproc import local_node


@pytest.fixture(scope="package")
def sdk_node(tmp_path_factory):
    """One validator started by ``settle init`` defaults (fast blocks), shared by every SDK test that needs a node."""
    node = local_node(tmp_path_factory.mktemp("sdk") / "home")
    yield node
    node.stop()
