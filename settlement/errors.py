"""Settlement errors: one base class, one subclass per reason.

Owns the error classes of the transaction rules and their codes; never
decides when one is raised (the rule that breaks raises it).

Two families, kept apart on purpose (h11 draws the same whose-fault line):

* :class:`SettlementError` — *this transaction breaks a rule*.  The tx is still
  included; its receipt carries ``code``, ``name`` and the message; state is
  left exactly as before the tx except the sender's nonce.
* :class:`NotIncludable` — *this transaction may not be in a block at all*
  (wrong chain id, unknown sender, nonce out of order).  A proposer skips it;
  a block containing one is invalid.
* :class:`StateCorrupt` — *we have a bug or a damaged store*.  Never caught by
  the state machine: the node halts rather than diverge.  One class for the
  store and the state machine: it lives in ``ledger/errors.py`` (a ``Halt``)
  and is imported here so that every transition finds its errors in one place.

Both tx families are :class:`ledger.errors.InvalidInput`: the tx's signer's
fault, answered with a receipt code or a mempool refusal.
"""
from __future__ import annotations

from ledger.errors import InvalidInput, StateCorrupt

__all__ = [
    "AlreadyExists",
    "BadAmount",
    "InsufficientBalance",
    "InvalidParameter",
    "NotIncludable",
    "NotPermitted",
    "NotRegistered",
    "SettlementError",
    "StateCorrupt",
    "UnknownAsset",
]


class SettlementError(InvalidInput):
    """Base: a transaction failed a settlement rule (receipt code > 0)."""

    code = 1
    name = "failed"


class NotPermitted(SettlementError):
    """The sender lacks the role the operation needs (admin, issuer, oracle)."""

    code = 2
    name = "not_permitted"


class NotRegistered(SettlementError):
    """A counterparty or beneficiary address is not a registered account."""

    code = 3
    name = "not_registered"


class UnknownAsset(SettlementError):
    """The asset symbol does not exist."""

    code = 4
    name = "unknown_asset"


class BadAmount(SettlementError):
    """An amount is zero, negative, or larger than the 63-bit limit."""

    code = 5
    name = "bad_amount"


class InsufficientBalance(SettlementError):
    """The sender's spendable balance is smaller than the amount."""

    code = 6
    name = "insufficient_balance"


class AlreadyExists(SettlementError):
    """The account already holds the role, or the asset already exists."""

    code = 7
    name = "already_exists"


class InvalidParameter(SettlementError):
    """A parameter is malformed (symbol syntax, role name, decimals, ...)."""

    code = 8
    name = "invalid_parameter"


class NotIncludable(InvalidInput):
    """The tx must not be in a block: wrong chain, unknown sender, bad nonce."""

    def __init__(self, reason: str, *, future_nonce: bool = False):
        super().__init__(reason)
        self.future_nonce = future_nonce


# --------------------------------------------------------------------------- risk engine
# Appended; codes 9.. are stable receipt codes.  Each names the rule it breaks
# and its message carries the numbers involved.


class UnknownMarket(SettlementError):
    """The market id is not registered."""

    code = 9
    name = "unknown_market"


class BadSignature(SettlementError):
    """An offline signature carried in the body (order, swap terms) does not verify for its signer."""

    code = 10
    name = "bad_signature"


class Expired(SettlementError):
    """An order or swap terms are past their expiry height, or an HTLC past its timeout."""

    code = 11
    name = "expired"


class Replayed(SettlementError):
    """An order nonce is already filled or cancelled, or swap terms were already settled."""

    code = 12
    name = "replayed"


class StalePrice(SettlementError):
    """The market has no fresh oracle price: risk-increasing trades and withdrawals are refused."""

    code = 13
    name = "stale_price"


class InsufficientMargin(SettlementError):
    """After the operation an account's equity would be below its initial margin requirement."""

    code = 14
    name = "insufficient_margin"


class PriceDeviation(SettlementError):
    """A price report or trade price is too far from the last accepted oracle price."""

    code = 15
    name = "price_deviation"


class OpenInterestCap(SettlementError):
    """The trade would take the market's open interest over its cap."""

    code = 16
    name = "open_interest_cap"


class NotFound(SettlementError):
    """The HTLC (or other referenced object) does not exist."""

    code = 17
    name = "not_found"


class HtlcState(SettlementError):
    """The HTLC is already settled, not yet timed out (refund) or the preimage is wrong (claim)."""

    code = 18
    name = "htlc_state"


class BadProof(SettlementError):
    """A bridge header, commit certificate or state proof does not verify, or is for an untrusted height."""

    code = 19
    name = "bad_proof"
