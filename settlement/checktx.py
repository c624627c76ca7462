"""Checks at the door (CometBFT's CheckTx): what a transaction can be known to fail before any block.

Owns :func:`check_tx`, which the node runs at admission (RPC, gossip: every
path into the mempool), and its stateless part :func:`check_body`, which the
CLI runs before signing.  A refusal here means the tx is not admitted, not
gossiped, and burns no nonce; without it the tx would be committed as a failed
receipt.

Only two kinds of check live here, both taken from the handlers' own first
lines, in their order, with their errors:

* stateless: each amount field is in 1..MAX_AMOUNT (``check_amount``);
* reads of committed state that no later transaction can turn from "yes"
  into "no": the asset exists, the counterparty is a registered account
  (assets and accounts are never removed).

So a tx refused here would fail in any block built on this state (with this
error, or one its handler checks earlier, such as a missing permission).  The converse does not hold: an asset or account created by a tx
still in the mempool is not seen, so a tx that depends on it is refused until
that one commits (submit it after, e.g. with ``--wait``).  Everything else
(balances, margin, prices, permissions) is for the block to judge.

Must never: write state, read anything but committed state, or refuse a tx
its handler would accept on the same state.
"""
from __future__ import annotations

from ledger.tx import Tx

from .state import State
from .transfers import check_amount, require_asset, require_registered

__all__ = ["check_body", "check_tx"]

# kind -> body fields checked, in the order the kind's handler checks them.
AMOUNT_FIELDS: dict[str, tuple[str, ...]] = {
    "bridge_send": ("amount",),
    "htlc_lock": ("amount",),
    "insurance_deposit": ("amount",),
    "issue": ("amount",),
    "margin_deposit": ("amount",),
    "margin_withdraw": ("amount",),
    "transfer": ("amount",),
}
ASSET_FIELDS: dict[str, tuple[str, ...]] = {
    "bridge_send": ("asset",),
    "htlc_lock": ("asset",),
    "insurance_deposit": ("asset",),
    "issue": ("asset",),
    "margin_deposit": ("asset",),
    "margin_withdraw": ("asset",),
    "transfer": ("asset",),
}
# (field, what the error calls it)
REGISTERED_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "htlc_lock": (("receiver", "receiver"),),
    "issue": (("to", "recipient"),),
    "transfer": (("to", "recipient"),),
}


def check_body(kind: str, body) -> None:
    """The checks that need no state (the CLI runs them before signing).

    Raises:
        BadAmount: an amount is zero, negative or over ``MAX_AMOUNT``.
    """
    for name in AMOUNT_FIELDS.get(kind, ()):
        check_amount(getattr(body, name))


def check_tx(state: State, tx: Tx) -> None:
    """Refuse ``tx`` if it would fail in any block built on ``state`` (committed state).

    Raises:
        BadAmount, UnknownAsset, NotRegistered: naming the rule broken, as the
            block's receipt would.
    """
    body = tx.body
    check_body(tx.kind, body)
    for name in ASSET_FIELDS.get(tx.kind, ()):
        require_asset(state, getattr(body, name))
    for name, what in REGISTERED_FIELDS.get(tx.kind, ()):
        require_registered(state, getattr(body, name), what)
