"""The HTML report in a real browser: headless Chromium (Debian's ``chromium``) driven over the DevTools protocol.

The test starts Chromium itself, opens the report from disk and checks that no console error or exception
occurs, that every chart was drawn by plotly (an ``svg.main-svg`` in each chart div), that the page made no
network request (the DevTools Network domain sees every request, blocked or not), and that a screenshot is not
blank. Skipped where Chromium is not installed; ``.ci/run`` installs it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import itertools
import shutil
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pandas as pd
import pytest

from adapters.sim import SimSettings
from engine.backtest import run_backtest
from engine.datagen.synthetic import synthetic_bars
from engine.report import write_report
from strategies.sma_cross import SmaCross

CHROMIUM = next((found for name in ("chromium", "chromium-browser", "google-chrome")
                 if (found := shutil.which(name))), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium; "
                                                         ".ci/run installs it)")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
         "--window-size=1400,1000", "--remote-debugging-port=0"]
TIMEOUT = 60.0
CHARTS_STATE = """(() => {
  const divs = [...document.querySelectorAll('div.chart')];
  return {expected: Number(document.querySelector('meta[name="mlct-charts"]').content), found: divs.length,
          drawn: divs.filter(d => d.querySelector('svg.main-svg') && d.getBoundingClientRect().height > 100).length,
          traces: divs.map(d => (d.data || []).length)};
})()"""


class Page:
    """One tab of a Chromium started for the test, with the events the test inspects."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, session: str) -> None:
        self.ws, self.session = ws, session
        self.ids = itertools.count(1000)
        self.events: list[dict[str, Any]] = []

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        return await _call(self.ws, next(self.ids), method, params, self.session, self.events)

    async def wait_for(self, method: str, timeout: float = TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == method for e in self.events):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {method} within {timeout} s")
            await _receive(self.ws, self.events, timeout=max(0.1, deadline - time.monotonic()))

    async def evaluate(self, expression: str) -> Any:
        reply = await self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        return reply["result"]["value"]

    def errors(self) -> list[str]:
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                found.append(f"exception: {params['exceptionDetails'].get('text')} "
                             f"{params['exceptionDetails'].get('exception', {}).get('description', '')}")
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append("console: " + " ".join(str(a.get("value", a.get("description"))) for a in params["args"]))
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                found.append(f"log: {params['entry']['text']} {params['entry'].get('url', '')}")
        return found

    def requests(self) -> list[str]:
        """URLs the page asked for, without the data: and blob: URLs it makes itself (plotly's heatmap images)."""
        return [url for e in self.events if e.get("method") == "Network.requestWillBeSent"
                if not (url := e["params"]["request"]["url"]).startswith(("data:", "blob:"))]


async def _receive(ws: aiohttp.ClientWebSocketResponse, events: list[dict[str, Any]], timeout: float) -> dict[str, Any]:
    message = await asyncio.wait_for(ws.receive_json(), timeout)
    if "method" in message:
        events.append(message)
    return message


async def _call(ws: aiohttp.ClientWebSocketResponse, id_: int, method: str, params: dict[str, Any],
                session: str | None, events: list[dict[str, Any]]) -> dict[str, Any]:
    await ws.send_json({"id": id_, "method": method, "params": params, **({"sessionId": session} if session else {})})
    deadline = time.monotonic() + TIMEOUT
    while True:
        message = await _receive(ws, events, timeout=max(0.1, deadline - time.monotonic()))
        if message.get("id") == id_:
            if "error" in message:
                raise RuntimeError(f"{method}: {message['error']}")
            return dict(message.get("result", {}))


@contextlib.asynccontextmanager
async def chromium(tmp_path: Path) -> AsyncIterator[Page]:
    """Start Chromium, attach to a new tab with console, log and network events on; stop it afterwards."""
    profile = tmp_path / "profile"
    assert CHROMIUM is not None
    proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = profile / "DevToolsActivePort"  # written once the DevTools server listens
        deadline = time.monotonic() + TIMEOUT
        while not (port_file.exists() and len(port_file.read_text().split()) == 2):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"chromium did not start (exit code {proc.poll()})")
            await asyncio.sleep(0.05)
        port, path = port_file.read_text().split()
        async with aiohttp.ClientSession() as http, http.ws_connect(f"ws://127.0.0.1:{port}{path}",
                                                                    max_msg_size=0) as ws:
            events: list[dict[str, Any]] = []
            target = await _call(ws, 1, "Target.createTarget", {"url": "about:blank"}, None, events)
            attached = await _call(ws, 2, "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True},
                                   None, events)
            page = Page(ws, attached["sessionId"])
            for domain in ("Runtime", "Log", "Network", "Page"):
                await page.send(f"{domain}.enable")
            yield page
            with contextlib.suppress(Exception):
                await _call(ws, 3, "Browser.close", {}, None, events)
    finally:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def report(tmp_path: Path) -> Path:
    """A report with every section, the ML one included (built outside the test's event loop)."""
    frame = synthetic_bars(3_000, interval="1h", seed=21)
    result = run_backtest(SmaCross(fast=8, slow=40), frame, venue=SimSettings(), symbol="SYN/USD")
    result.extras["ml"] = {
        "thresholds": pd.DataFrame({"threshold": [0.5, 0.6, 0.7], "n_signals": [30, 12, 5],
                                    "precision": [0.5, 0.6, 0.8], "avg_return": [0.001, 0.002, 0.01]}),
        "contributions": pd.DataFrame({"entry_time": result.trades["entry_time"], "rsi_14": 0.3,
                                       "trend": np.linspace(-1, 1, len(result.trades))}),
    }
    return write_report(result, tmp_path / "report.html")


async def test_report_renders_in_chromium_without_errors_or_requests(tmp_path: Path, report: Path) -> None:
    from PIL import Image

    async with chromium(tmp_path) as page:
        await page.send("Page.navigate", url=report.as_uri())
        await page.wait_for("Page.loadEventFired")
        deadline = time.monotonic() + TIMEOUT
        while (state := await page.evaluate(CHARTS_STATE))["drawn"] < state["expected"]:
            assert time.monotonic() < deadline, f"charts not drawn: {state}; errors: {page.errors()}"
            await asyncio.sleep(0.1)
        shot = await page.send("Page.captureScreenshot", format="png")
        assert page.errors() == []
        assert page.requests() == [report.as_uri()]
    assert state["expected"] == state["found"] == state["drawn"] == 7
    assert all(n > 0 for n in state["traces"]), state
    pixels = np.asarray(Image.open(io.BytesIO(base64.b64decode(shot["data"]))).convert("RGB"), dtype="float64")
    assert pixels.shape[1] == 1400 and pixels.shape[0] > 500
    assert pixels.std() > 20, "the screenshot is blank"
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 100  # text, table and chart colours


async def test_the_browser_check_does_see_requests_and_errors(tmp_path: Path) -> None:
    """A control: the same probes catch a page that fetches something and logs an error."""
    page_file = tmp_path / "leaky.html"
    page_file.write_text("<!DOCTYPE html><html><body><img src='http://127.0.0.1:9/pixel.png'>"
                         "<script>console.error('broken chart')</script></body></html>")
    async with chromium(tmp_path) as page:
        await page.send("Page.navigate", url=page_file.as_uri())
        await page.wait_for("Page.loadEventFired")
        await asyncio.sleep(0.2)
        assert "http://127.0.0.1:9/pixel.png" in page.requests()
        assert any("broken chart" in error for error in page.errors())
