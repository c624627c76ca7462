"""JSON Schemas of receipt events by kind, for the OpenRPC document's ``Event`` and ``BlockEvent``.

Owns :data:`EVENT_ATTRS` (event kind -> the schemas of its fields, written
from the settlement code that emits it) and :func:`event_schema`, which makes
of them one ``oneOf`` branch per kind (that kind's fields, no others) plus
one for any kind not listed (its fields unchecked).  A kind is listed here only
once the real-node test (``tests/node/test_openrpc.py``) produces it, so every
listed shape has been checked against a real event.  Never imported by the
running node.
"""
from __future__ import annotations

from .openrpc_records import record_schemas

__all__ = ["EVENT_ATTRS", "event_schema"]


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


INT = {"type": "integer"}
BOOL = {"type": "boolean"}
ADDR, HASH, SYM, MARKET, SERIES = _ref("Address"), _ref("Hash"), _ref("Symbol"), _ref("MarketId"), _ref("SeriesId")
SIDE = {"type": "string", "enum": ["buy", "sell"]}
_RECORDS = record_schemas()


def _fields_of(record: str) -> dict:
    return _RECORDS[record]["properties"]


FILL = {"maker": ADDR, "taker": ADDR, "maker_side": SIDE, "size": INT, "price": INT, "order_nonce": INT, "maker_position": INT,
        "taker_position": INT}

# kind -> (fields, optional fields); the module that emits it in the comment
EVENT_ATTRS: dict[str, tuple[dict, tuple[str, ...]]] = {
    "account_registered": ({"address": ADDR, "role": {"type": "string", "enum": ["admin", "issuer", "oracle", "participant"]}}, ()),
    "asset_created": ({"symbol": SYM, "decimals": INT, "issuer": ADDR}, ()),  # transfers.py
    "bridge_client_created": ({"chain_id": {"type": "string"}, "client_id": {"type": "string"}, "validators_hash": HASH}, ()),  # bridge/client.py
    "bridge_sent": ({"sequence": INT, "source_chain": {"type": "string"}, "dest_chain": {"type": "string"}, "sender": ADDR,  # bridge/packets.py
                     "receiver": ADDR, "denom": {"type": "string"}, "amount": INT, "timeout_ms": INT, "packet": _ref("Hex")}, ()),
    "collateral_set": ({"asset": SYM, **_fields_of("CollateralParams")}, ()),  # risk/collateral.py
    "htlc_claimed": ({"id": HASH, "receiver": ADDR, "asset": SYM, "amount": INT,  # swaps.py
                      "preimage": {"anyOf": [_ref("Hex"), ADDR], "description": "hex (20 bytes show as an address)"}}, ()),
    "htlc_locked": ({"id": HASH, "sender": ADDR, "receiver": ADDR, "asset": SYM, "amount": INT, "hashlock": HASH,  # swaps.py
                     "timeout_height": INT, "timeout_ms": INT}, ()),
    "margin_deposit": ({"account": ADDR, "asset": SYM, "amount": INT, "cash": INT}, ()),  # risk/margin.py
    "margin_mode": ({"account": ADDR, "mode": {"type": "string", "enum": ["standard", "portfolio"]}, "changed": BOOL,  # risk/pm/handlers.py
                     "margin": {"type": "array", "items": {"type": "object", "additionalProperties": False,
                                                           "properties": {"asset": SYM, "equity": INT, "imr": INT, "mmr": INT},
                                                           "required": ["asset", "equity", "imr", "mmr"]}}}, ("margin",)),
    "insurance_deposit": ({"from": ADDR, "asset": SYM, "amount": INT, "fund_cash": INT}, ()),  # risk/margin.py
    "issued": ({"asset": SYM, "amount": INT, "to": ADDR}, ()),  # transfers.py
    "margin_withdraw": ({"account": ADDR, "asset": SYM, "amount": INT, "cash": INT}, ()),  # risk/margin.py
    "market_registered": ({"market": MARKET, "base": {"type": "string"}, "quote": SYM, "oracles": INT,  # risk/markets.py
                           **_fields_of("MarketParams")}, ()),
    "option_mark_state": ({"series": SERIES, "state": {"type": "string", "enum": ["unmarked", "marked", "no_vol", "stale_price"]}}, ()),
    "option_params_set": ({"underlying": MARKET, **_fields_of("OptionParams")}, ()),  # risk/options/series.py
    "option_series_listed": ({"series": SERIES, "underlying": MARKET, "option_kind": {"type": "string", "enum": ["call", "put"]},
                              "strike": INT, "expiry_ms": INT, "contract_lots": INT, "quote": SYM}, ()),
    "option_trade": ({"series": SERIES, **FILL, "premium": INT, "open_interest": INT}, ()),  # risk/options/trading.py
    "oracles_set": ({"market": MARKET, "oracles": {"type": "array", "items": ADDR}}, ()),  # risk/markets.py
    "order_cancelled": ({"maker": ADDR, "nonce": INT, "filled": INT}, ()),  # risk/perps.py
    "oracle_price": ({"market": MARKET, "price": INT, "median": INT, "converging": BOOL, "reference": INT, "reports": INT,  # risk/oracle.py
                      "vol_ppm": INT, "scale_ppm": INT, "imf_ppm": INT, "mmf_ppm": INT}, ()),
    "pm_params_set": ({"underlying": MARKET, **_fields_of("PmParams")}, ()),  # risk/pm/handlers.py
    "price_report": ({"market": MARKET, "oracle": ADDR, "price": INT}, ()),  # risk/oracle.py
    "swap": ({"maker": ADDR, "taker": ADDR, "maker_gave_asset": SYM, "maker_gave_amount": INT, "taker_gave_asset": SYM,  # swaps.py
              "taker_gave_amount": INT, "nonce": INT}, ()),
    "trade": ({"market": MARKET, **FILL}, ()),  # risk/perps.py
    "transfer": ({"from": ADDR, "to": ADDR, "asset": SYM, "amount": INT}, ()),  # transfers.py
    "vol_report": ({"underlying": MARKET, "oracle": ADDR, "points": INT}, ()),  # risk/options/surface.py
    "vol_surface": ({"underlying": MARKET, "points": INT, "epoch": INT, "new_epoch": BOOL}, ()),  # risk/options/surface.py
}


def event_schema(place: dict | None = None, description: str = "") -> dict:
    """``oneOf``: each listed kind with exactly its fields (and ``place``'s), or any other kind with any fields."""
    place = place or {}
    branches = []
    for kind, (attrs, optional) in sorted(EVENT_ATTRS.items()):
        props = {**place, "kind": {"const": kind}, **attrs}
        branches.append({"title": kind, "type": "object", "properties": props,
                         "required": [k for k in props if k not in optional], "additionalProperties": False})
    other = {"title": "other kinds", "type": "object", "properties": {**place, "kind": {"type": "string", "not": {"enum": sorted(EVENT_ATTRS)}}},
             "required": [*place, "kind"], "additionalProperties": True}
    return {"description": description, "oneOf": [*branches, other]}
