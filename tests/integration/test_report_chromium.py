"""The HTML report in a real browser: headless Chromium (Debian's ``chromium``) driven over the DevTools protocol.

The test starts Chromium itself, opens the report from disk and checks that no console error or exception
occurs, that every chart was drawn by plotly (an ``svg.main-svg`` in each chart div), that the page made no
network request (the DevTools Network domain sees every request, blocked or not), and that a screenshot is not
blank. Skipped where Chromium is not installed; ``.ci/run`` installs it. The browser's driver is
``tests/integration/chromium_kit.py``, shared with the live monitor's test.
"""

from __future__ import annotations

import asyncio
import base64
import io
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from adapters.sim import SimSettings
from engine.backtest import run_backtest
from engine.datagen.synthetic import synthetic_bars
from engine.report import write_report
from strategies.sma_cross import SmaCross
from tests.integration.chromium_kit import TIMEOUT, chromium, needs_chromium

pytestmark = needs_chromium
CHARTS_STATE = """(() => {
  const divs = [...document.querySelectorAll('div.chart')];
  return {expected: Number(document.querySelector('meta[name="mlct-charts"]').content), found: divs.length,
          drawn: divs.filter(d => d.querySelector('svg.main-svg') && d.getBoundingClientRect().height > 100).length,
          traces: divs.map(d => (d.data || []).length)};
})()"""


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
