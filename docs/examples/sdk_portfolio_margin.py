"""Portfolio margin and collateral: the admin lists EUR as collateral backing USD (priced by SDKEUR-PERP) and
sets that underlying's scenario grid; carol switches to portfolio margin, deposits EUR, and reads her
scenario table and a what-if trade.

    python docs/examples/sdk_portfolio_margin.py [RPC_URL] [KEYS_DIR]
"""
import sys
from pathlib import Path

import sdk
from ledger.keys import PrivateKey
from settlement.risk.collateral import default_collateral_params
from settlement.risk.markets import default_params
from settlement.risk.pm.mode import PM_DEFAULTS

PRICE_MARKET = "SDKEUR-PERP"  # base EUR, quote USD: the price of EUR collateral
LOT = 1_000_000  # EUR base units per lot: one EUR
EUR_PRICE = 1_100_000  # USD base units per lot: 1.10 USD per EUR


def main(url="http://127.0.0.1:26657", keys=Path.home() / ".settle/devnet/keys"):
    client = sdk.Client(url)
    admin, oracle, carol = (PrivateKey.load(Path(keys) / f"{n}.json") for n in ("admin", "oracle", "carol"))

    def do(key, body):
        return sdk.ensure_ok(client.transact(key, body))

    if PRICE_MARKET not in {m["market"] for m in client.markets()}:
        do(admin, sdk.txs.register_market(market=PRICE_MARKET, base="EUR", quote="USD",
                                          params=default_params("large", lot_size=LOT, oracle_fresh_ms=600_000),
                                          oracles=[oracle.address]))
    do(oracle, sdk.txs.price(market=PRICE_MARKET, price=EUR_PRICE))
    do(admin, sdk.txs.set_collateral(asset="EUR", params=default_collateral_params("USD", PRICE_MARKET)))
    do(admin, sdk.txs.set_pm_params(underlying=PRICE_MARKET, params=PM_DEFAULTS))
    print("collateral:", [(c["asset"], c["haircut_ppm"]) for c in client.collateral_params()])

    do(carol, sdk.txs.set_margin_mode(mode="portfolio"))
    do(carol, sdk.txs.margin_deposit(asset="USD", amount=5_000_000_000))
    do(carol, sdk.txs.margin_deposit(asset="EUR", amount=80_000_000_000))
    table = client.pm_scenarios(carol.address)
    print(f"carol: {table['mode']} margin, accounts {[(a['asset'], a['equity'], a['imr']) for a in table['accounts']]}")
    whatif = client.pm_whatif(carol.address, "buy", 10, EUR_PRICE, market=PRICE_MARKET)
    print(f"after buying 10 lots: IMR {whatif['after']['accounts'][0]['imr']}")
    assert table["mode"] == "portfolio"


if __name__ == "__main__":
    main(*sys.argv[1:])
