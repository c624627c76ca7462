"""A tiny in-process chain for settlement tests: genesis, signed txs, blocks applied to a dict.

Owns nothing the code under test uses.  Blocks go through the real
``apply_block`` (handlers, receipts, end-of-block hooks, state root); block
time advances by ``dt_ms`` per block (default 1 s), never from a clock.
"""
from __future__ import annotations

from ledger.keys import PrivateKey, format_address
from ledger.receipt import Receipt
from ledger.tx import sign_tx
from ledger.txkinds_risk import (
    InsuranceDeposit,
    MarginDeposit,
    Order,
    PriceReport,
    RegisterMarket,
    Trade,
    sign_order,
    ANY_TAKER,
)
from settlement.context import BlockContext
from settlement.genesis import Genesis
from settlement.machine import BLOCK_EVENTS_TX_HASH, apply_block
from settlement.risk.markets import default_params
from settlement.risk.records import Session
from settlement.state import DictView, State

CHAIN = "risk-test"
USD = "USD"


class Harness:
    def __init__(self, names=("alice", "bob", "carol", "dave"), oracles=3, balance=10**12, chain_id=CHAIN):
        self.chain_id = chain_id
        self.keys = {n: PrivateKey.from_name(n, chain_id) for n in ("admin", "issuer", *names)}
        self.oracles = [f"oracle{i}" for i in range(oracles)]
        for o in self.oracles:
            self.keys[o] = PrivateKey.from_name(o, chain_id)
        accounts = [{"address": format_address(self.keys["admin"].address), "roles": ["admin"]}]
        accounts.append({"address": format_address(self.keys["issuer"].address), "roles": ["issuer"], "balances": {USD: balance, "EUR": balance}})
        for n in names:
            accounts.append({"address": format_address(self.keys[n].address), "roles": ["participant"], "balances": {USD: balance, "EUR": balance}})
        for o in self.oracles:
            accounts.append({"address": format_address(self.keys[o].address), "roles": ["oracle"]})
        issuer = format_address(self.keys["issuer"].address)
        doc = {"chain_id": chain_id, "genesis_time_ms": 0,
               "validators": [{"pubkey": PrivateKey.from_name("v0").pubkey.hex(), "power": 1}],
               "assets": [{"symbol": USD, "decimals": 6, "issuer": issuer}, {"symbol": "EUR", "decimals": 6, "issuer": issuer}],
               "accounts": accounts}
        self.genesis = Genesis.from_json(doc)
        writes, self.acc = self.genesis.initial_state()
        self.view = DictView(dict(writes))
        self.height = 0
        self.time_ms = 0
        self.nonces: dict[str, int] = {}
        self.block_receipts: list[Receipt] = []

    def addr(self, name: str) -> bytes:
        return self.keys[name].address

    def tx(self, name: str, body):
        n = self.nonces.get(name, 0)
        self.nonces[name] = n + 1
        return sign_tx(self.keys[name], self.chain_id, n, body)

    def block(self, *txs, dt_ms: int = 1000):
        """Apply one block; returns the tx receipts (block-level events in ``self.block_receipts``)."""
        self.height += 1
        self.time_ms += dt_ms
        ctx = BlockContext(self.chain_id, self.height, self.time_ms)
        res = apply_block(self.view, self.acc, ctx, list(txs))
        self.view.apply(res.writes)
        self.acc = res.tree
        self.block_receipts = [r for r in res.receipts if r.tx_hash == BLOCK_EVENTS_TX_HASH]
        self.last = res
        return [r for r in res.receipts if r.tx_hash != BLOCK_EVENTS_TX_HASH]

    def run(self, name: str, body, **kw) -> Receipt:
        return self.block(self.tx(name, body), **kw)[0]

    def block_events(self, kind: str | None = None) -> list:
        out = [e for r in self.block_receipts for e in r.events]
        return [e for e in out if kind is None or e.kind == kind]

    @property
    def root(self) -> bytes:
        return self.acc.root

    def session(self) -> Session:
        return Session(State(self.view), BlockContext(self.chain_id, self.height, self.time_ms))

    # ------------------------------------------------------------------ shortcuts

    def register_market(self, market="BTC-PERP", quote=USD, tier="large", **overrides) -> Receipt:
        oracles = tuple(self.addr(o) for o in self.oracles)
        return self.run("admin", RegisterMarket(market, market.split("-")[0], quote, default_params(tier, **overrides), oracles))

    def prices(self, market: str, price: int, oracles=None, **kw):
        names = self.oracles if oracles is None else oracles
        return self.block(*[self.tx(o, PriceReport(market, price)) for o in names], **kw)

    def deposit(self, name: str, amount: int, asset=USD) -> Receipt:
        return self.run(name, MarginDeposit(asset, amount))

    def fund(self, amount: int, asset=USD) -> Receipt:
        return self.run("issuer", InsuranceDeposit(asset, amount))

    def order(self, maker: str, side: str, size: int, price: int, *, market="BTC-PERP", expiry=10**9, nonce=None, taker=ANY_TAKER):
        if nonce is None:
            nonce = self.nonces.get("order/" + maker, 0)
            self.nonces["order/" + maker] = nonce + 1
        return sign_order(self.keys[maker], self.chain_id, Order(market, side, size, price, expiry, nonce, taker))

    def trade_tx(self, taker: str, maker: str, side: str, size: int, price: int, **kw):
        """``taker``'s signed fill of all of a fresh order where ``maker`` takes ``side``."""
        return self.tx(taker, Trade(self.order(maker, side, size, price, **kw), size))

    def trade(self, taker: str, maker: str, side: str, size: int, price: int, **kw) -> Receipt:
        """``maker`` takes ``side``; ``taker`` the other side."""
        return self.run(taker, Trade(self.order(maker, side, size, price, **kw), size))


def only_nonce_changed(h: Harness, name: str, body):
    """Run ``body`` from ``name`` as the next tx against the current state without committing.

    Returns (receipt, set of written keys).  A failed tx must write only the
    sender's account key (its nonce).
    """
    from settlement.accounts import account_key
    from settlement.machine import execute_tx

    state = State(h.view)
    ctx = BlockContext(h.chain_id, h.height + 1, h.time_ms + 1000)
    receipt = execute_tx(state, ctx, h.tx(name, body))
    h.nonces[name] -= 1  # not committed
    keys = set(state.writes())
    assert keys == {account_key(h.addr(name))}, f"{receipt.error}: wrote {sorted(keys)}"
    return receipt


def refused(h: Harness, name: str, body, error: str, *words: str):
    """Assert ``body`` from ``name`` fails with ``error``, its reason holds every word, and it wrote only the nonce."""
    r = only_nonce_changed(h, name, body)
    assert (r.ok, r.error) == (False, error), (r.error, r.reason)
    for w in words:
        assert w in r.reason, r.reason
    return r


def price_off(price: int, off_ppm: int, floor: int = 1) -> int:
    """``price`` moved by ``off_ppm`` parts per million (rounded down), never below ``floor``."""
    return max(floor, price + price * off_ppm // 1_000_000)


def block_no_flat_adl(h: Harness, txs: list, markets, names, dt_ms: int = 1000) -> list[Receipt]:
    """Apply one block (``h.block``) and assert every ADL counterparty of its sweep held a position then.

    "Then" is when the end-of-block sweep runs: the position before the block,
    as the block's own trades left it (their receipts carry both sides'
    positions after each fill, in order): an account that opened a position in
    this block may be an ADL counterparty in its sweep; a flat one never.
    """
    before = h.session()  # read now: a session reads the live view
    size = {(m, h.addr(n)): before.pos(h.addr(n), m).size for m in markets for n in names}
    receipts = h.block(*txs, dt_ms=dt_ms)
    for r in receipts:
        for e in r.events:
            if e.kind == "trade":
                size[(e.attrs["market"], e.attrs["maker"])] = e.attrs["maker_position"]
                size[(e.attrs["market"], e.attrs["taker"])] = e.attrs["taker_position"]
    for e in h.block_events("adl"):
        assert size.get((e.attrs["market"], e.attrs["counterparty"])), "a flat account paid for ADL"
    return receipts


def debts_covered(h: Harness, names, backs: str = USD, markets=()) -> int:
    """Assert no value is created or lost in ``backs`` through a debt nobody covers (docs/risk-engine.md, "Bad debt").

    * an account with no position in ``backs`` holds settlement cash >= 0, or collateral whose haircut value
      covers what it owes (``collateral.extra_equity``);
    * claims <= what backs them: the sum over every margin account (the fund's included) of its equity without
      its collateral, where positive, is at most the margin cash, fund and funding pool of ``backs`` plus the
      debts that collateral covers, and the fund's shortfall when it holds no position (returned).  Skipped while
      one of ``markets`` is stale (a paused bankruptcy).
    """
    from settlement.audit import conservation
    from settlement.risk import collateral
    from settlement.risk.margin import evaluate
    from settlement.risk.records import FUND

    s = h.session()
    for n in names:
        a = h.addr(n)
        m = s.macc(a, backs)
        if not m.markets and not m.series:
            extra = collateral.extra_equity(s, a, backs)
            assert m.cash >= 0 or extra >= -m.cash, (n, m.cash, extra)
    if any(s.mstate(mid).stale for mid in markets):
        return 0
    claims, covered = 0, 0
    for a in [h.addr(n) for n in names] + [FUND]:
        extra = collateral.extra_equity(s, a, backs)
        own = evaluate(s, a, backs).equity - extra
        claims += max(0, own)
        covered += min(max(0, -own), extra)
    fund, fm = evaluate(s, FUND, backs), s.macc(FUND, backs)
    if fm.markets or fm.series:
        assert fund.equity >= 0, fund.equity  # a loss of its inventory is deleveraged (liquidation.rebalance_fund)
    # the documented exception: a fund without a position to deleverage keeps its loss (adl_uncovered, or a fall of
    # the collateral it took over): its shortfall is reported in its equity and allowed here
    allowed = max(0, -fund.equity)
    row = conservation(h.view.data.items())[backs]
    assert claims <= row["margin_cash"] + row["fund_cash"] + row["funding_pool"] + covered + allowed, (backs, claims, covered, row)
    return allowed
