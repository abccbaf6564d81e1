"""The HTML report in a real browser: headless Chromium (Debian's ``chromium``) driven over the DevTools protocol.

The test starts Chromium itself, opens the report from disk and checks that no console error or exception
occurs, that every section is there and every chart was drawn by plotly (an ``svg.main-svg`` in each chart div),
that nothing runs off the page sideways (at the window's 1,400 pixels and at a phone-like 700), that the log-scale
button switches the axis, that the page made no network request (the DevTools Network domain sees every
request, blocked or not), and that a screenshot is not blank. ``MLCT_REPORT_SHOTS=DIR`` keeps full-page
screenshots there, to look at. Skipped where Chromium is not installed; ``.ci/run`` installs it. The browser's driver is
``tests/integration/chromium_kit.py``, shared with the live monitor's test.
"""

from __future__ import annotations

import asyncio
import base64
import io
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from adapters.sim import SimSettings
from engine.backtest import run_backtest
from engine.datagen.synthetic import synthetic_bars
from engine.report import write_report
from strategies.sma_cross import SmaCross
from tests.integration.chromium_kit import TIMEOUT, Page, chromium, needs_chromium

pytestmark = needs_chromium
CHARTS_STATE = """(() => {
  const divs = [...document.querySelectorAll('div.chart')];
  return {expected: Number(document.querySelector('meta[name="mlct-charts"]').content), found: divs.length,
          drawn: divs.filter(d => d.querySelector('svg.main-svg') && d.getBoundingClientRect().height > 100).length,
          traces: divs.map(d => (d.data || []).length)};
})()"""
SECTIONS = ["Strategy against buy-and-hold", "Risk: tail and worst drawdowns", "Drawdown",
            "Rolling Sharpe and volatility (41 days)", "Yearly returns against buy-and-hold", "Monthly returns",
            "Price: SYN/USD", "Candles: SYN/USD, last bars", "Distribution of trade returns", "Trades (40)",
            "ML signal", "Back-test assumptions", "Data", "Configuration"]
# What sticks out past the window: the page's own width, and any element whose right edge passes it.
OVERFLOW = """(() => {
  const width = document.documentElement.clientWidth;
  const wide = [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > width + 1
      && !e.closest('.scroll'));
  return {width, scroll: document.documentElement.scrollWidth,
          wide: wide.slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + e.getBoundingClientRect().right)};
})()"""


def wide_evaluation_table() -> pd.DataFrame:
    """An ML evaluation as wide as engine.ml.evaluate writes it, with columns it may grow (which must not widen
    the page)."""
    columns = ["precision", "precision_lo", "precision_hi", "avg_return", "avg_return_lo", "avg_return_hi",
               "median_return", "baseline_precision", "baseline_avg_return", "random_avg_return", "random_hi",
               "p_value", "n_independent", "p_adjusted", "is_n_signals", "is_precision", "is_avg_return",
               "a_future_column_with_a_long_name"]
    rng = np.random.default_rng(3)
    table = pd.DataFrame(rng.uniform(0, 1, (6, len(columns))), columns=columns)
    return table.assign(threshold=np.linspace(0.5, 0.75, 6), n_signals=[60, 40, 30, 20, 12, 5])


@pytest.fixture
def report(tmp_path: Path) -> Path:
    """A report with every section, the ML one included (built outside the test's event loop)."""
    frame = synthetic_bars(3_000, interval="1h", seed=21)
    result = run_backtest(SmaCross(fast=8, slow=40), frame, venue=SimSettings(), symbol="SYN/USD")
    result.extras["ml"] = {
        "thresholds": wide_evaluation_table(),
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
        titles = await page.evaluate("[...document.querySelectorAll('section > h2')].map(h => h.textContent)")
        wide = await laid_out(page, 1400)
        await keep_screenshot(page, "report-1400")
        await log_button_switches_the_axis(page)
        await page.send("Emulation.setDeviceMetricsOverride", width=700, height=1000, deviceScaleFactor=1,
                        mobile=False)
        narrow = await laid_out(page, 700)
        await keep_screenshot(page, "report-700")
        assert page.errors() == []
        assert page.requests() == [report.as_uri()]
    assert titles == SECTIONS
    assert state["expected"] == state["found"] == state["drawn"] == 11
    assert all(n > 0 for n in state["traces"]), state
    for overflow in (wide, narrow):
        assert overflow["scroll"] <= overflow["width"] and overflow["wide"] == [], overflow
    pixels = np.asarray(Image.open(io.BytesIO(base64.b64decode(shot["data"]))).convert("RGB"), dtype="float64")
    assert pixels.shape[1] == 1400 and pixels.shape[0] > 500
    assert pixels.std() > 20, "the screenshot is blank"
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 100  # text, table and chart colours


async def laid_out(page: Page, width: int) -> dict[str, Any]:
    """Return what overflows once the page fits ``width`` pixels (plotly redraws its charts a moment after a
    resize), or what still overflows when the time is up."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        state = await page.evaluate(OVERFLOW)
        fits = state["width"] == width and state["scroll"] <= width and not state["wide"]
        if fits or time.monotonic() > deadline:
            return state
        await asyncio.sleep(0.2)


async def log_button_switches_the_axis(page: Page) -> None:
    """Click the equity chart's "linear scale" then "log scale" buttons and see its axis follow."""
    axis = "document.getElementById('chart-0').layout.yaxis.type"
    buttons = "document.querySelectorAll('#chart-0 .updatemenu-button')"
    assert await page.evaluate(f"{buttons}.length") == 2
    for index, wanted in ((1, "linear"), (0, "log")):
        await page.evaluate(f"{buttons}[{index}].dispatchEvent(new MouseEvent('click', {{bubbles: true}}))")
        await page.wait_until(f"{axis} === '{wanted}'", f"the equity axis turns {wanted}")


async def keep_screenshot(page: Page, name: str) -> None:
    """Write a full-page screenshot into ``$MLCT_REPORT_SHOTS`` when set (to look at the report)."""
    folder = os.environ.get("MLCT_REPORT_SHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / f"{name}.png").write_bytes(await page.screenshot(full_page=True))


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
