"""``settle`` commands of the risk engine: txs and offline signing of orders and swap terms.

Owns the argument parsing of these commands: ``TX_COMMANDS`` for the ``tx``
group that ``cli.main`` builds, and the ``order``, ``swap`` and ``htlc``
groups (queries and ``stress`` are in ``risk_query.py``).  Never talks to a
node except through ``cli.common``'s RPC helpers.  Same conventions as every command:
one-line errors, ``--json`` for scripts, ``--home``/``--rpc`` to find the node.

Offline signing: a maker runs ``settle order sign ... > order.json`` (or
``settle swap sign ... > terms.json``) without sending anything; the taker
submits it with ``settle tx trade --order order.json`` (``settle tx swap
--terms terms.json``).  The JSON names the chain id the signature is for.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path

import click

from ledger.keys import format_address, parse_address
from ledger.txkinds_risk import (
    ANY_TAKER,
    CancelOrder,
    HtlcClaim,
    HtlcLock,
    HtlcRefund,
    InsuranceDeposit,
    MarginDeposit,
    MarginWithdraw,
    MarketParams,
    Order,
    PriceReport,
    RegisterMarket,
    SetOracles,
    SignedOrder,
    Swap,
    SwapTerms,
    Trade,
    sign_order,
    sign_swap_terms,
)
from settlement.risk.markets import DEFAULTS, TIERS, default_params

from .common import CLIError, home_dir, home_opt, resolve_address, rpc_client, rpc_opt, submit, tx_command
from .keyring import Keyring

__all__ = ["TX_COMMANDS", "htlc", "order", "swap"]


def _hex(text: str, n: int | None, what: str) -> bytes:
    try:
        b = bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        raise CLIError(f"{what} must be hex") from None
    if n is not None and len(b) != n:
        raise CLIError(f"{what} must be {n} bytes ({2 * n} hex digits)")
    return b


def _chain_and_height(home: Path, rpc: str | None, chain_id: str | None, need_height: bool) -> tuple[str, int | None]:
    if chain_id and not need_height:
        return chain_id, None
    st = rpc_client(home, rpc).status()
    return chain_id or st["chain_id"], st["height"]


def _expiry(height: int | None, expiry_height: int | None, expires_in: int | None) -> int:
    if expiry_height is not None:
        return expiry_height
    return height + (expires_in or 100)


def _load_json(path: str, what: str) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise CLIError(f"cannot read {what} {path}: {exc}") from None


# --------------------------------------------------------------------------- transactions


@click.command("register-market")
@click.option("--from", "sender", required=True, help="an admin key")
@click.option("--market", required=True, help="market id, e.g. BTC-PERP")
@click.option("--base", default=None, help="base label (default: the part before '-')")
@click.option("--quote", required=True, help="collateral/settlement asset")
@click.option("--tier", type=click.Choice(sorted(TIERS)), default="large", show_default=True, help="IMF/MMF 5/3%, 10/5%, 20/10%")
@click.option("--oracle", "oracles", multiple=True, required=True, help="oracle address or key name (repeat)")
@click.option("--param", "overrides", multiple=True, help=f"NAME=INT to override a parameter ({', '.join(sorted(DEFAULTS))}, imf_ppm, mmf_ppm, funding_impact_notional)")
@tx_command
def tx_register_market(sender, market, base, quote, tier, oracles, overrides, home, rpc, as_json, wait):
    """List a perpetual market (admin only)."""
    h = home_dir(home)
    kw = {}
    fields = {f.name for f in dataclasses.fields(MarketParams)}
    for o in overrides:
        name, _, value = o.partition("=")
        if name not in fields:
            raise CLIError(f"unknown market parameter {name!r}")
        try:
            kw[name] = int(value)
        except ValueError:
            raise CLIError(f"parameter {name} must be an integer") from None
    body = RegisterMarket(market, base or market.split("-")[0], quote, default_params(tier, **kw), tuple(resolve_address(h, o) for o in oracles))
    submit(h, rpc, sender, body, wait, as_json)


@click.command("set-oracles")
@click.option("--from", "sender", required=True, help="an admin key")
@click.option("--market", required=True)
@click.option("--oracle", "oracles", multiple=True, required=True, help="oracle address or key name (repeat)")
@tx_command
def tx_set_oracles(sender, market, oracles, home, rpc, as_json, wait):
    """Replace a market's oracle set (admin only)."""
    h = home_dir(home)
    submit(h, rpc, sender, SetOracles(market, tuple(resolve_address(h, o) for o in oracles)), wait, as_json)


def _body_cmd(name, body_cls, doc, sender_help, *options):
    """``settle tx NAME``: ``--from`` then ``options``, whose values are the fields of one ``body_cls`` body, signed and submitted."""

    def cmd(sender, home, rpc, as_json, wait, **fields):
        submit(home_dir(home), rpc, sender, body_cls(**fields), wait, as_json)

    for decorate in reversed((click.option("--from", "sender", required=True, help=sender_help), *options, tx_command)):
        cmd = decorate(cmd)
    return click.command(name, help=doc)(cmd)


def _amount_cmd(name, body_cls, doc):
    return _body_cmd(name, body_cls, doc, "key name or key file", click.option("--asset", required=True),
                     click.option("--amount", required=True, type=int, help="base units"))


tx_price = _body_cmd("price", PriceReport, "Submit an oracle price report.", "an oracle key", click.option("--market", required=True),
                     click.option("--price", required=True, type=int, help="quote base units per lot"))
tx_deposit = _amount_cmd("deposit", MarginDeposit, "Move an asset from your balance into your margin account.")
tx_withdraw = _amount_cmd("withdraw", MarginWithdraw, "Move margin back to your balance (equity must stay >= IMR).")
tx_insurance_deposit = _amount_cmd("insurance-deposit", InsuranceDeposit, "Donate an asset to the insurance fund.")


def _read_order(path: str) -> SignedOrder:
    doc = _load_json(path, "order")
    try:
        o = doc["order"]
        order = Order(o["market"], o["side"], int(o["size"]), int(o["price"]), int(o["expiry_height"]), int(o["nonce"]),
                      ANY_TAKER if o.get("taker") in (None, "", "any") else parse_address(o["taker"]))
        so = SignedOrder(order, _hex(doc["maker_pubkey"], 32, "maker_pubkey"), _hex(doc["signature"], 64, "signature"))
    except (KeyError, TypeError, ValueError) as exc:
        raise CLIError(f"malformed order file {path}: {exc}") from None
    if not so.verify(doc.get("chain_id", "")):
        raise CLIError(f"order signature in {path} does not verify for chain {doc.get('chain_id')!r}")
    return so


@click.command("trade")
@click.option("--from", "sender", required=True, help="the taker's key")
@click.option("--order", "order_file", required=True, type=click.Path(dir_okay=False), help="order JSON from `settle order sign`")
@click.option("--size", type=int, default=None, help="lots to fill (default: the whole order)")
@tx_command
def tx_trade(sender, order_file, size, home, rpc, as_json, wait):
    """Fill a maker-signed order (you take the other side)."""
    so = _read_order(order_file)
    submit(home_dir(home), rpc, sender, Trade(so, size or so.order.size), wait, as_json)


@click.command("cancel-order")
@click.option("--from", "sender", required=True, help="the maker's key")
@click.option("--nonce", required=True, type=int)
@tx_command
def tx_cancel_order(sender, nonce, home, rpc, as_json, wait):
    """Void one of your signed orders: it can never be filled again."""
    submit(home_dir(home), rpc, sender, CancelOrder(nonce), wait, as_json)


@click.command("swap")
@click.option("--from", "sender", required=True, help="the taker's key")
@click.option("--terms", "terms_file", required=True, type=click.Path(dir_okay=False), help="terms JSON from `settle swap sign`")
@tx_command
def tx_swap(sender, terms_file, home, rpc, as_json, wait):
    """Settle a DvP swap signed offline by the maker: both legs or neither."""
    doc = _load_json(terms_file, "swap terms")
    try:
        t = doc["terms"]
        terms = SwapTerms(parse_address(t["maker"]), parse_address(t["taker"]), t["give_asset"], int(t["give_amount"]),
                          t["get_asset"], int(t["get_amount"]), int(t["expiry_height"]), int(t["nonce"]))
        body = Swap(terms, _hex(doc["maker_pubkey"], 32, "maker_pubkey"), _hex(doc["signature"], 64, "signature"))
    except (KeyError, TypeError, ValueError) as exc:
        raise CLIError(f"malformed terms file {terms_file}: {exc}") from None
    submit(home_dir(home), rpc, sender, body, wait, as_json)


@click.command("htlc-lock")
@click.option("--from", "sender", required=True)
@click.option("--to", "receiver", required=True, help="receiver address or key name")
@click.option("--asset", required=True)
@click.option("--amount", required=True, type=int)
@click.option("--hashlock", required=True, help="sha256 of the secret, 64 hex digits (see `settle htlc secret`)")
@click.option("--timeout-height", type=int, default=None)
@click.option("--timeout-blocks", type=int, default=None, help="timeout relative to the current height (default 100)")
@click.option("--timeout-ms", type=int, default=None,
              help="timeout in block time (header time_ms); alone it sets no height timeout, with a height the first reached counts")
@click.option("--timeout-in", "timeout_in", type=float, default=None, help="timeout in block time, this many seconds after the latest block")
@tx_command
def tx_htlc_lock(sender, receiver, asset, amount, hashlock, timeout_height, timeout_blocks, timeout_ms, timeout_in, home, rpc, as_json,
                 wait):
    """Lock an amount for a receiver under a sha256 hashlock until a timeout height and/or block time."""
    h = home_dir(home)
    if timeout_in is not None:
        timeout_ms = rpc_client(h, rpc).status()["latest_block_time_ms"] + int(timeout_in * 1000)
    if timeout_height is None and (timeout_ms is None or timeout_blocks is not None):
        _, height = _chain_and_height(h, rpc, None, True)
        timeout_height = height + (timeout_blocks or 100)
    body = HtlcLock(asset, amount, resolve_address(h, receiver), _hex(hashlock, 32, "hashlock"), timeout_height or 0, timeout_ms or 0)
    submit(h, rpc, sender, body, wait, as_json)


@click.command("htlc-claim")
@click.option("--from", "sender", required=True, help="the receiver's key")
@click.option("--id", "hid", required=True, help="HTLC id (from the lock receipt)")
@click.option("--preimage", required=True, help="the secret, hex")
@tx_command
def tx_htlc_claim(sender, hid, preimage, home, rpc, as_json, wait):
    """Claim an HTLC with its preimage (before the timeout)."""
    submit(home_dir(home), rpc, sender, HtlcClaim(_hex(hid, 32, "id"), _hex(preimage, None, "preimage")), wait, as_json)


@click.command("htlc-refund")
@click.option("--from", "sender", required=True, help="the sender's key")
@click.option("--id", "hid", required=True)
@tx_command
def tx_htlc_refund(sender, hid, home, rpc, as_json, wait):
    """Take back an unclaimed HTLC at or after its timeout height."""
    submit(home_dir(home), rpc, sender, HtlcRefund(_hex(hid, 32, "id")), wait, as_json)


# --------------------------------------------------------------------------- offline signing


@click.group()
def order() -> None:
    """Sign perpetual orders offline."""


@order.command("sign")
@click.option("--from", "maker", required=True, help="the maker's key")
@click.option("--market", required=True)
@click.option("--side", required=True, type=click.Choice(["buy", "sell"]), help="the maker's side")
@click.option("--size", required=True, type=int, help="lots")
@click.option("--price", required=True, type=int, help="quote base units per lot")
@click.option("--expiry-height", type=int, default=None)
@click.option("--expires-in", type=int, default=None, help="blocks from now (default 100; needs the node)")
@click.option("--nonce", type=int, default=None, help="order id (default: random)")
@click.option("--taker", default=None, help="only this address/key may fill (default: anyone)")
@click.option("--chain-id", default=None, help="chain to sign for (default: ask the node)")
@home_opt
@rpc_opt
def order_sign(maker, market, side, size, price, expiry_height, expires_in, nonce, taker, chain_id, home, rpc):
    """Print a signed order as JSON (give it to a taker for `settle tx trade --order`)."""
    h = home_dir(home)
    key = Keyring(h).load(maker)
    chain_id, height = _chain_and_height(h, rpc, chain_id, expiry_height is None)
    nonce = nonce if nonce is not None else int.from_bytes(os.urandom(8), "big") >> 1
    o = Order(market, side, size, price, _expiry(height, expiry_height, expires_in), nonce, resolve_address(h, taker) if taker else ANY_TAKER)
    so = sign_order(key, chain_id, o)
    doc = {"chain_id": chain_id, "maker": format_address(key.address), "order": dict(
        market=market, side=side, size=size, price=price, expiry_height=o.expiry_height, nonce=nonce,
        taker=format_address(o.taker) if o.taker != ANY_TAKER else "any"), "maker_pubkey": so.maker.hex(), "signature": so.signature.hex()}
    click.echo(json.dumps(doc, indent=2))


@click.group()
def swap() -> None:
    """Sign DvP swap terms offline."""


def _leg(text: str) -> tuple[str, int]:
    sym, _, amt = text.partition(":")
    try:
        return sym, int(amt)
    except ValueError:
        raise CLIError(f"expected ASSET:AMOUNT, got {text!r}") from None


@swap.command("sign")
@click.option("--from", "maker", required=True, help="the maker's key")
@click.option("--taker", required=True, help="counterparty address or key name")
@click.option("--give", required=True, help="ASSET:AMOUNT the maker delivers")
@click.option("--get", "get_", required=True, help="ASSET:AMOUNT the maker receives")
@click.option("--expiry-height", type=int, default=None)
@click.option("--expires-in", type=int, default=None, help="blocks from now (default 100; needs the node)")
@click.option("--nonce", type=int, default=None, help="swap id (default: random)")
@click.option("--chain-id", default=None)
@home_opt
@rpc_opt
def swap_sign(maker, taker, give, get_, expiry_height, expires_in, nonce, chain_id, home, rpc):
    """Print maker-signed swap terms as JSON (the taker submits them with `settle tx swap --terms`)."""
    h = home_dir(home)
    key = Keyring(h).load(maker)
    chain_id, height = _chain_and_height(h, rpc, chain_id, expiry_height is None)
    (ga, gn), (wa, wn) = _leg(give), _leg(get_)
    nonce = nonce if nonce is not None else int.from_bytes(os.urandom(8), "big") >> 1
    terms = SwapTerms(key.address, resolve_address(h, taker), ga, gn, wa, wn, _expiry(height, expiry_height, expires_in), nonce)
    sw = sign_swap_terms(key, chain_id, terms)
    doc = {"chain_id": chain_id, "terms": dict(
        maker=format_address(key.address), taker=format_address(terms.taker), give_asset=ga, give_amount=gn,
        get_asset=wa, get_amount=wn, expiry_height=terms.expiry_height, nonce=nonce),
        "maker_pubkey": sw.maker_pubkey.hex(), "signature": sw.maker_signature.hex()}
    click.echo(json.dumps(doc, indent=2))


@click.group()
def htlc() -> None:
    """HTLC helpers."""


@htlc.command("secret")
def htlc_secret() -> None:
    """Print a fresh random preimage and its sha256 hashlock (keep the preimage secret)."""
    pre = os.urandom(32)
    click.echo(json.dumps({"preimage": pre.hex(), "hashlock": hashlib.sha256(pre).hexdigest()}, indent=2))


TX_COMMANDS = (tx_register_market, tx_set_oracles, tx_price, tx_deposit, tx_withdraw, tx_insurance_deposit, tx_trade,
               tx_cancel_order, tx_swap, tx_htlc_lock, tx_htlc_claim, tx_htlc_refund)
