"""Multi-asset collateral's sale: a breached account's collateral sold to the insurance fund, a flat debtor's taken over.

Owns :func:`sell_to_fund`: what of an account's collateral is sold, at what
price, and the cash moved between the account and the fund, both for the
sale before the waterfall and for the takeover of a flat debtor's collateral.
It never decides when or in what order an account is liquidated
(``liquidation.py``), never values collateral or the fund's inventory
(``collateral.py``: ``extra_equity``, ``fund_inventory``) and never files
price bands (``collateral_bands.py``).

Liquidation
-----------
A breached account sells its collateral to the insurance fund first
(``liquidation.liquidate_account`` calls :func:`sell_to_fund` before its
waterfall), in asset order, only as much as brings its equity *without* its
collateral up to its MMR: with ``E`` and ``MMR`` its evaluation, the sale must
bring ``need = MMR - (E - extra)`` of ``backs``.  Of each asset ``X`` in turn the
fund buys::

    rate = P x (10^6 - liq_discount)                       backs per lot, x 10^6
    a    = min(cash_X, ceil(need x lot x 10^6 / rate), floor(avail x lot x 10^6 / rate))
    paid = floor(a x rate / (lot x 10^6))

``a`` is rounded up (against the account: ``paid >= need`` unless its balance
or the fund runs out) and ``paid`` down; ``avail = max(0, the fund's equity in
backs)``.  ``X`` moves from the account's cash to the fund's
(``MAcc(FUND, X).cash``), ``paid`` the other way: conservation per asset is
exact.  ``need`` falls by ``paid`` and the sale stops once it is covered; the
rest of the collateral stays with the account, which is then not breached
whatever that rest is worth (its equity without it covers MMR; in portfolio
mode the shock term of the rest is at most the rest's value).  If the
collateral does not cover ``need``, all of it is sold and the perpetual
waterfall runs on what is left.  ``liq_discount <= haircut`` (validated), so
a sale never lowers the account's equity.  A collateral price that is stale
cannot be sold at: an account with a position is liquidated all the same
(its collateral counted at the last price; if it ends flat in debt it is a
flat debtor, below, whose bands fire once the price is fresh), while the
liquidation of an account without one is paused (``liquidation_paused`` with
``collateral_stale``: the fund must not pay a debt the account still holds
collateral for) and re-indexed, as for a stale market.

Bad debt (no debt is left behind unsold collateral)
---------------------------------------------------
Buying only with its equity, the fund could leave an account at the end of
its liquidation flat, with negative ``backs`` cash and unsold collateral,
which nobody looked at again: a further fall of the collateral left a debt
outside every waterfall.  The rule, after Drift v2's
``liquidate_perp_pnl_for_deposit`` (the liquidator takes the user's deposit at
the oracle price less a liquidation fee against its negative P&L; a user left
with a debt and no deposit is bankrupt: ``resolve_perp_bankruptcy``, the
insurance fund, then the loss socialized) and Binance Portfolio Margin, whose
liquidation engine "will take over the assets on the account and sell them to
cover the liabilities", its insurance fund taking over what is left and ADL
beyond its coverage (binance.com FAQ "How Does Liquidation Work in the Binance
Portfolio Margin Account"):

* Takeover.  An account left flat (no position in ``backs``) with negative
  ``backs`` cash at the end of its liquidation (``liquidation._done``) has its
  collateral taken by the fund at the same price, ``need = -cash``, **whatever
  the fund's equity** (``sell_to_fund`` without ``fund_available``; event
  ``takeover``).  The waterfall counted the collateral at its haircut value
  and ``liq_discount <= haircut``, so the account ends with cash >= 0.
* The fund's inventory counts in the fund's equity in ``backs``
  (``collateral.fund_inventory``, through ``collateral.extra_equity``) at the takeover price,
  rounded down (against the fund)::

      inv = sum_X floor(cash_FUND,X x P_X x (10^6 - liq_discount_X) / (lot_X x 10^6))

  so a sale or takeover never lowers the fund's equity (``floor(a + b) >=
  floor(a) + floor(b)``: the inventory gains at least ``paid``); its cash may
  go below zero, backed by the inventory (as a long perpetual inventory makes
  it).  A fall of ``X`` lowers the fund's equity; once negative
  ``liquidation.rebalance_fund`` deleverages the fund's positions at its
  bankruptcy price (ADL, then socialized loss).  With no position the fund
  keeps the loss (its equity below zero, as after an ``adl_uncovered``).  The
  disabled switch does not change the inventory's value: it governs what
  accounts may count, not what the asset fetches.
* Flat debtors.  An account without a position may still owe ``backs`` (it
  closed a position at a loss, paid an option's settlement, or its
  collateral's price was stale at its liquidation).  ``margin.Eval.breached``
  is then ``equity < 0`` (its MMR is 0) and ``margin.reindex`` files its
  collateral price bands out of its budget ``10^6 x (cash + extra)``
  (``collateral_bands.file_bands`` with no position: ``k = n``; nothing is filed once its
  cash is >= 0), so the sweep finds it when its collateral falls through the
  debt.  Its liquidation takes over what covers ``-cash``; if all of it does
  not, the account is bankrupt and the fund pays the rest, beyond its equity
  if it must (``insurance_payment`` with ``beyond_equity``: a flat account has
  no position to deleverage), its own waterfall following.  Every other way
  an account changes (trades, deposits, withdrawals, ADL, option expiries
  through ``sess.recheck``) re-indexes it; a one-pass ADL counterparty
  (``adl.py``) pays at most its equity *without* its collateral, so it never
  ends flat in debt.
"""
from __future__ import annotations

from ledger.receipt import Event

from .collateral import extra_equity, held, params, price_lot, refile
from .records import FUND, ONE, Session

__all__ = ["sell_to_fund"]


def sell_to_fund(sess: Session, addr: bytes, backs: str, events: list[Event], ev, fund_available=None) -> bool:
    """Sell what of ``addr``'s collateral backing ``backs`` covers its MMR to the insurance fund (module docstring).

    Args:
        ev: the account's evaluation now (``margin.evaluate``): its equity and MMR set what the sale must bring.
        fund_available: ``(sess, asset) -> int``, what the fund can pay (``liquidation.fund_available``): the sale
            of an account with a position buys no more.  None: the takeover of a flat account's collateral, at
            the same price whatever the fund's equity ("Bad debt").

    Returns True if the need is left uncovered while collateral whose price is stale could not be sold (the
    caller pauses a flat account's liquidation until the price is fresh).
    """
    need = ev.mmr - (ev.equity - extra_equity(sess, addr, backs))  # MMR - the account's equity without its collateral
    blocked = False
    for asset in list(held(sess, addr, backs)):
        if need <= 0:
            break
        p = params(sess, asset)
        ms = sess.mstate(p.price_market)
        if ms.stale or ms.price <= 0:
            blocked = True
            continue
        m = sess.macc(addr, asset)
        price, lot = price_lot(sess, p)
        rate = price * (ONE - p.liq_discount_ppm)  # backs per lot x 10^6, after the discount (> 0)
        enough = -(-need * lot * ONE // rate)  # the least amount whose price covers the need: rounded up, against the seller
        amount = min(m.cash, enough)
        if fund_available is not None:  # ... and the largest one whose price the fund can pay
            amount = min(amount, fund_available(sess, backs) * lot * ONE // rate)
            if amount <= 0:
                continue
        pay = amount * rate // (lot * ONE)  # rounded down, against the seller
        fund_x, fund_b, mb = sess.macc(FUND, asset), sess.macc(FUND, backs), sess.macc(addr, backs)
        m.cash -= amount
        fund_x.cash += amount
        fund_b.cash -= pay
        mb.cash += pay
        for a, x in ((addr, asset), (FUND, asset), (FUND, backs), (addr, backs)):
            sess.touch_macc(a, x)
        refile(sess, addr, asset)
        events.append(Event("collateral_sale", {"account": addr, "asset": asset, "amount": amount, "backs": backs,
                                                "price": price, "paid": pay, "left": m.cash, "need": need,
                                                "takeover": fund_available is None}))
        need -= pay
    return blocked and need > 0
