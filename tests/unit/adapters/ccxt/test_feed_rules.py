"""The live feed's small rules: how long it waits before retrying, which rows it takes, and what a watch that
ends without an update means."""

from __future__ import annotations

import asyncio
import random

import ccxt
import pytest

from adapters.ccxt.feed import _backoff, _valid_row, within
from engine.testing.binance_live import LiveBinanceServer, make_pro_client
from tests.integration.live_kit import wavy_bars


def test_retries_back_off_exponentially_to_a_cap_with_jitter_in_the_upper_half() -> None:
    rng = random.Random(3)
    waits = [[_backoff(attempt, 0.5, 30.0, rng) for attempt in range(1, 10)] for _ in range(50)]
    for series in waits:
        for attempt, wait in enumerate(series, start=1):
            step = min(30.0, 0.5 * 2 ** (attempt - 1))
            assert step / 2 <= wait <= step
    firsts = {round(series[0], 6) for series in waits}
    assert len(firsts) > 40  # clients dropped together do not come back in step


def test_only_rows_with_a_time_and_consistent_positive_prices_are_taken() -> None:
    assert _valid_row([60_000, 100.0, 101.0, 99.0, 100.5, 3.0])
    assert not _valid_row([None, 100.0, 101.0, 99.0, 100.5, 3.0])  # ccxt's row for a kline with "t": "abc"
    assert not _valid_row([60_000, 100.0, 101.0, 99.0, None, 3.0])
    assert not _valid_row([60_000, 100.0, 99.0, 101.0, 100.5, 3.0])  # high below low
    assert not _valid_row([60_000, 0.0, 101.0, 0.0, 100.5, 3.0])
    assert not _valid_row([60_000, float("nan"), 101.0, 99.0, 100.5, 3.0])
    assert not _valid_row([60_000, 100.0, 101.0, 99.0, 100.5, -1.0])
    assert not _valid_row([60_000, 100.0, 101.0, 99.0])


async def test_a_watch_cancelled_by_another_user_of_the_client_is_a_disconnect_not_the_watchers_end() -> None:
    # ccxt's close_ws_clients (the feed's restart, the execution client's stale watchdog, on the one client they
    # share) cancels the pending watches on every socket of the client; a CancelledError would end the watcher.
    with LiveBinanceServer({"BTC/USDT": wavy_bars(40)}, live_from=30) as server:
        client = make_pro_client(server)
        try:
            await client.load_markets()
            watch = asyncio.ensure_future(within(client.watch_ohlcv("BTC/USDT", "1m"), 20))
            await server.wait_for_subscriptions("btcusdt@kline_1m")
            await client.close_ws_clients()
            with pytest.raises(ccxt.NetworkError, match="cancelled"):
                await watch
        finally:
            await client.close()


async def test_the_caller_of_a_watch_cancelled_itself_is_cancelled_still() -> None:
    caller = asyncio.ensure_future(within(asyncio.get_running_loop().create_future(), 20))
    await asyncio.sleep(0)  # one turn of the loop: the caller waits on the watch
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
