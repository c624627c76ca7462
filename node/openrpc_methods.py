"""The OpenRPC description of the node's JSON-RPC API: every method's params, result, errors and examples.

Owns :func:`build_document`, the source of ``node/openrpc.json`` (the file the
node serves from ``rpc.discover``, ``node/methods_discover.py``): method names
and param names are the server's exactly (``node/methods*.py``), results refer
to ``node/openrpc_schemas.py``, error codes are ``node/methods.py``'s,
``node/methods_proof.py``'s and ``node/rpc.py``'s.  Examples (params and
result of a real call, arrays cut to two items) come from
``node/openrpc_examples.json``.  The WebSocket feed (``GET /ws``) is described
in the ``x-websocket`` extension: its requests, replies and the two
notifications.

Regenerate the served file after a change here with
``python -m node.openrpc_methods`` (a test fails while it differs).  Never
imported by the running node.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from .methods import INTERNAL_ERROR, INVALID_PARAMS, NOT_FOUND, TIMEOUT, TX_REJECTED
from .methods_proof import NOT_AVAILABLE, PROOF_KINDS
from .methods_state_proof import NAMED_ENTRIES
from .openrpc_schemas import SCHEMAS, arr, nullable, obj, ref
from .rpc import LIMIT_EXCEEDED

__all__ = ["DOCUMENT_PATH", "EXAMPLES_PATH", "build_document", "main"]

HERE = Path(__file__).resolve().parent
DOCUMENT_PATH = HERE / "openrpc.json"
EXAMPLES_PATH = HERE / "openrpc_examples.json"
OPENRPC_VERSION = "1.2.6"
VERSION = "0.1.0"  # the served document's info.version is replaced by the installed package's version

ERRORS = {
    "InvalidParams": {"code": INVALID_PARAMS, "message": "Invalid params: a parameter is missing, of the wrong type or out of range (the message names it)"},
    "NotFound": {"code": NOT_FOUND, "message": "Not found: no such block, transaction, account, market, series, HTLC or kept state"},
    "TxRejected": {"code": TX_REJECTED, "message": "Transaction rejected at mempool entry; data: {hash, accepted: false, code, reason}"},
    "Timeout": {"code": TIMEOUT, "message": "Not committed within the timeout (the transaction may still commit)"},
    "NotAvailable": {"code": NOT_AVAILABLE, "message": "This node cannot answer this proof kind yet"},
    "InternalError": {"code": INTERNAL_ERROR, "message": "Internal error (a bug, or a corrupt store: the node halts)"},
}

HEX_IN = {"type": "string", "pattern": "^(0x)?[0-9a-fA-F]{64}$", "description": "32 bytes as 64 hex digits (0x prefix allowed)"}
HEIGHT_IN = {**ref("Height"), "description": "a block height (default: the latest)"}
MODE = {"type": "string", "enum": ["async", "sync", "commit"], "default": "sync",
        "description": "async: answer once decoded; sync: once in the mempool; commit: once in a committed block"}
TIMEOUT_IN = {"type": "integer", "minimum": 1, "maximum": 300, "default": 30, "description": "seconds to wait in mode commit"}
TX_HEX = {"type": "string", "pattern": "^([0-9a-fA-F]{2})+$", "description": "a signed transaction: hex of its canonical bytes"}
NAMED_KEY = obj({"entry": {"type": "string", "enum": sorted(NAMED_ENTRIES)}, "address": ref("Address"), "asset": ref("Symbol"),
                 "market": ref("MarketId"), "id": ref("Hash")}, ("address", "asset", "market", "id"),
                description="a named state entry: balance (address, asset), position (address, market), htlc (id), account (address)")


def p(name: str, schema: dict, description: str, required: bool = False) -> dict:
    out = {"name": name, "description": description, "schema": schema}
    if required:
        out["required"] = True
    return out


ADDRESS = p("address", ref("Address"), "the account", True)


def m(name: str, summary: str, params: list, result: tuple[str, dict], errors: tuple[str, ...] = (), *,
      description: str | None = None, by_name: bool = False, tags: tuple[str, ...] = ()) -> dict:
    """One method object; every method can answer InvalidParams (params not an object or array) and InternalError."""
    out = {"name": name, "summary": summary, "description": description or summary, "tags": [{"name": t} for t in tags],
           "paramStructure": "by-name" if by_name else "either", "params": params,
           "result": {"name": result[0], "schema": result[1]},
           "errors": [{"$ref": f"#/components/errors/{e}"} for e in ("InvalidParams", *errors, "InternalError")]}
    if not tags:
        del out["tags"]
    return out


METHODS = [
    m("account", "An account: roles, nonce, balances, and the next nonce to sign (pending transactions counted).",
      [ADDRESS], ("account", ref("Account")), ("NotFound",), tags=("chain",)),
    m("account_margin", "Collateral, perpetual positions, equity, IMR, MMR and liquidation distance of an account, per settlement asset.",
      [ADDRESS], ("margin", ref("MarginInfo")), tags=("risk",)),
    m("assets", "Every asset: symbol, decimals, issuer, supply.", [], ("assets", arr(ref("Asset"))), tags=("chain",)),
    m("block", "A committed block: header and transactions, and their receipts if asked.",
      [p("height", HEIGHT_IN, "the block (default: the latest)"),
       p("receipts", {"type": "boolean", "default": False}, "add the receipts (the last is the block-level receipt)")],
      ("block", ref("Block")), ("NotFound",), tags=("chain",)),
    m("bridge", "This chain's light clients of other networks, and what moved to and from each.", [], ("bridge", ref("Bridge")), tags=("bridge",)),
    m("broadcast_tx", "Submit one signed transaction.",
      [p("tx", TX_HEX, "the signed transaction", True), p("mode", MODE, "when to answer"), p("timeout", TIMEOUT_IN, "commit wait")],
      ("broadcast", ref("Broadcast")), ("TxRejected", "Timeout"),
      description="Submit one signed transaction. A refused one is error -32000 with the verdict as data; in mode commit, "
                  "-32002 if no block holds it within the timeout.", tags=("chain",)),
    m("broadcast_tx_batch", "Submit many signed transactions; each gets its own verdict, in its place.",
      [p("txs", arr(TX_HEX), "signed transactions (at most rpc.max_batch); an entry that does not decode is refused alone", True),
       p("mode", MODE, "when to answer"), p("timeout", TIMEOUT_IN, "commit wait")],
      ("batch", obj({"accepted": {"type": "integer", "minimum": 0}, "rejected": {"type": "integer", "minimum": 0},
                     "results": arr(ref("BatchEntry"))})), tags=("chain",)),
    m("collateral_params", "Every listed collateral asset: what it backs, its price market and price, haircut, cap, liquidation discount.",
      [], ("collateral", arr(ref("Collateral"))), tags=("pm",)),
    m("commit", "A block's header and its commit certificate.", [p("height", HEIGHT_IN, "the block (default: the latest)")],
      ("commit", obj({"header": ref("Header"), "certificate": ref("Certificate")})), ("NotFound",), tags=("chain",)),
    m("events", "Every event of a block's receipts: transaction events and block-level liquidation, funding, price and mark events.",
      [p("height", HEIGHT_IN, "the block (default: the latest)"),
       p("kinds", nullable(arr({"type": "string"})), "keep only these event kinds (default: all)")],
      ("events", ref("Events")), ("NotFound",), tags=("risk",)),
    m("evidence", "Equivocation evidence this node has seen: two signed, conflicting votes of one validator.",
      [], ("evidence", arr(ref("Evidence"))), tags=("chain",)),
    m("genesis", "The genesis document this node started from.", [], ("genesis", ref("Genesis")), tags=("chain",)),
    m("htlc", "A hashed timelock contract: parties, amount, hashlock, timeout, status and (once claimed) the preimage.",
      [p("id", HEX_IN, "the HTLC id (from its htlc_locked event)", True)], ("htlc", ref("Htlc")), ("NotFound",), tags=("risk",)),
    m("insurance_fund", "The insurance fund of each settlement asset: cash, positions, what it can pay, socialized loss.",
      [], ("funds", arr(ref("InsuranceFund"))), tags=("risk",)),
    m("market", "A perpetual market: parameters, oracles, price, dynamic margin, open interest, funding.",
      [p("market", ref("MarketId"), "the market id", True)], ("market", ref("Market")), ("NotFound",), tags=("risk",)),
    m("markets", "Every perpetual market (as market), by id.", [], ("markets", arr(ref("Market"))), tags=("risk",)),
    m("mempool", "The mempool's size: transactions, bytes, and how many are ready for a block.", [], ("mempool", ref("Mempool")),
      tags=("chain",)),
    m("option_positions", "Option positions of an account (size, premium, mark value, greeks) and its margin per settlement asset.",
      [ADDRESS], ("positions", ref("OptionPositions")), tags=("options",)),
    m("option_series", "An option series: terms, mark, IV, greeks per contract, open interest, time to expiry.",
      [p("series", ref("SeriesId"), "the series id", True)], ("series", ref("OptionSeries")), ("NotFound",), tags=("options",)),
    m("option_series_list", "Every live option series (of one underlying, if given), by underlying then series id.",
      [p("underlying", ref("MarketId"), "only this underlying's series")], ("series", arr(ref("OptionSeries"))), tags=("options",)),
    m("oracle", "A market's oracle reports, their age at the latest block time, the quorum, the median and the reference price.",
      [p("market", ref("MarketId"), "the market id", True)], ("oracle", ref("Oracle")), ("NotFound",), tags=("risk",)),
    m("order", "Lots filled (or cancelled) of a maker's order nonce.",
      [p("maker", ref("Address"), "the order's maker", True),
       p("nonce", {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}, "the order's nonce", True)],
      ("order", ref("OrderFill")), tags=("risk",)),
    m("peers", "The libp2p ids of the peers this node is connected to, sorted (status has their count).", [],
      ("peers", arr(obj({"id": {"type": "string", "minLength": 1, "description": "a libp2p peer id"}}))), tags=("chain",)),
    m("pm_scenarios", "Margin mode; per settlement asset equity, IMR, MMR (and standard mode's); per underlying the scenario P&L table.",
      [ADDRESS], ("scenarios", ref("PmScenarios")), tags=("pm",)),
    m("pm_whatif", "pm_scenarios before and after a proposed fill, computed on a scratch copy (nothing is written).",
      [ADDRESS, p("side", {"type": "string", "enum": ["buy", "sell"]}, "the account's side", True),
       p("size", {"type": "integer", "minimum": 1}, "lots (a perpetual) or contracts (an option)", True),
       p("price", {"type": "integer", "minimum": 1}, "per lot or per contract, quote base units", True),
       p("market", ref("MarketId"), "a perpetual (give market or series)"), p("series", ref("SeriesId"), "an option series")],
      ("whatif", ref("PmWhatIf")), ("NotFound",), by_name=True, tags=("pm",)),
    m("proof", "A value, its Merkle path, and the header, commit certificate and validator set that anchor it.",
      [p("kind", {"type": "string", "enum": sorted(PROOF_KINDS)}, "what to prove", True),
       p("hash", HEX_IN, "kinds tx and receipt: the transaction's hash"),
       p("key", {"oneOf": [{"type": "string", "pattern": "^([0-9a-fA-F]{2})*$"}, NAMED_KEY]},
         "kind state: a raw state key (hex) or a named entry"),
       p("height", HEIGHT_IN, "kinds header and state (default: the latest)")],
      ("proof", ref("Proof")), ("NotFound", "NotAvailable"), by_name=True, tags=("proofs",),
      description="A value, its Merkle path, and the header, commit certificate and validator set that anchor it: check it "
                  "with ledger.proofs, ledger.statetree and ledger.lightclient, trusting only a validator set."),
    m("rpc.discover", "This document: the OpenRPC description of every method (info.version is the node's package version).",
      [], ("openrpc", {"type": "object", "required": ["openrpc", "info", "methods"],
                       "description": "an OpenRPC document (https://meta.open-rpc.org/)"}), tags=("meta",)),
    m("status", "The node's view: chain, height, latest block, state root, its validator address, peers, mempool size.",
      [], ("status", ref("Status")), tags=("chain",)),
    m("tx", "A transaction by hash: pending in this node's mempool, or committed with its block position and receipt.",
      [p("hash", HEX_IN, "the transaction's hash", True)], ("tx", ref("TxStatus")), ("NotFound",), tags=("chain",)),
    m("validators", "The current validator set: address, public key, voting power.", [], ("validators", arr(ref("Validator"))),
      tags=("chain",)),
    m("vol_surface", "Option parameters, the oracles' vol points and their freshness, the surface, and every live series' IV.",
      [p("underlying", ref("MarketId"), "an underlying with options enabled", True)], ("surface", ref("VolSurface")), ("NotFound",),
      tags=("options",)),
]

WS_TOPIC = {"type": "string", "enum": ["blocks", "tx"]}
WEBSOCKET = {
    "path": "/ws",
    "description": "JSON-RPC 2.0 over a WebSocket: subscribe to new blocks or to one transaction; the server pushes notifications "
                   "(no id). A client too slow for its queue is disconnected (close 1008); a browser may connect only from "
                   "rpc.ws_allowed_origins.",
    "methods": [
        {"name": "subscribe", "params": obj({"topic": WS_TOPIC, "tx_hashes": {"type": "boolean", "default": False},
                                              "hash": ref("Hash")}, ("tx_hashes", "hash"),
                                             description="topic blocks (tx_hashes: add each block's tx hashes) or tx (hash)"),
         "result": obj({"subscribed": {"type": "string"}}, description='"blocks" or the tx hash'),
         "errors": [{"code": INVALID_PARAMS, "message": "bad topic or hash"},
                    {"code": LIMIT_EXCEEDED, "message": "this connection holds rpc.ws_max_tx_subscriptions tx subscriptions"}]},
        {"name": "unsubscribe", "params": obj({"topic": WS_TOPIC, "hash": ref("Hash")}, ("hash",)),
         "result": obj({"unsubscribed": {"type": "string"}}), "errors": [{"code": INVALID_PARAMS, "message": "bad topic or hash"}]},
    ],
    "notifications": [
        {"name": "block", "description": "each committed block, to subscribers of blocks", "params": ref("BlockSummary")},
        {"name": "tx_result", "description": "once, when the subscribed transaction is committed (at once if it already is)",
         "params": obj({"height": ref("Height"), "index": {"type": "integer", "minimum": 0}, "receipt": ref("Receipt")})},
    ],
}


def _examples(method: dict, recorded: dict) -> list[dict]:
    out = []
    for i, ex in enumerate(recorded[method["name"]]):
        out.append({"name": ex.get("name", f"{method['name']} {i + 1}"),
                    "params": [{"name": k, "value": v} for k, v in ex["params"].items()],
                    "result": {"name": method["result"]["name"], "value": ex["result"]}})
    return out


def build_document() -> dict:
    """The OpenRPC document, with ``info.version`` :data:`VERSION` (the server puts its own)."""
    recorded = json.loads(EXAMPLES_PATH.read_text())
    methods = [{**meth, "examples": _examples(meth, recorded)} for meth in sorted(METHODS, key=lambda x: x["name"])]
    return {
        "openrpc": OPENRPC_VERSION,
        "info": {"title": "Settle node JSON-RPC", "version": VERSION,
                 "description": "POST / with Content-Type: application/json: JSON-RPC 2.0, single requests or batches; params by "
                                "name (an object) or, where paramStructure is either, by position in the listed order. "
                                "Bytes are lowercase hex, addresses st + 40 hex digits, amounts integers in base units "
                                "(they may exceed 2^53). Errors of every request: -32700 parse error, -32600 invalid request, "
                                "-32601 method not found. See docs/api.md."},
        "servers": [{"name": "local node", "url": "http://127.0.0.1:26657/"}],
        "methods": methods,
        "components": {"schemas": dict(sorted(SCHEMAS.items())), "errors": ERRORS},
        "x-websocket": WEBSOCKET,
    }


def render(doc: dict) -> str:
    return json.dumps(doc, indent=1, ensure_ascii=False) + "\n"


def main() -> int:
    DOCUMENT_PATH.write_text(render(build_document()))
    print(f"wrote {DOCUMENT_PATH}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
