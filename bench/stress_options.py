"""The stress replay's options book and its ``volspike`` scenario (``settle stress --option-accounts``).

Owns the synthetic option chain (5 strikes x the configured expiries, calls and
puts, on the replay's first market), the stress oracles' implied-vol smile and
its reports, the writer/buyer population opened at the marks, the vol path of
``volspike`` and the options figures of each block and of the summary.  It is
a harness like ``bench/stress.py``, which drives it: randomness arrives as a
seeded ``random.Random``; every state change of a block goes through the real
state machine.

``volspike``: calm blocks, one block where spot falls 30 % and every implied
vol triples, calm blocks, the first block whose time passes the near expiry
(every near series settles there), a tail.  Blocks are 30 minutes apart; the
near expiry lies half a block before its settlement block, so the settlement
window (Deribit's 30 minutes) holds the block before it.
"""
from __future__ import annotations

from ledger.hashing import sha256
from ledger.tx import sign_tx
from ledger.txkinds_options import RegisterOptionChain, SetOptionParams, VolPoint, VolReport

from settlement.accounts import Account, put_account
from settlement.risk.margin import evaluate, reindex
from settlement.risk.options.positions import ofill
from settlement.risk.options.series import OPTION_DEFAULTS, default_option_params
from settlement.risk.optrecords import CALL, PUT, series_id
from settlement.risk.pm.mode import PORTFOLIO, set_mode
from settlement.risk.records import FUND, Session

__all__ = ["OptionBook", "VOLSPIKE_BLOCKS", "VOLSPIKE_CALM", "VOLSPIKE_DT_MS", "VOLSPIKE_MOVE_PPM", "vol_scales"]

# volspike: calm blocks, the spike block, calm blocks, the block that passes the near expiry, a tail
VOLSPIKE_CALM, VOLSPIKE_AFTER, VOLSPIKE_TAIL = 3, 3, 2
VOLSPIKE_BLOCKS = VOLSPIKE_CALM + 1 + VOLSPIKE_AFTER + 1 + VOLSPIKE_TAIL
VOLSPIKE_DT_MS = 1_800_000  # 30-minute blocks, as the day scenarios
VOLSPIKE_MOVE_PPM = -300_000  # spot -30 %
VOLSPIKE_VOL_X = 3  # implied vols x3

STRIKES_PCT = (80, 90, 100, 110, 120)  # strikes in % of the initial price
FAR_DAYS = (30, 7, 60, 90, 180, 365, 14, 120)  # expiries after the near one, in this order of use
CONTRACT_LOTS = 10
VOL_ATM = 600_000  # 60 % at the money
VOL_SKEW = 400_000  # + 0.4 x (P0 - K) / P0: strikes below the money trade richer (68 % at 80 %)
COVER_PPM = (1_000_000, 3_000_000)  # an account's equity at open: uniform in [1, 3] x its initial margin
RECHECK_BLOCKS = 4  # an option account's safe band lasts 4 blocks (the default 60 s would be 60 one-second blocks)
OPTIONS_STEP = "options"  # the ``step`` of a liquidation event that closed an account's options into the fund


def vol_scales(cfg, blocks: int) -> list[int]:
    """Per block: the factor on every oracle's implied vols (volspike: x3 from the spike block on)."""
    if cfg.scenario == "volspike" and cfg.csv_rows is None:
        return [1 if i <= VOLSPIKE_CALM else VOLSPIKE_VOL_X for i in range(1, blocks + 1)]
    return [1] * blocks


class OptionBook:
    """The chain, the option accounts and their figures; ``bench/stress.py``'s simulator holds one when ``option_accounts > 0``."""

    def __init__(self, cfg, underlying: str, p0: int, asset: str, chain_id: str):
        self.cfg, self.underlying, self.p0, self.asset, self.chain_id = cfg, underlying, p0, asset, chain_id
        self.strikes = [p0 * pct // 100 for pct in STRIKES_PCT]
        self.expiries: list[int] = []
        self.chain: list[str] = []  # every series id, sorted
        self.near_expiry_ms = 0
        self.addrs: list[bytes] = []  # writer, buyer, writer, ...
        self.members: set[bytes] = set()
        self.portfolio: list[bytes] = []  # the accounts in portfolio mode (``open(pm_accounts=...)``)

    def listing_txs(self, admin, start_ms: int, dt_ms: int) -> list:
        """The admin's ``set_option_params`` and ``register_option_chain`` for a listing block at ``start_ms``.

        The scenario's block ``k`` is at ``start_ms + k x dt``: the near expiry
        falls half a block before volspike's settlement block.  The parameters
        are the defaults (Deribit's) except the safe-band horizon
        ``recheck_ms``: at least :data:`RECHECK_BLOCKS` blocks, since the
        default 60 s is shorter than the replay's 30-minute blocks and would
        re-evaluate every option account in every block (measured: ~450 ms
        a calm block at 10^4 accounts, ~60 ms with the 4-block horizon; the
        spike block re-evaluates them all anyway, as its vols leave the band).
        """
        self.near_expiry_ms = start_ms + (VOLSPIKE_CALM + 1 + VOLSPIKE_AFTER) * dt_ms + dt_ms // 2
        far = [start_ms + d * 86_400_000 for d in FAR_DAYS[:self.cfg.option_expiries - 1]]
        self.expiries = sorted([self.near_expiry_ms] + far)
        self.chain = sorted(series_id(self.underlying, kind, k, e) for e in self.expiries for k in self.strikes for kind in (CALL, PUT))
        params = default_option_params(recheck_ms=max(OPTION_DEFAULTS["recheck_ms"], RECHECK_BLOCKS * dt_ms))
        bodies = [SetOptionParams(self.underlying, params),
                  RegisterOptionChain(self.underlying, self.strikes, self.expiries, CONTRACT_LOTS)]
        return [sign_tx(admin, self.chain_id, n, body) for n, body in enumerate(bodies)]

    def smile_vol(self, strike: int, scale: int) -> int:
        """The stress oracles' implied vol at ``strike`` (ppm): a skew around 60 % at the money, times ``scale``."""
        return max(10_000, VOL_ATM + VOL_SKEW * (self.p0 - strike) // self.p0) * scale

    def vol_txs(self, oracles, nonces: list[int], time_ms: int, scale: int) -> list:
        """Each oracle's report of every live (expiry, strike) point of the smile x ``scale``, the oracles 0.5 % apart."""
        txs = []
        for k, o in enumerate(oracles):
            points = [VolPoint(e, K, self.smile_vol(K, scale) * (1_000 + 5 * (k - 1)) // 1_000)
                      for e in self.expiries if e > time_ms for K in self.strikes]
            txs.append(sign_tx(o, self.chain_id, nonces[k], VolReport(self.underlying, points)))
            nonces[k] += 1
        return txs

    def open(self, sess: Session, rng, pm_accounts: int = 0) -> int:
        """Open every pair at the marks of the listing block, directly in state; returns the money deposited (fund top-up included).

        Each pair trades 1 to ``option_series_max`` series, 1-100 contracts
        each: the buyer pays the writer ``floor(n x lots x mark6 / 10^6)``
        (one integer, so cash is conserved).  1 in 3 writers holds a perpetual
        hedge of half its contracts' lots against its buyer (short calls are
        short the underlying, so hedged long; short puts hedged short).  Each
        account's equity is set to a uniform multiple of its initial margin;
        a buyer deposits its premium on top (long options need no margin).
        Every account is filed in the at-risk indexes by ``reindex``; the
        insurance fund grows by ``fund_ppm`` of the deposits.

        ``pm_accounts``: that many more accounts (pairs drawn the same way,
        after the option pairs) in portfolio mode (``pm/mode.set_mode``, the
        record ``set_margin_mode`` writes), their margin multiple taken of
        the portfolio requirement (``bench/stress_pm.py``).
        """
        cfg = self.cfg
        deposits = 0
        for i in range(cfg.option_accounts // 2):
            deposits += self._open_pair(sess, rng, b"option-%s/%d", i, False)
        for i in range(pm_accounts // 2):
            deposits += self._open_pair(sess, rng, b"pm-%s/%d", i, True)
        fund = deposits * cfg.fund_ppm // 1_000_000
        sess.macc(FUND, self.asset).cash += fund
        sess.touch_macc(FUND, self.asset)
        self.members = set(self.addrs)
        return deposits + fund

    def _open_pair(self, sess: Session, rng, tag: bytes, i: int, portfolio: bool) -> int:
        """One writer/buyer pair of :meth:`open`; returns its deposits."""
        cfg, mid, asset = self.cfg, self.underlying, self.asset
        ms = sess.mstate(mid)
        price = ms.price
        lo, hi = min(cfg.option_series_min, len(self.chain)), min(cfg.option_series_max, len(self.chain))
        deposits = 0
        picks = sorted(rng.sample(self.chain, rng.randint(lo, hi)))
        hedged = rng.randint(0, 2) == 0
        writer, buyer = (sha256(b"settle-stress/" + tag % (role, i))[:20] for role in (b"writer", b"buyer"))
        for addr in (writer, buyer):
            put_account(sess.state, addr, Account(("participant",), 0))
        hedge, premium = 0, 0
        for sid in picks:
            n = rng.randint(1, 100)
            series = sess.series(sid)
            cost = n * series.contract_lots * sess.sstate(sid).mark6 // 1_000_000
            ofill(sess, buyer, asset, sid, n, cost)
            ofill(sess, writer, asset, sid, -n, -cost)
            premium += cost
            if hedged:
                hedge += (1 if series.kind == CALL else -1) * n * series.contract_lots // 2
        if hedge:
            for addr, size in ((writer, hedge), (buyer, -hedge)):
                m = sess.macc(addr, asset)
                m.cash -= size * price
                m.markets = [mid]
                p = sess.pos(addr, mid)
                p.size, p.open_notional, p.funding_snap, p.loss_snap = size, size * price, ms.findex, ms.sloss
                sess.touch_pos(addr, mid)
            ms.oi += abs(hedge)
            sess.touch_ms(mid)
        for addr, paid in ((writer, 0), (buyer, premium)):
            m = sess.macc(addr, asset)
            if portfolio:
                set_mode(sess, addr, PORTFOLIO)
                self.portfolio.append(addr)
            ev = evaluate(sess, addr, asset, m)
            cover = rng.randint(*COVER_PPM)
            deposit = paid + max(0, -(-ev.imr * cover // 1_000_000) - ev.equity)
            m.cash += deposit
            sess.touch_macc(addr, asset)
            deposits += deposit
            reindex(sess, addr, asset, indexed=False)
            self.addrs.append(addr)
        return deposits

    def row(self, events: list, liquidated: set[bytes]) -> dict:
        """The options figures of one block's events (``liquidated``: the accounts any liquidation event names)."""
        return {
            "option_liquidated": sum(1 for a in liquidated if a in self.members),
            "option_liquidation_events": sum(1 for e in events if e.kind == "liquidation" and e.attrs["step"] == OPTIONS_STEP),
            "settlement_events": sum(1 for e in events if e.kind == "option_settled"),
            "series_expired": sum(1 for e in events if e.kind == "option_expired"),
        }

    def books_ok(self, sess: Session, balance: dict[str, dict]) -> bool:
        """Every series' open interest equals its long contracts, and a settled series has no position left.

        ``balance``: :func:`settlement.audit.positions_balance` of the state ``sess`` reads.
        """
        for sid in self.chain:
            ss, row = sess.sstate(sid), balance.get(sid, {"longs": 0, "holders": 0})
            if ss.oi != row["longs"] or (ss.settled and row["holders"]):
                return False
        return True

    def summary(self, rows: list[dict], liquidated: set[bytes], books_ok: bool) -> dict:
        return {
            "option_books_ok": books_ok,
            "option_accounts": len(self.addrs) - len(self.portfolio),  # the portfolio ones are counted apart (stress_pm.py)
            "option_series": len(self.chain),
            "near_expiry_ms": self.near_expiry_ms,
            "option_breached": max(r.get("option_breached", r["option_liquidated"]) for r in rows),
            "option_liquidated": sum(r["option_liquidated"] for r in rows),
            "option_liquidated_accounts": len(liquidated & self.members),
            "option_liquidation_events": sum(r["option_liquidation_events"] for r in rows),
            "option_missed": sum(r.get("option_missed", 0) for r in rows),
            "max_options_step_ms": max(r["options_step_ms"] for r in rows),
            "settlement_events": sum(r["settlement_events"] for r in rows),
            "series_expired": sum(r["series_expired"] for r in rows),
        }
