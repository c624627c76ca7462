"""``settle light``: follow a chain's headers, trusting only a genesis or a validator-set hash.

Owns the follow loop: ask a node (any node: it is not trusted) for each next
header with its commit certificate and validator set (RPC ``proof``, kind
``header``), accept it only through ``ledger.lightclient.HeaderFollower``
(the trusted set committed it with > 2/3 of the power, it links to the last
accepted header by ``prev_hash``, its time does not go back), and print one
line per accepted header.  Starting above height 1 (``--from``), the first
header is checked on its own: validator sets are static from genesis, so any
header the trusted set committed is a sound start.

Balance queries answered with verified state proofs come with the
authenticated state tree: :func:`verified_balance` is their hook (it refuses
with a reason until the node's ``proof`` RPC has the ``state`` kind and
``ledger`` has the verifier).  Never signs or submits anything.
"""
from __future__ import annotations

import json
import time

import click

from ledger.block import Header
from ledger.codec import DecodeError
from ledger.commit import CommitCertificate
from ledger.lightclient import HeaderFollower, decode_validator_set, verify_header
from ledger.proofs import ProofError

from .client import RPCClient
from .common import CLIError, json_opt, utc_time
from .trust import Trust, trust_options

__all__ = ["light", "verified_balance"]


def _fetch(client: RPCClient, height: int) -> tuple[Header, CommitCertificate, object]:
    ans = client.call("proof", {"kind": "header", "height": height})
    try:
        header = Header.decode(bytes.fromhex(ans["header"]))
        cert = CommitCertificate.decode(bytes.fromhex(ans["certificate"]))
        vset = decode_validator_set(bytes.fromhex(ans["validators"]))
    except (DecodeError, ValueError, KeyError, TypeError) as exc:
        raise CLIError(f"header {height}: the node's answer does not decode: {exc}") from None
    return header, cert, vset


def verified_balance(client: RPCClient, follower: HeaderFollower, address: str, asset: str) -> int:
    """The balance of ``address`` in ``asset`` at the follower's latest header, proven by a state proof.

    The hook for the state tree: fetch ``proof`` kind ``state`` at
    ``follower.height`` and check it with the tree's ``verify_state`` against
    ``follower.latest.state_root`` (or the tree's root field).
    """
    raise CLIError("balance queries need state proofs, which wait for the authenticated state tree "
                   "(the header's state_root is still a multiset hash that cannot prove one account)")


@click.command("light")
@trust_options
@click.option("--rpc", required=True, help="URL of any node of the chain (it is not trusted)")
@click.option("--from", "start", type=int, default=1, show_default=True, help="first height to verify")
@click.option("--until", type=int, default=None, help="stop after this height (default: follow the chain forever)")
@click.option("--balance", nargs=2, default=None, metavar="ADDRESS ASSET",
              help="at --until, answer this balance with a verified state proof (needs the state tree)")
@click.option("--poll", type=float, default=0.5, show_default=True, help="seconds between asks for new headers")
@json_opt
def light(trust_genesis, trust_vset, rpc, start, until, balance, poll, as_json):
    """Follow headers from a node, verifying every commit certificate against the trusted validator set."""
    trust = Trust.from_options(trust_genesis, trust_vset)
    if start < 1 or (until is not None and until < start):
        raise CLIError("need 1 <= --from <= --until")
    if balance is not None and until is None:
        raise CLIError("--balance answers at the --until height: give --until")
    client = RPCClient(rpc, timeout=30)
    follower: HeaderFollower | None = None
    height, tip = start, 0
    while until is None or height <= until:
        if tip < height:
            tip = client.call("status")["height"]  # only a hint of how far to ask: nothing here is trusted
            if tip < height:
                time.sleep(poll)
                continue
        header, cert, vset = _fetch(client, height)
        try:
            trust.check(header.chain_id, vset)
            chain_id = trust.chain_id or header.chain_id
            if follower is None and height > 1:  # a start above 1 stands on its own certificate
                power = verify_header(vset, chain_id, header, cert)
                follower = HeaderFollower(vset, chain_id, start=header)
            else:
                follower = follower or HeaderFollower(vset, chain_id)
                power = follower.advance(header, cert)
        except ProofError as exc:
            raise CLIError(f"header {height} refused: {exc}") from None
        _report(header, power, vset.total_power, as_json)
        height += 1
    if balance is not None:
        verified_balance(client, follower, *balance)


def _report(header: Header, power: int, total: int, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({"height": header.height, "block_id": header.id.hex(), "time_ms": header.time_ms,
                               "signing_power": power, "total_power": total}))
        return
    click.echo(f"verified height {header.height} block {header.id.hex()} time {utc_time(header.time_ms)} signed {power}/{total}")
