"""The OpenRPC document (``node/openrpc.json``, served by ``rpc.discover``) against the node's code and a real node.

* the document's methods are the node's method table, both ways, with the
  server's param names;
* it is a valid OpenRPC document (the OpenRPC meta-schema, vendored from
  ``@open-rpc/meta-schema`` 1.14.9, Apache-2.0: ``openrpc_meta_schema.json``
  and its licence beside it; no network at test time), every schema is valid
  JSON Schema (draft-07) and every example matches its schemas;
* it is what ``node/openrpc_methods.py`` builds, and ``docs/api.md``'s table
  lists its methods;
* against one real node holding a market, an option series and trades, a
  portfolio-margin account, collateral, an HTLC and a bridge client, every
  method is called with its examples' params (chain values replaced by this
  chain's), by name and, where allowed, by position: each params set and each
  result must match the document, each error code must be one the method
  documents, and a method without a validated call fails the test; the
  WebSocket feed's replies and notifications match ``x-websocket``.
"""
from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import re
from importlib import metadata
from pathlib import Path

import aiohttp
import pytest
from jsonschema import Draft7Validator
from referencing import Registry
from referencing.jsonschema import DRAFT7

from sdk import SettleError
from consensus.messages import DuplicateVoteEvidence
from ledger.commit import NIL, Vote, VoteType, vote_sign_bytes
from ledger.keys import PrivateKey, format_address
from ledger.lightclient import validator_set_bytes
from ledger.tx import sign_tx
from ledger.txkinds import CreateAsset, Issue, RegisterAccount, Transfer
from ledger.txkinds_bridge import BridgeCreateClient, BridgeSend
from ledger.txkinds_options import OptionOrder, OptionTrade, RegisterOptionSeries, SetOptionParams, VolPoint, VolReport, sign_option_order
from ledger.txkinds_pm import SetCollateral, SetMarginMode, SetPmParams
from ledger.txkinds_risk import (ANY_TAKER, CancelOrder, HtlcClaim, HtlcLock, InsuranceDeposit, MarginDeposit, MarginWithdraw, Order,
                                 PriceReport, RegisterMarket, SetOracles, Swap, SwapTerms, Trade, sign_order, sign_swap_terms)
from ledger.validators import Validator, ValidatorSet
from node.app import RPC_METHOD_GROUPS
from node.methods import method_table
from node.methods_discover import document
from node.wal_file import WalFile
from node.openrpc_methods import DOCUMENT_PATH, build_document, render
from settlement.risk.collateral import default_collateral_params
from settlement.risk.markets import default_params
from settlement.risk.options.series import default_option_params
from settlement.risk.pm.mode import PM_DEFAULTS
from tests.nodeproc import ROOT, NodeProcess, free_port, run_cli, tune_fast

HERE = Path(__file__).resolve().parent
DOC = json.loads(DOCUMENT_PATH.read_text())
METHODS = {m["name"]: m for m in DOC["methods"]}
U = "BTC-PERP"
EVENT_KINDS = {b["properties"]["kind"]["const"] for b in DOC["components"]["schemas"]["Event"]["oneOf"] if "const" in b["properties"]["kind"]}
SOURCES = "".join(p.read_text() for p in sorted((ROOT / "node").glob("methods*.py")))


def validator(schema: dict) -> Draft7Validator:
    """A draft-07 validator of ``schema`` whose ``#/components/...`` references resolve in the document."""
    return Draft7Validator({"allOf": [schema], "components": DOC["components"]})


def errors(schema: dict, value) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}" for e in validator(schema).iter_errors(value)]


def meta_validator() -> Draft7Validator:
    """The OpenRPC meta-schema; its JSON Schema references (meta.json-schema.tools) resolve to draft-07's meta-schema."""
    meta = json.loads((HERE / "openrpc_meta_schema.json").read_text())
    draft7 = {k: v for k, v in Draft7Validator.META_SCHEMA.items() if k != "$id"}
    stand_in = DRAFT7.create_resource({**draft7, "definitions": {**draft7["definitions"], "JSONSchemaObject": draft7}})
    registry = Registry().with_resources([("https://meta.json-schema.tools", stand_in), ("https://meta.json-schema.tools/", stand_in)])
    return Draft7Validator(meta, registry=registry)


def param_schemas(method: str) -> dict[str, dict]:
    return {p["name"]: p["schema"] for p in METHODS[method]["params"]}


def check_params(method: str, params: dict) -> None:
    schemas = param_schemas(method)
    assert set(params) <= set(schemas), f"{method}: params {sorted(set(params) - set(schemas))} not documented"
    missing = [p["name"] for p in METHODS[method]["params"] if p.get("required") and p["name"] not in params]
    assert not missing, f"{method}: required params {missing} not given"
    for name, value in params.items():
        assert not errors(schemas[name], value), f"{method}.{name}: {errors(schemas[name], value)}"


def documented_codes(method: str) -> set[int]:
    return {DOC["components"]["errors"][e["$ref"].rsplit("/", 1)[1]]["code"] for e in METHODS[method]["errors"]}


# ---------------------------------------------------------------------------------------------- the document itself


def test_the_document_lists_exactly_the_node_methods_with_their_param_names():
    table = method_table(*RPC_METHOD_GROUPS)
    assert sorted(METHODS) == sorted(table) == [m["name"] for m in DOC["methods"]]
    assert "rpc.discover" in table
    for name, m in METHODS.items():
        names = [p["name"] for p in m["params"]]
        assert len(set(names)) == len(names), name
        for p in names:  # every documented param is read by its name in the methods' modules
            assert f'"{p}"' in SOURCES or f"'{p}'" in SOURCES or f'name="{p}"' in SOURCES, f"{name}: param {p!r} is read nowhere"


def test_the_document_is_valid_openrpc_with_valid_schemas_and_examples():
    problems = [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in meta_validator().iter_errors(DOC)]
    assert not problems, problems
    for name, schema in DOC["components"]["schemas"].items():
        Draft7Validator.check_schema(schema)
    text = json.dumps(DOC)
    for target in set(re.findall(r'"\$ref": "#/components/(\w+)/(\w+)"', text)):
        assert target[1] in DOC["components"][target[0]], target
    for m in DOC["methods"]:
        Draft7Validator.check_schema(m["result"]["schema"])
        assert m["examples"], f"{m['name']} has no example"
        for p in m["params"]:
            Draft7Validator.check_schema(p["schema"])
        for ex in m["examples"]:
            check_params(m["name"], {p["name"]: p["value"] for p in ex["params"]})
            assert not errors(m["result"]["schema"], ex["result"]["value"]), (m["name"], ex["name"])
    ws = DOC["x-websocket"]
    for entry in [*ws["methods"], *ws["notifications"]]:
        Draft7Validator.check_schema(entry["params"])


def test_the_served_file_is_the_built_document_and_rpc_discover_serves_it():
    assert DOCUMENT_PATH.read_text() == render(build_document()), "node/openrpc.json is stale: run python -m node.openrpc_methods"
    served = document()
    assert {k: v for k, v in served.items() if k != "info"} == {k: v for k, v in DOC.items() if k != "info"}


def test_docs_api_md_lists_every_method_with_its_summary():
    text = (ROOT / "docs" / "api.md").read_text()
    rows = re.findall(r"^\| `([\w.]+)` \| (.+?) \|$", text, re.M)
    assert rows == [(m["name"], m["summary"]) for m in DOC["methods"]]


def test_a_wrong_result_fails_validation():
    ok = METHODS["status"]["examples"][0]["result"]["value"]
    schema = METHODS["status"]["result"]["schema"]
    assert not errors(schema, ok)
    for mutate in (lambda r: r.update(height="8"), lambda r: r.pop("state_root"), lambda r: r.update(extra=1),
                   lambda r: r.update(latest_block_hash="XYZ"), lambda r: r.update(validator="0x12")):
        bad = copy.deepcopy(ok)
        mutate(bad)
        assert errors(schema, bad), bad
    market = copy.deepcopy(METHODS["markets"]["examples"][0]["result"]["value"])
    market[0]["params"]["new_param_ppm"] = 1  # a field added in code but not in the document
    assert errors(METHODS["markets"]["result"]["schema"], market)
    tx = METHODS["tx"]["examples"][0]["result"]["value"]
    for mutate in (lambda t: t["tx"]["body"].update(fee=1), lambda t: t["tx"].update(kind="issue"),
                   lambda t: t["tx"]["body"].update(to="bob"), lambda t: t["receipt"].update(code=-1)):
        bad = copy.deepcopy(tx)
        mutate(bad)
        assert errors(METHODS["tx"]["result"]["schema"], bad), bad
    trade = {"kind": "trade", "market": "BTC-PERP", "maker": "st" + "11" * 20, "taker": "st" + "22" * 20, "maker_side": "buy",
             "size": 3, "price": 100, "order_nonce": 7, "maker_position": 3, "taker_position": -3}
    event = {"$ref": "#/components/schemas/Event"}
    assert not errors(event, trade) and not errors(event, {"kind": "liquidation", "anything": [1]})  # a kind not typed: any fields
    for mutate in (lambda e: e.pop("price"), lambda e: e.update(fee=1), lambda e: e.update(size="3"), lambda e: e.update(maker_side="up")):
        bad = dict(trade)
        mutate(bad)
        assert errors(event, bad), bad


# ---------------------------------------------------------------------------------------------- one real node


def equivocate(home: Path) -> None:
    """Evidence that the validator voted nil and for a block at height 1, round 0, kept where the node keeps what it saw."""
    key = PrivateKey.load(home / "node_key.json")
    chain_id = json.loads((home / "genesis.json").read_text())["chain_id"]
    prevote = int(VoteType.PREVOTE)
    votes = [Vote(prevote, 1, 0, block, key.address, key.sign(vote_sign_bytes(chain_id, prevote, 1, 0, block)))
             for block in (NIL, bytes(range(32)))]
    kept = WalFile(home / "consensus" / "evidence.bin")
    kept.append(DuplicateVoteEvidence.of(*votes).encode())
    kept.sync()
    kept.close()


class World:
    """A real node (``settle init`` defaults) holding one of everything the methods read."""

    def __init__(self, home: Path):
        port = free_port()
        run_cli("init", "--home", str(home), "--rpc-port", str(port), "--p2p-port", str(free_port()), check=True)
        tune_fast(home)
        equivocate(home)
        self.node = NodeProcess(home, f"http://127.0.0.1:{port}").start()
        self.client = self.node.client
        self.chain_id = self.client.call("status")["chain_id"]
        self.keys = {p.stem: PrivateKey.load(p) for p in (home / "keys").glob("*.json")}
        self.nonces: dict[str, int] = {}

    def addr(self, who: str) -> str:
        return format_address(self.keys[who].address)

    def tx(self, who: str, body):
        if who not in self.nonces:
            self.nonces[who] = self.client.call("account", {"address": self.addr(who)})["next_nonce"]
        self.nonces[who] += 1
        return sign_tx(self.keys[who], self.chain_id, self.nonces[who] - 1, body)

    def commit(self, *txs) -> list[dict]:
        res = self.client.call("broadcast_tx_batch", {"txs": [t.raw.hex() for t in txs], "mode": "commit"}, timeout=60)
        for r in res["results"]:
            assert r.get("receipt", {}).get("ok"), r
        return res["results"]

    def build(self) -> dict:
        """Markets, options, PM, collateral, an HTLC and a bridge client; returns the chain values example params name."""
        k, c = self.keys, self.client
        params = default_params("large", oracle_fresh_ms=600_000)
        self.commit(self.tx("admin", RegisterMarket(U, "BTC", "USD", params, (k["oracle"].address,))),
                    self.tx("admin", RegisterMarket("EUR-PERP", "EUR", "USD", params, (k["oracle"].address,))),
                    self.tx("admin", RegisterMarket("ETH-PERP", "ETH", "USD", params, (k["oracle"].address, k["oracle1"].address))),
                    self.tx("alice", MarginDeposit("USD", 10**11)), self.tx("bob", MarginDeposit("USD", 10**11)))
        self.commit(self.tx("oracle", PriceReport(U, 100_000_000)), self.tx("oracle", PriceReport("EUR-PERP", 1_100_000)),
                    self.tx("oracle", PriceReport("ETH-PERP", 3_000_000)))  # one of ETH-PERP's two oracles: no quorum
        expiry = c.call("status")["latest_block_time_ms"] + 86_400_000
        self.commit(self.tx("admin", SetOptionParams(U, default_option_params())),
                    self.tx("admin", SetOptionParams("ETH-PERP", default_option_params())),  # no vol reported: no surface
                    self.tx("admin", RegisterOptionSeries(U, "call", 100_000_000, expiry, 1)),
                    self.tx("admin", SetCollateral("EUR", default_collateral_params("USD", "EUR-PERP"))))
        self.commit(self.tx("oracle", VolReport(U, [VolPoint(expiry, 100_000_000, 800_000)])))
        sid = c.call("option_series_list")[0]["series"]
        mark = c.call("option_series", {"series": sid})["mark"]
        h = c.call("status")["height"]
        option_order = sign_option_order(k["alice"], self.chain_id, OptionOrder(sid, "sell", 10, mark, h + 100, 5, ANY_TAKER))
        perp_order = sign_order(k["alice"], self.chain_id, Order(U, "buy", 10, 100_000_000, h + 100, 7, ANY_TAKER))
        counterparty = ValidatorSet([Validator(k["admin"].pubkey, 10)])
        done = self.commit(
            self.tx("bob", OptionTrade(option_order, 4)), self.tx("bob", Trade(perp_order, 3)),
            self.tx("carol", SetMarginMode("portfolio")), self.tx("carol", MarginDeposit("EUR", 1_000_000)),
            self.tx("alice", HtlcLock("EUR", 5, k["bob"].address, hashlib.sha256(b"s" * 32).digest(), h + 1000)),
            self.tx("alice", HtlcLock("EUR", 6, k["bob"].address, hashlib.sha256(b"s" * 32).digest(), h + 1000)),
            self.tx("admin", BridgeCreateClient("settle-other", validator_set_bytes(counterparty))),
            self.tx("admin", CreateAsset("GBP", 2, k["admin"].address)))
        hid, claimed = (next(e["id"] for e in r["receipt"]["events"] if e["kind"] == "htlc_locked") for r in done[4:6])
        expiry = c.call("status")["latest_block_time_ms"] + 86_400_000
        swap = sign_swap_terms(k["alice"], self.chain_id, SwapTerms(k["alice"].address, k["bob"].address, "EUR", 10, "USD", 9, h + 100, 1))
        self.commit(self.tx("bob", HtlcClaim(bytes.fromhex(claimed), b"s" * 32)),
                    self.tx("alice", BridgeSend("settle-other", k["bob"].address, "USD", 5, expiry)),  # escrowed for it
                    self.tx("alice", MarginWithdraw("USD", 1)), self.tx("alice", InsuranceDeposit("USD", 1)),
                    self.tx("alice", CancelOrder(8)), self.tx("bob", Swap(swap.terms, swap.maker_pubkey, swap.maker_signature)),
                    self.tx("admin", Issue("GBP", 100, k["alice"].address)),
                    self.tx("admin", RegisterAccount(PrivateKey.generate().address, "participant")),
                    self.tx("admin", SetOracles("ETH-PERP", (k["oracle"].address, k["oracle1"].address))),
                    self.tx("admin", SetPmParams(U, PM_DEFAULTS)))
        return {"market": U, "underlying": U, "series": sid, "id": hid, "hash": done[0]["hash"], "height": done[0]["height"],
                "maker": self.addr("alice"), "nonce": 7, "sid_mark": mark, "claimed": claimed}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = World(tmp_path_factory.mktemp("openrpc") / "home")
    try:
        w.values = w.build()
        yield w
    finally:
        w.node.stop()


def real_params(w: World, method: str, example: dict) -> dict:
    """The example's params with this chain's values (fresh transactions for the broadcasts)."""
    v = w.values
    owner = {"option_positions": "bob", "pm_scenarios": "carol", "pm_whatif": "carol"}.get(method, "alice")
    out = {}
    for p in example["params"]:
        name, value = p["name"], p["value"]
        if name == "address":
            value = w.addr(owner)
        elif name == "tx":
            value = w.tx("alice", Transfer(w.keys["bob"].address, "USD", 1, "")).raw.hex()
        elif name == "txs":
            value = [w.tx("bob", Transfer(w.keys["alice"].address, "USD", 1, "")).raw.hex(), *value[1:]]
        elif name == "key" and isinstance(value, dict):
            value = {**value, "address": w.addr("alice")}
        elif name == "price" and method == "pm_whatif" and "series" in {q["name"] for q in example["params"]}:
            value = v["sid_mark"]
        elif name in v and name != "price":
            value = v[name]
        out[name] = value
    return out


def validated_call(w: World, method: str, params, done: set) -> object:
    if isinstance(params, dict):
        check_params(method, params)
    result = w.client.call(method, params, timeout=60)
    problems = errors(METHODS[method]["result"]["schema"], result)
    assert not problems, f"{method}({params}) answered what the document does not describe: {problems}"
    done.add(method)
    return result


def test_every_method_answers_real_calls_as_documented(world):
    w, done = world, set()
    for method, m in METHODS.items():
        for ex in m["examples"]:
            params = real_params(w, method, ex)
            validated_call(w, method, params, done)
            names = [p["name"] for p in m["params"]][:len(params)]
            if m["paramStructure"] == "either" and list(params) == names and method not in ("broadcast_tx", "broadcast_tx_batch"):
                validated_call(w, method, [params[n] for n in names], set())  # by position, in the documented order
    assert done == set(METHODS), f"methods without a validated real call: {sorted(set(METHODS) - done)}"

    # shapes the examples do not reach: a standard account's scenario table, a filter, an option list of one underlying,
    # a block without receipts, a pending transaction
    for method, params in [("pm_scenarios", {"address": w.addr("alice")}), ("events", {"height": w.values["height"], "kinds": ["trade"]}),
                           ("option_series_list", {"underlying": U}), ("block", {}), ("oracle", {"market": "EUR-PERP"}),
                           ("broadcast_tx", {"tx": w.tx("dave", Transfer(w.keys["bob"].address, "USD", 1, "")).raw.hex(), "mode": "async"})]:
        validated_call(w, method, params, set())
    assert validated_call(w, "pm_scenarios", {"address": w.addr("alice")}, set())["accounts"][0]["underlyings"][0]["grid"] is None
    assert [e["block_ids"][0] for e in validated_call(w, "evidence", {}, set())] == [""]  # a nil vote against a block
    assert validated_call(w, "htlc", {"id": w.values["claimed"]}, set())["preimage"] == (b"s" * 32).hex()
    assert validated_call(w, "bridge", {}, set())["clients"][0]["escrow"] == {"USD": 5}
    assert sorted(r["price"] is None for r in validated_call(w, "oracle", {"market": "ETH-PERP"}, set())["reports"]) == [False, True]
    assert validated_call(w, "vol_surface", {"underlying": "ETH-PERP"}, set())["surface"] is None
    late = sign_tx(w.keys["oracle2"], w.chain_id, 2, Transfer(w.keys["bob"].address, "USD", 1, ""))  # nonces 0, 1 never come
    batch = validated_call(w, "broadcast_tx_batch", {"txs": [late.raw.hex()], "mode": "commit", "timeout": 1}, set())
    assert "error" in batch["results"][0]
    kinds, events = set(), set()
    for height in range(1, w.client.call("status")["height"] + 1):  # every body kind this chain holds, and every receipt
        blk = validated_call(w, "block", {"height": height, "receipts": True}, set())
        kinds |= {t["kind"] for t in blk["txs"]}
        events |= {e["kind"] for r in blk["receipts"] for e in r["events"]}
    assert len(kinds) >= 23, kinds
    assert EVENT_KINDS <= events, f"event kinds the document types but no real event checked: {sorted(EVENT_KINDS - events)}"
    gap = sign_tx(w.keys["carol"], w.chain_id, w.nonces["carol"] + 5, Transfer(w.keys["bob"].address, "USD", 1, ""))
    assert validated_call(w, "broadcast_tx", {"tx": gap.raw.hex()}, set())["accepted"] is True
    assert validated_call(w, "tx", {"hash": gap.hash.hex()}, set())["status"] == "pending"

    served = w.client.call("rpc.discover")
    assert not list(meta_validator().iter_errors(served))
    assert served["methods"] == DOC["methods"] and served["info"]["version"] == metadata.version("settle")


def test_every_error_a_method_answers_is_one_it_documents(world):
    w, v = world, world.values
    nobody = "st" + "00" * 20
    committed = w.client.call("block", {"height": v["height"]})["txs"][0]
    gap = sign_tx(w.keys["oracle3"], w.chain_id, 3, Transfer(w.keys["bob"].address, "USD", 1, ""))  # nonces 0-2 never come
    calls = [(m, "not params") for m in METHODS] + [
        ("account", {"address": nobody}), ("account", {"address": "nope"}), ("block", {"height": 10**9}),
        ("commit", {"height": 0}), ("events", {"kinds": [1]}), ("htlc", {"id": "00" * 32}), ("market", {"market": "NOPE"}),
        ("oracle", {"market": "NOPE"}), ("option_series", {"series": "NOPE-1-1-C"}), ("vol_surface", {"underlying": "NOPE"}),
        ("order", {"maker": nobody, "nonce": -1}), ("tx", {"hash": "ab" * 32}), ("tx", {"hash": "zz"}),
        ("pm_whatif", {"address": nobody, "market": "NOPE", "side": "buy", "size": 1, "price": 1}),
        ("pm_whatif", {"address": nobody, "side": "hold", "size": 1, "price": 1, "market": U}),
        ("proof", {"kind": "balance"}), ("proof", {"kind": "tx", "hash": "ab" * 32}), ("proof", {"kind": "state", "key": "zz"}),
        ("broadcast_tx", {"tx": _raw_of(w, committed["hash"])}), ("broadcast_tx", {"tx": "00", "mode": "now"}),
        ("broadcast_tx", {"tx": gap.raw.hex(), "mode": "commit", "timeout": 1}),
        ("broadcast_tx_batch", {"txs": ["00"] * 10_001}),  # over rpc.max_batch
    ]
    seen = set()
    for method, params in calls:
        with pytest.raises(SettleError) as err:
            w.client.call(method, params, timeout=60)
        code = err.value.code
        assert code in documented_codes(method), f"{method}({str(params)[:80]}) answered {code}: {err.value}"
        seen.add(code)
        if code == -32000:  # the verdict rides along as data, in the shape of a refused batch entry
            assert not errors({"$ref": "#/components/schemas/Rejection"}, err.value.data), err.value.data
    assert seen == {-32602, -32001, -32000, -32002}


def _raw_of(w: World, tx_hash: str) -> str:
    """The canonical bytes of a committed transaction (its tx proof's value)."""
    return w.client.call("proof", {"kind": "tx", "hash": tx_hash})["value"]


def test_the_websocket_feed_answers_as_x_websocket_describes(world):
    w = world
    ws_doc = DOC["x-websocket"]
    methods = {m["name"]: m for m in ws_doc["methods"]}
    notes = {n["name"]: n["params"] for n in ws_doc["notifications"]}
    tx = w.tx("alice", Transfer(w.keys["bob"].address, "USD", 1, ""))

    async def run() -> dict:
        got: dict[str, dict] = {}
        async with aiohttp.ClientSession() as s, s.ws_connect(w.node.rpc_url + ws_doc["path"]) as ws:
            requests = [(1, "subscribe", {"topic": "blocks", "tx_hashes": True}), (2, "subscribe", {"topic": "tx", "hash": tx.hash.hex()}),
                        (3, "subscribe", {"topic": "weather"})]
            for rid, method, params in requests:
                assert not errors(methods[method]["params"], params) or rid == 3
                await ws.send_json({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
            w.client.call("broadcast_tx", {"tx": tx.raw.hex()})
            async with asyncio.timeout(60):  # a bound on a hang, not a performance target
                while not {"block", "tx_result", 1, 2, 3} <= set(got):
                    msg = json.loads((await ws.receive()).data)
                    key = msg.get("method") or msg["id"]
                    got.setdefault(key, msg)
            await ws.send_json({"jsonrpc": "2.0", "id": 4, "method": "unsubscribe", "params": {"topic": "blocks"}})
            got[4] = json.loads((await ws.receive()).data)
        return got

    got = asyncio.run(run())
    for name in ("block", "tx_result"):
        assert not errors(notes[name], got[name]["params"]), (name, got[name])
    for rid, method in ((1, "subscribe"), (2, "subscribe"), (4, "unsubscribe")):
        assert not errors(methods[method]["result"], got[rid]["result"]), got[rid]
    assert got[3]["error"]["code"] in {e["code"] for e in methods["subscribe"]["errors"]}
