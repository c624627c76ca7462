"""Oracle and perpetual order: the admin lists SDK-PERP, the oracle reports its price, alice signs a buy
order offline, bob fills it; then both accounts' margin.

    python docs/examples/sdk_oracle_perp.py [RPC_URL] [KEYS_DIR]
"""
import sys
from pathlib import Path

import sdk
from ledger.keys import PrivateKey
from settlement.risk.markets import default_params

MARKET = "SDK-PERP"
PRICE = 100_000  # quote base units (USD, 6 decimals) per lot


def main(url="http://127.0.0.1:26657", keys=Path.home() / ".settle/devnet/keys"):
    client = sdk.Client(url)
    admin, oracle, alice, bob = (PrivateKey.load(Path(keys) / f"{n}.json") for n in ("admin", "oracle", "alice", "bob"))

    if MARKET not in {m["market"] for m in client.markets()}:
        sdk.ensure_ok(client.transact(admin, sdk.txs.register_market(
            market=MARKET, base="SDK", quote="USD", params=default_params("large", margin_cap_ppm=1_000_000),
            oracles=[oracle.address])))
    sdk.ensure_ok(client.transact(oracle, sdk.txs.price(market=MARKET, price=PRICE)))
    print(f"oracle median: {client.oracle(MARKET)['median_of_fresh']}")
    for who in (alice, bob):
        sdk.ensure_ok(client.transact(who, sdk.txs.margin_deposit(asset="USD", amount=1_000_000)))

    chain = client.status()
    order = sdk.txs.signed_order(alice, chain["chain_id"], market=MARKET, side="buy", size=10, price=PRICE,
                                 expiry_height=chain["height"] + 100, nonce=chain["height"])
    fill = sdk.ensure_ok(client.transact(bob, sdk.txs.trade(order=order, size=10)))
    print(f"filled at height {fill['height']}: {fill['receipt']['events'][0]['kind']}")
    assert client.order(alice.address, order.order.nonce)["filled"] == 10
    for who in ("alice", "bob"):
        account = client.account_margin(alice.address if who == "alice" else bob.address)["accounts"][0]
        print(who, {k: account[k] for k in ("equity", "imr", "mmr")})


if __name__ == "__main__":
    main(*sys.argv[1:])
