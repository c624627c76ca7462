"""The JSON Schemas of the RPC's shared shapes: ``components/schemas`` of the OpenRPC document (``node/openrpc.json``).

Owns the schema of every value the JSON-RPC methods and the WebSocket
notifications return, written from the code that shapes them
(``node/render.py``, ``node/methods*.py``, ``settlement/queries.py``,
``settlement/risk/queries.py``, ``settlement/risk/options/queries.py``,
``settlement/risk/pm_queries.py``, ``settlement/bridge/queries.py``).
Schemas are JSON Schema draft-07 (OpenRPC 1.2/1.3).  An object whose keys are
fixed says ``additionalProperties: false``; a transaction's body has its
kind's shape (``node/openrpc_records.py``), an event its kind's where the kind
is typed (``node/openrpc_events.py``).  Integers
are ``integer`` (amounts may exceed 2^53: read them as big integers).

The records of transaction bodies (and ``MarketParams``, ``OptionParams``,
``PmParams``, ``VolPoint``, which queries show as they are) come from
``node/openrpc_records.py``.  Never imported by the running node: ``node/openrpc_methods.py`` builds the
document from these and the node serves the built file.
"""
from __future__ import annotations

from ledger.txkinds import KINDS

from .openrpc_events import event_schema
from .openrpc_records import record_schemas, tx_kind_branches

__all__ = ["SCHEMAS", "arr", "nullable", "obj", "ref"]


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(props: dict, optional: tuple[str, ...] = (), *, extra: bool = False, description: str | None = None) -> dict:
    """An object with ``props``, all required but ``optional``; ``extra``: other keys allowed."""
    out = {"type": "object", "properties": props, "required": [k for k in props if k not in optional], "additionalProperties": extra}
    if description:
        out = {"description": description, **out}
    return out


def arr(items: dict, **kw) -> dict:
    return {"type": "array", "items": items, **kw}


def nullable(schema: dict) -> dict:
    return {"oneOf": [schema, {"type": "null"}]}


def _hex(nbytes: int | None, description: str) -> dict:
    pattern = "^([0-9a-f]{2})*$" if nbytes is None else f"^[0-9a-f]{{{2 * nbytes}}}$"
    return {"type": "string", "pattern": pattern, "description": description}


INT = {"type": "integer"}
NAT = {"type": "integer", "minimum": 0}
BOOL = {"type": "boolean"}
STR = {"type": "string"}
AMOUNT_MAP = {"type": "object", "additionalProperties": INT, "description": "asset symbol -> amount in base units"}
GREEK_NAMES = ("delta", "gamma", "vega", "theta")
FIGURES = {k: INT for k in ("equity", "imr", "mmr", "free_collateral", "liquidation_distance")}

SCHEMAS: dict[str, dict] = {
    # ---------------------------------------------------------------- scalars
    "Address": {"type": "string", "pattern": "^st[0-9a-f]{40}$", "description": "an account address: st + 40 lowercase hex digits"},
    "Hash": _hex(32, "32 bytes (a sha256 hash or id) as 64 lowercase hex digits"),
    "Hex": _hex(None, "bytes as lowercase hex (canonical msgpack of a record, unless said otherwise)"),
    "PubKey": _hex(32, "an Ed25519 public key"),
    "Signature": _hex(64, "an Ed25519 signature"),
    "Height": {"type": "integer", "minimum": 1, "description": "a block height"},
    "TimeMs": {"type": "integer", "minimum": 0, "description": "milliseconds since the Unix epoch (block time)"},
    "Amount": {"type": "integer", "description": "an amount in base units of an asset (may exceed 2^53)"},
    "Symbol": {"type": "string", "minLength": 1, "maxLength": 16, "description": "an asset symbol (a voucher: client id/symbol)"},
    "MarketId": {"type": "string", "minLength": 1, "maxLength": 16, "description": "a perpetual market id, e.g. BTC-PERP"},
    "SeriesId": {"type": "string", "pattern": "^.+-[0-9]+-[0-9]+-[CP]$", "description": "an option series id: underlying-expiry_ms-strike-C|P"},
    "OptionKind": {"type": "string", "enum": ["call", "put"]},
    "Greeks": obj({g: INT for g in GREEK_NAMES}, description="delta, gamma, vega, theta at the scales of settlement/risk/options/pricing.py"),
    # ---------------------------------------------------------------- chain
    "Header": obj({
        "chain_id": STR, "height": ref("Height"), "time_ms": ref("TimeMs"), "prev_hash": ref("Hash"), "tx_root": ref("Hash"),
        "state_root": ref("Hash"), "receipts_root": ref("Hash"), "proposer": ref("Address"), "validators_hash": ref("Hash"),
        "id": ref("Hash"),
    }, description="a block header; id = sha256 of its canonical bytes"),
    "Certificate": obj({
        "height": ref("Height"), "round": NAT, "block_id": ref("Hash"),
        "signatures": arr(obj({"validator": ref("Address"), "signature": ref("Signature")})),
    }, description="the commit certificate of a block: precommits of more than 2/3 of the voting power"),
    "Tx": obj({
        "hash": ref("Hash"), "chain_id": STR, "sender": ref("Address"), "pubkey": ref("PubKey"), "nonce": NAT,
        "kind": {"type": "string", "enum": sorted(KINDS), "description": "the transaction kind (ledger.txkinds.KINDS)"},
        "body": {"type": "object", "description": "the body record of the kind (node/openrpc_records.py)"},
        "signature": ref("Signature"),
    }) | {"oneOf": tx_kind_branches()},
    "Event": event_schema(description="one event of a receipt: kind plus its fields (bytes as hex, 20-byte values as addresses); "
                                      "the kinds listed have their fields checked (node/openrpc_events.py)"),
    "Receipt": obj({
        "tx_hash": ref("Hash"), "ok": BOOL, "code": NAT, "error": STR, "reason": STR, "events": arr(ref("Event")),
    }, description="a transaction's outcome; the block-level receipt (liquidations, funding, marks) has tx_hash 00..00"),
    "Block": obj({"header": ref("Header"), "num_txs": NAT, "txs": arr(ref("Tx")), "receipts": arr(ref("Receipt"))}, ("receipts",)),
    "BlockSummary": obj({"header": ref("Header"), "num_txs": NAT, "tx_hashes": arr(ref("Hash"))}, ("tx_hashes",),
                        description="a block without its transactions (WebSocket block notification)"),
    "BlockEvent": event_schema({"receipt": NAT, "event": NAT, "tx_hash": nullable(ref("Hash")), "block_level": BOOL},
                               "an event (as Event) with its place: receipt index, event index, its tx (null: block-level)"),
    "Validator": obj({"address": ref("Address"), "pubkey": ref("PubKey"), "power": {"type": "integer", "minimum": 1}}),
    "Evidence": obj({
        "validator": ref("Address"), "height": ref("Height"), "round": NAT, "type": {"type": "string", "enum": ["prevote", "precommit"]},
        "block_ids": arr({"anyOf": [ref("Hash"), {"const": "", "description": "a nil vote"}]}, minItems=2, maxItems=2), "signatures": arr(ref("Signature"), minItems=2, maxItems=2),
        "evidence": ref("Hex"),
    }, description="two signed, conflicting votes of one validator"),
    "Status": obj({
        "chain_id": STR, "moniker": STR, "height": NAT, "latest_block_hash": ref("Hash"), "latest_block_time_ms": ref("TimeMs"),
        "state_root": ref("Hash"), "validator": nullable(ref("Address")), "validators": NAT, "mempool_size": NAT, "peers": NAT,
        "genesis_hash": ref("Hash"),
    }),
    "Genesis": {"type": "object", "required": ["chain_id", "genesis_time_ms", "validators", "assets", "accounts"], "additionalProperties": True,
                "properties": {
                    "chain_id": STR, "genesis_time_ms": ref("TimeMs"),
                    "validators": arr({"type": "object", "required": ["pubkey", "power"], "properties": {"name": STR, "pubkey": ref("PubKey"), "power": INT}}),
                    "assets": arr({"type": "object", "required": ["symbol", "decimals", "issuer"],
                                   "properties": {"symbol": ref("Symbol"), "decimals": INT, "issuer": ref("Address")}}),
                    "accounts": arr({"type": "object", "required": ["address", "roles"],
                                     "properties": {"name": STR, "address": ref("Address"), "roles": arr(STR), "balances": AMOUNT_MAP}}),
                    "consensus_params": {"type": "object"},
                }, "description": "the genesis document as the node loaded it (settlement/genesis.py)"},
    "Account": obj({
        "address": ref("Address"), "roles": arr({"type": "string", "enum": ["admin", "issuer", "oracle", "participant"]}), "nonce": NAT,
        "balances": AMOUNT_MAP, "next_nonce": {"type": "integer", "minimum": 0, "description": "the nonce to sign next (pending txs counted)"},
    }),
    "Asset": obj({"symbol": ref("Symbol"), "decimals": {"type": "integer", "minimum": 0, "maximum": 18}, "issuer": ref("Address"), "supply": ref("Amount")}),
    "Mempool": obj({"size": NAT, "bytes": NAT, "ready": NAT}),
    # ---------------------------------------------------------------- transactions in
    "Rejection": obj({"hash": nullable(ref("Hash")), "accepted": {"const": False}, "code": STR, "reason": STR},
                     description="a transaction refused before the mempool (code: malformed, duplicate, nonce_used, a CheckTx error...)"),
    "Committed": obj({"hash": ref("Hash"), "accepted": {"const": True}, "height": ref("Height"), "index": NAT, "receipt": ref("Receipt")},
                     description="a transaction in a committed block (mode commit)"),
    "Broadcast": {"oneOf": [
        obj({"hash": ref("Hash"), "accepted": {"type": "null"}}, description="mode async: decoded and queued, not checked yet"),
        obj({"hash": ref("Hash"), "accepted": {"const": True}}, description="mode sync: in the mempool"),
        ref("Committed"),
    ]},
    "BatchEntry": {"oneOf": [
        obj({"hash": ref("Hash"), "accepted": {"const": True}}, description="in the mempool (modes async, sync)"),
        ref("Committed"),
        obj({"hash": ref("Hash"), "accepted": {"const": True}, "error": STR}, description="admitted, but its commit was not seen in time"),
        ref("Rejection"),
    ]},
    "TxStatus": {"oneOf": [
        obj({"hash": ref("Hash"), "status": {"const": "pending"}}, description="in this node's mempool"),
        obj({"hash": ref("Hash"), "status": {"const": "committed"}, "height": ref("Height"), "index": NAT, "tx": ref("Tx"), "receipt": ref("Receipt")}),
    ]},
}

SCHEMAS.update({
    # ---------------------------------------------------------------- perpetuals, margin, oracles, HTLCs
    "Market": obj({
        "market": ref("MarketId"), "base": STR, "quote": ref("Symbol"), "params": ref("MarketParams"), "oracles": arr(ref("Address")),
        **{k: INT for k in ("price", "price_height", "price_time_ms")}, "stale": BOOL,
        **{k: INT for k in ("volatility_ppm", "margin_scale_ppm", "imf_ppm", "mmf_ppm", "open_interest", "funding_index",
                            "last_funding_rate_ppm", "last_funding_ms", "last_trade_price", "uncovered_bad_debt", "social_loss_index",
                            "socialized_loss")},
    }),
    "PerpPosition": obj({
        "market": ref("MarketId"), **{k: INT for k in ("size", "entry_price", "oracle_price", "notional", "unrealized_pnl",
                                                       "unsettled_funding", "unsettled_social_loss")},
        "adl_score": nullable(INT), "liquidation_price": nullable(INT), "stale": BOOL,
    }),
    "MarginAccount": obj({
        "asset": ref("Symbol"), "cash": INT, "collateral": INT, "realized_pnl": INT, **FIGURES,
        "margin_ratio_ppm": nullable(INT), "breached": BOOL, "positions": arr(ref("PerpPosition")), "option_series": arr(ref("SeriesId")),
    }, description="an account's margin in one settlement asset"),
    "MarginInfo": obj({"address": ref("Address"), "accounts": arr(ref("MarginAccount"))}),
    "OracleReport": {"oneOf": [
        obj({"oracle": ref("Address"), "price": {"type": "null"}}, description="no report yet"),
        obj({"oracle": ref("Address"), "price": INT, "time_ms": ref("TimeMs"), "height": ref("Height"), "age_ms": INT, "fresh": BOOL}),
    ]},
    "Oracle": obj({
        "market": ref("MarketId"), "quorum": NAT, "fresh_reports": NAT, "reports": arr(ref("OracleReport")),
        "median_of_fresh": nullable(INT), "price": INT, "stale": BOOL, "fresh_ms": INT, "deviation_ppm": INT, "reference_price": INT,
        "max_move_ppm": INT, "twap_window_ms": INT,
    }),
    "InsuranceFund": obj({
        "asset": ref("Symbol"), "address": ref("Address"), "cash": INT, "equity": INT, "imr": INT, "mmr": INT, "available": INT,
        "socialized_loss": INT, "uncovered_bad_debt": INT,
        "positions": arr(obj({"market": ref("MarketId"), "size": INT, "entry_notional": INT})), "htlc_locked": INT,
    }),
    "Htlc": obj({
        "id": ref("Hash"), "sender": ref("Address"), "receiver": ref("Address"), "asset": ref("Symbol"), "amount": ref("Amount"),
        "hashlock": ref("Hash"), "timeout_height": NAT, "timeout_ms": NAT, "status": {"type": "string", "enum": ["open", "claimed", "refunded"]},
        "preimage": nullable(ref("Hex")),
    }),
    "OrderFill": obj({"maker": ref("Address"), "nonce": NAT, "cancelled": BOOL, "filled": NAT}),
    "Events": obj({"height": ref("Height"), "count": NAT, "events": arr(ref("BlockEvent"))}),
    # ---------------------------------------------------------------- options
    "OptionSeries": obj({
        "series": ref("SeriesId"), "underlying": ref("MarketId"), "kind": ref("OptionKind"), "strike": INT, "expiry_ms": ref("TimeMs"),
        "contract_lots": INT, "settlement_asset": ref("Symbol"), "time_to_expiry_ms": NAT, "expired": BOOL, "settled": BOOL,
        "settle_price": nullable(INT), "spot": INT, "mark": INT, "mark6_per_lot": INT, "iv_ppm": INT, "mark_time_ms": INT,
        "mark_state": {"type": "string", "enum": ["unmarked", "marked", "no_vol", "stale_price"]}, "greeks": ref("Greeks"),
        "open_interest": NAT,
    }, description="terms, mark, IV and greeks per contract (settlement/risk/options/queries.py)"),
    "OracleVols": {"oneOf": [
        obj({"oracle": ref("Address"), "points": {"type": "null"}}, description="no report yet"),
        obj({"oracle": ref("Address"), "points": arr(ref("VolPoint")), "time_ms": ref("TimeMs"), "height": ref("Height"), "age_ms": INT,
             "fresh": BOOL}),
    ]},
    "VolSurface": obj({
        "underlying": ref("MarketId"), "quote": ref("Symbol"), "spot": INT, "params": ref("OptionParams"), "quorum": NAT,
        "fresh_reports": NAT, "reports": arr(ref("OracleVols")),
        "surface": nullable(obj({"epoch": NAT, "time_ms": ref("TimeMs"), "points": arr(ref("VolPoint"))})),
        "series": arr(obj({"series": ref("SeriesId"), "expiry_ms": ref("TimeMs"), "strike": INT, "kind": ref("OptionKind"), "iv_ppm": INT})),
    }),
    "OptionPosition": obj({
        "series": ref("SeriesId"), "underlying": ref("MarketId"), "kind": ref("OptionKind"), "strike": INT, "expiry_ms": ref("TimeMs"),
        "size": INT, "premium_paid": INT, "mark": INT, "mark_value": INT, "unrealized_pnl": INT, "iv_ppm": INT, "greeks": ref("Greeks"),
    }),
    "OptionPositions": obj({"address": ref("Address"), "accounts": arr(obj({
        "asset": ref("Symbol"), "cash": INT, **FIGURES, "breached": BOOL, "greeks": ref("Greeks"), "positions": arr(ref("OptionPosition")),
    }))}),
    # ---------------------------------------------------------------- portfolio margin, collateral
    "MarginFigures": obj({**FIGURES, "breached": BOOL, "stale": BOOL}),
    "PmPosition": {"oneOf": [
        obj({"instrument": ref("MarketId"), "kind": {"const": "perp"}, "size": INT, "price": INT, "value": INT}),
        obj({"instrument": ref("SeriesId"), "kind": ref("OptionKind"), "size": INT, "strike": INT, "expiry_ms": ref("TimeMs"),
             "contract_lots": INT, "mark": INT, "value": INT}),
    ]},
    "PmUnderlying": obj({
        "underlying": ref("MarketId"), "positions": arr(ref("PmPosition")), "grid": nullable(ref("PmParams")),
        "scenarios": arr(obj({"scenario": STR, "move": INT, "price": INT, "vol": {"type": "string", "enum": ["up", "down"]},
                              "extreme": BOOL, "pnl": INT})),
        "binding": nullable(STR), "requirement": nullable(INT), "mmr": nullable(INT),
    }, description="an underlying's positions and (portfolio mode) its scenario table; grid null in standard mode"),
    "CollateralShock": obj({
        "scenarios": arr(obj({"scenario": STR, "prices": AMOUNT_MAP, "value": INT, "pnl": INT})), "binding": nullable(STR),
        "requirement": INT, "mmr": INT, "counted": BOOL,
    }),
    "PmAccount": obj({
        "asset": ref("Symbol"), "cash": INT, "collateral_value": INT, **FIGURES, "breached": BOOL, "stale": BOOL,
        "standard": ref("MarginFigures"), "underlyings": arr(ref("PmUnderlying")), "collateral_shock": nullable(ref("CollateralShock")),
    }),
    "PmScenarios": obj({"address": ref("Address"), "mode": {"type": "string", "enum": ["standard", "portfolio"]},
                        "accounts": arr(ref("PmAccount"))}),
    "PmWhatIf": obj({
        "address": ref("Address"),
        "proposed": obj({"side": {"type": "string", "enum": ["buy", "sell"]}, "size": INT, "price": INT, "market": ref("MarketId"),
                         "series": ref("SeriesId")}, ("market", "series")),
        "asset": ref("Symbol"), "before": ref("PmScenarios"), "after": ref("PmScenarios"),
        "change": obj({"imr": INT, "mmr": INT, "standard_imr": INT}), "accepted": BOOL,
    }),
    "Collateral": obj({"asset": ref("Symbol"), "backs": ref("Symbol"), "price_market": ref("MarketId"), "haircut_ppm": INT,
                       "cap_ppm": INT, "liq_discount_ppm": INT, "enabled": BOOL, "price": INT}),
    # ---------------------------------------------------------------- bridge, proofs
    "BridgeClient": obj({
        "chain_id": STR, "client_id": STR, "validators_hash": ref("Hash"), "trusted_height": NAT, "trusted_time_ms": NAT,
        "frozen_height": NAT, "sent": NAT, "escrow": AMOUNT_MAP, "vouchers": AMOUNT_MAP,
        "traces": arr(obj({"symbol": ref("Symbol"), "client_id": STR, "chain_id": STR, "denom": STR, "supply": INT})),
    }),
    "Bridge": obj({"chain_id": STR, "clients": arr(ref("BridgeClient"))}),
    "MerkleProof": obj({"index": NAT, "size": {"type": "integer", "minimum": 1}, "path": arr(ref("Hash"))},
                       description="a path to tx_root or receipts_root (ledger/proofs.py)"),
    "StatePath": obj({"key": ref("Hex"), "depth": NAT, "present": ref("Hex"), "siblings": arr(ref("Hash")), "other": ref("Hex"),
                      "state_proof": ref("Hex")}, description="a path to state_root (ledger/statetree): verify with state_proof"),
    "Proof": obj({
        "kind": {"type": "string", "enum": ["header", "receipt", "state", "tx"]}, "height": ref("Height"), "chain_id": STR,
        "value": nullable(ref("Hex")), "proof": {"oneOf": [ref("MerkleProof"), ref("StatePath"), {"type": "null"}]},
        "header": ref("Hex"), "header_id": ref("Hash"), "certificate": ref("Hex"), "validators": ref("Hex"),
    }, description="a value, its path, and the header, certificate and validator set anchoring it (canonical bytes as hex)"),
})

_RECORDS = record_schemas()
assert not set(_RECORDS) & set(SCHEMAS), f"record schemas named as RPC shapes: {sorted(set(_RECORDS) & set(SCHEMAS))}"
SCHEMAS.update(_RECORDS)
