"""Screenshots of the web dashboard (docs/img/dashboard-*.png) from a real node, and the demo they show.

Owns the demo scenario a dashboard screenshot or browser test drives with the
CLI (:func:`open_leveraged_position`: a BTC-PERP market, an oracle price, a
10x long for alice against bob; :func:`crash_price`: the price drop that
liquidates it; :func:`portfolio_margin`: bob on portfolio margin), the headless Chromium it is seen through
(:func:`launch_chromium`, Debian's ``chromium`` driven by Playwright), the
four-validator ``settle devnet up`` both run against (:func:`devnet`) and the
list of screenshots (:data:`SHOTS`).  Never talks to the node except through
the CLI, the page and ``status`` (to know the devnet is up).

Run ``python -m bench.dashboard_shots [--out docs/img]``: it runs a
four-validator devnet (``settle devnet up``) in a temporary directory, plays
the demo, makes a transfer and takes every shot at 1366x768.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from cli.devnet import node_env
from ledger.keys import PrivateKey, format_address

__all__ = ["CHROMIUM", "MARKET", "SHOTS", "VIEWPORT", "Devnet", "crash_price", "devnet", "launch_chromium", "open_leveraged_position", "portfolio_margin"]

CHROMIUM = "/usr/bin/chromium"  # Debian's package (.ci/run installs it)
VIEWPORT = {"width": 1366, "height": 768}  # a laptop screen
MARKET = "BTC-PERP"
LOT_SIZE = 100_000  # BTC base units per lot: 0.001 BTC, so a price per lot x 1,000 is the price of one BTC
ENTRY_PRICE = 100_000_000  # USD base units per lot: 100 USD per 0.001 BTC (100,000 USD per BTC)
CRASH_PRICE = 92_000_000  # -8 %: alice's 10x long falls under its maintenance margin (3 %)
LOTS = 10
ALICE_MARGIN = 100_000_000  # 100 USD, a tenth of the notional (10 lots x 100 USD)
WALK = (100_800_000, 101_500_000, 100_200_000, 99_400_000)  # the screenshots' price reports between the entry and the crash
VALIDATORS = 4  # the screenshots' devnet: validators and peers to show
ROOT = Path(__file__).resolve().parent.parent

Cli = Callable[..., str]  # runs `settle ARGS...` against the node, returns its stdout


def open_leveraged_position(cli: Cli, workdir: Path, params: tuple[str, ...] = ()) -> None:
    """List :data:`MARKET` (with ``params``, NAME=INT each), price it, and give alice a 10x long of :data:`LOTS` lots that bob sells her."""
    extra = [arg for p in params for arg in ("--param", p)]
    cli("tx", "register-market", "--from", "admin", "--market", MARKET, "--quote", "USD", "--oracle", "oracle",
        "--param", "margin_cap_ppm=1000000", "--param", f"lot_size={LOT_SIZE}", *extra, "--wait")
    cli("tx", "price", "--from", "oracle", "--market", MARKET, "--price", str(ENTRY_PRICE), "--wait")
    cli("tx", "deposit", "--from", "alice", "--asset", "USD", "--amount", str(ALICE_MARGIN), "--wait")
    cli("tx", "deposit", "--from", "bob", "--asset", "USD", "--amount", str(10 * ALICE_MARGIN), "--wait")
    order = workdir / "alice-order.json"
    order.write_text(cli("order", "sign", "--from", "alice", "--market", MARKET, "--side", "buy", "--size", str(LOTS),
                         "--price", str(ENTRY_PRICE), "--expires-in", "100", "--nonce", "1"))
    cli("tx", "trade", "--from", "bob", "--order", str(order), "--wait")


def portfolio_margin(cli: Cli, who: str = "bob") -> None:
    """Give :data:`MARKET` the default scenario grid and switch ``who`` to portfolio margin (needs a fresh price)."""
    cli("pm", "params", MARKET, "--from", "admin", "--wait")
    cli("pm", "mode", "portfolio", "--from", who, "--wait")


def crash_price(cli: Cli) -> dict:
    """The oracle reports :data:`CRASH_PRICE`: the block that applies it liquidates alice.  Returns the tx's answer."""
    return json.loads(cli("tx", "price", "--from", "oracle", "--market", MARKET, "--price", str(CRASH_PRICE), "--wait", "--json"))


def launch_chromium(playwright):
    """Headless :data:`CHROMIUM` under Playwright (no browser download: Debian's build)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True)


# file name in docs/img -> (page route, color scheme, what must be on screen first)
SHOTS: dict[str, tuple[str, str, str]] = {
    "dashboard-overview.png": ("#/", "light", "body[data-view=overview] #card-height"),
    "dashboard-overview-dark.png": ("#/", "dark", "body[data-view=overview] #card-height"),
    "dashboard-markets.png": ("#/markets", "light", "body[data-view=markets] svg.chart path"),
    "dashboard-liquidations.png": ("#/liquidations", "light", "tr.feed-row[data-kind=liquidation]"),
    "dashboard-account.png": ("#/account/{alice}", "light", "body[data-view=account] #margin-ratio"),
    "dashboard-account-pm.png": ("#/account/{bob}", "light", "body[data-view=account] tr.binding"),
    "dashboard-tx.png": ("#/tx/{transfer}", "light", "#tx-status"),
}


def _free_ports(n: int) -> int:
    """A port p with p .. p+n-1 free on 127.0.0.1 (a devnet's node i listens on its base port + i)."""
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base + n >= 65536:
            continue
        try:
            for port in range(base, base + n):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError(f"no {n} consecutive free ports")


def _settle(home: Path) -> Cli:
    env = {**os.environ, "SETTLE_HOME": str(home)}

    def run(*args: str) -> str:
        proc = subprocess.run([sys.executable, "-m", "cli", *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f"settle {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
        return proc.stdout

    return run


@dataclass
class Devnet:
    """A running ``settle devnet up``: its home, each node's RPC address (node i at ``rpc_urls[i]``) and the CLI on it."""

    home: Path
    rpc_urls: list[str]
    cli: Cli
    log: Path  # everything the supervisor and its nodes printed


@contextmanager
def devnet(workdir: Path, validators: int = VALIDATORS) -> Iterator[Devnet]:
    """``settle devnet up -n validators`` with its home under ``workdir``, on free 127.0.0.1 ports.

    Yields once every node answers with all its peers (the CLI's commands go to
    node0, as ``settle`` on a devnet home does); stopped on exit with Ctrl-C,
    as a user would.
    """
    home, rpc = workdir / "devnet", _free_ports(2 * validators)
    p2p = rpc + validators
    urls = [f"http://127.0.0.1:{rpc + i}" for i in range(validators)]
    log_path = workdir / "devnet.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen([sys.executable, "-P", "-m", "cli", "devnet", "up", "-n", str(validators), "--home", str(home),
                                 "--rpc-port", str(rpc), "--p2p-port", str(p2p)],
                                stdout=log, stderr=subprocess.STDOUT, cwd=workdir, env=node_env())
    try:
        for url in urls:
            _wait_ready(url, peers=validators - 1, log=log_path)
        yield Devnet(home, urls, _settle(home), log_path)
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C: the supervisor stops every node
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def take_screenshots(out: Path, validators: int = VALIDATORS) -> list[Path]:
    """Run a devnet of ``validators`` in a temporary home, play the demo, write every shot of :data:`SHOTS` into ``out``."""
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="settle-dashboard-") as tmp, devnet(Path(tmp), validators) as net:
        cli = net.cli
        open_leveraged_position(cli, Path(tmp), params=("funding_interval_ms=5000",))  # funding rows to show
        for walk in WALK:  # a few reports for the price chart
            cli("tx", "price", "--from", "oracle", "--market", MARKET, "--price", str(walk), "--wait")
        crash_price(cli)
        portfolio_margin(cli)
        transfer = json.loads(cli("tx", "transfer", "--from", "alice", "--to", "carol", "--asset", "USD",
                                  "--amount", "12345678", "--wait", "--json"))["hash"]
        names = {name: format_address(PrivateKey.load(net.home / "keys" / f"{name}.json").address) for name in ("alice", "bob")}
        return _shoot(net.rpc_urls[0], out, {**names, "transfer": transfer}, sync_playwright)


def _wait_ready(url: str, peers: int, log: Path, timeout: float = 90) -> None:
    """Until the node at ``url`` answers ``status`` with at least ``peers`` peers (else fails showing the end of ``log``)."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "status"}).encode()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=2) as resp:
                if json.loads(resp.read())["result"]["peers"] >= peers:
                    return
        except (OSError, KeyError, ValueError):
            pass
        time.sleep(0.3)
    raise RuntimeError(f"node at {url} not ready with {peers} peers after {timeout}s:\n{log.read_text(errors='replace')[-3000:]}")


def _shoot(url: str, out: Path, names: dict, sync_playwright) -> list[Path]:
    written = []
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            for name, (route, scheme, ready) in SHOTS.items():
                page = browser.new_page(viewport=VIEWPORT, color_scheme=scheme)
                page.goto(f"{url}/dashboard/{route.format(**names)}")
                page.wait_for_selector(ready, timeout=30_000)
                page.wait_for_selector("#conn[data-state=live]", timeout=30_000)
                page.screenshot(path=str(out / name))
                page.close()
                written.append(out / name)
        finally:
            browser.close()
    return written


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "img", help="where the PNG files go (default docs/img)")
    args = ap.parse_args(argv)
    for path in take_screenshots(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
