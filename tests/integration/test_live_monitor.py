"""The live monitor page during a paper session on the real ccxt.pro client against the loopback Binance server.

Its state follows the session bar by bar (the bars, an order while it is open, then its fill, the feed's health),
its server lives and dies with the session, and, opened in headless Chromium, the page shows the bars advancing, the
order and its fill (read from the page and seen in a screenshot), with no error and no request outside
127.0.0.1. The browser test is skipped where Chromium is not installed (``.ci/run`` installs it).
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest

from engine.monitor import Monitor
from engine.risk import RiskLimits
from engine.testing.binance_live import LiveBinanceServer
from strategies.ma_simple import MaSimple
from tests.integration.chromium_kit import chromium, needs_chromium
from tests.integration.live_kit import SYMBOL, PaperRun, wavy_bars

HISTORY, WARMUP, LIVE = 60, 20, 40
TIMEOUT = 30.0


@pytest.fixture
async def session(tmp_path: Path) -> AsyncIterator[PaperRun]:
    """A paper session trading a 3/8 moving-average cross with its monitor on a free port, and risk limits its
    orders stay within; stopped afterwards."""
    limits = RiskLimits(max_order_notional=Decimal(20_000), max_open_orders=3, daily_loss_limit=Decimal(2_000),
                        max_drawdown=Decimal("0.5"))
    with LiveBinanceServer({SYMBOL: wavy_bars(HISTORY + LIVE + 5)}, live_from=HISTORY) as server:
        run = PaperRun(server, [MaSimple(fast=3, slow=8)], tmp_path / "journal.sqlite", warmup_bars=WARMUP,
                       monitor_port=0, risk=limits)
        task = await run.start()
        try:
            yield run
        finally:
            assert run.session is not None
            run.session.stop("the test is done")
            try:
                await task
            finally:
                await run.close()


def monitor_of(run: PaperRun) -> Monitor:
    assert run.session is not None and run.session.monitor is not None and run.session.monitor.url is not None
    return run.session.monitor


async def bars_until(run: PaperRun, condition: Any, what: str, most: int = LIVE - 5) -> None:
    """Close bars one at a time until ``condition()`` holds after one of them."""
    for _ in range(most):
        if condition():
            return
        await run.close_bars(1)
    assert condition(), f"{what}: not after {most} bars"


def kernel(run: PaperRun) -> Any:
    assert run.session is not None and run.session.kernel is not None
    return run.session.kernel


async def test_the_state_follows_the_session_and_the_server_stops_with_it(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="engine.live")
    with LiveBinanceServer({SYMBOL: wavy_bars(HISTORY + LIVE + 5)}, live_from=HISTORY) as server:
        run = PaperRun(server, [MaSimple(fast=3, slow=8)], tmp_path / "journal.sqlite", warmup_bars=WARMUP,
                       monitor_port=0)
        try:
            task = await run.start()
            monitor = monitor_of(run)
            assert f"monitor page: {monitor.url}" in caplog.text
            async with aiohttp.ClientSession() as http:
                async def state() -> dict[str, Any]:
                    async with http.get(f"{monitor.url}state.json") as response:
                        assert response.status == 200
                        return dict(json.loads(await response.text()))

                first = await state()
                assert first["state"] == "trading" and first["bars"]["warmup"] == WARMUP
                await run.close_bars(2)
                assert (await state())["bars"]["live"] == first["bars"]["live"] + 2  # the bars advance
                # An order made on a bar's close is open until the next bar opens; then it fills.
                await bars_until(run, lambda: bool(kernel(run).orders.open_orders()), "an open order")
                order = kernel(run).orders.open_orders()[0].order
                shown = await state()
                assert [o["id"] for o in shown["open_orders"]] == [order.client_order_id]
                assert shown["orders"][0]["id"] == order.client_order_id
                await run.close_bars(1)
                shown = await state()
                fill = kernel(run).orders.fills[-1]
                assert fill.client_order_id == order.client_order_id
                assert shown["open_orders"] == []
                assert shown["fills"][0]["id"] == order.client_order_id and shown["fills"][0]["price"] == str(
                    fill.price)
                assert shown["orders"][0]["status"] == "filled"
                health = shown["feeds"][0]
                last = run.seen.bars[-1]
                assert health["feed"] == "CcxtFeed" and health["bars"] == shown["bars"]["live"]
                assert health["last_bar_ts"] == last.ts // 1_000_000 == shown["bars"]["last"][SYMBOL]["ts"]
                assert health["reconnects"] == 0 and health["warmup_bars"] == WARMUP
                assert run.session is not None
                run.session.stop("the test is done")
                await task
                with pytest.raises(aiohttp.ClientConnectionError):  # no page once the session is over
                    await http.get(f"{monitor.url}state.json")
        finally:
            await run.close()


BARS_SHOWN = "Number(document.getElementById('bars-live').textContent)"
UPDATES = "Number(document.body.dataset.updates)"


def table_has(table: str, text: str) -> str:
    """An expression: the text of the first row of ``table`` that contains ``text``, else ''."""
    return (f"([...document.querySelectorAll('#{table} tbody tr')].map(r => r.textContent)"
            f".find(t => t.includes({json.dumps(text)})) || '')")


@needs_chromium
async def test_the_page_in_chromium_shows_the_bars_advancing_an_order_and_its_fill(
        tmp_path: Path, session: PaperRun) -> None:
    from PIL import Image

    monitor = monitor_of(session)
    assert monitor.url is not None
    async with chromium(tmp_path) as page:
        await page.send("Page.navigate", url=monitor.url)
        await page.wait_for("Page.loadEventFired")
        await page.wait_until(f"{UPDATES} > 0", "the page's first update")
        start = await page.evaluate(BARS_SHOWN)
        await session.close_bars(2)
        await page.wait_until(f"{BARS_SHOWN} >= {start + 2}", "two more live bars shown")

        # An order, open until the next bar's open, then its fill.
        await bars_until(session, lambda: bool(kernel(session).orders.open_orders()), "an open order")
        order = kernel(session).orders.open_orders()[0].order
        row = await page.wait_until(table_has("open-orders", order.client_order_id), "the open order shown")
        assert order.side.value in row and order.symbol in row
        await session.close_bars(1)
        fill = kernel(session).orders.fills[-1]
        assert fill.client_order_id == order.client_order_id
        row = await page.wait_until(table_has("fills", order.client_order_id), "the fill shown")
        assert f"{float(fill.price):,}" in row or str(fill.price) in row
        await page.wait_until(table_has("orders", order.client_order_id) + ".includes('filled')",
                              "the order shown filled")
        await page.wait_until("document.querySelectorAll('#price-charts path.fill-marker').length > 0",
                              "the fill marked on the price chart")
        await page.wait_until("document.querySelectorAll('#equity-chart path').length >= 2",
                              "equity and buy and hold drawn")
        signals = await page.wait_until(table_has("signals", "MaSimple"), "a signal with its values")
        assert "MA_3_0" in signals and "MA_8_0" in signals
        used = await page.wait_until(table_has("risk", "max_order_notional"), "the risk limits and their use")
        assert f"largest order {order.client_order_id}" in used
        assert "not pulled" in await page.evaluate("document.getElementById('kill').textContent")
        chart = await page.evaluate("(() => { const r = document.querySelector('#price-charts svg')"
                                    ".getBoundingClientRect(); return [r.left + scrollX, r.top + scrollY, r.right + "
                                    "scrollX, r.bottom + scrollY].map(Math.round); })()")
        png = await page.screenshot(full_page=True)
        (tmp_path / "monitor.png").write_bytes(png)
        errors = page.errors()
        requests = page.requests()
    assert errors == []
    assert requests and all(url.startswith(monitor.url) for url in requests), requests
    assert f"{monitor.url}state.json" in requests
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype="float64")
    assert pixels.shape[1] == 1400 and pixels.shape[0] > 1000
    assert pixels.std() > 20, "the screenshot is blank"
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 100  # text, tables and chart colours
    # The fill's triangle, green for a buy and red for a sell, is on the price chart in the picture.
    left, top, right, bottom = chart
    drawn = pixels[top:bottom, left:right]
    colour = np.array([0x1A, 0x7F, 0x37] if order.side.value == "buy" else [0xC6, 0x28, 0x28], dtype="float64")
    assert (np.abs(drawn - colour).sum(axis=2) < 30).sum() > 20
