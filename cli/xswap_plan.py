"""The cross-chain atomic swap as a state machine: what one party does next, given what both networks show.

Owns the rules of the swap: the moves between its phases (:data:`TRANSITIONS`,
data, so the docs list them), the checks of the counterparty's lock, the
timeouts and their margins.  Its records and their JSON form are in
``cli/xswap_records.py`` (re-exported here).  Never does I/O: no RPC, no
clock, no randomness, no files.  The shell (``cli/xswap.py``) observes both
networks, calls :func:`decide`, signs and sends the action's transaction,
records it with :func:`sent`, and persists the state after every step.

Theory of operation
-------------------
Two parties swap ``amount_a`` of ``asset_a`` on network A for ``amount_b`` of
``asset_b`` on network B with two HTLCs under one sha256 hashlock::

    initiator: secret, hashlock --lock on A until T_A--> waits for B's lock
    responder: sees A's lock (checks it) --lock on B until T_B = T_A - margin-->
    initiator: checks B's lock --claims on B, revealing the secret--> completed
    responder: reads the secret from B's HTLC --claims on A before T_A--> completed

Timeouts are block times (header ``time_ms``) of each network, the one clock
the two share.  ``T_B <= T_A - margin``: after the secret appears on B (at the
latest at ``T_B``), the responder has ``margin`` to see it and get its claim
into a block of A.  A party that is not paid refunds its own lock once its
network's block time reaches the lock's timeout.

Refusals (the counterparty's lock is ignored, and the party waits for a good
one or for its own refund): another sender or receiver, asset, amount or
hashlock, a height timeout, a timeout later than ``T_A - margin`` (initiator)
or too little time left (``T_B - now_B < min_window`` for the initiator,
``2 * min_window`` for the responder, who must also get its own lock in).

The initiator never reveals the secret unless its claim can land before
``T_B`` (at least ``min_window`` left): a claim that lands late fails but puts
the secret in a block, and the responder could then take A's lock as well as
refund its own.
"""
from __future__ import annotations

import dataclasses
import hashlib

from .xswap_records import (  # noqa: F401 - re-exported: callers use plan.X for the records too
    STATE_FORMAT,
    TERMINAL,
    Action,
    Claim,
    Finished,
    HtlcView,
    Lock,
    Observation,
    Pending,
    Phase,
    Policy,
    Refund,
    Role,
    Swap,
    SwapError,
    Terms,
    Wait,
    from_doc,
    terms_from_doc,
    to_doc,
)

__all__ = [
    "Action", "Claim", "Finished", "HtlcView", "Lock", "Observation", "Pending", "Phase", "Policy", "Refund", "Role",
    "STATE_FORMAT", "Swap", "SwapError", "TERMINAL", "Terms", "TRANSITIONS", "Wait", "check_lock", "decide", "from_doc",
    "initiate", "respond", "sent", "terms_from_doc", "to_doc", "transition_table",
]

TRANSITIONS: dict[tuple[Role, Phase], frozenset[Phase]] = {
    (Role.INITIATOR, Phase.NEW): frozenset({Phase.LOCKING}),
    (Role.INITIATOR, Phase.LOCKING): frozenset({Phase.LOCKED, Phase.NEW}),
    (Role.INITIATOR, Phase.LOCKED): frozenset({Phase.CLAIMING, Phase.ABORTING, Phase.REFUNDING, Phase.REFUNDED, Phase.LOST}),
    (Role.INITIATOR, Phase.CLAIMING): frozenset({Phase.COMPLETED, Phase.CLAIMING, Phase.ABORTING, Phase.REFUNDING, Phase.REFUNDED,
                                                 Phase.LOST}),
    (Role.INITIATOR, Phase.ABORTING): frozenset({Phase.REFUNDING, Phase.REFUNDED, Phase.LOST}),
    (Role.INITIATOR, Phase.REFUNDING): frozenset({Phase.REFUNDING, Phase.REFUNDED, Phase.LOST}),
    (Role.RESPONDER, Phase.WATCHING): frozenset({Phase.LOCKING, Phase.ABANDONED}),
    (Role.RESPONDER, Phase.LOCKING): frozenset({Phase.LOCKED, Phase.WATCHING}),
    (Role.RESPONDER, Phase.LOCKED): frozenset({Phase.CLAIMING, Phase.COMPLETED, Phase.REFUNDING, Phase.REFUNDED, Phase.LOST}),
    (Role.RESPONDER, Phase.CLAIMING): frozenset({Phase.CLAIMING, Phase.COMPLETED, Phase.LOST}),
    (Role.RESPONDER, Phase.REFUNDING): frozenset({Phase.REFUNDING, Phase.REFUNDED, Phase.CLAIMING, Phase.COMPLETED, Phase.LOST}),
}


def transition_table() -> str:
    """:data:`TRANSITIONS` as a Markdown table (docs/interop.md carries it; a test keeps the two equal)."""
    rows = ["| role | from | may move to |", "|---|---|---|"]
    for (role, phase), to in TRANSITIONS.items():
        rows.append(f"| {role.value} | `{phase.value}` | {', '.join(f'`{p.value}`' for p in Phase if p in to)} |")
    return "\n".join(rows)


def initiate(terms: Terms, policy: Policy, secret: bytes) -> Swap:
    """The initiator's swap, before anything is locked; ``terms.hashlock`` must be ``sha256(secret)``."""
    if hashlib.sha256(secret).digest() != terms.hashlock:
        raise SwapError("the hashlock is not sha256 of the secret")
    return Swap(Role.INITIATOR, terms, policy, Phase.NEW, secret=secret)


def respond(terms: Terms, policy: Policy, watch_until_a_ms: int = 0) -> Swap:
    """The responder's swap: it watches A for the initiator's lock until A's block time ``watch_until_a_ms`` (0: for ever)."""
    return Swap(Role.RESPONDER, terms, policy, Phase.WATCHING, watch_until_a_ms=watch_until_a_ms)


def sent(swap: Swap, nonce: int, tx_hash: bytes, raw: bytes, lock_id: bytes = b"") -> Swap:
    """``swap`` after the shell signed the transaction of the action :func:`decide` returned (``lock_id``: a lock's HTLC id)."""
    kind = {Phase.LOCKING: "lock", Phase.CLAIMING: "claim", Phase.REFUNDING: "refund"}.get(swap.phase)
    if kind is None:
        raise SwapError(f"no transaction to send in phase {swap.phase.value}")
    chain = swap.their_chain if kind == "claim" else swap.my_chain
    swap = dataclasses.replace(swap, pending=Pending(kind, chain, nonce, tx_hash, raw))
    if kind == "lock":
        swap = dataclasses.replace(swap, **{"lock_a" if chain == "a" else "lock_b": lock_id})
    return swap


# --------------------------------------------------------------------------- checks


def check_lock(swap: Swap, h: HtlcView, now_ms: int) -> str | None:
    """Why the counterparty's lock ``h`` is not acceptable at block time ``now_ms`` of its network, or None if it is."""
    t, p = swap.terms, swap.policy
    if swap.role is Role.INITIATOR:
        want = ("b", t.responder_b, t.initiator_b, t.asset_b, t.amount_b)
    else:
        want = ("a", t.initiator_a, t.responder_a, t.asset_a, t.amount_a)
    chain, sender, receiver, asset, amount = want
    if h.chain != chain or h.sender != sender:
        return "not the counterparty's lock"
    if h.hashlock != t.hashlock:
        return f"wrong hashlock {h.hashlock.hex()}"
    if h.receiver != receiver:
        return "locked for another receiver"
    if h.asset != asset or h.amount != amount:
        return f"wrong amount: {h.amount} {h.asset}, agreed {amount} {asset}"
    if h.status != "open":
        return f"already {h.status}"
    if h.timeout_ms == 0 or h.timeout_height != 0:
        return "its timeout is not a block time alone"
    left = h.timeout_ms - now_ms
    if swap.role is Role.INITIATOR:
        if h.timeout_ms > swap.timeout_a_ms - p.margin_ms:
            return f"timeout {h.timeout_ms} is later than T_A - margin = {swap.timeout_a_ms - p.margin_ms}"
        if left < p.min_window_ms:
            return f"too little time left: {left} ms before its timeout, need {p.min_window_ms}"
    else:
        need = p.margin_ms + 2 * p.min_window_ms
        if left < need:
            return f"too little time left: {left} ms before T_A, need margin + 2 * min_window = {need}"
        if left > p.lock_ms:
            return f"too long: {left} ms before T_A, at most {p.lock_ms} accepted"
    return None


# --------------------------------------------------------------------------- decide


def _to(swap: Swap, phase: Phase, note: str, **changes) -> Swap:
    log = (*swap.log, f"{swap.phase.value} -> {phase.value}: {note}")[-32:]
    return dataclasses.replace(swap, phase=phase, log=log, moves=swap.moves + 1, **changes)


def _refuse(swap: Swap, reasons: list[str]) -> Swap:
    new = tuple(r for r in reasons if r not in swap.refusals)
    return dataclasses.replace(swap, refusals=(*swap.refusals, *new)[-8:]) if new else swap


def _pick(swap: Swap, obs: Observation) -> tuple[Swap, HtlcView | None]:
    """The first acceptable lock of the counterparty (by id), recording why the others are not."""
    chain = swap.their_chain
    found = sorted((h for h in obs.htlcs if h.chain == chain and h.hashlock == swap.terms.hashlock and h.id != swap.my_lock),
                   key=lambda h: h.id)
    reasons = []
    for h in found:
        why = check_lock(swap, h, obs.now(chain))
        if why is None:
            return swap, h
        reasons.append(f"{chain.upper()} lock {h.id.hex()[:16]}: {why}")
    return _refuse(swap, reasons), None


def decide(swap: Swap, obs: Observation) -> tuple[Swap, Action]:
    """The next step of ``swap`` given ``obs``: the new state and what the shell must do.

    A transaction action (:class:`Lock`, :class:`Claim`, :class:`Refund`)
    comes with the state already in its sending phase; the shell signs it and
    records it with :func:`sent` before it broadcasts.  While a sent
    transaction may still commit (``obs.in_flight``) nothing new is sent (but
    the own lock is refunded once timed out, whatever waits on the other network), and
    a lock that committed is waited for until its HTLC shows (``obs.pending_ok``).

    Returns:
        (new state, action); the new phase is one :data:`TRANSITIONS` allows.
    """
    if swap.done:
        return swap, Finished(swap.phase)
    p = swap.pending
    if p is not None and obs.in_flight:
        mine = obs.htlc(swap.my_chain, swap.my_lock)
        if p.chain != swap.my_chain and mine is not None and mine.status == "open" and obs.now(swap.my_chain) >= mine.timeout_ms:
            # a claim stuck on a halted network must not keep the own lock from coming back
            note = f"own lock timed out at {mine.timeout_ms}, the {p.kind} on {p.chain.upper()} still not committed"
            return _to(swap, Phase.REFUNDING, note, pending=None), Refund(swap.my_chain, mine.id)
        return swap, Wait(f"{p.kind} transaction {p.tx_hash.hex()[:16]} not committed yet")
    if p is not None and p.kind == "lock" and obs.pending_ok and obs.htlc(p.chain, swap.my_lock) is None:
        # never a second lock under the hashlock: both could be claimed with the one secret
        return swap, Wait(f"lock {p.tx_hash.hex()[:16]} committed; its HTLC is not visible yet")
    swap = dataclasses.replace(swap, pending=None)
    step = _initiator if swap.role is Role.INITIATOR else _responder
    return step(swap, obs)


def _refund_or_wait(swap: Swap, obs: Observation, mine: HtlcView | None, waiting: str) -> tuple[Swap, Action]:
    """Refund the own lock once its network's block time reaches its timeout; until then wait."""
    chain = swap.my_chain
    if mine is None:
        return swap, Wait(f"own lock {swap.my_lock.hex()[:16]} not visible on {chain.upper()}")
    if mine.status == "refunded":
        return _to(swap, Phase.REFUNDED, "own lock refunded"), Finished(Phase.REFUNDED)
    if mine.status == "claimed" and swap.role is Role.INITIATOR:
        return _to(swap, Phase.LOST, "own lock claimed, own claim on B never landed"), Finished(Phase.LOST)
    if mine.status == "claimed":
        return _claim_a(swap, obs, mine.preimage)
    if obs.now(chain) >= mine.timeout_ms:
        return _to(swap, Phase.REFUNDING, f"own lock timed out at {mine.timeout_ms}"), Refund(chain, mine.id)
    return swap, Wait(waiting)


def _initiator(swap: Swap, obs: Observation) -> tuple[Swap, Action]:
    t, p = swap.terms, swap.policy
    mine = obs.htlc("a", swap.lock_a)
    if swap.phase is Phase.NEW:
        ta = obs.time_a_ms + p.lock_ms
        act = Lock("a", t.asset_a, t.amount_a, t.responder_a, t.hashlock, ta)
        return _to(swap, Phase.LOCKING, f"lock {t.amount_a} {t.asset_a} on A until {ta}", timeout_a_ms=ta), act
    if swap.phase is Phase.LOCKING:
        if mine is not None:
            return _to(swap, Phase.LOCKED, f"own lock {mine.id.hex()[:16]} on A"), Wait("waiting for the responder's lock on B")
        return _to(swap, Phase.NEW, "own lock did not commit", lock_a=b"", timeout_a_ms=0), Wait("locking again")
    if swap.phase is Phase.LOCKED:
        if mine is None or mine.status != "open":
            return _refund_or_wait(swap, obs, mine, "")
        swap, theirs = _pick(swap, obs)
        if theirs is not None:
            act = Claim("b", theirs.id, swap.secret)
            return _to(swap, Phase.CLAIMING, f"B lock {theirs.id.hex()[:16]} checked; claiming",
                       lock_b=theirs.id, timeout_b_ms=theirs.timeout_ms), act
        if swap.timeout_a_ms - p.margin_ms - obs.time_b_ms < p.min_window_ms or obs.time_a_ms >= swap.timeout_a_ms:
            swap = _to(swap, Phase.ABORTING, "no acceptable lock on B can come any more")
            return _refund_or_wait(swap, obs, mine, f"refund possible at A time {swap.timeout_a_ms}")
        return swap, Wait("waiting for the responder's lock on B")
    if swap.phase is Phase.CLAIMING:
        theirs = obs.htlc("b", swap.lock_b)
        if theirs is not None and theirs.status == "claimed":
            return _to(swap, Phase.COMPLETED, "claimed on B"), Finished(Phase.COMPLETED)
        if theirs is not None and theirs.status == "open" and swap.timeout_b_ms - obs.time_b_ms >= p.min_window_ms:
            return _to(swap, Phase.CLAIMING, "claim did not commit; claiming again"), Claim("b", theirs.id, swap.secret)
        swap = _to(swap, Phase.ABORTING, "the claim on B can no longer land in time")
        return _refund_or_wait(swap, obs, mine, f"refund possible at A time {swap.timeout_a_ms}")
    if swap.phase in (Phase.ABORTING, Phase.REFUNDING):
        return _refund_or_wait(swap, obs, mine, f"refund possible at A time {swap.timeout_a_ms}")
    raise AssertionError(f"initiator in phase {swap.phase}")


def _claim_a(swap: Swap, obs: Observation, preimage: bytes) -> tuple[Swap, Action]:
    """The responder, knowing the secret: claim A's lock while A's block time is before its timeout."""
    swap = dataclasses.replace(swap, secret=preimage)
    theirs = obs.htlc("a", swap.lock_a)
    if theirs is not None and theirs.status == "claimed":
        return _to(swap, Phase.COMPLETED, "claimed on A"), Finished(Phase.COMPLETED)
    if theirs is None or theirs.status != "open" or obs.time_a_ms >= theirs.timeout_ms:
        return _to(swap, Phase.LOST, "A's lock timed out before the claim"), Finished(Phase.LOST)
    return _to(swap, Phase.CLAIMING, "secret read on B; claiming on A"), Claim("a", theirs.id, preimage)


def _responder(swap: Swap, obs: Observation) -> tuple[Swap, Action]:
    t, p = swap.terms, swap.policy
    mine = obs.htlc("b", swap.lock_b)
    if swap.phase is Phase.WATCHING:
        swap, theirs = _pick(swap, obs)
        if theirs is None and swap.watch_until_a_ms and obs.time_a_ms >= swap.watch_until_a_ms:
            return _to(swap, Phase.ABANDONED, f"no acceptable lock on A by A time {swap.watch_until_a_ms}"), Finished(Phase.ABANDONED)
        if theirs is None:
            return swap, Wait("waiting for the initiator's lock on A")
        tb = theirs.timeout_ms - p.margin_ms
        if tb - obs.time_b_ms < 2 * p.min_window_ms:
            return swap, Wait(f"A lock acceptable but B's clock leaves {tb - obs.time_b_ms} ms before T_B")
        act = Lock("b", t.asset_b, t.amount_b, t.initiator_b, t.hashlock, tb)
        return _to(swap, Phase.LOCKING, f"A lock {theirs.id.hex()[:16]} checked; lock on B until {tb}",
                   lock_a=theirs.id, timeout_a_ms=theirs.timeout_ms, timeout_b_ms=tb), act
    if swap.phase is Phase.LOCKING:
        if mine is not None:
            return _to(swap, Phase.LOCKED, f"own lock {mine.id.hex()[:16]} on B"), Wait("waiting for the initiator's claim on B")
        return _to(swap, Phase.WATCHING, "own lock did not commit", lock_b=b"", timeout_b_ms=0), Wait("checking again")
    if swap.phase in (Phase.LOCKED, Phase.REFUNDING):
        return _refund_or_wait(swap, obs, mine, "waiting for the initiator's claim on B")
    if swap.phase is Phase.CLAIMING:
        return _claim_a(swap, obs, swap.secret)
    raise AssertionError(f"responder in phase {swap.phase}")
