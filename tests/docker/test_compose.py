"""docker-compose: build offline, run 4 validators, submit with the CLI, survive faults.

Build, ``up``, transfers through the CLI inside a container, all 4 nodes at
the same block and state root; stop one container -> the other 3 keep
committing -> start it -> it catches up; disconnect one from the network ->
the rest continue -> reconnect -> it catches up; ``down -v``.  Cleans up
whatever happens.  Needs docker, docker-compose (v1) and debootstrap, which
``.ci/run`` installs; elsewhere the test is skipped unless CI is set.
"""
from __future__ import annotations

import json
import os
import time

import pytest

from sdk import Client, SettleError
from tests.docker.dockerenv import ROOT, Engine, build_wheels, cache_dir, ensure_base_image, sh, tools_present
from tests.nodeproc import free_port

pytestmark = pytest.mark.docker

PROJECT = "settlecompose"

if not tools_present() and not os.environ.get("CI"):
    pytest.skip("docker, docker-compose and debootstrap are not installed (CI installs them)", allow_module_level=True)


@pytest.fixture(scope="module")
def compose(tmp_path_factory):
    work = tmp_path_factory.mktemp("docker")
    ports = [free_port() for _ in range(4)]
    env = {**os.environ, "SETTLE_BUILD_NETWORK": "none"}
    env.update({f"SETTLE_RPC_PORT{i}": str(p) for i, p in enumerate(ports)})

    def dc(*args, check=True, timeout=600):
        return sh("docker-compose", "-p", PROJECT, "-f", str(ROOT / "docker-compose.yml"), *args, check=check, timeout=timeout, env=env, cwd=ROOT)

    with Engine(work):
        env["SETTLE_BASE_IMAGE"] = ensure_base_image(cache_dir())
        build_wheels()
        dc("down", "-v", "--remove-orphans", check=False)
        try:
            dc("build")
            dc("up", "-d")
            clients = [Client(f"http://127.0.0.1:{p}", timeout=10) for p in ports]
            yield dc, clients
        finally:
            logs = dc("logs", "--tail", "30", check=False)
            (work / "compose.log").write_text(logs.stdout + logs.stderr)
            dc("down", "-v", "--remove-orphans", check=False, timeout=300)


def _status(c: Client):
    try:
        return c.call("status")
    except SettleError:
        return None


def _wait(pred, timeout=90, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _heights(clients):
    return [(_status(c) or {}).get("height", -1) for c in clients]


def _agree(clients, height):
    blocks = [c.call("block", {"height": height})["header"] for c in clients]
    assert len({b["id"] for b in blocks}) == 1 and len({b["state_root"] for b in blocks}) == 1, blocks
    return blocks[0]


def test_compose_network_lifecycle(compose):
    dc, clients = compose
    _wait(lambda: all(h >= 1 for h in _heights(clients)), what="all 4 nodes to commit a block")

    # Submit transfers with the CLI inside the containers, to different nodes.
    for i, (frm, to) in enumerate([("alice", "bob"), ("bob", "carol"), ("carol", "dave")]):
        out = dc("exec", "-T", f"node{i}", "settle", "tx", "transfer", "--home", "/net", "--rpc", "http://127.0.0.1:26657",
                 "--from", frm, "--to", to, "--asset", "USD", "--amount", str(100 + i), "--wait", "--json")
        assert json.loads(out.stdout)["receipt"]["ok"]
    top = max(_heights(clients))
    _wait(lambda: min(_heights(clients)) >= top, what="all nodes at the same height")
    _agree(clients, top)

    # Stop one container: the other three keep committing; start it: it catches up.
    dc("stop", "node3")
    h = max(_heights(clients[:3]))
    _wait(lambda: min(_heights(clients[:3])) >= h + 2, what="3 nodes to keep committing")
    dc("start", "node3")
    target = max(_heights(clients[:3]))
    _wait(lambda: (_status(clients[3]) or {}).get("height", -1) >= target, what="node3 to catch up")
    _agree(clients, target)

    # Disconnect one from the network: the rest continue; reconnect: it catches up.
    net = f"{PROJECT}_settle"
    container = f"{PROJECT}_node2_1"
    sh("docker", "network", "disconnect", net, container)
    try:
        h = max(_heights([clients[i] for i in (0, 1, 3)]))
        _wait(lambda: min(_heights([clients[i] for i in (0, 1, 3)])) >= h + 2, what="3 nodes to continue without node2")
        # Its published port went with the network; ask it from inside: it is cut off, not advancing.
        inside = dc("exec", "-T", "node2", "settle", "query", "status", "--rpc", "http://127.0.0.1:26657", "--json")
        assert json.loads(inside.stdout)["height"] <= h + 1
    finally:
        sh("docker", "network", "connect", "--alias", "node2", net, container)
    target = max(_heights(clients))
    _wait(lambda: (_status(clients[2]) or {}).get("height", -1) >= target, timeout=120, what="node2 to catch up")
    _agree(clients, target)
