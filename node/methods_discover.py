"""JSON-RPC method ``rpc.discover``: the OpenRPC document of this node's API (OpenRPC's service discovery method).

Owns serving ``node/openrpc.json`` (package data, built by
``node/openrpc_methods.py``), read once, with ``info.version`` set to the
installed package's version.  Listed in :data:`DISCOVER_METHODS`; the RPC
method table is built from it and the other groups by
``node.methods.method_table``, which names a method by its function's
``__name__``: this one's is set to ``"rpc.discover"`` (a dot cannot be in a
Python name).  Never builds or edits the document.
"""
from __future__ import annotations

import json
from functools import cache
from importlib import metadata, resources

from .methods import Method, RpcApi

__all__ = ["DISCOVER_METHODS", "document"]


@cache
def document() -> dict:
    """The served OpenRPC document (``node/openrpc.json``), ``info.version`` the package's (the file's when not installed)."""
    doc = json.loads(resources.files("node").joinpath("openrpc.json").read_text())
    try:
        doc["info"]["version"] = metadata.version("settle")
    except metadata.PackageNotFoundError:
        pass
    return doc


async def rpc_discover(api: RpcApi, params) -> dict:
    return document()


rpc_discover.__name__ = "rpc.discover"

DISCOVER_METHODS: tuple[Method, ...] = (rpc_discover,)
