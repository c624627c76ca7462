"""HTLC: alice locks 5 EUR for bob under a hashlock; bob claims it by revealing the preimage.

    python docs/examples/sdk_htlc.py [RPC_URL] [KEYS_DIR]
"""
import hashlib
import os
import sys
from pathlib import Path

import sdk
from ledger.keys import PrivateKey


def main(url="http://127.0.0.1:26657", keys=Path.home() / ".settle/devnet/keys"):
    client = sdk.Client(url)
    alice, bob = (PrivateKey.load(Path(keys) / f"{name}.json") for name in ("alice", "bob"))
    preimage = os.urandom(32)
    height = client.status()["height"]

    lock = sdk.ensure_ok(client.transact(alice, sdk.txs.htlc_lock(
        asset="EUR", amount=5_000_000, receiver=bob.address, hashlock=hashlib.sha256(preimage).digest(),
        timeout_height=height + 50)))
    htlc_id = lock["receipt"]["events"][0]["id"]
    print(f"locked {htlc_id}: {client.htlc(htlc_id)['status']}")

    sdk.ensure_ok(client.transact(bob, sdk.txs.htlc_claim(htlc_id=htlc_id, preimage=preimage)))
    assert client.htlc(htlc_id)["status"] == "claimed"
    print("claimed by bob")


if __name__ == "__main__":
    main(*sys.argv[1:])
