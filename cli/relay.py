"""``settle relay`` and ``settle bridge``: carry bridge packets between two networks, and use the bridge.

Owns the relayer's loop and the bridge's user commands:

* ``settle relay --a URL --b URL --key-a K --key-b K``: anyone may run it
  (any registered account on each network pays nothing and proves nothing
  by itself).  Each round, for each direction: read the packets the source
  has sent and the destination has not received (RPC ``proof``, kind
  ``state``: nothing read is trusted), then either deliver them (update the
  destination's client of the source to the source's latest header with its
  commit certificate, then ``bridge_recv`` with a state proof at that height)
  or, once the destination's block time is past a packet's timeout, refund it
  (update the source's client of the destination, then ``bridge_timeout``
  with a proof that the receipt is absent); a received packet is then closed
  on its source with ``bridge_ack`` and a proof of its acknowledgement.  One progress line per action;
  ``--once`` does one round and exits.
* ``settle bridge create-client`` (admin: trust a counterparty from its
  genesis document), ``settle bridge send`` and ``settle bridge status``
  (RPC ``bridge``: per counterparty its client id here, the trusted header,
  packets sent, escrow, and vouchers with their traces).

Never decides what is valid: the chains verify every header and proof in
their state machines, so a wrong or lying relayer is only refused.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import click

from ledger.block import Header
from ledger.codec import decode
from ledger.keys import PrivateKey
from ledger.lightclient import validator_set_bytes
from ledger.txkinds_bridge import BridgeAck, BridgeCreateClient, BridgeRecv, BridgeSend, BridgeTimeout, BridgeUpdateClient, Packet
from settlement.bridge.records import Client, ack_key, client_key, commitment_key, receipt_key, sequence_key
from settlement.genesis import Genesis, GenesisError
import sdk

from .common import CLIError, home_dir, home_opt, kv_table, query_command, resolve_address, submit, tx_command, utc_time
from .keyring import Keyring

__all__ = ["Relayer", "Side", "bridge", "relay"]


class Side:
    """One network as the relayer sees it: a node (not trusted) and the relayer's key there."""

    def __init__(self, label: str, url: str, key: PrivateKey):
        self.label, self.key = label, key
        self.client = sdk.Client(url, timeout=30)
        self.chain_id = self.client.chain_id()

    def state(self, key: bytes, height: int | None = None) -> tuple[int, bytes | None, bytes]:
        """``(height, value, proof bytes)`` of one state entry (latest height by default)."""
        ans = self.client.proof("state", key=key, height=height)
        value = None if ans["value"] is None else bytes.fromhex(ans["value"])
        return ans["height"], value, bytes.fromhex(ans["proof"]["state_proof"])

    def value(self, key: bytes) -> bytes | None:
        return self.state(key)[1]

    def header(self, height: int | None = None) -> tuple[Header, bytes, bytes]:
        """The header at ``height`` (latest by default), its bytes and its commit certificate's bytes."""
        ans = self.client.proof("header", height=height)
        raw = bytes.fromhex(ans["header"])
        return Header.decode(raw), raw, bytes.fromhex(ans["certificate"])

    def submit(self, body) -> dict:
        """Sign ``body`` with the relayer's key, wait until its block is final; the receipt (``ok``, ``error``, ``reason``)."""
        return self.client.transact(self.key, body, timeout=80)["receipt"]


class Relayer:
    """Both directions between ``a`` and ``b``; :meth:`round` does what is pending once."""

    def __init__(self, a: Side, b: Side, echo=click.echo):
        self.a, self.b, self.echo = a, b, echo
        self.cursor = {a.label: 1, b.label: 1}  # per source: the lowest sequence not yet settled
        self.refused: dict[tuple[str, int], str] = {}  # deliveries the destination refused: only a refund is left

    def trusted_height(self, dst: Side, src: Side) -> int:
        raw = dst.value(client_key(src.chain_id))
        if raw is None:
            raise CLIError(f"{dst.label} ({dst.chain_id}) has no bridge client of {src.chain_id}: an admin creates it")
        return Client.decode(raw).latest_height

    def update(self, dst: Side, src: Side) -> int:
        """``dst``'s client of ``src`` trusts ``src``'s latest header (sent if newer); returns its height."""
        header, raw, cert = src.header()
        if header.height > self.trusted_height(dst, src):
            r = dst.submit(BridgeUpdateClient(raw, cert))
            if not r["ok"]:
                raise CLIError(f"{dst.label}: client update to {src.label} height {header.height} refused: {r['error']}: {r['reason']}")
            self.echo(f"{dst.label}: client of {src.chain_id} at height {header.height}")
        return header.height

    def open_packets(self, src: Side, dst: Side) -> tuple[list[Packet], list[Packet]]:
        """Packets ``src`` sent to ``dst`` and has not closed: (in flight, received but not acknowledged).

        Advances the cursor past closed packets (refunded or acknowledged).
        """
        raw = src.value(sequence_key(dst.chain_id))
        sent = 0 if raw is None else decode(raw)
        flying, received, first = [], [], None
        for seq in range(self.cursor[src.label], sent + 1):
            raw = src.value(commitment_key(dst.chain_id, seq))
            if raw is None:
                continue
            first = seq if first is None else first
            done = dst.value(receipt_key(src.chain_id, seq)) is not None
            (received if done else flying).append(Packet.decode(raw))
        self.cursor[src.label] = first if first is not None else sent + 1
        return flying, received

    def pending(self, src: Side, dst: Side) -> list[Packet]:
        """Packets ``src`` sent to ``dst``, neither received nor refunded."""
        return self.open_packets(src, dst)[0]

    def direction(self, src: Side, dst: Side) -> int:
        todo, received = self.open_packets(src, dst)
        if not todo and not received:
            return 0
        now = dst.header()[0].time_ms
        deliver = [p for p in todo if p.timeout_ms > now and (src.label, p.sequence) not in self.refused]
        expired = [p for p in todo if p.timeout_ms <= now]
        arrow = f"{src.label}->{dst.label}"
        if deliver:
            h = self.update(dst, src)
            for p in deliver:
                _, _, proof = src.state(commitment_key(dst.chain_id, p.sequence), height=h)
                r = dst.submit(BridgeRecv(p, proof, h))
                if r["ok"]:
                    received.append(p)
                    self.echo(f"{arrow}: packet {p.sequence} received ({p.amount} {p.denom})")
                else:
                    self.refused[(src.label, p.sequence)] = r["reason"]
                    self.echo(f"{arrow}: packet {p.sequence} refused by {dst.label}: {r['error']}: {r['reason']}")
        if expired or received:
            h = self.update(src, dst)
            for p in expired:
                _, _, proof = dst.state(receipt_key(src.chain_id, p.sequence), height=h)
                r = src.submit(BridgeTimeout(p, proof, h))
                verdict = "refunded" if r["ok"] else f"refund refused: {r['error']}: {r['reason']}"
                self.echo(f"{arrow}: packet {p.sequence} timed out, {verdict} ({p.amount} {p.denom})")
            for p in received:
                _, _, proof = dst.state(ack_key(src.chain_id, p.sequence), height=h)
                r = src.submit(BridgeAck(p, proof, h))
                verdict = "closed" if r["ok"] else f"acknowledgement refused: {r['error']}: {r['reason']}"
                self.echo(f"{arrow}: packet {p.sequence} acknowledged, {verdict}")
        return len(deliver) + len(expired) + len(received)

    def round(self) -> int:
        """Relay both directions once; the number of packets acted on."""
        return self.direction(self.a, self.b) + self.direction(self.b, self.a)


def _key(home: Path, name: str) -> PrivateKey:
    try:
        return Keyring(home).load(name)
    except ValueError as exc:
        raise CLIError(str(exc)) from None


@click.command("relay")
@click.option("--a", "url_a", required=True, help="RPC URL of a node of network A (not trusted)")
@click.option("--b", "url_b", required=True, help="RPC URL of a node of network B (not trusted)")
@click.option("--key-a", required=True, help="the relayer's key on A (a registered account; key name or file)")
@click.option("--key-b", required=True, help="the relayer's key on B")
@click.option("--once", is_flag=True, help="relay what is pending once, then exit")
@click.option("--poll", type=float, default=1.0, show_default=True, help="seconds between rounds")
@home_opt
def relay(url_a, url_b, key_a, key_b, once, poll, home):
    """Carry headers, packets with their proofs, and timeouts between two networks."""
    h = home_dir(home)
    relayer = Relayer(Side("A", url_a, _key(h, key_a)), Side("B", url_b, _key(h, key_b)))
    click.echo(f"relaying between A ({relayer.a.chain_id}) and B ({relayer.b.chain_id})")
    while True:
        try:
            relayer.round()
        except sdk.SettleError as exc:
            if once:
                raise
            click.echo(f"round failed, retrying: {exc}")
        if once:
            return
        time.sleep(poll)


@click.group("bridge")
def bridge():
    """Bridged transfers to and from another Settle network."""


@bridge.command("create-client")
@click.option("--from", "sender", required=True, help="an admin key")
@click.option("--genesis", "genesis_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="the counterparty network's genesis document (its chain id and validator set are trusted)")
@tx_command
def create_client(sender, genesis_path, home, rpc, as_json, wait):
    """Start trusting another network's validator set (admin only)."""
    try:
        g = Genesis.from_json(json.loads(Path(genesis_path).read_text()))
    except (OSError, ValueError, GenesisError) as exc:
        raise CLIError(f"cannot read the counterparty genesis {genesis_path}: {exc}") from None
    submit(home_dir(home), rpc, sender, BridgeCreateClient(g.chain_id, validator_set_bytes(g.validator_set())), wait, as_json)


@bridge.command("send")
@click.option("--from", "sender", required=True, help="key name or key file")
@click.option("--to-chain", required=True, help="the destination network's chain id")
@click.option("--receiver", required=True, help="the receiver's address on the destination (or a key name)")
@click.option("--asset", required=True, help="a native asset, or a voucher <client id>/<ASSET> going home (see `settle bridge status`)")
@click.option("--amount", required=True, type=int, help="amount in base units")
@click.option("--timeout-in", type=float, default=600.0, show_default=True,
              help="seconds from now (destination block time) after which the transfer is refunded instead")
@tx_command
def send(sender, to_chain, receiver, asset, amount, timeout_in, home, rpc, as_json, wait):
    """Send an asset to an account on another network."""
    h = home_dir(home)
    timeout_ms = int(time.time() * 1000) + int(timeout_in * 1000)  # the destination's block time follows its clocks
    submit(h, rpc, sender, BridgeSend(to_chain, resolve_address(h, receiver), asset, amount, timeout_ms), wait, as_json)


def _render_status(res) -> None:
    if not res["clients"]:
        click.echo(f"{res['chain_id']} has no bridge client")
    for c in res["clients"]:
        kv_table(f"{res['chain_id']}: bridge to {c['chain_id']} (client {c['client_id']})", [
            ("trusted height", c["trusted_height"]),
            ("trusted time", utc_time(c["trusted_time_ms"]) if c["trusted_height"] else "-"),
            ("frozen", f"yes: two headers signed at height {c['frozen_height']}" if c["frozen_height"] else "no"),
            ("packets sent", c["sent"]),
            ("escrowed for it", ", ".join(f"{v} {k}" for k, v in c["escrow"].items()) or "-"),
            ("its vouchers here", ", ".join(f"{t['supply']} {t['symbol']} (= {t['chain_id']}/{t['denom']})"
                                            for t in c["traces"]) or "-"),
        ])


bridge.add_command(query_command("status", "bridge", render=_render_status,
                                 help="This network's clients of other networks: client id, trusted header, packets sent, escrow, vouchers and their traces."))
