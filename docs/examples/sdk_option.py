"""Option: the admin enables options on a perpetual and lists a call; the oracle reports its volatility;
alice sells 2 contracts at the mark (signed offline), bob buys them; then bob's option positions.

    python docs/examples/sdk_option.py [RPC_URL] [KEYS_DIR]
"""
import sys
from pathlib import Path

import sdk
from ledger.keys import PrivateKey
from settlement.risk.markets import default_params
from settlement.risk.options.series import default_option_params

UNDERLYING = "SDKOPT-PERP"
SPOT = 100_000_000  # USD base units per lot of the underlying (100 USD)
DAY_MS = 86_400_000


def main(url="http://127.0.0.1:26657", keys=Path.home() / ".settle/devnet/keys"):
    client = sdk.Client(url)
    admin, oracle, alice, bob = (PrivateKey.load(Path(keys) / f"{n}.json") for n in ("admin", "oracle", "alice", "bob"))

    def do(key, body):
        return sdk.ensure_ok(client.transact(key, body))

    if UNDERLYING not in {m["market"] for m in client.markets()}:
        do(admin, sdk.txs.register_market(market=UNDERLYING, base="SDKOPT", quote="USD",
                                          params=default_params("large", oracle_fresh_ms=600_000), oracles=[oracle.address]))
        do(admin, sdk.txs.set_option_params(underlying=UNDERLYING, params=default_option_params()))
    do(oracle, sdk.txs.price(market=UNDERLYING, price=SPOT))
    expiry = client.status()["latest_block_time_ms"] + DAY_MS
    listed = do(admin, sdk.txs.register_option_series(underlying=UNDERLYING, kind="call", strike=SPOT,
                                                       expiry_ms=expiry, contract_lots=1))
    series = listed["receipt"]["events"][0]["series"]
    do(oracle, sdk.txs.vol_report(underlying=UNDERLYING, points=[{"expiry_ms": expiry, "strike": SPOT, "vol_ppm": 800_000}]))
    for who in (alice, bob):
        do(who, sdk.txs.margin_deposit(asset="USD", amount=100_000_000_000))

    mark = client.option_series(series)["mark"]  # premium per contract at the reported 80 % vol
    chain = client.status()
    order = sdk.txs.signed_option_order(alice, chain["chain_id"], series=series, side="sell", size=2, price=mark,
                                        expiry_height=chain["height"] + 100, nonce=chain["height"] + 1_000_000)
    do(bob, sdk.txs.option_trade(order=order, size=2))
    (position,) = client.option_positions(bob.address)["accounts"][0]["positions"]
    print(f"bob holds {position['size']} {series} at mark {position['mark']}, delta {position['greeks']['delta']}")
    assert position["size"] == 2


if __name__ == "__main__":
    main(*sys.argv[1:])
