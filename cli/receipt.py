"""Portable settlement receipts: ``settle receipt export TXHASH`` and ``settle verify FILE``.

Owns the document format ``settle-receipt/1`` and its offline check.  A
document is one JSON object, every byte string as lowercase hex::

    {"format": "settle-receipt/1", "chain_id": ..., "height": H, "tx_hash": ...,
     "tx": <tx bytes>, "tx_proof": {"index", "size", "path": [...]},
     "receipt": <receipt bytes>, "receipt_proof": {...},
     "header": <header bytes>, "certificate": <commit certificate bytes>,
     "validators": <validator set bytes>, "summary": {...}}

``summary`` is what settled, for people (kind, sender, body, result, events,
height, time, signing power); :func:`verify_document` derives it again from
the proven bytes and refuses a document whose summary says anything else, so
every field of the file is checked: nothing in it is taken on faith.

:func:`verify_document` is pure (no node, no network): the trust root is a
genesis document or a validator-set hash (``cli/trust.py``), every
cryptographic check is ``ledger.lightclient`` and ``ledger.proofs``.
Never signs or submits anything.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import click

from ledger.block import Header
from ledger.codec import DecodeError
from ledger.commit import CommitCertificate
from ledger.keys import format_address
from ledger.lightclient import decode_validator_set, verify_header
from ledger.proofs import ProofError, hex_bytes, proof_from_json, verify_receipt, verify_tx
from ledger.receipt import Receipt
from ledger.tx import SignatureError, Tx
from node.render import jsonable

from .common import CLIError, home_dir, home_opt, json_opt, rpc_client, rpc_opt, utc_time
from .trust import Trust, trust_options

__all__ = ["FORMAT", "build_document", "receipt", "verify", "verify_document"]

FORMAT = "settle-receipt/1"
FIELDS = ("certificate", "chain_id", "format", "header", "height", "receipt", "receipt_proof", "summary", "tx",
          "tx_hash", "tx_proof", "validators")


def build_document(tx_answer: dict, receipt_answer: dict) -> dict:
    """The document from the node's ``proof`` answers for the tx and its receipt (one block, one certificate)."""
    for name in ("height", "header", "validators", "chain_id"):
        if tx_answer[name] != receipt_answer[name]:
            raise CLIError(f"the node answered the tx and receipt proofs with different {name}s")
    tx = Tx.decode(bytes.fromhex(tx_answer["value"]))
    doc = {
        "format": FORMAT,
        "chain_id": tx_answer["chain_id"],
        "height": tx_answer["height"],
        "tx_hash": tx.hash.hex(),
        "tx": tx_answer["value"],
        "tx_proof": tx_answer["proof"],
        "receipt": receipt_answer["value"],
        "receipt_proof": receipt_answer["proof"],
        "header": tx_answer["header"],
        "certificate": tx_answer["certificate"],
        "validators": tx_answer["validators"],
    }
    doc["summary"] = _proven(doc)[0]
    return doc


def _decode(doc: dict, name: str, decoder):
    try:
        return decoder(hex_bytes(doc[name], name))
    except DecodeError as exc:
        raise ProofError(f"{name} does not decode: {exc}") from None


def _proven(doc: dict) -> tuple[dict, Receipt]:
    """Decode and check everything but the trust root; return the derived summary and the receipt.

    Raises:
        ProofError: naming the first check that failed.
    """
    header: Header = _decode(doc, "header", Header.decode)
    cert = _decode(doc, "certificate", CommitCertificate.decode)
    vset = decode_validator_set(hex_bytes(doc["validators"], "validators"))
    tx: Tx = _decode(doc, "tx", Tx.decode)
    receipt_raw = hex_bytes(doc["receipt"], "receipt")
    receipt: Receipt = _decode(doc, "receipt", Receipt.decode)
    tx_proof = proof_from_json(doc["tx_proof"], "tx_proof")
    receipt_proof = proof_from_json(doc["receipt_proof"], "receipt_proof")
    chain_id = doc["chain_id"]
    power = _header_power(vset, chain_id, header, cert)
    if doc["height"] != header.height:
        raise ProofError(f"height {doc['height']} is not the header's height {header.height}")
    if doc["tx_hash"] != tx.hash.hex():
        raise ProofError(f"tx_hash {doc['tx_hash']} is not the hash of the tx ({tx.hash.hex()})")
    verify_tx(header, tx.raw, tx_proof)
    verify_receipt(header, receipt_raw, receipt_proof)
    if receipt.tx_hash != tx.hash:
        raise ProofError("the receipt is for another transaction")
    if receipt_proof.index != tx_proof.index:
        raise ProofError(f"the receipt is at index {receipt_proof.index}, the tx at index {tx_proof.index}")
    if tx.chain_id != chain_id:
        raise ProofError(f"the tx is signed for chain {tx.chain_id!r}, not {chain_id!r}")
    try:
        tx.verify_signature()
    except SignatureError as exc:
        raise ProofError(f"tx: {exc}") from None
    summary = {
        "kind": tx.kind,
        "sender": format_address(tx.sender_address),
        "nonce": tx.nonce,
        "body": jsonable(tx.body),
        "result": "ok" if receipt.ok else f"failed: {receipt.error}: {receipt.reason}",
        "events": [jsonable(e.as_dict()) for e in receipt.events],
        "height": header.height,
        "time_ms": header.time_ms,
        "index": tx_proof.index,
        "block_id": header.id.hex(),
        "signing_power": power,
        "total_power": vset.total_power,
        "validators_hash": vset.hash.hex(),
    }
    return summary, receipt


def _header_power(vset, chain_id: str, header: Header, cert: CommitCertificate) -> int:
    try:
        return verify_header(vset, chain_id, header, cert)
    except ProofError as exc:
        raise ProofError(f"header: {exc}") from None


def verify_document(doc, trust: Trust) -> dict:
    """Check a portable receipt offline; return its summary (what was proven).

    Raises:
        ProofError: naming the first check that failed, including "the tx
            failed" for a proven receipt with a non-zero code (nothing settled).
    """
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ProofError(f"not a settle receipt: the format must be {FORMAT!r}")
    if sorted(doc) != sorted(FIELDS):
        extra, missing = sorted(set(doc) - set(FIELDS)), sorted(set(FIELDS) - set(doc))
        raise ProofError(f"fields: unknown {extra}, missing {missing}")
    if not isinstance(doc["chain_id"], str) or type(doc["height"]) is not int or not isinstance(doc["tx_hash"], str):
        raise ProofError("chain_id and tx_hash must be strings, height an integer")
    vset = decode_validator_set(hex_bytes(doc["validators"], "validators"))
    try:
        trust.check(doc["chain_id"], vset)
    except ProofError as exc:
        raise ProofError(f"not trusted: {exc}") from None
    summary, receipt = _proven(doc)
    if doc["summary"] != summary:
        wrong = sorted(k for k in set(summary) | set(doc["summary"] if isinstance(doc["summary"], dict) else {})
                       if not isinstance(doc["summary"], dict) or doc["summary"].get(k) != summary.get(k))
        raise ProofError(f"summary does not match the proven contents ({', '.join(wrong)})")
    if not receipt.ok:
        raise ProofError(f"the tx is proven committed at height {summary['height']} but it failed "
                         f"({receipt.error}: {receipt.reason}): nothing settled")
    return summary


@click.group("receipt", help="Portable settlement receipts: export one to check it anywhere, offline.")
def receipt():
    pass


@receipt.command("export")
@click.argument("tx_hash")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="write to this file (default: stdout)")
@home_opt
@rpc_opt
def export(tx_hash, out, home, rpc):
    """Write the proof that TX_HASH settled: tx, receipt, Merkle paths, header, commit certificate, validator set."""
    client = rpc_client(home_dir(home), rpc)
    try:  # the node's answer must check out against the set it names, or nothing is written
        doc = build_document(client.call("proof", {"kind": "tx", "hash": tx_hash}),
                             client.call("proof", {"kind": "receipt", "hash": tx_hash}))
    except (ProofError, DecodeError) as exc:
        raise CLIError(f"the node's proof does not check out: {exc}") from None
    text = json.dumps(doc, indent=2) + "\n"
    if out is None:
        click.echo(text, nl=False)
        return
    tmp = Path(f"{out}.tmp")
    tmp.write_text(text)
    os.replace(tmp, out)
    s = doc["summary"]
    click.echo(f"wrote {out}: {s['kind']} ({s['result']}) at height {s['height']}, validator set {s['validators_hash']}",
               err=True)


@click.command("verify")
@click.argument("file", type=click.Path(dir_okay=False))
@trust_options
@json_opt
def verify(file, trust_genesis, trust_vset, as_json):
    """Check a portable receipt offline, against a trusted genesis or validator-set hash; print what settled."""
    trust = Trust.from_options(trust_genesis, trust_vset)
    try:
        doc = json.loads(Path(file).read_text())
    except (OSError, ValueError) as exc:
        raise CLIError(f"cannot read {file}: {exc}") from None
    try:
        s = verify_document(doc, trust)
    except ProofError as exc:
        raise CLIError(f"receipt does not verify: {exc}") from None
    if as_json:
        click.echo(json.dumps({"verified": True, **s}, indent=2))
        return
    rows = [("settled", f"{s['kind']} by {s['sender']} (nonce {s['nonce']})")]
    rows += [(f"  {k}", v) for k, v in s["body"].items()]
    rows += [("event", ", ".join(f"{k}={v}" for k, v in e.items())) for e in s["events"]]
    rows += [
        ("tx", doc["tx_hash"]),
        ("height", f"{s['height']} (tx {s['index']} of block {s['block_id']})"),
        ("time", f"{utc_time(s['time_ms'])} ({s['time_ms']} ms)"),
        ("signed by", f"power {s['signing_power']} of {s['total_power']} (validator set {s['validators_hash']})"),
        ("chain", doc["chain_id"]),
        ("trusted", trust.source),
    ]
    click.echo("verified settlement receipt")
    for k, v in rows:  # plain lines, never cut to the terminal's width: hashes are compared whole
        click.echo(f"{k:<10} {v}")
