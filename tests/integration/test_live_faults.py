"""A paper session through every fault the loopback server can make the real ccxt.pro client meet: sockets
dropped three times (once with reconnects refused for two bars), a stall, malformed, truncated, duplicate and
out-of-order messages, a skipped bar. No bar is lost, repeated or reordered; each fault is logged; the session
goes on."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from engine.testing.binance_live import LiveBinanceServer
from strategies.sma_cross import SmaCross
from tests.integration.live_kit import MIN, SYMBOL, PaperRun, wait_until, wavy_bars

HISTORY, WARMUP = 30, 10
STALE = 1.0


async def test_no_bar_is_lost_repeated_or_reordered_whatever_the_websockets_do(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    frame = wavy_bars(HISTORY + 60)
    with LiveBinanceServer({SYMBOL: frame}, live_from=HISTORY) as server:
        run = PaperRun(server, [SmaCross(fast=3, slow=8)], tmp_path / "faults.sqlite", warmup_bars=WARMUP,
                       stale_after=STALE)
        faults = {
            2: lambda: server.drop_sockets(),
            5: lambda: server.drop_sockets(how="close"),
            8: lambda: server.drop_sockets(refuse_for_bars=2),
            13: lambda: server.inject("malformed"),
            16: lambda: server.inject("duplicate"),
            19: lambda: server.inject("out_of_order"),
            22: lambda: server.inject("truncated"),
            25: lambda: server.skip_next_bar(),
        }
        with caplog.at_level(logging.WARNING, logger="adapters.ccxt.feed"):
            try:
                task = await run.start()
                await run.close_bars(28, before=lambda i: faults.get(i, lambda: None)())
                # A stall: the socket stays open and sends nothing while two bars close; the feed notices the
                # silence, resubscribes, and once the server speaks again fetches what it missed by REST.
                expected = len(run.seen.bars) + 3
                server.stall(True)
                await asyncio.to_thread(server.advance, 2)
                await asyncio.sleep(2.5 * STALE)
                server.stall(False)
                await asyncio.to_thread(server.advance)
                await wait_until(lambda: len(run.seen.bars) >= expected, "the bars closed during the stall")
                await run.close_bars(3)
                assert run.session is not None
                run.session.stop("the test is over")
                result = await task
            finally:
                await run.close()
        served = server.closed_bars(SYMBOL)

    seen = [[(b.ts - MIN) // 1_000_000, b.open, b.high, b.low, b.close, b.volume] for b in run.seen.bars]
    assert seen == served[HISTORY - WARMUP:]  # every bar once, in order, with the server's values
    health = run.feed.health
    assert health.reconnects >= 3 and health.restarts >= 3 and health.backfilled_bars >= 4
    assert {"disconnected", "malformed", "stale"} <= set(health.faults)
    assert server.faults_served["truncated"] == 1 and server.faults_served["malformed"] >= 1
    logged = caplog.text
    assert "disconnected" in logged and "malformed" in logged and "stale" in logged and "fetched by REST" in logged
    assert result is not None and result.stats["n_bars"] == len(served) - HISTORY
