"""Stress replay: the real state machine over a price path with N synthetic leveraged accounts.

Owns the synthetic population, the built-in scenarios and the per-block
report of ``settle stress``.  It is a harness, never part of a block
transition: randomness and the clock arrive as arguments (a seeded
``random.Random`` and a nanosecond timer from the caller), so this module
imports neither.

Each block is applied exactly as ``machine.apply_block`` does -- oracle
``price`` txs through ``execute_tx``, then the risk end-of-block step
(prices, options, funding, liquidation sweep), net writes, state root -- except that
the end-of-block step (prices, options, funding, sweep, write-back) and, within it, the
liquidation step (sweep + write-back) are timed from outside, between the
phases of ``risk_engine.end_block_phases`` (wall clock, and CPU time of the
whole step when a CPU timer is given).  Checks per block:

* ``breached``: a full scan (outside the timed step) of every synthetic
  account after this block's prices, before the sweep;
* ``missed``: the same scan after the block; must be 0 (every breached
  account handled in the block it breached);
* ``conservation``: :func:`settlement.audit.conservation_delta` of the
  block's writes is zero for every asset; a full audit runs at start and end
  (cash per asset, and long == short per market and per option series).

Population: accounts come in pairs holding opposite positions opened at the
initial price (so positions sum to zero), leverage uniform in
``[2, max_leverage]`` per account, 1-3 markets each in multi-market
scenarios (cross margin).  The insurance fund starts with ``fund_ppm`` of the
total collateral.

With ``option_accounts > 0`` an options book (``bench/stress_options.py``) is
listed on the first market in a first, unreported block, opened at the marks,
and each block also carries the stress oracles' vol reports; the breach scans
then run after the options phase too and count the option accounts apart
(``option_breached``, ``option_missed``).  With 0 (the default) nothing of it
exists and every state root is the one without options.

With ``pm_accounts`` or ``collateral_accounts`` > 0 the mixed book of
``bench/stress_pm.py`` joins (portfolio-mode option accounts, ETH collateral
listed in the same first block) and each block also reports ``pm_breached``,
the portfolio and collateral accounts liquidated and the collateral sold;
``allcrash`` is its scenario (every underlying and the collateral -40 % in one
block).  With both 0 nothing of it exists either.
"""
from __future__ import annotations

import marshal
from dataclasses import dataclass, field
from typing import Callable

from ledger.hashing import sha256
from ledger.keys import PrivateKey
from ledger.tx import sign_tx
from ledger.txkinds_risk import PriceReport

from settlement.accounts import CHAIN, Account, Asset, ChainParams, put_account, put_asset
from settlement.audit import conservation, conservation_delta, positions_balance
from settlement.context import BlockContext
from settlement.machine import execute_tx
from settlement.risk.margin import evaluate, reindex
from settlement.risk.markets import default_params
from settlement.risk.oracle import _update_volatility, update_prices
from settlement.risk.funding import apply_funding
from settlement.risk.engine import end_block_phases, options_phase
from settlement.risk.records import FUND, Market, MState, Session
from settlement.state import DictView, State, StateTree

from .stress_pm import ALLCRASH_MARKETS, COLLATERAL, COLLATERAL_MARKET, allcrash_rows, collateral_market, collateral_txs, deposit_collateral
from .stress_pm import row as pm_row
from .stress_pm import uncovered_debts
from .stress_pm import summary as pm_summary
from .stress_pm import with_collateral_prices
from .stress_options import VOLSPIKE_BLOCKS, VOLSPIKE_CALM, VOLSPIKE_DT_MS, VOLSPIKE_MOVE_PPM, OptionBook, vol_scales

__all__ = ["SCENARIOS", "StressConfig", "build", "price_path", "run_stress"]

P0 = 100_000  # initial price per lot, quote base units
ASSET = "USD"
CHAIN_ID = "settle-stress"

SCENARIOS = {
    "crash50": "BTC-PERP falls 50% over a day (48 blocks of 30 min), with noise",
    "alts80": "four correlated alt markets fall 80% over a day; accounts cross-margined over 1-3 of them",
    "squeeze100": "BTC-PERP rises 100% over a day: a short squeeze",
    "breach1": "one block moves the price just far enough to breach 1% of the accounts (the benchmark)",
    "volspike": "BTC-PERP spot -30% and implied vols x3 in one block, then the near option expiry settles",
    "allcrash": "every underlying and every collateral asset -40% in one block (a mixed book: options, portfolio mode, ETH collateral)",
}


@dataclass
class StressConfig:
    accounts: int = 2_000
    scenario: str = "crash50"
    blocks: int = 48
    max_leverage: int = 18
    fund_ppm: int = 10_000
    breach_ppm: int = 10_000  # breach1: share of accounts that breach in the breach block
    verify: bool = True
    csv_rows: list[dict[str, int]] | None = None  # a price path: one {market: price} per block
    markets: list[str] = field(default_factory=list)
    option_accounts: int = 0  # accounts of the options book (writer/buyer pairs); 0: no options at all
    option_expiries: int = 2  # the near expiry (settles during the run) and the far ones
    option_series_max: int = 3  # series per writer/buyer pair: uniform in [option_series_min, this]
    option_series_min: int = 1
    pm_accounts: int = 0  # more option accounts, in portfolio mode (bench/stress_pm.py); 0: none
    collateral_accounts: int = 0  # accounts holding half their margin in ETH (bench/stress_pm.py); 0: no collateral listed


def _noise(rng, scale_ppm: int) -> int:
    return rng.randint(-scale_ppm, scale_ppm)


def price_path(cfg: StressConfig, rng) -> tuple[list[str], list[dict[str, int]]]:
    """Markets and per-block prices of a built-in scenario (or the CSV rows)."""
    if cfg.csv_rows is not None:
        return sorted(cfg.csv_rows[0]), cfg.csv_rows
    n = cfg.blocks
    if cfg.scenario in ("crash50", "squeeze100"):
        end = 50 if cfg.scenario == "crash50" else 200
        rows = []
        for i in range(1, n + 1):
            target = P0 + (P0 * end // 100 - P0) * i // n
            rows.append({"BTC-PERP": max(1, target + target * _noise(rng, 3_000) // 1_000_000)})
        rows[-1]["BTC-PERP"] = P0 * end // 100
        return ["BTC-PERP"], rows
    if cfg.scenario == "alts80":
        mids = [f"ALT{i}-PERP" for i in range(1, 5)]
        rows = []
        for i in range(1, n + 1):
            common = P0 - (P0 * 80 // 100) * i // n
            rows.append({m: max(1, common + common * _noise(rng, 10_000) // 1_000_000) for m in mids})
        return mids, rows
    if cfg.scenario == "breach1":
        return ["BTC-PERP"], []  # the breach price is solved for once the population exists
    if cfg.scenario == "volspike":
        rows, px = [], P0
        for i in range(1, VOLSPIKE_BLOCKS + 1):
            if i == VOLSPIKE_CALM + 1:
                px = P0 + P0 * VOLSPIKE_MOVE_PPM // 1_000_000
            rows.append({"BTC-PERP": max(1, px + px * _noise(rng, 2_000) // 1_000_000)})
        return ["BTC-PERP"], rows
    if cfg.scenario == "allcrash":
        return list(ALLCRASH_MARKETS), allcrash_rows(P0, VOLSPIKE_BLOCKS, VOLSPIKE_CALM, rng, _noise)
    raise ValueError(f"unknown scenario {cfg.scenario!r}; choose from {', '.join(SCENARIOS)} or give a CSV")


class _Sim:
    def __init__(self, cfg: StressConfig, rng, markets: list[str]):
        self.cfg = cfg
        self.markets = markets
        self.oracles = [PrivateKey.from_name(f"stress-oracle{i}") for i in range(3)]
        self.admin = PrivateKey.from_name("stress-admin")
        self.nonces = [0, 0, 0]
        self.height = 0
        self.time_ms = 0
        self.addrs: list[bytes] = []
        self.housekeeping: Callable[[bool], None] | None = None
        self.cpu_timer: Callable[[], int] | None = None
        self.liquidated: set[bytes] = set()
        self.single: list[tuple[int, int]] = []  # (cash, size) of single-market accounts, for breach1
        self.book: OptionBook | None = None  # option_accounts > 0
        self.holders: list[bytes] = []  # accounts holding ETH collateral (collateral_accounts > 0)
        self.portfolio: set[bytes] = set()
        self.supply = 0
        state = State(DictView())
        state.put(CHAIN, ChainParams(CHAIN_ID, 0, bytes(32)).encode())
        put_account(state, self.admin.address, Account(("admin",), 0))
        for o in self.oracles:
            put_account(state, o.address, Account(("oracle",), 0))
        ctx = BlockContext(CHAIN_ID, 0, 0)
        sess = Session(state, ctx)
        # volspike moves the price 30 % in one block, allcrash 40 %: the move guard (20 % a block by default) must let it through
        params = default_params("large", oracle_max_move_ppm=500_000 if cfg.scenario == "allcrash" else 400_000) \
            if cfg.scenario in ("volspike", "allcrash") else default_params("large")
        for mid in markets + collateral_market(cfg, markets):
            sess.add_market(Market(mid, mid.split("-")[0], ASSET, params, tuple(sorted(o.address for o in self.oracles))))
            ms = sess.mstate(mid)
            ms.price, ms.stale = P0, False
        total = self._populate(sess, rng)
        fund = total * cfg.fund_ppm // 1_000_000
        sess.macc(FUND, ASSET).cash = fund
        sess.touch_macc(FUND, ASSET)
        sess.flush()
        self.supply = total + fund
        put_asset(state, Asset(ASSET, 6, self.admin.address, self.supply))
        if collateral_market(cfg):
            put_asset(state, Asset(COLLATERAL, 6, self.admin.address, 0))
        writes, self.acc = state.finish(StateTree.empty(), 0)
        self.view = DictView(dict(writes))

    def _populate(self, sess: Session, rng) -> int:
        cfg = self.cfg
        total = 0
        for i in range(cfg.accounts // 2):
            mids = [self.markets[0]] if len(self.markets) == 1 else sorted(rng.sample(self.markets, rng.randint(1, min(3, len(self.markets)))))
            sizes = {mid: rng.randint(1, 1_000) for mid in mids}
            notional = sum(sizes.values()) * P0
            for side in (1, -1):
                addr = sha256(b"settle-stress/%d" % (i * 2 + (side < 0)))[:20]
                lev_milli = rng.randint(2_000, cfg.max_leverage * 1_000)
                collateral = notional * 1_000 // lev_milli
                put_account(sess.state, addr, Account(("participant",), 0))
                m = sess.macc(addr, ASSET)
                m.cash = collateral - side * notional
                m.markets = list(mids)
                sess.touch_macc(addr, ASSET)
                for mid in mids:
                    p = sess.pos(addr, mid)
                    p.size, p.open_notional = side * sizes[mid], side * sizes[mid] * P0
                    sess.touch_pos(addr, mid)
                    ms = sess.mstate(mid)
                    ms.oi += sizes[mid] if side > 0 else 0
                    sess.touch_ms(mid)
                reindex(sess, addr, ASSET, indexed=False)
                self.addrs.append(addr)
                if len(mids) == 1:
                    self.single.append((m.cash, side * sizes[mids[0]]))
                total += collateral
        return total

    def reload(self) -> None:
        """Hold the population as a node holds state read from its store: the records packed together in memory.

        Building the population ran one risk :class:`Session` over every
        account: 10^5 positions, margin accounts, key tuples and index pages,
        allocated interleaved with the state's records and then freed, which
        left ~45 MB of holes in the interpreter's small-object pools among the
        records (measured with ``sys._debugmallocstats``: 66 MB free in used
        pools after setup, 0.3 MB once the state is read back from a copy).  A
        block's step then placed its own objects in those scattered holes and
        was ~100 ms slower at crash scale than the same block replayed in a
        fresh process.  A node never runs such a session: its state comes
        from its store.  So the harness copies its state (and its own account
        lists) out, drops the originals and reads the copy back; what the
        replayed blocks themselves leave behind is still measured, as a node
        pays it.  Same keys, values and order: results are unchanged.
        """
        blob = marshal.dumps((self.view.data, self.addrs, self.single))
        self.view.data = self.addrs = self.single = None  # type: ignore[assignment]  # freed before the copy is read
        self.view.data, self.addrs, self.single = marshal.loads(blob)

    # ------------------------------------------------------------------ options book

    def setup_options(self, rng, timer: Callable[[], int], dt_ms: int) -> None:
        """Enable options on the first market, list the chain and collateral, and open the book (``stress_options.OptionBook``).

        A first block (not reported) carries the admin's listing txs (and its
        ``set_collateral``, ``bench/stress_pm.py``), the prices at ``P0`` and
        the first vol reports, so every series has a mark computed by the
        engine itself; then the pairs (portfolio ones included) are opened at
        those marks directly in state, as :meth:`_populate` opens the
        perpetuals, and the collateral accounts move half their margin into ETH.
        """
        cfg = self.cfg
        txs, prices = [], {self.markets[0]: P0}
        if cfg.option_accounts > 0 or cfg.pm_accounts > 0:
            self.book = OptionBook(cfg, self.markets[0], P0, ASSET, CHAIN_ID)
            txs = self.book.listing_txs(self.admin, self.time_ms + dt_ms, dt_ms)
        if collateral_market(cfg):
            txs += collateral_txs(self.admin, CHAIN_ID, len(txs), ASSET)
        if collateral_market(cfg) or COLLATERAL_MARKET in self.markets:
            prices[COLLATERAL_MARKET] = P0
        row = self.block(prices, timer, dt_ms, pre_txs=txs)
        if not row["conservation_ok"]:
            raise RuntimeError("the listing block did not conserve")
        state = State(self.view)
        sess = Session(state, BlockContext(CHAIN_ID, self.height, self.time_ms))
        if self.book:
            self.supply += self.book.open(sess, rng, cfg.pm_accounts)
            self.portfolio = set(self.book.portfolio)
        moved = 0
        if collateral_market(cfg):
            self.holders, moved, eth = deposit_collateral(sess, self.addrs + (self.book.addrs if self.book else []), cfg.collateral_accounts, ASSET)
            put_asset(state, Asset(COLLATERAL, 6, self.admin.address, eth))
        sess.flush()
        self.supply -= moved
        put_asset(state, Asset(ASSET, 6, self.admin.address, self.supply))
        writes, self.acc = state.finish(self.acc)
        self.view.apply(writes)

    # ------------------------------------------------------------------ checks

    def breached(self, state: State, addrs: list[bytes] | None = None) -> int:
        sess = Session(state, BlockContext(CHAIN_ID, self.height, self.time_ms))
        return sum(1 for a in (self.addrs if addrs is None else addrs) if evaluate(sess, a, ASSET).breached)

    def price_txs(self, prices: dict[str, int]) -> list:
        txs = []
        for k, o in enumerate(self.oracles):
            for mid in sorted(prices):
                txs.append(sign_tx(o, CHAIN_ID, self.nonces[k], PriceReport(mid, prices[mid])))
                self.nonces[k] += 1
        return txs

    def block(self, prices: dict[str, int], timer: Callable[[], int], dt_ms: int, vol_scale: int = 1, pre_txs: list = ()) -> dict:
        self.height += 1
        self.time_ms += dt_ms
        ctx = BlockContext(CHAIN_ID, self.height, self.time_ms)
        txs = list(pre_txs) + self.price_txs(prices)
        if self.book:
            txs += self.book.vol_txs(self.oracles, self.nonces, self.time_ms, vol_scale)
        row = {"height": self.height, "prices": dict(prices)}
        if self.cfg.verify:
            scratch = State(self.view)
            for t in txs:
                execute_tx(scratch, ctx, t)
            sess = Session(scratch, ctx)
            update_prices(sess, ctx)
            if self.book:
                options_phase(sess, ctx)
            apply_funding(sess, ctx)
            sess.flush()
            row["breached"] = self.breached(scratch)
            if self.book:
                row["option_breached"] = self.breached(scratch, self.book.addrs)
            if self.portfolio:
                row["pm_breached"] = self.breached(scratch, self.book.portfolio)
            del scratch, sess  # the verifier's 100k-object caches must not be alive during the timed step
        if self.housekeeping:
            self.housekeeping(False)
        state = State(self.view)
        receipts = [execute_tx(state, ctx, t) for t in txs]
        if not all(r.ok for r in receipts):
            bad = next(r for r in receipts if not r.ok)
            raise RuntimeError(f"price report rejected at height {self.height}: {bad.error}: {bad.reason}")
        c0 = self.cpu_timer() if self.cpu_timer else 0
        t0 = timer()
        events, liq_ns, opt_ns, t = [], 0, 0, t0
        for phase, evs in end_block_phases(state, ctx):
            now = timer()
            if phase == "liquidations":
                liq_ns = now - t
            elif phase == "options":
                opt_ns = now - t
            events += evs
            t = now
        block_ns = timer() - t0
        cpu_ns = (self.cpu_timer() - c0) if self.cpu_timer else 0
        writes, self.acc = state.finish(self.acc)
        delta = conservation_delta(self.view, writes)
        self.view.apply(writes)
        liquidated = {e.attrs["account"] for e in events if e.kind == "liquidation"}
        self.liquidated |= liquidated
        if self.book:
            row.update(self.book.row(events, liquidated), options_step_ms=round(opt_ns / 1e6, 3))
        if self.portfolio or self.holders:
            row.update(pm_row(events, liquidated, self.portfolio, set(self.holders)))
        fund = Session(State(self.view), ctx)
        fev = evaluate(fund, FUND, ASSET)
        row.update(
            liquidated=len(liquidated), liquidation_events=sum(1 for e in events if e.kind == "liquidation"),
            liquidation_step_ms=round(liq_ns / 1e6, 3), end_block_ms=round(block_ns / 1e6, 3),
            end_block_cpu_ms=round(cpu_ns / 1e6, 3),
            adl_events=sum(1 for e in events if e.kind == "adl"),
            bad_debt=sum(e.attrs["equity_before"] for e in events if e.kind == "liquidation" and e.attrs["step"] in ("bankrupt", "deleverage")) * -1,
            insurance_payments=sum(e.attrs["amount"] for e in events if e.kind == "insurance_payment"),
            socialized=sum(e.attrs["amount"] for e in events if e.kind == "social_loss"),
            fund_deleverages=sum(1 for e in events if e.kind == "fund_deleverage"),
            fund_shortfall=-sum(e.attrs["equity"] for e in events if e.kind == "fund_deleverage"),
            uncovered=sum(e.attrs["debt_to_fund"] for e in events if e.kind == "adl_uncovered"),
            insurance_fund_cash=fund.macc(FUND, ASSET).cash, insurance_fund_equity=fev.equity,
            conservation_ok=all(v == 0 for v in delta.values()), writes=len(writes), state_root=self.acc.root.hex(),
        )
        if self.cfg.verify:
            row["missed"] = self.breached(State(self.view))
            if self.book:
                row["option_missed"] = self.breached(State(self.view), self.book.addrs)
            if self.holders:  # a flat holder's USD debt its ETH no longer covers (bench/stress_pm.py)
                sess = Session(State(self.view), ctx)
                row["uncovered_debts"], row["uncovered_debt_total"] = uncovered_debts(sess, self.holders, ASSET)
        return row


def _solve_breach_price(sim: _Sim, target: int) -> int:
    """Highest price below P0 at which at least ``target`` accounts breach after the price update.

    Uses the margin formula directly on the (cash, size) of the single-market
    population (no funding has accrued yet), with the dynamic fraction the
    oracle update will produce for that move.
    """
    lo, hi = 1, P0  # count(lo) is large, count(hi) is ~0
    sess = Session(State(sim.view), BlockContext(CHAIN_ID, 0, 0))
    mid = sim.markets[0]
    params = sess.market(mid).params
    var0 = sess.mstate(mid).var

    def count(price: int) -> int:
        ms = MState.fresh(params)
        ms.var = var0
        _update_volatility(ms, params, P0, price)
        f = ms.mmf_eff
        return sum(1 for cash, s in sim.single if cash + s * price < -(-abs(s) * price * f // 1_000_000))

    while hi - lo > 1:
        mid = (lo + hi) // 2
        if count(mid) >= target:
            lo = mid
        else:
            hi = mid
    return lo


def build(cfg: StressConfig, rng, timer: Callable[[], int]) -> tuple[_Sim, list[dict[str, int]], int]:
    """The population of ``cfg`` (and its options book) ready to replay: the simulator, the price path, the block interval."""
    markets, path = price_path(cfg, rng)
    path = with_collateral_prices(cfg, markets, path)
    spiky = cfg.scenario in ("volspike", "allcrash") and cfg.csv_rows is None
    dt = VOLSPIKE_DT_MS if spiky else 86_400_000 // max(1, len(path) or cfg.blocks)
    sim = _Sim(cfg, rng, markets)
    if cfg.option_accounts > 0 or cfg.pm_accounts > 0 or collateral_market(cfg):
        sim.setup_options(rng, timer, dt)
    sim.reload()
    return sim, path, dt


def run_stress(cfg: StressConfig, rng, timer: Callable[[], int], progress: Callable[[dict], None] | None = None,
               housekeeping: Callable[[bool], None] | None = None, cpu_timer: Callable[[], int] | None = None) -> dict:
    """Run a scenario; returns the summary (see ``settle stress --json``) with a ``per_block`` list.

    Args:
        cfg: population and scenario.
        rng: a seeded ``random.Random`` (population and noise only).
        timer: nanoseconds, e.g. ``time.perf_counter_ns``.
        progress: called with each block's row as it completes.
        housekeeping: called with ``True`` once the population is built and
            with ``False`` before every timed step, after the verifier's scan
            (the CLI uses it to collect the verifier's garbage and freeze the
            setup heap, so the step is not billed for the harness's allocations).
        cpu_timer: this process's CPU nanoseconds (``time.process_time_ns``), to
            report the end-of-block step's CPU time too: on a shared machine
            the wall time also counts the other jobs.
    """
    t0 = timer()
    sim, path, dt = build(cfg, rng, timer)
    markets = sim.markets
    setup_ms = (timer() - t0) / 1e6
    start = conservation(sim.view.data.items())
    if cfg.scenario == "breach1" and cfg.csv_rows is None:
        target = max(1, cfg.accounts * cfg.breach_ppm // 1_000_000)
        px = _solve_breach_price(sim, target)
        path = [{markets[0]: P0}, {markets[0]: px}, {markets[0]: px}, {markets[0]: px}]
        dt = 1_000
    if housekeeping:
        housekeeping(True)
    sim.housekeeping = housekeeping
    sim.cpu_timer = cpu_timer
    rows = []
    for prices, scale in zip(path, vol_scales(cfg, len(path))):
        row = sim.block(prices, timer, dt, scale)
        rows.append(row)
        if progress:
            progress(row)
    end = conservation(sim.view.data.items())
    pos = positions_balance(sim.view.data.items())
    breach_row = max(rows, key=lambda r: (r.get("breached", r["liquidated"]), -r["height"]))
    options = {}
    if sim.book:
        sess = Session(State(sim.view), BlockContext(CHAIN_ID, sim.height, sim.time_ms))
        options = sim.book.summary(rows, sim.liquidated, sim.book.books_ok(sess, pos))
    if sim.portfolio or sim.holders:
        options.update(pm_summary(rows, sim.liquidated, sim.portfolio, set(sim.holders), start, end))
    return {
        "scenario": cfg.scenario if cfg.csv_rows is None else "csv",
        "accounts": cfg.accounts,
        "markets": markets,
        "blocks": len(rows),
        "setup_ms": round(setup_ms, 1),
        "breached": breach_row.get("breached", breach_row["liquidated"]),
        "breach_height": breach_row["height"],
        "liquidated_in_breach_block": breach_row["liquidated"],
        "liquidated": sum(r["liquidated"] for r in rows),
        "liquidated_accounts": len(sim.liquidated),
        "missed": sum(r.get("missed", 0) + r.get("option_missed", 0) for r in rows),
        "max_liquidation_step_ms": max(r["liquidation_step_ms"] for r in rows),
        "max_end_block_ms": max(r["end_block_ms"] for r in rows),
        "max_end_block_cpu_ms": max(r["end_block_cpu_ms"] for r in rows),
        "max_liquidations_in_a_block": max(r["liquidated"] for r in rows),
        "breach_block_liquidation_step_ms": breach_row["liquidation_step_ms"],
        "breach_block_end_block_ms": breach_row["end_block_ms"],
        "breach_block_end_block_cpu_ms": breach_row["end_block_cpu_ms"],
        "bad_debt": sum(r["bad_debt"] for r in rows),
        "insurance_paid": sum(r["insurance_payments"] for r in rows),
        "socialized_loss": sum(r["socialized"] for r in rows),
        "uncovered_bad_debt": sum(r["uncovered"] for r in rows),
        "fund_deleverages": sum(r["fund_deleverages"] for r in rows),
        "fund_shortfall_deleveraged": sum(r["fund_shortfall"] for r in rows),
        "insurance_fund_start": start[ASSET]["fund_cash"],
        "insurance_fund_end": end[ASSET]["fund_cash"],
        "insurance_fund_equity_end": rows[-1]["insurance_fund_equity"],
        "min_insurance_fund_equity": min(r["insurance_fund_equity"] for r in rows),
        "funding_pool_end": end[ASSET]["funding_pool"],
        "adl_events": sum(r["adl_events"] for r in rows),
        "conservation_ok": all(v["ok"] for v in start.values()) and all(v["ok"] for v in end.values()) and all(r["conservation_ok"] for r in rows)
        and all(v["net"] == 0 for v in pos.values()),
        "state_root": rows[-1]["state_root"] if rows else sim.acc.root().hex(),
        **options,
        "per_block": rows,
    }
