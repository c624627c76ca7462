"""No fill may leave an account bankrupt, and stale prices never back new risk.

Worked numbers from docs/risk-engine.md ("Margin", "Stale markets").
"""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.codec import encode
from ledger.txkinds_risk import MarginWithdraw, Trade
from settlement.accounts import balance_key
from settlement.audit import solvency
from settlement.risk.records import MAcc, macc_key

from .harness import USD, Harness, refused

M, E = "BTC-PERP", "ETH-PERP"



def twenty_x() -> Harness:
    """alice: 1,000,000 and a 200-lot long at 100,000 (20x, exactly at IMR); bob the short with 3,000,000."""
    h = Harness(names=("alice", "bob", "carol"))
    h.register_market(M, margin_cap_ppm=1_000_000)
    h.prices(M, 100_000)
    h.deposit("alice", 1_000_000)
    h.deposit("bob", 3_000_000)
    assert h.trade("bob", "alice", "buy", 200, 100_000).ok
    return h


def test_a_closing_trade_cannot_leave_the_account_bankrupt():
    h = twenty_x()
    # alice sells all 200 at 90,000 (inside the 10 % band): she would be flat with cash -1,000,000
    so = h.order("alice", "sell", 200, 90_000)
    refused(h, "bob", Trade(so, 200), "insufficient_margin", "maker st" + h.addr("alice").hex(), "bankrupt", "-1000000")
    # the same close at the oracle price is fine: flat, cash 1,000,000, all of it withdrawable
    assert h.trade("bob", "alice", "sell", 200, 100_000).ok
    assert h.run("alice", MarginWithdraw(USD, 1_000_000)).ok
    assert all(row["ok"] for row in solvency(h.view.data.items()).values())


def test_a_partial_close_at_a_bad_price_is_refused_too():
    h = twenty_x()
    # selling 199 at 90,000 keeps one lot: equity -990,000 (it was refused before as free collateral shrank)
    refused(h, "bob", Trade(h.order("alice", "sell", 199, 90_000), 199), "insufficient_margin", "bankrupt", "-990000")
    # a loss the account can carry is allowed: sell 100 at 95,000 -> equity 500,000 >= IMR 500,000
    assert h.trade("bob", "alice", "sell", 100, 95_000).ok


def test_the_taker_side_is_held_to_the_same_rule():
    h = twenty_x()
    so = h.order("bob", "buy", 200, 90_000)  # bob buys alice's 200 lots back at 90,000: alice is the taker
    refused(h, "alice", Trade(so, 200), "insufficient_margin", "taker st" + h.addr("alice").hex(), "bankrupt")


def test_solvency_audit_catches_minted_money():
    """The state the bug left behind: alice flat at cash -1,000,000, bob's 1,000,000 profit withdrawn."""
    h = Harness(names=("alice", "bob"))
    h.register_market(M)
    h.prices(M, 100_000)
    h.deposit("alice", 1_000_000)
    assert all(row["ok"] for row in solvency(h.view.data.items()).values())
    bob_bal = 10**12  # the harness's starting balance
    forged = dict(h.view.data)
    forged[macc_key(h.addr("alice"), USD)] = MAcc(-1_000_000, [], 0).pack()
    forged[balance_key(h.addr("bob"), USD)] = encode(bob_bal + 2_000_000)
    row = solvency(forged.items())[USD]
    assert not row["ok"]
    assert row["spendable"] - row["supply"] == 1_000_000  # spendable exceeds issuance by the minted amount
    assert row["unbacked"] == [(h.addr("alice"), -1_000_000)]


def two_markets() -> Harness:
    """alice long 10 ETH-PERP; then ETH's oracles go silent while BTC's keep reporting."""
    h = Harness(names=("alice", "bob", "carol", "dave"))
    h.register_market(M, margin_cap_ppm=1_000_000)
    h.register_market(E, margin_cap_ppm=1_000_000)
    h.block(*[h.tx(o, body) for o in h.oracles for body in _reports({M: 100_000, E: 2_000})])
    for n in ("alice", "bob", "carol", "dave"):
        h.deposit(n, 1_000_000)
    assert h.trade("bob", "alice", "buy", 10, 2_000, market=E).ok
    assert h.trade("carol", "alice", "buy", 1, 100_000).ok
    for _ in range(7):  # 70 s of BTC reports only: ETH's last report is older than 60 s
        h.prices(M, 100_000, dt_ms=10_000)
    sess = h.session()
    assert sess.mstate(E).stale and not sess.mstate(M).stale
    return h


def _reports(prices):
    from ledger.txkinds_risk import PriceReport

    return [PriceReport(m, p) for m, p in sorted(prices.items())]


def test_a_stale_market_the_account_holds_blocks_new_risk_in_every_market():
    h = two_markets()
    # alice adds BTC risk: her ETH position is valued at a stale price, so it cannot back it
    refused(h, "carol", Trade(h.order("alice", "buy", 1, 100_000), 1), "stale_price", "maker", E)
    refused(h, "alice", Trade(h.order("carol", "sell", 1, 100_000), 1), "stale_price", "taker", E)
    refused(h, "alice", MarginWithdraw(USD, 1), "stale_price", E)
    # carol holds no stale market: she may add risk against anyone who is only reducing
    assert h.trade("carol", "alice", "sell", 1, 100_000).ok  # alice and carol both reduce to flat
    refused(h, "bob", Trade(h.order("carol", "buy", 1, 100_000), 1), "stale_price", "taker", E)  # bob would open a short
    assert h.trade("dave", "carol", "buy", 1, 100_000).ok  # neither holds ETH: fresh risk is fine


def test_reducing_is_always_allowed_while_stale():
    h = two_markets()
    assert h.trade("bob", "alice", "sell", 5, 2_000, market=E).ok  # both reduce in the stale market itself
    assert h.trade("carol", "alice", "sell", 1, 100_000).ok  # alice and carol both reduce BTC


@settings(max_examples=60, deadline=None)
@given(deposit=st.integers(100_000, 2_000_000), lev=st.integers(1, 20), open_off=st.integers(-100_000, 100_000),
       move=st.integers(-60_000, 60_000), close_off=st.integers(-100_000, 100_000), short=st.booleans())
def test_open_move_close_anywhere_in_the_band_never_mints(deposit, lev, open_off, move, close_off, short):
    """Open at 1x-20x, move the oracle, close at any band price: after every block spendable <= issued."""
    lots = deposit * lev // 100_000
    h = Harness(names=("alice", "bob"))
    h.register_market(M, margin_cap_ppm=1_000_000)
    h.prices(M, 100_000)
    h.deposit("alice", deposit)
    h.deposit("bob", 100_000_000)
    side = "sell" if short else "buy"
    h.trade("bob", "alice", side, lots, 100_000 + open_off // 10)
    assert all(row["ok"] for row in solvency(h.view.data.items()).values())
    px = 100_000 + move // 10
    h.prices(M, px)
    assert all(row["ok"] for row in solvency(h.view.data.items()).values())
    size = h.session().pos(h.addr("alice"), M).size
    if size:
        h.trade("bob", "alice", "sell" if size > 0 else "buy", abs(size), px + px * close_off // 1_000_000)
    for asset, row in solvency(h.view.data.items()).items():
        assert row["ok"], (asset, row)


def test_a_price_still_converging_to_its_median_backs_no_new_risk_but_liquidations_go_on():
    """The move guard clamps the median (docs "Oracles"); until the price reaches it, it is not confirmed."""
    h = Harness(names=("alice", "bob", "carol", "dave"))
    h.register_market(M, margin_cap_ppm=1_000_000)
    h.prices(M, 100_000)
    for n, amount in (("alice", 1_000_000), ("bob", 1_000_000), ("carol", 10_000_000), ("dave", 10_000_000)):
        h.deposit(n, amount)
    assert h.trade("bob", "alice", "sell", 150, 100_000).ok  # alice short 150 (IMR 750,000, MMR 450,000)
    assert h.trade("dave", "carol", "buy", 10, 100_000).ok
    h.prices(M, 130_000)  # +30 %: the price moves 20 % this block, to 120,000
    sess = h.session()
    assert (sess.mstate(M).price, sess.mstate(M).converging) == (120_000, True)
    # alice: equity 1,000,000 - 150 x 20,000 < 0 at 120,000: liquidated (at least as breached at the median)
    assert [e.attrs["account"] for e in h.block_events("liquidation")] == [h.addr("alice")]
    refused(h, "dave", Trade(h.order("carol", "buy", 1, 120_000), 1), "stale_price", "converging", M)
    refused(h, "carol", MarginWithdraw(USD, 1), "stale_price", "converging")
    assert h.trade("dave", "carol", "sell", 1, 120_000).ok  # both reduce
    h.block()  # the next block moves it the rest of the way (reports are still fresh)
    sess = h.session()
    assert (sess.mstate(M).price, sess.mstate(M).converging) == (130_000, False)
    assert h.trade("dave", "carol", "buy", 1, 130_000).ok
