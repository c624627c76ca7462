"""The web dashboard: static files served by every node under ``/dashboard/`` on the RPC port.

Owns the dashboard's assets (``index.html``, ``app.js``, ``style.css`` beside
this module: vanilla JavaScript and CSS, no build step, nothing fetched from
another host), the handlers that serve them with their security headers, and
the same-origin rule that lets the page open the node's WebSocket without
configuration.  The page reads everything through the node's own JSON-RPC
(``POST /``) and WebSocket (``GET /ws``); this module computes nothing about
the chain and never serves a file not named in :data:`ASSETS`.
"""
from __future__ import annotations

import ipaddress
from importlib import resources
from urllib.parse import urlsplit

from aiohttp import web

__all__ = ["ASSETS", "CSP", "PATH", "add_routes", "same_origin"]

PATH = "/dashboard/"
ASSETS: dict[str, tuple[str, str]] = {  # URL name -> (file, content type)
    "": ("index.html", "text/html; charset=utf-8"),
    "app.js": ("app.js", "text/javascript; charset=utf-8"),
    "style.css": ("style.css", "text/css; charset=utf-8"),
}
# Only this node's own files and connections: no inline script or style, no
# other host, no framing (clickjacking), no form posts elsewhere.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def same_origin(request: web.Request, origin: str) -> bool:
    """True if ``origin`` is this server as the browser addressed it, by an IP address or ``localhost``.

    The dashboard's page has the node's own origin, so it may open ``/ws``
    without ``rpc.ws_allowed_origins``.  A host *name* other than localhost is
    not trusted this way: another site could rebind its name to this address
    (DNS rebinding) and would then look same-origin.  Serve the dashboard
    under a DNS name by listing that origin in ``rpc.ws_allowed_origins``.
    """
    if origin != f"{request.scheme}://{request.host}":
        return False
    hostname = urlsplit(origin).hostname
    if hostname == "localhost":
        return True
    try:
        ipaddress.ip_address(hostname or "")
    except ValueError:
        return False
    return True


def _load() -> dict[str, tuple[bytes, str]]:
    here = resources.files(__name__)
    return {name: (here.joinpath(file).read_bytes(), ctype) for name, (file, ctype) in ASSETS.items()}


def add_routes(app: web.Application) -> None:
    """Serve the dashboard at :data:`PATH`; ``GET /`` and ``GET /dashboard`` redirect there (``POST /`` is untouched).

    The files are read once, here: a request never touches the file system.
    """
    files = _load()

    async def asset(request: web.Request) -> web.Response:
        found = files.get(request.match_info["name"])
        if found is None:
            raise web.HTTPNotFound(text="no such dashboard file")
        body, ctype = found
        return web.Response(body=body, headers={**HEADERS, "Content-Type": ctype})

    async def to_dashboard(request: web.Request) -> web.Response:
        raise web.HTTPFound(PATH)

    app.router.add_get("/", to_dashboard)
    app.router.add_get(PATH.rstrip("/"), to_dashboard)
    app.router.add_get(PATH + "{name:[a-z.]*}", asset)
