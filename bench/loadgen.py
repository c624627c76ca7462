"""The load generator: a process of its own that pre-signs, submits and watches finality.

Owns, in this order: signing every transfer before the clock starts
(:mod:`.presign`; signing is not what is measured), connecting a WebSocket to
every node (``subscribe {"topic": "blocks", "tx_hashes": true}``), submitting
batches with ``broadcast_tx_batch`` (mode ``sync``) round-robin over the
nodes for ``duration_s``, waiting for the backlog to commit, and handing
what it saw to :mod:`.checks`.

``rate > 0`` offers that many tx/s in total (batches leave on a fixed
schedule, not when the previous one answers); ``rate == 0`` submits as fast
as the nodes admit, keeping at most ``window`` accepted-but-uncommitted
transactions (all nodes together) so the mempool never fills.  A transaction refused
with ``mempool_full`` is submitted again later (its latency counts from its
first submission); any other refusal drops the sender's later nonces.

Finality latency of a transaction: from just before its batch is sent to the
moment the ``block`` notification of the node it was sent to lists its hash.

Never touches node processes or files: it talks to nodes only over RPC/WS,
and reports to the harness only through the queue it is given.
"""
from __future__ import annotations

import asyncio
import collections
import json
import os
import time
import traceback
from array import array
from dataclasses import asdict, dataclass

import aiohttp

from .checks import summarize, verify
from .presign import Stopped, Stream, presign

__all__ = ["LoadSpec", "LoadState", "run_loadgen"]

MAX_INFLIGHT_PER_NODE = 16  # paced mode: open requests per node before the schedule slips
POLL_S = 0.5
MEMPOOL_POLL_S = 5.0


@dataclass(frozen=True)
class LoadSpec:
    chain_id: str
    rpc_urls: list[str]
    accounts: int
    duration_s: float
    rate: float  # offered tx/s over all nodes; 0 = as fast as admitted
    txs: int  # transfers to pre-sign (the run stops early if they run out)
    batch: int  # transactions per broadcast_tx_batch
    window: int  # rate == 0: accepted-but-uncommitted, all nodes together
    concurrency: int  # rate == 0: requests in flight per node
    drain_s: float  # after the load: how long to wait for the backlog to commit
    sample: int  # accepted txs checked through the tx index (RPC ``tx``)
    signers: int  # processes that pre-sign


# --------------------------------------------------------------------------- measuring


@dataclass
class _Block:
    node: int
    height: int
    time_ms: int
    seen: float  # monotonic, in this process
    num_txs: int
    load: int  # of which load txs


class LoadState:
    """Everything the load generator knows; mutated only on its event loop."""

    def __init__(self, spec: LoadSpec, streams: list[Stream]):
        self.spec = spec
        self.streams = streams
        self.n = len(streams)
        self.sent_at: dict[str, tuple[float, int]] = {}  # hash hex -> (submit time, node) until final
        self.known: set[str] = set()  # every hash ever sent
        self.accepted: set[str] = set()
        self.accepted_at: array = array("d")  # submit time of each accepted tx
        self.final_t: array = array("d")  # commit-seen time ...
        self.final_lat: array = array("d")  # ... and latency of each final tx
        self.rejected: collections.Counter = collections.Counter()
        self.retries = 0
        self.http_errors = 0
        self.last_error = ""
        self.dead: set[int] = set()
        self.blocks: list[_Block] = []
        self.committed_by_node = [0] * self.n
        self.seen0: set[str] = set()  # load hashes in node 0's blocks
        self.duplicates0 = 0
        self.heights0: set[int] = set()
        self.ws_drops = [0] * self.n
        self.progress = asyncio.Event()
        self.t0 = 0.0
        self.t_end = 0.0
        self.exhausted = False
        self.behind = 0  # paced mode: batches that left later than scheduled
        self.mempool_series: list[tuple[float, list[int]]] = []  # (seconds into the load, size per node)

    @property
    def outstanding(self) -> int:
        return len(self.accepted) - len(self.final_lat)

    def on_block(self, node: int, params: dict, seen: float) -> None:
        hashes = params.get("tx_hashes")
        if hashes is None:
            raise RuntimeError("the node does not send tx_hashes with block notifications (node/rpc.py too old)")
        header = params["header"]
        load = 0
        known = self.known
        sent_at = self.sent_at
        for h in hashes:
            if h not in known:
                continue
            load += 1
            e = sent_at.get(h)
            if e is not None and e[1] == node:
                del sent_at[h]
                self.final_t.append(seen)
                self.final_lat.append(seen - e[0])
            if node == 0:
                if h in self.seen0:
                    self.duplicates0 += 1
                else:
                    self.seen0.add(h)
        if node == 0:
            self.heights0.add(header["height"])
        self.committed_by_node[node] += load
        self.blocks.append(_Block(node, header["height"], header["time_ms"], seen, len(hashes), load))
        self.progress.set()


async def _post(session, url: str, body: bytes) -> dict:
    async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as resp:
        data = await resp.read()
    return json.loads(data)


async def _send(session, st: LoadState, s: Stream, idxs: list[int]) -> None:
    hexes = [s.hashes[i].hex() for i in idxs]
    body = (
        '{"jsonrpc":"2.0","id":1,"method":"broadcast_tx_batch","params":{"mode":"sync","txs":["'
        + '","'.join(s.raws[i].hex() for i in idxs)
        + '"]}}'
    ).encode()
    now = time.monotonic()
    for h in hexes:
        st.known.add(h)
        if h not in st.sent_at and h not in st.accepted:
            st.sent_at[h] = (now, s.node)
    s.inflight += 1
    try:
        resp = await _post(session, s.url, body)
        if "error" in resp:
            raise RuntimeError(f"broadcast_tx_batch: {resp['error'].get('message')}")
        results = resp["result"]["results"]
        if len(results) != len(idxs):
            raise RuntimeError(f"broadcast_tx_batch answered {len(results)} results for {len(idxs)} txs")
    except (aiohttp.ClientError, OSError, asyncio.TimeoutError, RuntimeError, ValueError, KeyError) as exc:
        # Unknown fate: submit again; a repeat answers duplicate/already_committed.
        st.http_errors += 1
        st.last_error = f"{type(exc).__name__}: {exc}"
        s.retry.extend(idxs)
        await asyncio.sleep(0.05)
        return
    finally:
        s.inflight -= 1
    for i, h, r in zip(idxs, hexes, results):
        if r.get("accepted") or r.get("code") in ("duplicate", "already_committed"):
            if h not in st.accepted:
                st.accepted.add(h)
                st.accepted_at.append(st.sent_at.get(h, (now, 0))[0])
            continue
        code = r.get("code", "unknown")
        if code == "mempool_full":
            st.retries += 1
            s.retry.append(i)
            continue
        st.sent_at.pop(h, None)
        st.rejected[code] += 1
        st.dead.add(s.accts[i])  # its later nonces could never commit
    st.progress.set()


async def _watch(session, st: LoadState, node: int, url: str, subscribed: asyncio.Event) -> None:
    ws_url = url.rstrip("/") + "/ws"
    while True:
        try:
            async with session.ws_connect(ws_url, max_msg_size=0, heartbeat=None) as ws:
                await ws.send_str(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "subscribe", "params": {"topic": "blocks", "tx_hashes": True}}))
                async for msg in ws:
                    seen = time.monotonic()
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        continue
                    obj = json.loads(msg.data)
                    if obj.get("method") == "block":
                        st.on_block(node, obj["params"], seen)
                    elif obj.get("id") == 1:
                        if "error" in obj:
                            raise RuntimeError(f"node{node} refused the blocks subscription: {obj['error']}")
                        subscribed.set()
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            st.last_error = f"node{node} WebSocket: {type(exc).__name__}: {exc}"
        st.ws_drops[node] += 1
        await asyncio.sleep(0.2)


async def _paced(session, st: LoadState, tg: asyncio.TaskGroup, t_end: float) -> None:
    spec = st.spec
    interval = spec.batch / spec.rate
    k = 0
    while True:
        due = st.t0 + k * interval
        now = time.monotonic()
        if due >= t_end:
            return
        if due > now:
            await asyncio.sleep(due - now)
        elif now - due > interval:
            st.behind += 1
        s = st.streams[k % st.n]
        while s.inflight >= MAX_INFLIGHT_PER_NODE and time.monotonic() < t_end:
            await asyncio.sleep(0.001)
        idxs = s.take(spec.batch, st.dead)
        if not idxs:
            if all(x.exhausted() for x in st.streams):
                st.exhausted = True
                return
        else:
            tg.create_task(_send(session, st, s, idxs))
        k += 1


async def _flood(session, st: LoadState, s: Stream, t_end: float) -> None:
    spec = st.spec
    while time.monotonic() < t_end:
        if st.outstanding >= spec.window:
            st.progress.clear()
            try:
                await asyncio.wait_for(st.progress.wait(), 0.05)
            except asyncio.TimeoutError:
                pass
            continue
        idxs = s.take(spec.batch, st.dead)
        if not idxs:
            if s.exhausted():
                st.exhausted = True
                return
            await asyncio.sleep(0.01)
            continue
        await _send(session, st, s, idxs)


async def _reporter(st: LoadState, report) -> None:
    while True:
        await asyncio.sleep(POLL_S)
        now = time.monotonic()
        report(("tick", now - st.t0, len(st.known), len(st.accepted), st.committed_by_node[0], st.outstanding, now))


async def _mempool_sampler(session, st: LoadState) -> None:
    """Every node's mempool size every MEMPOOL_POLL_S (growth under steady load is a leak)."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "mempool", "params": {}}).encode()
    while True:
        await asyncio.sleep(MEMPOOL_POLL_S)
        try:
            sizes = [(await _post(session, s.url, body))["result"]["size"] for s in st.streams]
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError, ValueError, KeyError):
            continue
        st.mempool_series.append((round(time.monotonic() - st.t0, 2), sizes))


async def _mempools_empty(session, st: LoadState) -> bool:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "mempool", "params": {}}).encode()
    try:
        sizes = [(await _post(session, s.url, body))["result"]["size"] for s in st.streams]
    except (aiohttp.ClientError, OSError, asyncio.TimeoutError, ValueError, KeyError):
        return False
    return all(x == 0 for x in sizes)


async def _run(spec: LoadSpec, streams: list[Stream], report, stop) -> LoadState:
    st = LoadState(spec, streams)
    timeout = aiohttp.ClientTimeout(total=120)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        async with asyncio.TaskGroup() as tg:
            subscribed = [asyncio.Event() for _ in streams]
            watchers = [tg.create_task(_watch(session, st, j, s.url, subscribed[j])) for j, s in enumerate(streams)]
            await asyncio.wait_for(asyncio.gather(*(e.wait() for e in subscribed)), 30)
            st.t0 = time.monotonic()
            t_end = st.t0 + spec.duration_s
            report(("load", st.t0, spec.duration_s))
            reporter = tg.create_task(_reporter(st, report))
            sampler = tg.create_task(_mempool_sampler(session, st))
            stopper = tg.create_task(_stop_when(stop, st))
            if spec.rate > 0:
                await _paced(session, st, tg, t_end)
            else:
                await asyncio.gather(*(_flood(session, st, s, t_end) for s in streams for _ in range(spec.concurrency)))
            while any(s.inflight for s in streams) or any(s.retry for s in streams):
                # Resubmit what a full mempool refused; nothing new is taken.
                for s in streams:
                    if s.retry and s.inflight == 0:
                        tg.create_task(_send(session, st, s, [s.retry.popleft() for _ in range(min(len(s.retry), spec.batch))]))
                if time.monotonic() > t_end + spec.drain_s:
                    break
                await asyncio.sleep(0.01)
            st.t_end = time.monotonic()
            sampler.cancel()
            report(("drain", st.t_end))
            deadline = st.t_end + spec.drain_s
            empty_polls = 0
            while time.monotonic() < deadline:
                if not st.sent_at and all(c >= len(st.accepted) for c in st.committed_by_node):
                    break
                if await _mempools_empty(session, st):
                    empty_polls += 1
                    if empty_polls >= 3:  # every node emptied its mempool: nothing more will commit
                        break
                else:
                    empty_polls = 0
                await asyncio.sleep(0.2)
            await asyncio.sleep(0.3)  # the last notifications in flight
            for t in (*watchers, reporter, stopper):
                t.cancel()
    return st


async def _stop_when(stop, st: LoadState) -> None:
    parent = os.getppid()
    while not stop.is_set() and os.getppid() == parent:
        await asyncio.sleep(0.2)
    raise Stopped()


# --------------------------------------------------------------------------- process entry


def run_loadgen(spec_dict: dict, queue, go, stop) -> None:
    """Process target: presign, wait for ``go``, load, verify; results go to ``queue``.

    Messages: ("presign", done, total), ("ready",), ("load", t0, duration),
    ("tick", elapsed, sent, accepted, committed, outstanding, now), ("drain", t),
    ("verify",), then ("done", result) or ("error", text).
    """
    spec = LoadSpec(**spec_dict)

    def report(msg) -> None:
        queue.put(msg)

    try:
        streams = presign(spec.chain_id, spec.rpc_urls, spec.accounts, spec.txs, spec.signers, report, stop)
        report(("ready",))
        parent = os.getppid()
        while not go.wait(0.2) and not stop.is_set() and os.getppid() == parent:
            pass
        if not go.is_set():
            report(("error", "stopped"))
            return
        try:
            import uvloop

            runner = uvloop.run
        except ImportError:  # pragma: no cover
            runner = asyncio.run
        st = runner(_run(spec, streams, report, stop))
        report(("verify",))
        result = summarize(spec, st)
        result.update(verify(spec, st))
        result["spec"] = {k: v for k, v in asdict(spec).items() if k != "rpc_urls"}
        report(("done", result))
    except BaseException as exc:  # noqa: BLE001 - everything goes back to the harness
        if stop.is_set():
            report(("error", "stopped"))
        else:
            report(("error", "".join(traceback.format_exception(exc)).strip()))
    finally:
        queue.close()
        queue.join_thread()
