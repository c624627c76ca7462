"""The synchronous client: ``sdk.Client(url)``, one typed method per node RPC method, transactions, waits, feeds.

Owns the HTTP transport of a sync call (stdlib ``urllib``: one POST per
call, no session to close), the turning of connection failures and socket
timeouts into :class:`sdk.errors.TransportError` / :class:`SettleTimeout`,
and the sync forms of submit-and-wait, :meth:`Client.wait_for_tx`,
:meth:`Client.wait_for_height` and the WebSocket feeds (the async feed of
:mod:`sdk.aio` driven on a private event loop, with a timeout per item).
Methods carry the server's names and parameters (:mod:`sdk.methods`); their
results are the typed dicts of :mod:`sdk.types`.  Holds no key: a key is
passed to :meth:`Client.sign` / :meth:`Client.transact` for one transaction.
"""
from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any, Literal, TypeVar

from ledger.codec import Record
from ledger.keys import PrivateKey
from ledger.tx import Tx

from . import methods as m
from . import types as t
from .core import POLL_S, ClientCore, sign
from .errors import NotFound, SettleTimeout, TransportError

__all__ = ["Client"]

T = TypeVar("T")


class Client(ClientCore):
    """A node's JSON-RPC API, synchronously.  ``timeout``: seconds an HTTP call may take (a commit wait takes longer)."""

    # ------------------------------------------------------------------ transport

    def call(self, method: str, params: Any = None, *, timeout: float | None = None) -> Any:
        """The raw ``result`` of ``method`` (untyped): for a method this SDK does not know yet."""
        req = urllib.request.Request(self.url, data=self.envelope(method, params), headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout or self.timeout) as resp:
                body = resp.read()
        except urllib.error.HTTPError as exc:
            raise TransportError(f"node at {self.url} answered HTTP {exc.code}") from None
        except TimeoutError:
            raise SettleTimeout(f"node at {self.url} did not answer {method} within {timeout or self.timeout:.0f}s") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, TimeoutError):
                raise SettleTimeout(f"node at {self.url} did not answer {method} in time") from None
            raise TransportError(f"cannot reach node at {self.url}: {reason}") from None
        return self.result(body)

    def request(self, req: m.Request[T], *, timeout: float | None = None) -> T:
        """The typed result of a :class:`sdk.methods.Request`."""
        return self.call(req.method, req.params, timeout=self.timeout_of(req, timeout))

    # ------------------------------------------------------------------ the node's methods (sdk.methods)

    def account(self, address: str | bytes) -> t.Account: return self.request(m.account(address))
    def account_margin(self, address: str | bytes) -> t.AccountMargin: return self.request(m.account_margin(address))
    def assets(self) -> list[t.Asset]: return self.request(m.assets())
    def block(self, height: int | None = None, receipts: bool = False) -> t.Block: return self.request(m.block(height, receipts))
    def bridge(self) -> t.BridgeInfo: return self.request(m.bridge())
    def broadcast_tx(self, tx: Tx | bytes | str, mode: m.Mode = "sync", timeout: int | None = None) -> t.BroadcastResult:
        return self.request(m.broadcast_tx(tx, mode, timeout))
    def broadcast_tx_batch(self, txs: list[Tx | bytes | str], mode: m.Mode = "sync", timeout: int | None = None) -> t.BatchResult:
        return self.request(m.broadcast_tx_batch(txs, mode, timeout))
    def collateral_params(self) -> t.CollateralParams: return self.request(m.collateral_params())
    def commit(self, height: int | None = None) -> t.Commit: return self.request(m.commit(height))
    def events(self, height: int | None = None, kinds: list[str] | None = None) -> t.BlockEvents: return self.request(m.events(height, kinds))
    def evidence(self) -> list[t.Evidence]: return self.request(m.evidence())
    def genesis(self) -> dict[str, Any]: return self.request(m.genesis())
    def htlc(self, id: str | bytes) -> t.Htlc: return self.request(m.htlc(id))
    def insurance_fund(self) -> t.InsuranceFund: return self.request(m.insurance_fund())
    def market(self, market: str) -> t.Market: return self.request(m.market(market))
    def markets(self) -> list[t.Market]: return self.request(m.markets())
    def mempool(self) -> t.Mempool: return self.request(m.mempool())
    def option_positions(self, address: str | bytes) -> t.OptionPositions: return self.request(m.option_positions(address))
    def option_series(self, series: str) -> t.OptionSeries: return self.request(m.option_series(series))
    def option_series_list(self, underlying: str | None = None) -> list[t.OptionSeries]: return self.request(m.option_series_list(underlying))
    def oracle(self, market: str) -> t.Oracle: return self.request(m.oracle(market))
    def order(self, maker: str | bytes, nonce: int) -> t.OrderFill: return self.request(m.order(maker, nonce))
    def peers(self) -> list[t.Peer]: return self.request(m.peers())
    def pm_scenarios(self, address: str | bytes) -> t.PmScenarios: return self.request(m.pm_scenarios(address))
    def pm_whatif(self, address: str | bytes, side: Literal["buy", "sell"], size: int, price: int, *,
                  market: str | None = None, series: str | None = None) -> t.PmWhatIf:
        return self.request(m.pm_whatif(address, side, size, price, market=market, series=series))
    def proof(self, kind: Literal["header", "receipt", "state", "tx"], *, hash: str | bytes | None = None,
              key: str | bytes | dict | None = None, height: int | None = None) -> t.Proof:
        return self.request(m.proof(kind, hash=hash, key=key, height=height))
    def rpc_discover(self) -> t.OpenRpcDocument: return self.request(m.rpc_discover())
    def status(self) -> t.Status: return self.request(m.status())
    def tx(self, hash: str | bytes) -> t.TxInfo: return self.request(m.tx(hash))
    def validators(self) -> list[t.Validator]: return self.request(m.validators())
    def vol_surface(self, underlying: str) -> t.VolSurface: return self.request(m.vol_surface(underlying))

    # ------------------------------------------------------------------ transactions

    def chain_id(self) -> str:
        """The node's chain id (asked once, from ``status``)."""
        if self._chain_id is None:
            self._chain_id = self.status()["chain_id"]
        return self._chain_id

    def sign(self, key: PrivateKey, body: Record, *, nonce: int | None = None, check: bool = True) -> Tx:
        """``body`` signed by ``key``: nonce from the account's ``next_nonce`` unless given, chain id from ``status``.

        Raises:
            TxInvalid: a stateless check refuses the body (before anything is signed).
            NotFound: the signer is not a registered account (and no nonce was given).
        """
        if nonce is None:
            nonce = self.account(key.address)["next_nonce"]
        return sign(key, self.chain_id(), nonce, body, check)

    def submit(self, tx: Tx, *, wait: bool = True, timeout: int = 30) -> t.BroadcastResult:
        """Send a signed tx.  ``wait``: return once its block is final (the result has ``height`` and ``receipt``,
        and the node's proof of the receipt checked: :mod:`sdk.finality`); otherwise once the mempool accepted it.

        A committed tx whose receipt is not ok is returned, not raised (:func:`sdk.ensure_ok` raises it).

        Raises:
            TxRejected: the mempool refused it.  CommitTimeout: not committed within ``timeout`` seconds.
            NotFinal: the node's proof of the committed receipt does not check.
        """
        if not wait:
            return self.broadcast_tx(tx, "sync")
        res = self.broadcast_tx(tx, "commit", timeout)
        self.final(tx.chain_id, res["hash"], self.proof("receipt", hash=res["hash"]))
        return res

    def transact(self, key: PrivateKey, body: Record, *, wait: bool = True, nonce: int | None = None,
                 timeout: int = 30) -> t.BroadcastResult:
        """:meth:`sign` then :meth:`submit`: the one call for "do this as ``key``"."""
        return self.submit(self.sign(key, body, nonce=nonce), wait=wait, timeout=timeout)

    # ------------------------------------------------------------------ waits and feeds

    def wait_for_tx(self, hash: str | bytes | Tx, timeout: float = 30) -> t.TxInfo:
        """The committed tx (``status``, ``height``, ``receipt``) once its block is final; SettleTimeout after ``timeout`` s.

        A tx the node does not know yet (gossip, a restart) is waited for too."""
        h = hash.hash if isinstance(hash, Tx) else hash
        deadline = time.monotonic() + timeout
        while True:
            try:
                info = self.tx(h)
            except NotFound:
                info = None
            if info is not None and info["status"] == "committed":
                self.final(self.chain_id(), info["hash"], self.proof("receipt", hash=info["hash"]))
                return info
            if time.monotonic() >= deadline:
                raise SettleTimeout(f"transaction {m.hex_text(h)} not committed within {timeout:g}s")
            time.sleep(POLL_S)

    def wait_for_height(self, height: int, timeout: float = 30) -> t.Status:
        """The node's ``status`` once its committed height is at least ``height``; SettleTimeout after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while (st := self.status())["height"] < height:
            if time.monotonic() >= deadline:
                raise SettleTimeout(f"height {height} not reached within {timeout:g}s (at {st['height']})")
            time.sleep(POLL_S)
        return st

    def subscribe_blocks(self, *, tx_hashes: bool = False, timeout: float = 30) -> Iterator[t.Block]:
        """Every block the node commits from now on, as it commits them (the ``block`` notification).

        A generator: close it (or leave the loop) to unsubscribe.  SettleTimeout if no block comes for ``timeout`` s.
        """
        return self._drive(lambda c: c.subscribe_blocks(tx_hashes=tx_hashes), timeout)

    def subscribe_tx(self, hash: str | bytes | Tx, *, timeout: float = 30) -> Iterator[dict]:
        """The ``tx_result`` (``height``, ``index``, ``receipt``) of one tx: yielded once, when committed (at once if it is)."""
        return self._drive(lambda c: c.subscribe_tx(hash), timeout)

    def _drive(self, open_feed, timeout: float) -> Iterator:
        from .aio import AsyncClient  # aiohttp only for the WebSocket feed: a plain call never imports it

        loop = asyncio.new_event_loop()
        client = AsyncClient(self.url, self.timeout)
        feed = open_feed(client)
        try:
            while True:
                try:
                    item = loop.run_until_complete(asyncio.wait_for(anext(feed), timeout))
                except StopAsyncIteration:
                    return
                except TimeoutError:
                    raise SettleTimeout(f"no notification from {self.ws_url} within {timeout:g}s") from None
                yield item
        finally:
            loop.run_until_complete(feed.aclose())
            loop.run_until_complete(client.aclose())
            loop.close()
