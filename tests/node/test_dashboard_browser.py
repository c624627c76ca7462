"""The web dashboard in a real browser (Chromium under Playwright) against a real 4-validator devnet driven by the CLI.

Every node serves the page (``/dashboard/``) on its RPC port; the page reads
that node over JSON-RPC and its WebSocket.  One ``settle devnet up`` (module
fixture, :func:`bench.dashboard_shots.devnet`) serves every browser test.
Checked on screen: the overview lists the 4 validators and node0's 3 peers,
and each block its commit power; node1's page shows the same blocks and the
same block id as node0's; the height advances, a transfer made with the CLI
shows in the account view, a price drop on a 10x long shows its liquidation
in the feed, and a portfolio-margin account shows its scenario table.  Every
request a page makes goes to its node, and no error (a CSP refusal included)
reaches the console.  Without a browser, on one node: the security headers,
the WebSocket's origin rule and ``rpc.dashboard = false``.
"""
from __future__ import annotations

import http.client
import json
import re
import shutil
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import pytest

from bench.dashboard_shots import CHROMIUM, VALIDATORS, VIEWPORT, crash_price, devnet, launch_chromium, open_leveraged_position, portfolio_margin
from ledger.keys import PrivateKey, format_address
from node.config import load_config, save_config
from tests.nodeproc import NodeProcess

needs_chromium = pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)")

WAIT_MS = 30_000


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    """One running ``settle devnet up`` of :data:`VALIDATORS` nodes for the browser tests of this module."""
    with devnet(tmp_path_factory.mktemp("dashboard"), VALIDATORS) as running:
        yield running


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = launch_chromium(p)
        try:
            yield chromium
        finally:
            chromium.close()


class Watched:
    """A page of ``browser`` at ``url``/dashboard/ that records every request it makes and every error it shows."""

    def __init__(self, browser, url: str):
        self.url, self.requests, self.problems = url, [], []
        self.page = page = browser.new_page(viewport=VIEWPORT)
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("console", lambda m: self.problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.problems.append(str(e)))
        page.goto(url + "/dashboard/")
        page.wait_for_selector("#conn[data-state=live]", timeout=WAIT_MS)

    def close(self) -> None:
        """Closes the page; no error on its console, and nothing asked of another host than its node."""
        self.page.close()
        assert self.problems == []
        assert self.requests and all(u.startswith(self.url + "/") for u in self.requests), self.requests


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


def _card(page, label: str) -> str:
    return page.inner_text(f".card:has(> .label:text-is('{label}')) > .value")


def _rows(page, panel: str) -> list[list[str]]:
    """The cells' text of each row of the overview's ``panel`` table."""
    return page.eval_on_selector_all(f"section.panel:has(> h2:text-is('{panel}')) tbody tr",
                                     "rows => rows.map(r => [...r.cells].map(c => c.innerText.trim()))")


def _block_id(page, height: int) -> str:
    page.goto(page.url.split("#")[0] + f"#/block/{height}")
    return page.wait_for_selector("body[data-view=block] dt:text-is('Id') + dd", timeout=WAIT_MS).inner_text()


def _same_blocks(a, b) -> tuple[list, list]:
    """The latest-blocks rows of pages ``a`` and ``b`` once both list the same heights (blocks keep coming: read both again until then)."""
    deadline = time.monotonic() + WAIT_MS / 1000
    while True:
        ra, rb = _rows(a, "Latest blocks"), _rows(b, "Latest blocks")
        if [r[0] for r in ra] == [r[0] for r in rb] or time.monotonic() > deadline:
            return ra, rb
        time.sleep(0.1)


@needs_chromium
def test_live_height_transfer_and_liquidation_on_screen(net, browser, tmp_path):
    cli = net.cli
    open_leveraged_position(cli, tmp_path)
    carol = _addr(net.home, "carol")
    watched = Watched(browser, net.rpc_urls[0])
    page = watched.page

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
    assert "alice" in text and "BTC-PERP" in text and "92.000000" in text
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
    assert binding.startswith("+extreme") and "-144.900000" in binding  # bob is short: the extreme rise binds
    assert len(page.query_selector_all("tr.scenario")) >= 6
    _fits(page)
    watched.close()


@needs_chromium
def test_overview_lists_validators_peers_and_commit_power_on_every_node(net, browser):
    node0 = Watched(browser, net.rpc_urls[0])
    page = node0.page
    page.wait_for_selector(f"section.panel:has(> h2:text-is('Peers')) tbody tr:nth-child({VALIDATORS - 1})", timeout=WAIT_MS)
    assert (_card(page, "Validators"), _card(page, "Peers")) == (str(VALIDATORS), str(VALIDATORS - 1))
    validators = _rows(page, "Validators")
    assert sorted(r[0] for r in validators) == [f"node{i}" for i in range(VALIDATORS)]  # named from genesis
    total = sum(int(r[2].replace(",", "")) for r in validators)
    peers = _rows(page, "Peers")
    assert len(peers) == VALIDATORS - 1 and len({r[0] for r in peers}) == VALIDATORS - 1, peers
    _fits(page)

    # every block row shows the signing power of its commit certificate: more than 2/3 of the total
    page.wait_for_selector("body[data-view=overview] tbody a[href='#/block/3']", timeout=WAIT_MS)  # at once after the test above
    blocks = _rows(page, "Latest blocks")
    assert len(blocks) >= 3
    for row in blocks:
        m = re.fullmatch(r"([\d,]+)/([\d,]+) \((\d+)%\)", row[-1])
        assert m, row
        signed, of = int(m.group(1).replace(",", "")), int(m.group(2).replace(",", ""))
        assert of == total and 3 * signed > 2 * total and int(m.group(3)) == round(100 * signed / of), row

    # node1 serves the dashboard too, and its page shows the same chain: the same blocks, the same block id
    node1 = Watched(browser, net.rpc_urls[1])
    rows0, rows1 = _same_blocks(page, node1.page)
    assert [r[0] for r in rows0] == [r[0] for r in rows1]
    assert [r[:4] for r in rows0] == [r[:4] for r in rows1]  # height, time, txs, proposer (each node has its own certificate)
    assert (_card(node1.page, "Validators"), _card(node1.page, "Peers")) == (str(VALIDATORS), str(VALIDATORS - 1))
    height = int(rows0[len(rows0) // 2][0].replace(",", ""))
    block_id = _block_id(page, height)
    assert re.fullmatch(r"[0-9a-f]{64}", block_id) and _block_id(node1.page, height) == block_id
    node0.close()
    node1.close()
