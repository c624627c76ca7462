"""The records of a cross-chain swap: phases, terms, policy, observations, actions, one party's state, and its JSON form.

Owns the data of ``cli/xswap_plan.py`` (which owns the rules) and the
versioned JSON document a party's state file holds (``format:
settle-xswap/1``: bytes as hex, enums by value).  Never does I/O and holds no rule
beyond each record's own consistency checks.
"""
from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass

__all__ = [
    "Action", "Claim", "Finished", "HtlcView", "Lock", "Observation", "Pending", "Phase", "Policy", "Refund", "Role",
    "STATE_FORMAT", "Swap", "SwapError", "TERMINAL", "Terms", "Wait", "from_doc", "terms_from_doc", "to_doc",
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


@dataclass(frozen=True)
class Policy:
    """A party's own safety parameters (each party chooses its own; they are not negotiated).

    Attributes:
        lock_ms: the initiator's lock lasts this long: ``T_A = now_A + lock_ms``; the
            responder accepts no lock on A with more than this left (its own funds would
            be locked almost as long).
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
        if any(len(a) != 20 for a in (self.initiator_a, self.initiator_b, self.responder_a, self.responder_b)):
            raise SwapError("addresses are 20 bytes")
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
        pending_ok: the party's pending transaction committed with an ok receipt
            (looked at before ``htlcs``, so a lock that committed shows in them unless a
            node's reads disagree for a moment).
    """

    time_a_ms: int
    time_b_ms: int
    htlcs: tuple[HtlcView, ...] = ()
    in_flight: bool = False
    pending_ok: bool = False

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
    moves: int = 0  # transitions made so far (the log keeps the last 32)

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
