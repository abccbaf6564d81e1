"""Headless Chromium (Debian's ``chromium``) driven over the DevTools protocol with aiohttp, for the tests of the
pages we make (the HTML report, the live monitor): the test starts Chromium itself, attaches to a new tab with the
Runtime, Log, Network and Page domains on, and inspects what the page did - console errors and exceptions
(``Page.errors``), every request it made, blocked or not (``Page.requests``), what it shows (``evaluate``) and a
screenshot. Tests that need it are marked ``needs_chromium``: skipped where Chromium is not installed (``.ci/run``
installs it).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import shutil
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

CHROMIUM = next((found for name in ("chromium", "chromium-browser", "google-chrome")
                 if (found := shutil.which(name))), None)
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y "
                                                             "chromium; .ci/run installs it)")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
         "--window-size=1400,1000", "--remote-debugging-port=0"]
TIMEOUT = 60.0


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

    async def wait_until(self, expression: str, what: str, timeout: float = TIMEOUT) -> Any:
        """Evaluate ``expression`` every 0.1 s until its value is truthy, and return that value."""
        deadline = time.monotonic() + timeout
        while not (value := await self.evaluate(expression)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"not within {timeout} s: {what}; errors: {self.errors()}")
            await asyncio.sleep(0.1)
        return value

    async def screenshot(self, *, full_page: bool = False) -> bytes:
        """The tab as a PNG: what the window shows, or the whole page however long."""
        extra: dict[str, Any] = {}
        if full_page:
            size = (await self.send("Page.getLayoutMetrics"))["cssContentSize"]
            extra = {"captureBeyondViewport": True,
                     "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}}
        shot = await self.send("Page.captureScreenshot", format="png", **extra)
        return base64.b64decode(shot["data"])

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
