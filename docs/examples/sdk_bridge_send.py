"""Bridge send: the admin creates this chain's client of a partner network (from the validator set in the
partner's genesis); alice sends 10 USD to bob there.  A relayer (`settle relay`) delivers the packet, or
refunds it after its timeout.

    python docs/examples/sdk_bridge_send.py [RPC_URL] [KEYS_DIR]
"""
import sys
from pathlib import Path

import sdk
from ledger.keys import PrivateKey
from ledger.lightclient import validator_set_bytes
from ledger.validators import Validator, ValidatorSet

PARTNER = "sdk-partner"  # the partner's chain id
MINUTE_MS = 60_000


def main(url="http://127.0.0.1:26657", keys=Path.home() / ".settle/devnet/keys"):
    client = sdk.Client(url)
    admin, alice, bob = (PrivateKey.load(Path(keys) / f"{n}.json") for n in ("admin", "alice", "bob"))

    if PARTNER not in {c["chain_id"] for c in client.bridge()["clients"]}:
        # In production: settlement.genesis.Genesis.load(partner_genesis).validator_set()
        partner_set = ValidatorSet([Validator(PrivateKey.from_name("partner-validator").pubkey, 10)])
        sdk.ensure_ok(client.transact(admin, sdk.txs.bridge_create_client(
            chain_id=PARTNER, validators=validator_set_bytes(partner_set))))

    now = client.status()["latest_block_time_ms"]
    sent = sdk.ensure_ok(client.transact(alice, sdk.txs.bridge_send(
        dest_chain=PARTNER, receiver=bob.address, asset="USD", amount=10_000_000, timeout_ms=now + 10 * MINUTE_MS)))
    (packet,) = [e for e in sent["receipt"]["events"] if "sequence" in e]
    print(f"packet {packet['sequence']} to {PARTNER} at height {sent['height']}")
    (partner,) = [c for c in client.bridge()["clients"] if c["chain_id"] == PARTNER]
    print("escrow:", partner["escrow"])


if __name__ == "__main__":
    main(*sys.argv[1:])
