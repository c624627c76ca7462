"""Transfer: alice pays bob 25 USD and waits until the block holding the payment is final.

    python docs/examples/sdk_transfer.py [RPC_URL] [KEYS_DIR]    # defaults: a `settle devnet up` network
"""
import sys
from pathlib import Path

import sdk
from ledger.keys import PrivateKey

USD = 1_000_000  # base units per USD (6 decimals)


def main(url="http://127.0.0.1:26657", keys=Path.home() / ".settle/devnet/keys"):
    client = sdk.Client(url)
    alice, bob = (PrivateKey.load(Path(keys) / f"{name}.json") for name in ("alice", "bob"))
    before = client.account(bob.address)["balances"]["USD"]

    body = sdk.txs.transfer(to=bob.address, asset="USD", amount=25 * USD, memo="invoice 42")
    result = sdk.ensure_ok(client.transact(alice, body))  # nonce and chain id fetched; returns once final
    print(f"transfer {result['hash']} final at height {result['height']}")

    assert client.account(bob.address)["balances"]["USD"] == before + 25 * USD
    assert client.tx(result["hash"])["tx"]["body"]["memo"] == "invoice 42"


if __name__ == "__main__":
    main(*sys.argv[1:])
