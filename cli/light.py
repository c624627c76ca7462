"""``settle light``: follow a chain's headers, trusting only a genesis or a validator-set hash.

Owns the follow loop: ask a node (any node: it is not trusted) for each next
header with its commit certificate and validator set (RPC ``proof``, kind
``header``), accept it only through ``ledger.lightclient.HeaderFollower``
(the trusted set committed it with > 2/3 of the power, it links to the last
accepted header by ``prev_hash``, its time does not go back), and print one
line per accepted header.  Starting above height 1 (``--from``), the first
header is checked on its own: validator sets are static from genesis, so any
header the trusted set committed is a sound start.

Queries (``--balance ADDRESS ASSET``, ``--htlc ID``) are answered with state
proofs checked here, not believed: the client computes the entry's state key
itself, asks for its proof (RPC ``proof``, kind ``state``) at ``--until`` (or
the node's latest height), and accepts the answer only if the trusted set
committed its header and the entry's path leads to that header's
``state_root`` (``cli/proven.py``).  A query follows no headers: validator
sets are static from genesis, so the answer's own certificate is a sound
anchor.  Never signs or submits anything.
"""
from __future__ import annotations

import json
import time

import click

from ledger.block import Header
from ledger.codec import DecodeError
from ledger.commit import CommitCertificate
from ledger.keys import format_address
from ledger.lightclient import HeaderFollower, decode_validator_set, verify_header
from ledger.proofs import ProofError
from node.render import jsonable
from settlement.risk.records import Htlc

from sdk import Client
from .common import CLIError, json_opt, utc_time
from .proven import ProvenState, balance_of, fetch_state, htlc_of, key_of_balance, key_of_htlc
from .trust import Trust, trust_options

__all__ = ["light", "verified_balance", "verified_htlc"]


def _fetch(client: Client, height: int) -> tuple[Header, CommitCertificate, object]:
    ans = client.call("proof", {"kind": "header", "height": height})
    try:
        header = Header.decode(bytes.fromhex(ans["header"]))
        cert = CommitCertificate.decode(bytes.fromhex(ans["certificate"]))
        vset = decode_validator_set(bytes.fromhex(ans["validators"]))
    except (DecodeError, ValueError, KeyError, TypeError) as exc:
        raise CLIError(f"header {height}: the node's answer does not decode: {exc}") from None
    return header, cert, vset


def verified_balance(client: Client, trust: Trust, address: str, asset: str,
                     height: int | None = None) -> tuple[int, ProvenState]:
    """The balance of ``address`` in ``asset`` after the block at ``height`` (default latest), by a state proof."""
    return _proven(client, trust, lambda: key_of_balance(address, asset), balance_of, height)


def verified_htlc(client: Client, trust: Trust, hid: str,
                  height: int | None = None) -> tuple[Htlc | None, ProvenState]:
    """The HTLC ``hid`` after the block at ``height`` (default latest), proven present (its record) or absent (None)."""
    return _proven(client, trust, lambda: key_of_htlc(hid), htlc_of, height)


def _proven(client: Client, trust: Trust, key_of, read, height: int | None):
    try:
        key = key_of()
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    try:
        state = fetch_state(client, trust, key, height)
        return read(state), state
    except ProofError as exc:
        raise CLIError(f"the node's answer is refused: {exc}") from None


@click.command("light")
@trust_options
@click.option("--rpc", required=True, help="URL of any node of the chain (it is not trusted)")
@click.option("--from", "start", type=int, default=1, show_default=True,
              help="first height to verify (not with a query)")
@click.option("--until", type=int, default=None, help="stop after this height (default: follow the chain forever)")
@click.option("--balance", nargs=2, default=None, metavar="ADDRESS ASSET",
              help="answer this balance at --until (default latest) with a verified state proof, follow no headers")
@click.option("--htlc", "htlc", default=None, metavar="ID",
              help="answer this HTLC at --until (default latest) with a verified state proof, follow no headers")
@click.option("--poll", type=float, default=0.5, show_default=True, help="seconds between asks for new headers")
@json_opt
def light(trust_genesis, trust_vset, rpc, start, until, balance, htlc, poll, as_json):
    """Follow headers from a node, verifying every commit certificate against the trusted validator set."""
    trust = Trust.from_options(trust_genesis, trust_vset)
    if start < 1 or (until is not None and until < start):
        raise CLIError("need 1 <= --from <= --until")
    client = Client(rpc, timeout=30)
    if balance is not None or htlc is not None:
        if start != 1:
            raise CLIError("--from is where following starts; a query (--balance, --htlc) follows no headers")
        _query(client, trust, balance, htlc, until, as_json)
        return
    follower: HeaderFollower | None = None
    height, tip = start, 0
    while until is None or height <= until:
        if tip < height:
            tip = client.status()["height"]  # only a hint of how far to ask: nothing here is trusted
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


def _query(client: Client, trust: Trust, balance, htlc, until: int | None, as_json: bool) -> None:
    if balance is not None:
        amount, state = verified_balance(client, trust, *balance, until)
        _answer(state, {"address": balance[0], "asset": balance[1], "balance": amount},
                f"balance of {balance[0]} in {balance[1]}: {amount}", as_json)
    if htlc is not None:
        record, state = verified_htlc(client, trust, htlc, until)
        what = "absent" if record is None else (
            f"{record.status}, {record.amount} {record.asset} from {format_address(record.sender)} to "
            f"{format_address(record.receiver)}, hashlock {record.hashlock.hex()}"
            + (f", preimage {record.preimage.hex()}" if record.preimage else ""))
        _answer(state, {"htlc": htlc, "record": None if record is None else jsonable(record)},
                f"htlc {htlc}: {what}", as_json)


def _answer(state: ProvenState, fields: dict, text: str, as_json: bool) -> None:
    h = state.header
    if as_json:
        click.echo(json.dumps({**fields, "height": h.height, "block_id": h.id.hex(), "time_ms": h.time_ms, "verified": True,
                               "signing_power": state.signing_power, "total_power": state.total_power}))
        return
    click.echo(f"verified {text} at height {h.height} (block {h.id.hex()}, time {utc_time(h.time_ms)}, "
               f"signed {state.signing_power}/{state.total_power})")


def _report(header: Header, power: int, total: int, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({"height": header.height, "block_id": header.id.hex(), "time_ms": header.time_ms,
                               "signing_power": power, "total_power": total}))
        return
    click.echo(f"verified height {header.height} block {header.id.hex()} time {utc_time(header.time_ms)} signed {power}/{total}")
