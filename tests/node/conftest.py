"""Fixtures for tests that run real nodes: processes on 127.0.0.1, or one ``Node`` in this process."""
from __future__ import annotations

import pytest

from tests.nodeproc import NodeProcess, free_port, run_cli


@pytest.fixture
def node_home(tmp_path):
    home = tmp_path / "home"
    port = free_port()
    run_cli("init", "--home", str(home), "--rpc-port", str(port), "--p2p-port", str(free_port()), check=True)
    cfg = (home / "config.toml").read_text()
    # Short block interval keeps tests quick; empty blocks every second.
    cfg = cfg.replace("interval_ms = 200", "interval_ms = 50").replace("empty_interval_ms = 5000", "empty_interval_ms = 1000")
    (home / "config.toml").write_text(cfg)
    return home, f"http://127.0.0.1:{port}"


@pytest.fixture
def node(node_home):
    home, url = node_home
    proc = NodeProcess(home, url).start()
    yield proc
    proc.stop()


@pytest.fixture
def node_in_process(node_home):
    """The ``Node`` of ``node_home`` built in this process (store, chain, mempool; signatures checked on threads), not started."""
    from node.app import Node
    from node.config import load_config

    cfg = load_config(node_home[0])
    cfg.verifier.pool = "threads"
    node = Node(cfg)
    yield node
    node.close()
