"""The dashboard's same-origin rule for the WebSocket (``node.dashboard.same_origin``), case by case."""
from __future__ import annotations

import pytest
from aiohttp.test_utils import make_mocked_request

from node.dashboard import same_origin


@pytest.mark.parametrize(("host", "origin", "allowed"), [
    ("127.0.0.1:26657", "http://127.0.0.1:26657", True),  # the page the node served, by IPv4
    ("[::1]:26657", "http://[::1]:26657", True),  # by IPv6
    ("localhost:26657", "http://localhost:26657", True),
    ("10.0.0.5:26657", "http://10.0.0.5:26657", True),  # a node on 0.0.0.0 reached by its LAN address
    ("127.0.0.1:26657", "http://127.0.0.1:26658", False),  # another node's (or another server's) page
    ("127.0.0.1:26657", "https://127.0.0.1:26657", False),  # another scheme is another origin
    ("127.0.0.1:26657", "http://localhost:26657", False),  # same machine, other origin
    ("127.0.0.1:26657", "null", False),  # a sandboxed frame or a file: page
    ("127.0.0.1:26657", "http://127.0.0.1:26657/", False),  # not an origin
    ("evil.example:26657", "http://evil.example:26657", False),  # a DNS name: could be rebound here
    ("127.0.0.1.nip.io:26657", "http://127.0.0.1.nip.io:26657", False),
])
def test_same_origin(host, origin, allowed):
    request = make_mocked_request("GET", "/ws", headers={"Host": host, "Origin": origin})
    assert same_origin(request, origin) is allowed
