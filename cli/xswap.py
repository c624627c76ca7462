"""``settle xswap initiate|respond|status|resume``: a cross-chain atomic swap between two Settle networks.

Owns the I/O around the pure state machine of ``cli/xswap_plan.py``: reading
both networks over RPC (block times, the HTLCs of the swap, the fate of the
party's last transaction), signing and sending what :func:`~cli.xswap_plan.decide`
asks for, and the state file.  Decides nothing itself.

The state file (JSON, mode 0600; it holds the initiator's secret) is written
after every step as a temporary file, fsync'd, renamed over the old one and
the directory fsync'd, so a crash leaves the old or the new state, never a
torn one.  A transaction is signed, recorded in the state file with its bytes
and only then sent; after a crash ``resume`` sends the same bytes again (same
nonce: it commits at most once), so nothing is ever locked twice.

Finding the counterparty's lock: an HTLC's id is ``sha256(chain, sender,
nonce)``, so the tool asks for the HTLC of each nonce the counterparty used
since the swap began (the offer carries the initiator's nonce on A; the
initiator reads the responder's nonce on B when it starts) and keeps those
under the swap's hashlock.  No index on the node is needed.

What the tool trusts: with ``--trust-a`` / ``--trust-b GENESIS.json`` every
HTLC read on that network (the counterparty's lock, the claim that reveals
the secret, the party's own lock) is a state proof checked against a header
that the trusted genesis's validators committed (``cli/proven.py``); a node
whose answer does not check out is refused (the step is not taken, the tool
retries and says why).  Without them the tool believes the node's ``htlc``
answers and says so.  Either way a node can withhold (the tool then waits,
and refunds on timeout), and the block times and nonces it reports are
believed, except that a network's block time is never taken below the
latest header the tool verified there.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import click

from ledger.keys import PrivateKey, format_address, parse_address
from ledger.tx import sign_tx
from ledger.txkinds_risk import HtlcClaim, HtlcLock, HtlcRefund
from settlement.swaps import htlc_id

from ledger.proofs import ProofError

from . import xswap_plan as plan
from sdk import Client, SettleError
from .common import CLIError, home_dir, home_opt, json_opt, kv_table
from .keyring import Keyring
from .proven import fetch_state, htlc_of, key_of_htlc
from .trust import genesis_trust

__all__ = ["xswap"]

OFFER_FORMAT = "settle-xswap-offer/1"
SCAN_MAX = 256  # nonces of the counterparty looked at per step


# --------------------------------------------------------------------------- the state file


def write_state(path: Path, doc: dict) -> None:
    """Replace ``path`` by ``doc`` atomically and durably (temporary file, fsync, rename, fsync of the directory)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def read_state(path: Path) -> tuple[plan.Swap, dict]:
    """The swap and the shell's own part (RPC URLs, keys, scan cursors) of a state file."""
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise CLIError(f"cannot read the swap state {path}: {exc}") from None
    try:
        return plan.from_doc(doc), doc["shell"]
    except (plan.SwapError, KeyError) as exc:
        raise CLIError(f"{path}: {exc}") from None


# --------------------------------------------------------------------------- one party's tool


class Runner:
    """One party's tool on one state file: observe both networks, decide, sign, persist, send."""

    def __init__(self, path: Path, swap: plan.Swap, shell: dict, as_json: bool):
        self.path, self.swap, self.shell, self.as_json = path, swap, shell, as_json
        self.clients = {c: Client(shell[f"rpc_{c}"], timeout=15) for c in "ab"}
        ring = Keyring(Path(shell["home"]))
        try:
            self.keys: dict[str, PrivateKey] = {c: ring.load(shell[f"key_{c}"]) for c in "ab"}
        except ValueError as exc:
            raise CLIError(str(exc)) from None
        self.trust = {c: genesis_trust(shell.get(f"trust_{c}"), self.chain_id(c), f"--trust-{c}") for c in "ab"}
        self.proven_ms = {"a": 0, "b": 0}  # the latest verified header time per network: block time is at least that

    def chain_id(self, c: str) -> str:
        return self.swap.terms.chain_a if c == "a" else self.swap.terms.chain_b

    def persist(self) -> None:
        write_state(self.path, {**plan.to_doc(self.swap), "shell": self.shell})

    def say(self, event: str, **fields) -> None:
        if self.as_json:
            click.echo(json.dumps({"event": event, "role": self.swap.role.value, "phase": self.swap.phase.value, **fields}))
        elif event == "step":
            click.echo(f"xswap {self.swap.role.value}: {fields['note']}")
        else:
            extra = "".join(f" {k}={v}" for k, v in fields.items())
            click.echo(f"xswap {self.swap.role.value} [{self.swap.phase.value}]: {event}{extra}")

    # ----------------------------------------------------------------- observing

    def _htlc(self, c: str, hid: bytes) -> plan.HtlcView | None:
        """The HTLC ``hid`` on network ``c``: by a state proof when ``c`` has a trust root, else as the node says.

        Raises:
            ProofError: the node's proof does not check out against the trust root.
        """
        if self.trust[c] is not None:
            try:
                state = fetch_state(self.clients[c], self.trust[c], key_of_htlc(hid))
                h = htlc_of(state)
            except ProofError as exc:
                raise ProofError(f"HTLC {hid.hex()} on {c.upper()}: {exc}") from None
            self.proven_ms[c] = max(self.proven_ms[c], state.header.time_ms)
            return None if h is None else plan.HtlcView(c, hid, h.sender, h.receiver, h.asset, h.amount, h.hashlock,
                                                        h.timeout_height, h.timeout_ms, h.status, h.preimage)
        try:
            info = self.clients[c].htlc(hid.hex())
        except SettleError as exc:
            if exc.code == -32001:
                return None
            raise
        return plan.HtlcView(c, hid, parse_address(info["sender"]), parse_address(info["receiver"]), info["asset"],
                             info["amount"], bytes.fromhex(info["hashlock"]), info["timeout_height"],
                             info.get("timeout_ms", 0), info["status"], bytes.fromhex(info["preimage"] or ""))

    def _scan(self, c: str, counterparty: bytes) -> None:
        """Add to ``shell["found"]`` the counterparty's HTLCs under the hashlock from the nonces it used since the last scan."""
        cursor = self.shell["scan"][c]
        committed = self.clients[c].account(format_address(counterparty))["nonce"]
        for n in range(cursor, min(committed, cursor + SCAN_MAX)):
            hid = htlc_id(self.chain_id(c), counterparty, n)
            h = self._htlc(c, hid)
            if h is not None and h.hashlock == self.swap.terms.hashlock and hid.hex() not in self.shell["found"][c]:
                self.shell["found"][c].append(hid.hex())
        self.shell["scan"][c] = min(committed, cursor + SCAN_MAX)

    def _tx_status(self, client: Client, tx_hash: bytes) -> tuple[str, bool]:
        """("pending" | "committed" | "unknown", receipt ok) of a transaction as a node knows it."""
        try:
            res = client.tx(tx_hash.hex())
        except SettleError as exc:
            if exc.code != -32001:
                raise
            return "unknown", False
        return res["status"], res["status"] == "committed" and res["receipt"]["ok"]

    def _pending(self) -> tuple[bool, bool]:
        """(in flight, committed ok) of the party's pending transaction; a lost one is sent again while its nonce is unused."""
        p = self.swap.pending
        if p is None:
            return False, False
        client = self.clients[p.chain]
        status, ok = self._tx_status(client, p.tx_hash)
        if status != "unknown":
            return status == "pending", ok
        me = self.keys[p.chain].address
        if client.account(format_address(me))["nonce"] > p.nonce:
            status, ok = self._tx_status(client, p.tx_hash)  # committed in between?
            return False, ok  # else its nonce went to another transaction: it never commits
        try:  # lost (a node restarted, or we crashed before sending): the same bytes again
            client.call("broadcast_tx", {"tx": p.raw.hex(), "mode": "sync"})
        except SettleError as exc:
            self.say("resend refused", reason=str(exc))
            return False, False
        self.say("sent again", tx=p.tx_hash.hex())
        return True, False

    def observe(self) -> plan.Observation:
        """Both networks now: the pending transaction first, so a lock that committed shows in the HTLCs read after."""
        in_flight, ok = self._pending()
        t = self.swap.terms
        times = {c: self.clients[c].status()["latest_block_time_ms"] for c in "ab"}
        theirs = self.swap.their_chain
        self._scan(theirs, t.responder_b if theirs == "b" else t.initiator_a)
        ids = {(self.swap.my_chain, self.swap.my_lock), (theirs, self.swap.their_lock)}
        ids |= {(theirs, bytes.fromhex(h)) for h in self.shell["found"][theirs]}
        views = [self._htlc(c, hid) for c, hid in sorted(ids) if hid]
        times = {c: max(times[c], self.proven_ms[c]) for c in "ab"}  # never below a verified header
        return plan.Observation(times["a"], times["b"], tuple(v for v in views if v is not None), in_flight, ok)

    # ----------------------------------------------------------------- acting

    def _send(self, act) -> None:
        c = act.chain
        key, client = self.keys[c], self.clients[c]
        if isinstance(act, plan.Lock):
            body = HtlcLock(act.asset, act.amount, act.receiver, act.hashlock, 0, act.timeout_ms)
        elif isinstance(act, plan.Claim):
            body = HtlcClaim(act.htlc_id, act.preimage)
        else:
            body = HtlcRefund(act.htlc_id)
        nonce = client.account(format_address(key.address))["next_nonce"]
        tx = sign_tx(key, self.chain_id(c), nonce, body)
        lock_id = htlc_id(self.chain_id(c), key.address, nonce) if isinstance(act, plan.Lock) else b""
        self.swap = plan.sent(self.swap, nonce, tx.hash, tx.raw, lock_id)
        self.persist()  # recorded before it leaves: after a crash, resume sends these bytes again
        self.say(f"{type(body).KIND} sent", chain=c.upper(), tx=tx.hash.hex())
        try:
            client.call("broadcast_tx", {"tx": tx.raw.hex(), "mode": "sync"})
        except SettleError as exc:
            self.say("send failed (looked at again next step)", reason=str(exc))

    def step(self) -> plan.Action:
        before = self.swap
        self.swap, act = plan.decide(self.swap, self.observe())
        for line in self.swap.log[len(self.swap.log) - min(self.swap.moves - before.moves, len(self.swap.log)):]:
            self.say("step", note=line)
        for r in self.swap.refusals:
            if r not in before.refusals:
                self.say("refused", reason=r)
        if isinstance(act, (plan.Lock, plan.Claim, plan.Refund)):
            self._send(act)
        elif self.swap != before:
            self.persist()
        return act

    def run(self, poll_s: float, stop_at: str | None) -> plan.Swap:
        """Step every ``poll_s`` seconds until the swap is over (or reaches ``stop_at``); a network down is retried for ever."""
        self.persist()
        for c, t in sorted(self.trust.items()):
            if t is None:
                self.say("trusting the node for HTLC reads", chain=c.upper(), rpc=self.shell[f"rpc_{c}"])
            else:
                self.say("verifying HTLC reads with state proofs", chain=c.upper(), trust=t.source)
        last_error = None
        while True:
            try:
                act = self.step()
                last_error = None
            except SettleError as exc:  # a network down: keep trying (refunds need this tool running)
                if str(exc) != last_error:
                    self.say("network unreachable, retrying", reason=str(exc))
                last_error, act = str(exc), None
            except ProofError as exc:  # a lying (or broken) node: act on nothing it said, keep trying
                if str(exc) != last_error:
                    self.say("node answer refused, retrying", reason=str(exc))
                last_error, act = str(exc), None
            if isinstance(act, plan.Finished) or (stop_at and self.swap.phase.value == stop_at):
                return self.swap
            time.sleep(poll_s)


# --------------------------------------------------------------------------- commands


def _amount(text: str, what: str) -> tuple[str, int]:
    asset, sep, amount = text.partition(":")
    if not sep or not asset or not amount.isdigit() or int(amount) <= 0:
        raise CLIError(f"{what} must be ASSET:AMOUNT in base units, e.g. USD:1000000")
    return asset, int(amount)


def _policy(lock_s: float, margin_s: float, window_s: float) -> plan.Policy:
    try:
        return plan.Policy(int(lock_s * 1000), int(margin_s * 1000), int(window_s * 1000))
    except plan.SwapError as exc:
        raise CLIError(str(exc)) from None


def _status(client: Client, want: str | None, which: str) -> dict:
    st = client.status()
    if want and st["chain_id"] != want:
        raise CLIError(f"network {which} at {client.url} is chain {st['chain_id']!r}, not {want!r}")
    return st


def _finish(swap: plan.Swap, path: Path, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(_status_doc(swap, path)))
    else:
        click.echo(f"xswap {swap.role.value}: {swap.phase.value} (state: {path})")
    if swap.phase is plan.Phase.LOST:
        raise CLIError("the swap is lost for this party: it was not running when it had to act")


def _status_doc(swap: plan.Swap, path: Path) -> dict:
    doc = plan.to_doc(swap)
    doc["secret"] = "(kept in the state file)" if swap.secret else ""
    if doc.get("pending"):
        doc["pending"].pop("raw", None)
    return {"state_file": str(path), **doc}


policy_opts = [
    click.option("--margin", "margin_s", type=float, default=3600.0, show_default=True,
                 help="seconds: the responder's timeout on B is at least this much before the initiator's on A"),
    click.option("--min-window", "window_s", type=float, default=600.0, show_default=True,
                 help="seconds of block time the initiator needs before B's timeout to claim (the responder locks only with twice that left)"),
    click.option("--poll", "poll_s", type=float, default=2.0, show_default=True, help="seconds between looks at the networks"),
    click.option("--stop-at", type=click.Choice([p.value for p in plan.Phase]), default=None,
                 help="exit once the swap reaches this phase (continue later with resume)"),
]
network_opts = [
    click.option("--rpc-a", required=True, help="RPC URL of network A (where the initiator gives)"),
    click.option("--rpc-b", required=True, help="RPC URL of network B (where the responder gives)"),
    click.option("--chain-a", default=None, help="expected chain id of A (checked)"),
    click.option("--chain-b", default=None, help="expected chain id of B (checked)"),
    click.option("--key-a", required=True, help="your key on A (keyring name or key file)"),
    click.option("--key-b", required=True, help="your key on B (keyring name or key file)"),
    click.option("--state", "state_file", default=None, help="state file (default HOME/xswap/<hashlock>-<role>.json)"),
    click.option("--trust-a", default=None, metavar="GENESIS.json",
                 help="verify every HTLC read on A with a state proof against this genesis (default: trust the node)"),
    click.option("--trust-b", default=None, metavar="GENESIS.json",
                 help="verify every HTLC read on B with a state proof against this genesis (default: trust the node)"),
]


def _with(opts):
    def deco(fn):
        for o in reversed(opts):
            fn = o(fn)
        return fn
    return deco


def _trusts(trust_a: str | None, trust_b: str | None, chain_a: str, chain_b: str) -> dict:
    """The trust roots, checked, as the state file keeps them (absolute paths: ``resume`` finds them from anywhere)."""
    pairs = (("a", trust_a, chain_a), ("b", trust_b, chain_b))
    return {f"trust_{c}": str(Path(g).resolve()) for c, g, chain in pairs if genesis_trust(g, chain, f"--trust-{c}")}


def _default_state(home: Path, swap: plan.Swap) -> Path:
    return home / "xswap" / f"{swap.terms.hashlock.hex()[:16]}-{swap.role.value}.json"


def _start(home: Path, swap: plan.Swap, shell: dict, state_file: str | None, as_json: bool, poll_s: float, stop_at) -> None:
    path = Path(state_file) if state_file else _default_state(home, swap)
    if path.exists():
        raise CLIError(f"{path} already holds a swap (continue it with `settle xswap resume --state {path}`)")
    runner = Runner(path, swap, shell, as_json)
    _finish(runner.run(poll_s, stop_at), path, as_json)


@click.group()
def xswap() -> None:
    """Cross-chain atomic swap between two Settle networks (HTLCs with block-time timeouts)."""


@xswap.command("initiate")
@_with(network_opts)
@click.option("--counterparty-a", required=True, help="the responder's address on A (receives what you give)")
@click.option("--counterparty-b", required=True, help="the responder's address on B (gives what you get)")
@click.option("--give", required=True, help="ASSET:AMOUNT you lock on A")
@click.option("--get", "get_", required=True, help="ASSET:AMOUNT you want on B")
@click.option("--offer", "offer_file", required=True, help="where to write the offer for the responder (JSON)")
@click.option("--lock", "lock_s", type=float, default=7200.0, show_default=True, help="seconds of A's block time your lock lasts (T_A)")
@_with(policy_opts)
@home_opt
@json_opt
def xswap_initiate(rpc_a, rpc_b, chain_a, chain_b, key_a, key_b, state_file, trust_a, trust_b, counterparty_a,
                   counterparty_b, give, get_, offer_file, lock_s, margin_s, window_s, poll_s, stop_at, home, as_json):
    """Start a swap: make the secret, write the offer, lock on A, claim on B once the responder locked there."""
    h = home_dir(home)
    ring = Keyring(h)
    try:
        me_a, me_b = ring.address_of(key_a), ring.address_of(key_b)  # no passphrase: only the addresses
        cp_a, cp_b = ring.address(counterparty_a), ring.address(counterparty_b)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    (asset_a, amount_a), (asset_b, amount_b) = _amount(give, "--give"), _amount(get_, "--get")
    policy = _policy(lock_s, margin_s, window_s)
    a, b = Client(rpc_a, timeout=15), Client(rpc_b, timeout=15)
    st_a, st_b = _status(a, chain_a, "A"), _status(b, chain_b, "B")
    trusts = _trusts(trust_a, trust_b, st_a["chain_id"], st_b["chain_id"])
    secret = os.urandom(32)
    try:
        terms = plan.Terms(st_a["chain_id"], st_b["chain_id"], me_a, me_b, cp_a, cp_b, asset_a, amount_a, asset_b, amount_b,
                           hashlib.sha256(secret).digest())
    except plan.SwapError as exc:
        raise CLIError(str(exc)) from None
    have = a.account(format_address(me_a))["balances"].get(asset_a, 0)
    if have < amount_a:
        raise CLIError(f"{format_address(me_a)} has {have} {asset_a} on A, the swap locks {amount_a}")
    swap = plan.initiate(terms, policy, secret)
    nonce_a = a.account(format_address(me_a))["nonce"]
    nonce_b = b.account(format_address(cp_b))["nonce"]
    offer = {"format": OFFER_FORMAT, "terms": plan.to_doc(swap)["terms"], "initiator_nonce_a": nonce_a,
             "expires_a_ms": st_a["latest_block_time_ms"] + policy.lock_ms}
    write_state(Path(offer_file), offer)
    shell = {"home": str(h), "rpc_a": rpc_a, "rpc_b": rpc_b, "key_a": key_a, "key_b": key_b,
             "scan": {"a": nonce_a, "b": nonce_b}, "found": {"a": [], "b": []}, **trusts}
    _start(h, swap, shell, state_file, as_json, poll_s, stop_at)


@xswap.command("respond")
@_with(network_opts)
@click.option("--offer", "offer_file", required=True, help="the initiator's offer (from `settle xswap initiate --offer`)")
@click.option("--give", required=True, help="ASSET:AMOUNT you agreed to lock on B (the offer must say the same)")
@click.option("--get", "get_", required=True, help="ASSET:AMOUNT you agreed to get on A (the offer must say the same)")
@click.option("--max-lock", "lock_s", type=float, default=10800.0, show_default=True,
              help="seconds: refuse an initiator's lock with more than this left (your lock on B would last almost as long)")
@_with(policy_opts)
@home_opt
@json_opt
def xswap_respond(rpc_a, rpc_b, chain_a, chain_b, key_a, key_b, state_file, trust_a, trust_b, offer_file, give, get_,
                  lock_s, margin_s, window_s, poll_s, stop_at, home, as_json):
    """Take an offer: wait for the initiator's lock on A, check it, lock on B, claim on A with the secret it reveals."""
    h = home_dir(home)
    agreed = (_amount(get_, "--get"), _amount(give, "--give"))
    try:
        offer = json.loads(Path(offer_file).read_text())
        if offer.get("format") != OFFER_FORMAT:
            raise ValueError(f"not a {OFFER_FORMAT} document")
        terms = plan.terms_from_doc(offer["terms"])
        nonce_a, expires = int(offer["initiator_nonce_a"]), int(offer["expires_a_ms"])
    except (OSError, ValueError, KeyError, TypeError, plan.SwapError) as exc:
        raise CLIError(f"cannot read the offer {offer_file}: {exc}") from None
    offered = ((terms.asset_a, terms.amount_a), (terms.asset_b, terms.amount_b))
    if offered != agreed:
        raise CLIError(f"the offer is {terms.amount_a} {terms.asset_a} on A for {terms.amount_b} {terms.asset_b} on B, "
                       f"not what you agreed ({agreed[0][1]} {agreed[0][0]} for {agreed[1][1]} {agreed[1][0]})")
    ring = Keyring(h)
    try:
        me_a, me_b = ring.address_of(key_a), ring.address_of(key_b)  # no passphrase: only the addresses
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    if (me_a, me_b) != (terms.responder_a, terms.responder_b):
        raise CLIError("the offer is for other accounts: its responder addresses are not your keys on A and B")
    a, b = Client(rpc_a, timeout=15), Client(rpc_b, timeout=15)
    _status(a, chain_a or terms.chain_a, "A")
    _status(b, chain_b or terms.chain_b, "B")
    trusts = _trusts(trust_a, trust_b, terms.chain_a, terms.chain_b)
    have = b.account(format_address(me_b))["balances"].get(terms.asset_b, 0)
    if have < terms.amount_b:
        raise CLIError(f"{format_address(me_b)} has {have} {terms.asset_b} on B, the swap locks {terms.amount_b}")
    policy = _policy(lock_s, margin_s, window_s)
    swap = plan.respond(terms, policy, watch_until_a_ms=expires - policy.margin_ms - 2 * policy.min_window_ms)
    shell = {"home": str(h), "rpc_a": rpc_a, "rpc_b": rpc_b, "key_a": key_a, "key_b": key_b,
             "scan": {"a": nonce_a, "b": 0}, "found": {"a": [], "b": []}, **trusts}
    _start(h, swap, shell, state_file, as_json, poll_s, stop_at)


@xswap.command("resume")
@click.option("--state", "state_file", required=True, help="the swap's state file")
@click.option("--rpc-a", default=None, help="another RPC URL for network A (default: the one in the state file)")
@click.option("--rpc-b", default=None, help="another RPC URL for network B")
@click.option("--poll", "poll_s", type=float, default=2.0, show_default=True)
@click.option("--stop-at", type=click.Choice([p.value for p in plan.Phase]), default=None)
@json_opt
def xswap_resume(state_file, rpc_a, rpc_b, poll_s, stop_at, as_json):
    """Continue a swap from its state file (after a crash, a stop, or a reboot): it acts on what the networks show now."""
    path = Path(state_file)
    swap, shell = read_state(path)
    shell = {**shell, "rpc_a": rpc_a or shell["rpc_a"], "rpc_b": rpc_b or shell["rpc_b"]}
    runner = Runner(path, swap, shell, as_json)
    runner.say("resumed", state=str(path))
    _finish(runner.run(poll_s, stop_at), path, as_json)


@xswap.command("status")
@click.option("--state", "state_file", required=True, help="the swap's state file")
@json_opt
def xswap_status(state_file, as_json):
    """Show a swap's state file: phase, terms, timeouts, locks, refusals and its log (never the secret)."""
    path = Path(state_file)
    swap, _ = read_state(path)
    doc = _status_doc(swap, path)
    if as_json:
        click.echo(json.dumps(doc, indent=2))
        return
    t = swap.terms
    rows = [("role", swap.role.value), ("phase", swap.phase.value),
            ("gives" if swap.role is plan.Role.INITIATOR else "gets", f"{t.amount_a} {t.asset_a} on A ({t.chain_a})"),
            ("gets" if swap.role is plan.Role.INITIATOR else "gives", f"{t.amount_b} {t.asset_b} on B ({t.chain_b})"),
            ("hashlock", t.hashlock.hex()), ("T_A (A block time, ms)", swap.timeout_a_ms or "-"),
            ("T_B (B block time, ms)", swap.timeout_b_ms or "-"), ("lock on A", swap.lock_a.hex() or "-"),
            ("lock on B", swap.lock_b.hex() or "-")]
    rows += [("refused", r) for r in swap.refusals] + [("log", line) for line in swap.log]
    kv_table(f"xswap {path}", rows)
