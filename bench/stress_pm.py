"""The stress replay's mixed book: portfolio-mode accounts, multi-asset collateral and the ``allcrash`` scenario.

Owns the collateral asset of the replay (``ETH``, priced by the market
``ETH-PERP`` in ``USD``: price-only, except in ``allcrash`` where the
perpetual accounts trade it as a second underlying), its listing
(a real ``set_collateral`` tx in the setup block), the accounts that hold part
of their margin in it, the ``allcrash`` price path, and the portfolio and
collateral figures of each block and of the summary.  A harness like
``bench/stress.py``, which drives it; the portfolio accounts themselves are
pairs of the options book (``stress_options.OptionBook.open(pm_accounts=)``).

- ``--pm-accounts N``: N more option accounts (writer/buyer pairs drawn as the
  book's), switched to portfolio mode before their margin is set (their equity
  a uniform 1-3 x their portfolio requirement).  The switch writes the record
  ``set_margin_mode`` writes (``pm/mode.set_mode``) directly in state, as the
  replay opens every position.
- ``--collateral-accounts N``: N accounts spread evenly over the whole
  population (perpetual, option and portfolio accounts, in that order) move
  half of their equity out of USD margin into ETH margin cash worth at least
  as much after the haircut (Binance's 5 %, ``collateral.COLLATERAL_DEFAULTS``):
  USD's supply falls by what left, ETH's is what they hold.  ETH's price moves
  with the replay's first market, in every block (correlation one).
- ``allcrash``: BTC-PERP and ETH-PERP (the perpetual accounts cross-margined
  over one or both; the options book on BTC-PERP; ETH the collateral): calm
  blocks, one block where every underlying AND the collateral asset fall
  40 %, calm blocks, the block that settles the near expiry, a tail
  (volspike's shape, vols unchanged).

With none of these (the default) nothing of it exists: no market, no asset,
no tx, and every state root is the one without them.
"""
from __future__ import annotations

from ledger.tx import sign_tx
from ledger.txkinds_pm import SetCollateral

from settlement.risk import collateral
from settlement.risk.margin import evaluate, reindex
from settlement.risk.records import Session

__all__ = ["ALLCRASH_MARKETS", "ALLCRASH_MOVE_PPM", "COLLATERAL", "COLLATERAL_MARKET", "allcrash_rows", "collateral_market", "collateral_txs",
           "deposit_collateral", "row", "summary", "uncovered_debts"]

COLLATERAL = "ETH"
COLLATERAL_MARKET = "ETH-PERP"
ALLCRASH_MOVE_PPM = -400_000  # every price -40 % in one block


def collateral_market(cfg, markets: list[str] = ()) -> list[str]:
    """The collateral's price market if the replay lists collateral and it is not one of ``markets`` already."""
    return [COLLATERAL_MARKET] if cfg.collateral_accounts > 0 and COLLATERAL_MARKET not in markets else []


ALLCRASH_MARKETS = ["BTC-PERP", COLLATERAL_MARKET]  # both underlyings of the perpetual accounts; ETH-PERP also prices the collateral


def allcrash_rows(p0: int, blocks: int, calm: int, rng, noise) -> list[dict[str, int]]:
    """The prices of ``allcrash`` (every market of :data:`ALLCRASH_MARKETS`): ``calm`` blocks at ``p0``, then -40 %; each +-0.2 % noise."""
    out, px = [], p0
    for i in range(1, blocks + 1):
        if i == calm + 1:
            px = p0 + p0 * ALLCRASH_MOVE_PPM // 1_000_000
        out.append({mid: max(1, px + px * noise(rng, 2_000) // 1_000_000) for mid in ALLCRASH_MARKETS})
    return out


def with_collateral_prices(cfg, markets: list[str], rows: list[dict[str, int]]) -> list[dict[str, int]]:
    """Each row with the collateral market's price: the first market's (both start at the same price: correlation one)."""
    if not collateral_market(cfg) or COLLATERAL_MARKET in markets:
        return rows
    return [dict(r, **{COLLATERAL_MARKET: r[markets[0]]}) for r in rows]


def collateral_txs(admin, chain_id: str, nonce: int, backs: str) -> list:
    """The admin's ``set_collateral`` of ETH backing ``backs``, priced by ETH-PERP (default parameters)."""
    params = collateral.default_collateral_params(backs, COLLATERAL_MARKET)
    return [sign_tx(admin, chain_id, nonce, SetCollateral(COLLATERAL, params))]


def deposit_collateral(sess: Session, addrs: list[bytes], n: int, backs: str) -> tuple[list[bytes], int, int]:
    """Move half of the equity of ``n`` accounts evenly spread over ``addrs`` (with equity > 0) out of ``backs`` into ETH margin cash.

    Each chosen account with equity ``E > 0`` gives ``X = floor(E / 2)`` of its
    ``backs`` cash and receives ``ceil(X x lot x 10^6 / (P x (10^6 - haircut)))``
    ETH (worth at least ``X`` after the haircut), then is re-filed as a holder
    and re-indexed.  Returns (the holders, ``backs`` removed, ETH added).
    """
    if n <= 0 or not addrs:
        return [], 0, 0
    p = collateral.params(sess, COLLATERAL)
    price, lot = sess.mstate(COLLATERAL_MARKET).price, sess.market(COLLATERAL_MARKET).params.lot_size
    step = max(1, len(addrs) // n)
    spread = addrs[::step]
    picked = set(spread)
    holders, out_b, in_x = [], 0, 0
    for a in spread + [a for a in addrs if a not in picked]:  # evenly spread, then the others while some had no equity
        if len(holders) == n:
            break
        m = sess.macc(a, backs)
        ev = evaluate(sess, a, backs, m)
        x = ev.equity // 2
        if x <= 0:
            continue
        y = -(-x * lot * 1_000_000 // (price * (1_000_000 - p.haircut_ppm)))
        m.cash -= x
        sess.macc(a, COLLATERAL).cash += y
        sess.touch_macc(a, backs)
        sess.touch_macc(a, COLLATERAL)
        collateral.refile(sess, a, COLLATERAL)
        reindex(sess, a, backs)
        holders.append(a)
        out_b += x
        in_x += y
    return holders, out_b, in_x


def uncovered_debts(sess: Session, addrs: list[bytes], backs: str) -> tuple[int, int]:
    """(how many, how much): accounts without a position whose negative ``backs`` cash their collateral does not cover.

    Must be (0, 0) after every block (docs/risk-engine.md "Multi-asset collateral", "Bad debt").
    """
    n = total = 0
    for a in addrs:
        m = sess.macc(a, backs)
        if m.cash < 0 and not m.markets and not m.series:
            short = -m.cash - collateral.extra_equity(sess, a, backs)
            if short > 0:
                n, total = n + 1, total + short
    return n, total


def row(events: list, liquidated: set[bytes], portfolio: set[bytes], holders: set[bytes]) -> dict:
    """The portfolio and collateral figures of one block's events."""
    sales = [e for e in events if e.kind == "collateral_sale"]
    return {
        "pm_liquidated": len(liquidated & portfolio),
        "collateral_liquidated": len(liquidated & holders),
        "collateral_sales": len(sales),
        "collateral_sold": sum(e.attrs["amount"] for e in sales),
        "collateral_takeovers": sum(1 for e in sales if e.attrs["takeover"]),
    }


def summary(rows: list[dict], liquidated: set[bytes], portfolio: set[bytes], holders: set[bytes], start: dict, end: dict) -> dict:
    """The summary's portfolio and collateral figures; ``start``/``end``: the full audits (``audit.conservation``)."""
    return {
        "pm_accounts": len(portfolio),
        "pm_breached": max(r.get("pm_breached", r["pm_liquidated"]) for r in rows),
        "pm_liquidated_accounts": len(liquidated & portfolio),
        "collateral_accounts": len(holders),
        "collateral_liquidated_accounts": len(liquidated & holders),
        "collateral_sales": sum(r["collateral_sales"] for r in rows),
        "collateral_sold": sum(r["collateral_sold"] for r in rows),
        "collateral_takeovers": sum(r["collateral_takeovers"] for r in rows),
        "collateral_taken_by_fund_end": end.get(COLLATERAL, {}).get("fund_cash", 0),
        "uncovered_debts": max((r.get("uncovered_debts", 0) for r in rows), default=0),
        "conserved_by_asset": {a: bool(start.get(a, {"ok": True})["ok"] and end[a]["ok"] and all(r["conservation_ok"] for r in rows))
                               for a in sorted(end)},
    }
