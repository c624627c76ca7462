"""The asynchronous client: ``sdk.AsyncClient(url)`` on aiohttp, the same methods as :class:`sdk.Client`, awaited.

Owns one ``aiohttp.ClientSession`` per client (opened on first use, closed by
``aclose`` or ``async with``), the WebSocket feeds (``subscribe`` to
``blocks`` or to one tx hash on ``GET /ws``) as async iterators, and the
async forms of submit-and-wait and the waits (a tx is waited for on its
WebSocket subscription, not by polling).  Maps aiohttp's failures into
:mod:`sdk.errors` at this one boundary.  Holds no key.
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any, Literal, TypeVar

import aiohttp

from ledger.codec import Record
from ledger.keys import PrivateKey
from ledger.tx import Tx
from ledger.validators import ValidatorSet

from . import methods as m
from . import types as t
from .core import DEFAULT_TIMEOUT_S, POLL_S, ClientCore, notification, sign, subscribe_message
from .errors import SettleTimeout, TransportError

__all__ = ["AsyncClient"]

T = TypeVar("T")


class AsyncClient(ClientCore):
    """A node's JSON-RPC API and WebSocket feeds, for asyncio.  Use ``async with`` or call :meth:`aclose`."""

    def __init__(self, url: str, timeout: float = DEFAULT_TIMEOUT_S, *, trust: ValidatorSet | None = None):
        super().__init__(url, timeout, trust=trust)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    # ------------------------------------------------------------------ transport

    async def call(self, method: str, params: Any = None, *, timeout: float | None = None) -> Any:
        """The raw ``result`` of ``method`` (untyped): for a method this SDK does not know yet."""
        wait = timeout or self.timeout
        try:
            async with self._http().post(self.url, data=self.envelope(method, params),
                                         headers={"Content-Type": "application/json"},
                                         timeout=aiohttp.ClientTimeout(total=wait)) as resp:
                if resp.status != 200:
                    raise TransportError(f"node at {self.url} answered HTTP {resp.status}")
                body = await resp.read()
        except TimeoutError:
            raise SettleTimeout(f"node at {self.url} did not answer {method} within {wait:g}s") from None
        except aiohttp.ClientError as exc:
            raise TransportError(f"cannot reach node at {self.url}: {exc}") from None
        return self.result(body)

    async def request(self, req: m.Request[T], *, timeout: float | None = None) -> T:
        """The typed result of a :class:`sdk.methods.Request`."""
        return await self.call(req.method, req.params, timeout=self.timeout_of(req, timeout))

    # ------------------------------------------------------------------ the node's methods (sdk.methods)

    async def account(self, address: str | bytes) -> t.Account: return await self.request(m.account(address))
    async def account_margin(self, address: str | bytes) -> t.AccountMargin: return await self.request(m.account_margin(address))
    async def assets(self) -> list[t.Asset]: return await self.request(m.assets())
    async def block(self, height: int | None = None, receipts: bool = False) -> t.Block: return await self.request(m.block(height, receipts))
    async def bridge(self) -> t.BridgeInfo: return await self.request(m.bridge())
    async def broadcast_tx(self, tx: Tx | bytes | str, mode: m.Mode = "sync", timeout: int | None = None) -> t.BroadcastResult:
        return await self.request(m.broadcast_tx(tx, mode, timeout))
    async def broadcast_tx_batch(self, txs: list[Tx | bytes | str], mode: m.Mode = "sync", timeout: int | None = None) -> t.BatchResult:
        return await self.request(m.broadcast_tx_batch(txs, mode, timeout))
    async def collateral_params(self) -> t.CollateralParams: return await self.request(m.collateral_params())
    async def commit(self, height: int | None = None) -> t.Commit: return await self.request(m.commit(height))
    async def events(self, height: int | None = None, kinds: list[str] | None = None) -> t.BlockEvents: return await self.request(m.events(height, kinds))
    async def evidence(self) -> list[t.Evidence]: return await self.request(m.evidence())
    async def genesis(self) -> dict[str, Any]: return await self.request(m.genesis())
    async def htlc(self, id: str | bytes) -> t.Htlc: return await self.request(m.htlc(id))
    async def insurance_fund(self) -> t.InsuranceFund: return await self.request(m.insurance_fund())
    async def market(self, market: str) -> t.Market: return await self.request(m.market(market))
    async def markets(self) -> list[t.Market]: return await self.request(m.markets())
    async def mempool(self) -> t.Mempool: return await self.request(m.mempool())
    async def option_positions(self, address: str | bytes) -> t.OptionPositions: return await self.request(m.option_positions(address))
    async def option_series(self, series: str) -> t.OptionSeries: return await self.request(m.option_series(series))
    async def option_series_list(self, underlying: str | None = None) -> list[t.OptionSeries]: return await self.request(m.option_series_list(underlying))
    async def oracle(self, market: str) -> t.Oracle: return await self.request(m.oracle(market))
    async def order(self, maker: str | bytes, nonce: int) -> t.OrderFill: return await self.request(m.order(maker, nonce))
    async def peers(self) -> list[t.Peer]: return await self.request(m.peers())
    async def pm_scenarios(self, address: str | bytes) -> t.PmScenarios: return await self.request(m.pm_scenarios(address))
    async def pm_whatif(self, address: str | bytes, side: Literal["buy", "sell"], size: int, price: int, *,
                        market: str | None = None, series: str | None = None) -> t.PmWhatIf:
        return await self.request(m.pm_whatif(address, side, size, price, market=market, series=series))
    async def proof(self, kind: Literal["header", "receipt", "state", "tx"], *, hash: str | bytes | None = None,
                    key: str | bytes | dict | None = None, height: int | None = None) -> t.Proof:
        return await self.request(m.proof(kind, hash=hash, key=key, height=height))
    async def rpc_discover(self) -> t.OpenRpcDocument: return await self.request(m.rpc_discover())
    async def status(self) -> t.Status: return await self.request(m.status())
    async def tx(self, hash: str | bytes) -> t.TxInfo: return await self.request(m.tx(hash))
    async def validators(self) -> list[t.Validator]: return await self.request(m.validators())
    async def vol_surface(self, underlying: str) -> t.VolSurface: return await self.request(m.vol_surface(underlying))

    # ------------------------------------------------------------------ transactions

    async def chain_id(self) -> str:
        """The node's chain id (asked once, from ``status``)."""
        if self._chain_id is None:
            self._chain_id = (await self.status())["chain_id"]
        return self._chain_id

    async def sign(self, key: PrivateKey, body: Record, *, nonce: int | None = None, check: bool = True) -> Tx:
        """As :meth:`sdk.Client.sign`."""
        if nonce is None:
            nonce = (await self.account(key.address))["next_nonce"]
        return sign(key, await self.chain_id(), nonce, body, check)

    async def submit(self, tx: Tx, *, wait: bool = True, timeout: int = 30) -> t.BroadcastResult:
        """As :meth:`sdk.Client.submit`: with ``wait``, the result once the tx's block is final."""
        if not wait:
            return await self.broadcast_tx(tx, "sync")
        res = await self.broadcast_tx(tx, "commit", timeout)
        self.final(tx.chain_id, res["hash"], await self.proof("receipt", hash=res["hash"]))
        return res

    async def transact(self, key: PrivateKey, body: Record, *, wait: bool = True, nonce: int | None = None,
                       timeout: int = 30) -> t.BroadcastResult:
        """:meth:`sign` then :meth:`submit`."""
        return await self.submit(await self.sign(key, body, nonce=nonce), wait=wait, timeout=timeout)

    # ------------------------------------------------------------------ waits and feeds

    async def wait_for_tx(self, hash: str | bytes | Tx, timeout: float = 30) -> t.TxInfo:
        """The committed tx once its block is final, waited for on its WebSocket subscription; SettleTimeout after ``timeout`` s."""
        h = m.hex_text(hash.hash if isinstance(hash, Tx) else hash)
        try:
            async with asyncio.timeout(timeout):
                async with aclosing(self.subscribe_tx(h)) as feed:
                    async for result in feed:
                        self.final(await self.chain_id(), h, await self.proof("receipt", hash=h))
                        return await self.tx(h)
        except TimeoutError:
            pass
        raise SettleTimeout(f"transaction {h} not committed within {timeout:g}s")

    async def wait_for_height(self, height: int, timeout: float = 30) -> t.Status:
        """The node's ``status`` once its committed height is at least ``height``; SettleTimeout after ``timeout`` s."""
        try:
            async with asyncio.timeout(timeout):
                while (st := await self.status())["height"] < height:
                    await asyncio.sleep(POLL_S)
                return st
        except TimeoutError:
            raise SettleTimeout(f"height {height} not reached within {timeout:g}s") from None

    async def subscribe_blocks(self, *, tx_hashes: bool = False) -> AsyncIterator[t.Block]:
        """``async for block in client.subscribe_blocks()``: every block committed from now on (header, num_txs)."""
        async with aclosing(self._feed(subscribe_message("blocks", tx_hashes=tx_hashes), "block")) as feed:
            async for params in feed:
                yield params

    async def subscribe_tx(self, hash: str | bytes | Tx) -> AsyncIterator[dict]:
        """The ``tx_result`` (``height``, ``index``, ``receipt``) of one tx, yielded once when committed (at once if it is)."""
        h = m.hex_text(hash.hash if isinstance(hash, Tx) else hash)
        async with aclosing(self._feed(subscribe_message("tx", hash=h), "tx_result")) as feed:
            async for params in feed:
                yield params
                return

    async def _feed(self, subscribe: str, method: str) -> AsyncIterator[dict]:
        try:
            async with self._http().ws_connect(self.ws_url, heartbeat=30) as ws:
                await ws.send_str(subscribe)
                async for msg in ws:
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        break
                    params = notification(msg.data, method)
                    if params is not None:
                        yield params
        except aiohttp.ClientError as exc:
            raise TransportError(f"cannot follow {self.ws_url}: {exc}") from None
        raise TransportError(f"{self.ws_url} closed the feed")
