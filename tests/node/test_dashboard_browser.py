"""The web dashboard in a real browser (Chromium under Playwright) against a real node driven by the CLI.

The node serves the page (``/dashboard/``) on its RPC port; the page reads the
node over JSON-RPC and its WebSocket.  Checked on screen: the height
advances, a transfer made with the CLI shows in the account view, a price
drop on a 10x long shows its liquidation in the feed, and a portfolio-margin
account shows its scenario table.  Every request the page
makes goes to the node, and no error (a CSP refusal included) reaches the
console.  Without a browser: the security headers, the WebSocket's origin rule
and ``rpc.dashboard = false``.
"""
from __future__ import annotations

import http.client
import json
import shutil
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import pytest

from bench.dashboard_shots import CHROMIUM, VIEWPORT, crash_price, launch_chromium, open_leveraged_position, portfolio_margin
from ledger.keys import PrivateKey, format_address
from node.config import load_config, save_config
from tests.nodeproc import NodeProcess, run_cli

needs_chromium = pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)")

WAIT_MS = 30_000


def _addr(home, name) -> str:
    return format_address(PrivateKey.load(home / "keys" / f"{name}.json").address)


def _fits(page) -> None:
    """The open view needs no horizontal scrolling on a laptop screen (:data:`VIEWPORT`)."""
    assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORT["width"], page.evaluate("location.hash")


def _height_on_screen(page) -> int:
    return int(page.inner_text("#height").replace(",", ""))


def _ws_status(url: str, host: str, origin: str) -> int:
    """The status a WebSocket handshake to ``url``/ws gets with these Host and Origin headers (101: opened)."""
    conn = http.client.HTTPConnection(urlsplit(url).netloc, timeout=10)
    try:
        conn.request("GET", "/ws", headers={"Host": host, "Origin": origin, "Connection": "Upgrade", "Upgrade": "websocket",
                                            "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
        return conn.getresponse().status
    finally:
        conn.close()


def test_dashboard_headers_and_same_origin_websocket(node):
    with urllib.request.urlopen(node.rpc_url + "/dashboard/") as resp:
        csp = resp.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
    with urllib.request.urlopen(node.rpc_url + "/") as resp:  # GET / redirects; POST / stays JSON-RPC
        assert resp.url.endswith("/dashboard/")
    hostport = urlsplit(node.rpc_url).netloc
    port = urlsplit(node.rpc_url).port
    assert _ws_status(node.rpc_url, hostport, node.rpc_url) == 101  # the dashboard's own origin
    assert _ws_status(node.rpc_url, f"localhost:{port}", f"http://localhost:{port}") == 101
    assert _ws_status(node.rpc_url, hostport, "http://evil.example") == 403  # another site
    assert _ws_status(node.rpc_url, hostport, f"http://localhost:{port}") == 403  # another origin than the page's
    # DNS rebinding: a site whose name now points here looks same-origin, but a name is not trusted
    assert _ws_status(node.rpc_url, f"rebind.example:{port}", f"http://rebind.example:{port}") == 403


def test_dashboard_switched_off(node_home):
    home, url = node_home
    cfg = load_config(home)
    cfg.rpc.dashboard = False
    save_config(cfg)
    proc = NodeProcess(home, url).start()
    try:
        with pytest.raises(urllib.error.HTTPError) as got:
            urllib.request.urlopen(url + "/dashboard/")
        assert got.value.code == 404
        assert _ws_status(url, urlsplit(url).netloc, url) == 403  # no page, so no same-origin exception
        assert proc.client.call("status")["height"] >= 0  # JSON-RPC as ever
    finally:
        proc.stop()


@needs_chromium
def test_live_height_transfer_and_liquidation_on_screen(node, tmp_path):
    from playwright.sync_api import sync_playwright

    home = node.home

    def cli(*args: str) -> str:
        return run_cli(*args, home=home, check=True).stdout

    open_leveraged_position(cli, tmp_path)
    carol = _addr(home, "carol")
    requests, problems = [], []
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.on("request", lambda r: requests.append(r.url))
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(node.rpc_url + "/dashboard/")
            page.wait_for_selector("#conn[data-state=live]", timeout=WAIT_MS)

            # (1) the height on screen advances with the chain
            first = _height_on_screen(page)
            page.wait_for_function(f"() => Number(document.getElementById('height').textContent.replace(/,/g, '')) > {first}",
                                   timeout=WAIT_MS)
            page.wait_for_selector(f"body[data-view=overview] tbody a[href='#/block/{first + 1}']", timeout=WAIT_MS)
            _fits(page)
            light = page.evaluate("getComputedStyle(document.body).backgroundColor")
            page.click("#theme")  # dark, and back
            assert page.evaluate("getComputedStyle(document.body).backgroundColor") != light
            page.click("#theme")
            assert page.evaluate("getComputedStyle(document.body).backgroundColor") == light

            # (2) a transfer made with the CLI appears in the open account view: balance and the tx
            page.fill("#search-input", "carol")
            page.press("#search-input", "Enter")
            page.wait_for_selector("tr[data-asset=USD] td.balance", timeout=WAIT_MS)
            before = page.inner_text("tr[data-asset=USD] td.balance")
            sent = json.loads(cli("tx", "transfer", "--from", "alice", "--to", "carol", "--asset", "USD", "--amount", "12345678",
                                  "--wait", "--json"))
            assert sent["receipt"]["ok"]
            page.wait_for_selector(f"tr[data-tx='{sent['hash']}']", timeout=WAIT_MS)
            after = page.inner_text("tr[data-asset=USD] td.balance")
            assert (before, after) == ("1,000,000.000000", "1,000,012.345678")  # 6 decimals: USD's
            assert "12.345678 USD" in page.inner_text(f"tr[data-tx='{sent['hash']}']")
            assert page.evaluate("location.hash") == f"#/account/{carol}"
            _fits(page)

            # search by tx hash (the tx view: receipt and events) and by height (the block view)
            page.fill("#search-input", sent["hash"])
            page.press("#search-input", "Enter")
            assert page.wait_for_selector("#tx-status", timeout=WAIT_MS).inner_text() == "ok"
            assert "12.345678 USD" in page.inner_text("main")  # the receipt's transfer event, with USD's decimals
            page.fill("#search-input", str(sent["height"]))
            page.press("#search-input", "Enter")
            page.wait_for_selector(f"body[data-view=block] a[href='#/tx/{sent['hash']}']", timeout=WAIT_MS)

            # (3) a price drop on alice's 10x long: the liquidation shows in the feed, live
            page.click("nav a[data-view=liquidations]")
            page.wait_for_selector("body[data-view=liquidations]", timeout=WAIT_MS)
            assert page.query_selector("tr.feed-row[data-kind=liquidation]") is None
            crash = crash_price(cli)
            row = page.wait_for_selector("tr.feed-row[data-kind=liquidation]", timeout=WAIT_MS)
            text = row.inner_text()
            assert "alice" in text and "BTC-PERP" in text and "0.092000" in text
            assert row.query_selector(f"a[href='#/block/{crash['height']}']") is not None
            _fits(page)
            page.click("nav a[data-view=markets]")
            page.wait_for_selector("body[data-view=markets] svg.chart path", timeout=WAIT_MS)
            _fits(page)

            # (4) bob on portfolio margin: his account view shows the scenario table and its binding scenario
            portfolio_margin(cli)
            page.fill("#search-input", "bob")
            page.press("#search-input", "Enter")
            binding = page.wait_for_selector("tr.binding", timeout=WAIT_MS).inner_text()
            assert page.inner_text("#margin-mode") == "portfolio"
            assert binding.startswith("+extreme") and "-0.14" in binding  # bob is short: the extreme rise binds
            assert len(page.query_selector_all("tr.scenario")) >= 6
            _fits(page)
        finally:
            browser.close()
    assert problems == []
    assert requests and all(u.startswith(node.rpc_url + "/") for u in requests), requests  # nothing from another host
