"""The cross-chain atomic swap as a state machine: what one party does next, given what both networks show.

Owns the swap's phases, their transitions (:data:`TRANSITIONS`, data, so the
docs list them), the checks of the counterparty's lock, the timeouts and their
margins, and the JSON form of a party's state.  Never does I/O: no RPC, no
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
import enum
import hashlib
from dataclasses import dataclass

__all__ = [
    "Claim", "Finished", "HtlcView", "Lock", "Observation", "Pending", "Phase", "Policy", "Refund", "Role",
    "Swap", "SwapError", "Terms", "TRANSITIONS", "Wait", "check_lock", "decide", "from_doc", "initiate", "respond", "sent",
    "terms_from_doc", "to_doc", "transition_table",
]


class SwapError(ValueError):
    """A swap document (terms, offer, state file) is malformed or inconsistent."""


class Role(enum.Enum):
    INITIATOR = "initiator"
    RESPONDER = "responder"


class Phase(enum.Enum):
    NEW = "new"  # initiator: nothing on chain yet
    WATCHING = "watching"  # responder: waiting for the initiator's lock on A
    LOCKING = "locking"  # own lock sent, not yet seen on chain
    LOCKED = "locked"  # own lock on chain: initiator waits for B's lock, responder for the claim on B
    CLAIMING = "claiming"  # claim of the counterparty's lock sent
    ABORTING = "aborting"  # initiator: no acceptable lock can come any more; waits for T_A to refund
    REFUNDING = "refunding"  # own lock timed out unclaimed; refund sent
    COMPLETED = "completed"  # both claimed (for this party: it was paid)
    REFUNDED = "refunded"  # own lock refunded: nothing lost
    ABANDONED = "abandoned"  # nothing was ever locked by this party
    LOST = "lost"  # the party was not running when it had to act (documented: it must keep running)


TERMINAL = frozenset({Phase.COMPLETED, Phase.REFUNDED, Phase.ABANDONED, Phase.LOST})

# (role, phase) -> the phases decide() may move to from there (the docs list this table).
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


@dataclass(frozen=True)
class Policy:
    """A party's own safety parameters (each party chooses its own; they are not negotiated).

    Attributes:
        lock_ms: the initiator's lock lasts this long: ``T_A = now_A + lock_ms``.
        margin_ms: ``T_B <= T_A - margin_ms``; must cover the two networks' clock
            difference, the lag of their latest block behind real time, the
            responder's polling interval and the time to commit its claim on A.
        min_window_ms: the least block time left before ``T_B`` for the initiator to
            send its claim (it must commit before ``T_B``); the responder locks only
            with twice that left.
    """

    lock_ms: int = 2 * 3_600_000
    margin_ms: int = 3_600_000
    min_window_ms: int = 600_000

    def __post_init__(self):
        if not (0 < self.min_window_ms and 0 < self.margin_ms and self.lock_ms > self.margin_ms + 2 * self.min_window_ms):
            raise SwapError(f"need 0 < min_window_ms, 0 < margin_ms and lock_ms > margin_ms + 2 * min_window_ms (got {self})")


@dataclass(frozen=True)
class Terms:
    """What both parties agreed: who gives what on which network, under which hashlock."""

    chain_a: str
    chain_b: str
    initiator_a: bytes  # the initiator's address on A (sender of A's lock)
    initiator_b: bytes  # ... on B (receiver of B's lock)
    responder_a: bytes  # the responder's address on A (receiver of A's lock)
    responder_b: bytes  # ... on B (sender of B's lock)
    asset_a: str
    amount_a: int
    asset_b: str
    amount_b: int
    hashlock: bytes

    def __post_init__(self):
        if self.chain_a == self.chain_b:
            raise SwapError("the two networks must have different chain ids")
        if self.amount_a <= 0 or self.amount_b <= 0:
            raise SwapError("amounts must be positive")
        if len(self.hashlock) != 32:
            raise SwapError("the hashlock is 32 bytes")


@dataclass(frozen=True)
class HtlcView:
    """An HTLC as one network's state shows it (the RPC ``htlc``), with the network's name ``"a"`` or ``"b"``."""

    chain: str
    id: bytes
    sender: bytes
    receiver: bytes
    asset: str
    amount: int
    hashlock: bytes
    timeout_height: int
    timeout_ms: int
    status: str  # "open" | "claimed" | "refunded"
    preimage: bytes = b""


@dataclass(frozen=True)
class Observation:
    """What the shell saw on both networks for one step.

    Attributes:
        time_a_ms, time_b_ms: block time of each network's latest block.
        htlcs: the HTLCs looked up: the party's own lock, the counterparty's lock it
            accepted, and every lock of the counterparty under the swap's hashlock found so far.
        in_flight: the party's pending transaction may still commit (it is in a
            mempool, or its nonce is still unused and it was sent again).
    """

    time_a_ms: int
    time_b_ms: int
    htlcs: tuple[HtlcView, ...] = ()
    in_flight: bool = False

    def htlc(self, chain: str, hid: bytes | None) -> HtlcView | None:
        return next((h for h in self.htlcs if h.chain == chain and h.id == hid), None) if hid else None

    def now(self, chain: str) -> int:
        return self.time_a_ms if chain == "a" else self.time_b_ms


@dataclass(frozen=True)
class Pending:
    """A transaction the party signed and sent: its kind, network, nonce, hash and bytes (to send again after a crash)."""

    kind: str  # "lock" | "claim" | "refund"
    chain: str
    nonce: int
    tx_hash: bytes
    raw: bytes


# --------------------------------------------------------------------------- actions


@dataclass(frozen=True)
class Lock:
    chain: str
    asset: str
    amount: int
    receiver: bytes
    hashlock: bytes
    timeout_ms: int


@dataclass(frozen=True)
class Claim:
    chain: str
    htlc_id: bytes
    preimage: bytes


@dataclass(frozen=True)
class Refund:
    chain: str
    htlc_id: bytes


@dataclass(frozen=True)
class Wait:
    reason: str


@dataclass(frozen=True)
class Finished:
    phase: Phase


Action = Lock | Claim | Refund | Wait | Finished


# --------------------------------------------------------------------------- the state


@dataclass(frozen=True)
class Swap:
    """One party's state of one swap; everything its tool needs to resume after a crash.

    ``lock_*``/``timeout_*`` are filled in as the HTLCs appear: ``lock_a`` is
    the initiator's HTLC on A, ``lock_b`` the responder's on B.
    """

    role: Role
    terms: Terms
    policy: Policy
    phase: Phase
    secret: bytes = b""  # the initiator's from the start; the responder's once read from B
    timeout_a_ms: int = 0
    timeout_b_ms: int = 0
    lock_a: bytes = b""
    lock_b: bytes = b""
    pending: Pending | None = None
    watch_until_a_ms: int = 0  # responder: gives up waiting for A's lock at this A time (0: never)
    refusals: tuple[str, ...] = ()  # why counterparty locks were not accepted (newest last, at most 8)
    log: tuple[str, ...] = ()  # one line per transition (newest last, at most 32)

    @property
    def my_chain(self) -> str:
        return "a" if self.role is Role.INITIATOR else "b"

    @property
    def their_chain(self) -> str:
        return "b" if self.role is Role.INITIATOR else "a"

    @property
    def my_lock(self) -> bytes:
        return self.lock_a if self.role is Role.INITIATOR else self.lock_b

    @property
    def their_lock(self) -> bytes:
        return self.lock_b if self.role is Role.INITIATOR else self.lock_a

    @property
    def my_timeout(self) -> int:
        return self.timeout_a_ms if self.role is Role.INITIATOR else self.timeout_b_ms

    @property
    def done(self) -> bool:
        return self.phase in TERMINAL


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
    return None


# --------------------------------------------------------------------------- decide


def _to(swap: Swap, phase: Phase, note: str, **changes) -> Swap:
    log = (*swap.log, f"{swap.phase.value} -> {phase.value}: {note}")[-32:]
    return dataclasses.replace(swap, phase=phase, log=log, **changes)


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
    transaction may still commit (``obs.in_flight``) nothing new is sent.

    Returns:
        (new state, action); the new phase is one :data:`TRANSITIONS` allows.
    """
    if swap.done:
        return swap, Finished(swap.phase)
    if swap.pending is not None and obs.in_flight:
        return swap, Wait(f"{swap.pending.kind} transaction {swap.pending.tx_hash.hex()[:16]} not committed yet")
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


# --------------------------------------------------------------------------- JSON form


STATE_FORMAT = "settle-xswap/1"


def _hexify(v):
    if isinstance(v, bytes):
        return v.hex()
    if isinstance(v, enum.Enum):
        return v.value
    if isinstance(v, tuple):
        return list(v)
    if dataclasses.is_dataclass(v):
        return {f.name: _hexify(getattr(v, f.name)) for f in dataclasses.fields(v)}
    return v


def to_doc(swap: Swap) -> dict:
    """The JSON form of ``swap`` (bytes as hex, enums by value), versioned by ``format``."""
    return {"format": STATE_FORMAT, **_hexify(swap)}


def _unhex(cls, doc: dict):
    kw = {}
    for f in dataclasses.fields(cls):
        if f.name not in doc:
            continue
        v = doc[f.name]
        if f.type in ("bytes", bytes):
            v = bytes.fromhex(v)
        elif f.type == "tuple[str, ...]":
            v = tuple(v)
        kw[f.name] = v
    return cls(**kw)


def terms_from_doc(doc: dict) -> Terms:
    """The terms of their JSON form (as in :func:`to_doc`'s ``terms``).

    Raises:
        SwapError: a missing or malformed field.
    """
    try:
        return _unhex(Terms, doc)
    except (KeyError, TypeError, ValueError) as exc:
        raise SwapError(f"malformed swap terms: {exc}") from None


def from_doc(doc: dict) -> Swap:
    """The swap of a :func:`to_doc` document.

    Raises:
        SwapError: another format, or a missing or malformed field.
    """
    if not isinstance(doc, dict) or doc.get("format") != STATE_FORMAT:
        raise SwapError(f"not a {STATE_FORMAT} document")
    try:
        pend = doc.get("pending")
        return _unhex(Swap, {
            **doc,
            "role": Role(doc["role"]),
            "phase": Phase(doc["phase"]),
            "terms": terms_from_doc(doc["terms"]),
            "policy": _unhex(Policy, doc["policy"]),
            "pending": _unhex(Pending, pend) if pend else None,
        })
    except (KeyError, TypeError, ValueError) as exc:
        raise SwapError(f"malformed swap state: {exc}") from None
