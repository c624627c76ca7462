"""Typed results of the node's RPC methods: ``TypedDict``s, so a result is still the JSON object the node sent.

Owns the shape of what a client method returns.  A ``TypedDict`` (not a
dataclass) was chosen so that a result reads the same as the node's JSON and
its documentation (``result["height"]``), passes through ``json.dumps``
unchanged, and older code written against raw dicts keeps working; type
checkers still see every key.  Results whose shape belongs to the risk
engine's query modules (margin, scenarios, option greeks) are typed as
``dict[str, Any]`` aliases named after the method: their fields are documented
with the queries in docs/risk-engine.md.  Never converts a value: hex stays
hex, addresses stay ``st...`` text, amounts are ints in base units.
"""
from __future__ import annotations

from typing import Any, NotRequired, TypedDict

__all__ = [
    "Account", "AccountMargin", "Asset", "BatchResult", "Block", "BlockEvents", "BridgeInfo", "BroadcastResult",
    "CollateralParams", "Commit", "Evidence", "Header", "Htlc", "InsuranceFund", "Market", "Mempool", "OpenRpcDocument",
    "OptionPositions", "OptionSeries", "Oracle", "OrderFill", "Peer", "PmScenarios", "PmWhatIf", "Proof", "Receipt",
    "Status", "TxInfo", "Validator", "VolSurface",
]


class Status(TypedDict):
    chain_id: str
    moniker: str
    height: int
    latest_block_hash: str
    latest_block_time_ms: int
    state_root: str
    validator: str | None
    validators: int
    mempool_size: int
    peers: int
    genesis_hash: str


class Account(TypedDict):
    address: str
    roles: list[str]
    nonce: int  # committed: the nonce the next committed tx of this account must carry
    balances: dict[str, int]
    next_nonce: int  # the nonce after this node's pending txs of the account: what a new tx should carry


class Asset(TypedDict):
    symbol: str
    decimals: int
    issuer: str
    supply: int


class Validator(TypedDict):
    address: str
    pubkey: str
    power: int


class Receipt(TypedDict):
    tx_hash: str
    ok: bool
    code: int
    error: str
    reason: str
    events: list[dict[str, Any]]


class Header(TypedDict, total=False):
    chain_id: str
    height: int
    time_ms: int
    id: str  # the block id (hex), what a commit certificate signs


class Block(TypedDict):
    header: Header
    num_txs: int
    txs: NotRequired[list[dict[str, Any]]]
    receipts: NotRequired[list[Receipt]]
    tx_hashes: NotRequired[list[str]]  # in a ``block`` notification subscribed with tx_hashes


class Commit(TypedDict):
    header: Header
    certificate: dict[str, Any]  # height, round, block_id, signatures [{validator, signature}]


class BroadcastResult(TypedDict):
    hash: str
    accepted: bool | None  # None: mode "async" (queued, not checked yet)
    height: NotRequired[int]  # mode "commit", and every result of submit(wait=True)
    index: NotRequired[int]
    receipt: NotRequired[Receipt]


class BatchResult(TypedDict):
    accepted: int
    rejected: int
    results: list[dict[str, Any]]  # per tx, in order: a BroadcastResult, or {hash, accepted: False, code, reason}


class TxInfo(TypedDict):
    hash: str
    status: str  # "pending" | "committed"
    height: NotRequired[int]
    index: NotRequired[int]
    tx: NotRequired[dict[str, Any]]
    receipt: NotRequired[Receipt]


class Peer(TypedDict):
    id: str  # a libp2p peer id


class Mempool(TypedDict):
    size: int
    bytes: int
    ready: int


class Evidence(TypedDict):
    validator: str
    height: int
    round: int
    type: str
    block_ids: list[str]
    signatures: list[str]
    evidence: str


class BlockEvents(TypedDict):
    height: int
    count: int
    events: list[dict[str, Any]]  # each: receipt, event, tx_hash (None for block-level), block_level, kind, ...


class BridgeInfo(TypedDict):
    chain_id: str
    clients: list[dict[str, Any]]


class Proof(TypedDict):
    kind: str
    height: int
    chain_id: str
    value: str | None
    proof: dict[str, Any] | None
    header: str
    header_id: str
    certificate: str
    validators: str


# Shapes owned by settlement/risk query modules (documented in docs/risk-engine.md, docs/options.md).
AccountMargin = dict[str, Any]
Market = dict[str, Any]
Oracle = dict[str, Any]
InsuranceFund = list[dict[str, Any]]
Htlc = dict[str, Any]
OrderFill = dict[str, Any]
OptionSeries = dict[str, Any]
OptionPositions = dict[str, Any]
VolSurface = dict[str, Any]
PmScenarios = dict[str, Any]
PmWhatIf = dict[str, Any]
CollateralParams = list[dict[str, Any]]
OpenRpcDocument = dict[str, Any]
