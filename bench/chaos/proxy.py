"""Userspace TCP proxies between nodes: the switch a partition flips (no iptables needed).

Owns one listening socket per ordered pair of nodes ``(i, j)`` on 127.0.0.1:
node ``i``'s config lists peer ``j`` at that proxy's port, and the proxy
forwards bytes to ``j``'s real p2p port.  Every connection between ``i`` and
``j`` goes through ``proxy(i->j)`` (``i`` dialled) or ``proxy(j->i)`` (``j``
dialled), so cutting the unordered link ``{i, j}`` cuts both: open
connections are aborted (RST) and new ones are closed as soon as they are
accepted, until :meth:`LinkProxies.heal`.

The proxies are opaque byte pipes: Noise still authenticates the peers end to
end.  They run on their own asyncio loop in a daemon thread; every public
method is thread-safe and returns once the change is in effect.
"""
from __future__ import annotations

import asyncio
import itertools
import threading

__all__ = ["LinkProxies"]

CHUNK = 64 * 1024


class LinkProxies:
    """Proxies for every ordered pair of ``len(targets)`` nodes; ``targets[j]`` is node j's real p2p port."""

    def __init__(self, targets: list[int], host: str = "127.0.0.1"):
        self.targets = list(targets)
        self.host = host
        self.n = len(targets)
        self.ports: dict[tuple[int, int], int] = {}
        self._cut: set[frozenset[int]] = set()
        self._conns: dict[frozenset[int], set[asyncio.StreamWriter]] = {}
        self._servers: list[asyncio.AbstractServer] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="chaos-proxies", daemon=True)
        self._thread.start()
        self._call(self._listen_all())

    # ------------------------------------------------------------------ public (any thread)

    def port(self, src: int, dst: int) -> int:
        """The port node ``src`` dials to reach node ``dst``."""
        return self.ports[(src, dst)]

    def partition(self, groups: list[list[int]]) -> list[tuple[int, int]]:
        """Cut every link between nodes of different groups (nodes in no group keep all their links); returns the cut pairs."""
        where = {i: g for g, members in enumerate(groups) for i in members}
        pairs = [(a, b) for a, b in itertools.combinations(range(self.n), 2) if a in where and b in where and where[a] != where[b]]
        self.cut(pairs)
        return pairs

    def cut(self, pairs: list[tuple[int, int]]) -> None:
        self._call(self._cut_links([frozenset(p) for p in pairs]))

    def heal(self) -> None:
        self._call(self._heal())

    def cut_links(self) -> list[tuple[int, int]]:
        return sorted(tuple(sorted(p)) for p in self._cut)

    def close(self) -> None:
        if self._loop.is_closed():
            return
        self._call(self._close_all())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    # ------------------------------------------------------------------ the loop's side

    def _call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    async def _listen_all(self) -> None:
        for src, dst in itertools.permutations(range(self.n), 2):
            server = await asyncio.start_server(lambda r, w, s=src, d=dst: self._serve(s, d, r, w), self.host, 0)
            self._servers.append(server)
            self.ports[(src, dst)] = server.sockets[0].getsockname()[1]

    async def _serve(self, src: int, dst: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        link = frozenset((src, dst))
        if link in self._cut:
            _abort(writer)
            return
        try:
            up_r, up_w = await asyncio.open_connection(self.host, self.targets[dst])
        except OSError:
            _abort(writer)
            return
        if link in self._cut:  # cut while we were connecting
            _abort(writer)
            _abort(up_w)
            return
        conns = self._conns.setdefault(link, set())
        conns.update((writer, up_w))
        try:
            await asyncio.gather(_pipe(reader, up_w), _pipe(up_r, writer))
        finally:
            conns.discard(writer)
            conns.discard(up_w)
            _abort(writer)
            _abort(up_w)

    async def _cut_links(self, links: list[frozenset[int]]) -> None:
        for link in links:
            self._cut.add(link)
            for w in list(self._conns.pop(link, ())):
                _abort(w)

    async def _heal(self) -> None:
        self._cut.clear()

    async def _close_all(self) -> None:
        for s in self._servers:
            s.close()
        for conns in self._conns.values():
            for w in list(conns):
                _abort(w)
        self._conns.clear()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            data = await reader.read(CHUNK)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (OSError, asyncio.IncompleteReadError):
        pass
    finally:
        _abort(writer)


def _abort(writer: asyncio.StreamWriter) -> None:
    transport = writer.transport
    if transport is not None and not transport.is_closing():
        transport.abort()
