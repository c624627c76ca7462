"""Body records of the ledger's transaction kinds, and ``KINDS``: the one table of every kind name.

Owns: the field layout of the ledger's own kinds' bodies (the risk engine's
are in ``txkinds_risk``) and ``KINDS``, which maps every kind name on the
wire to its body record and gives each record its ``KIND``.  Pure data;
meaning lives in settlement/.  Validation here is only structural (types
and lengths); amounts, roles and permissions are checked by the settlement
state machine, which gives a receipt with the reason.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from . import txkinds_bridge as bridge
from . import txkinds_options as options
from . import txkinds_pm as pm
from . import txkinds_risk as risk
from .codec import MaxLen, Range, Record
from .fields import Address, Amount, Symbol

__all__ = ["KINDS", "CreateAsset", "Issue", "RegisterAccount", "Transfer"]

Role = Annotated[str, MaxLen(16)]


@dataclass(frozen=True, slots=True)
class RegisterAccount(Record):
    """Admin grants ``role`` to ``address`` (creating the account if new)."""

    address: Address
    role: Role


@dataclass(frozen=True, slots=True)
class CreateAsset(Record):
    """Admin creates a new asset with a fixed issuer and number of decimals."""

    symbol: Symbol
    decimals: Annotated[int, Range(0, 18)]
    issuer: Address


@dataclass(frozen=True, slots=True)
class Issue(Record):
    """The asset's issuer mints ``amount`` base units to ``to``."""

    asset: Symbol
    amount: Amount
    to: Address


@dataclass(frozen=True, slots=True)
class Transfer(Record):
    """Move ``amount`` base units of ``asset`` from the sender to ``to``."""

    to: Address
    asset: Symbol
    amount: Amount
    memo: Annotated[str, MaxLen(256)]


def _kind_table(*kinds: tuple[str, type[Record]]) -> dict[str, type[Record]]:
    """``{name: record}``; sets each record's ``KIND``.  A name or a record listed twice is a bug."""
    table: dict[str, type[Record]] = {}
    for name, cls in kinds:
        if name in table or hasattr(cls, "KIND"):
            raise ValueError(f"tx kind {name!r} ({cls.__name__}) listed twice")
        table[name] = cls
        cls.KIND = name  # type: ignore[attr-defined]
    return table


# Every tx kind: the name is what the wire and the signature carry, so a name never changes.
KINDS: dict[str, type[Record]] = _kind_table(
    ("register_account", RegisterAccount),
    ("create_asset", CreateAsset),
    ("issue", Issue),
    ("transfer", Transfer),
    ("register_market", risk.RegisterMarket),
    ("set_oracles", risk.SetOracles),
    ("price", risk.PriceReport),
    ("margin_deposit", risk.MarginDeposit),
    ("margin_withdraw", risk.MarginWithdraw),
    ("insurance_deposit", risk.InsuranceDeposit),
    ("trade", risk.Trade),
    ("cancel_order", risk.CancelOrder),
    ("swap", risk.Swap),
    ("htlc_lock", risk.HtlcLock),
    ("htlc_claim", risk.HtlcClaim),
    ("htlc_refund", risk.HtlcRefund),
    ("set_option_params", options.SetOptionParams),
    ("register_option_series", options.RegisterOptionSeries),
    ("register_option_chain", options.RegisterOptionChain),
    ("vol_report", options.VolReport),
    ("option_trade", options.OptionTrade),
    ("set_collateral", pm.SetCollateral),
    ("set_pm_params", pm.SetPmParams),
    ("set_margin_mode", pm.SetMarginMode),
    ("bridge_create_client", bridge.BridgeCreateClient),
    ("bridge_update_client", bridge.BridgeUpdateClient),
    ("bridge_send", bridge.BridgeSend),
    ("bridge_recv", bridge.BridgeRecv),
    ("bridge_timeout", bridge.BridgeTimeout),
    ("bridge_ack", bridge.BridgeAck),
    ("bridge_misbehaviour", bridge.BridgeMisbehaviour),
)
