"""DvP swap: alice signs swap terms offline (100 EUR for 90 USD); bob submits them; both legs settle or neither.

    python docs/examples/sdk_dvp_swap.py [RPC_URL] [KEYS_DIR]
"""
import sys
from pathlib import Path

import sdk
from ledger.keys import PrivateKey

UNIT = 1_000_000  # EUR and USD have 6 decimals


def main(url="http://127.0.0.1:26657", keys=Path.home() / ".settle/devnet/keys"):
    client = sdk.Client(url)
    alice, bob = (PrivateKey.load(Path(keys) / f"{name}.json") for name in ("alice", "bob"))
    chain = client.status()

    # The maker's side, offline: terms bound to this chain, usable once (nonce), until expiry_height.
    swap = sdk.txs.signed_swap(alice, chain["chain_id"], taker=bob.address, give_asset="EUR", give_amount=100 * UNIT,
                               get_asset="USD", get_amount=90 * UNIT, expiry_height=chain["height"] + 100,
                               nonce=chain["height"])
    # The taker's side: the swap body is its own transaction.
    result = sdk.ensure_ok(client.transact(bob, swap))
    (event,) = result["receipt"]["events"]
    print(f"swap settled at height {result['height']}: {event}")
    assert event["kind"] == "swap"


if __name__ == "__main__":
    main(*sys.argv[1:])
