"""The SDK wraps exactly the node's RPC methods: one request builder and one method on each client per
method of the node's table, with the same parameters; a method added to the node without a wrapper fails here."""
from __future__ import annotations

import inspect

import sdk
from sdk import methods as m

DISCOVER = "rpc.discover"  # the OpenRPC method


def test_the_sdk_wraps_every_method_of_the_node_and_no_other(node_in_process):
    served = set(node_in_process.rpc._methods)
    assert set(m.METHODS) == served
    assert DISCOVER in served and list(m.METHODS) == sorted(m.METHODS)


def _python_name(method: str) -> str:
    return method.replace(".", "_")


def test_both_clients_have_one_method_per_rpc_method_with_the_builders_parameters():
    for method in m.METHODS:
        name = _python_name(method)
        builder = m.BUILDERS[name]
        want = inspect.signature(builder).parameters
        if all(p.default is not p.empty for p in want.values()):
            assert builder().method == method
        for cls in (sdk.Client, sdk.AsyncClient):
            fn = getattr(cls, name)
            got = dict(inspect.signature(fn).parameters)
            got.pop("self")
            assert [(p.name, p.kind, p.default) for p in got.values()] == [(p.name, p.kind, p.default) for p in want.values()], (cls, name)
            assert inspect.iscoroutinefunction(fn) is (cls is sdk.AsyncClient)


def test_requests_carry_the_servers_parameter_names_and_leave_out_what_is_not_given():
    assert m.block() == m.Request("block", {})
    assert m.block(4, receipts=True).params == {"height": 4, "receipts": True}
    assert m.account(bytes(20)).params == {"address": "st" + "00" * 20}
    assert m.tx(b"\x01" * 32).params == {"hash": "01" * 32}
    assert m.proof("state", key={"entry": "account", "address": "st" + "00" * 20}).params["key"]["entry"] == "account"
    assert m.pm_whatif("st" + "00" * 20, "buy", 1, 2, market="M").params == {
        "address": "st" + "00" * 20, "side": "buy", "size": 1, "price": 2, "market": "M"}
    commit = m.broadcast_tx("ab", "commit", 5)
    assert commit.params == {"tx": "ab", "mode": "commit", "timeout": 5} and commit.timeout > 5
    assert m.broadcast_tx("ab").timeout is None
    assert m.rpc_discover().method == DISCOVER
