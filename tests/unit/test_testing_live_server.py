"""The loopback live Binance market, driven by the real ccxt.pro client (REST and websocket, with faults)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import aiohttp
import ccxt
import numpy as np
import pandas as pd
import pytest

from engine.testing.binance_live import LiveBinanceServer, MarketExhausted, make_pro_client
from tests.integration.live_kit import wait_until

WAIT = 20.0  # seconds to wait for something that must happen (generous: a loaded 2-core machine)
QUIET = 1.0  # seconds of silence that show a stream is dead (it would deliver within milliseconds)
LIVE_FROM = 10
KLINE = "btcusdt@kline_1m"


def make_frame(n: int = 40, start: float = 50_000.0) -> pd.DataFrame:
    """Return n one-minute bars with distinct, easily checked values."""
    index = pd.date_range("2024-01-01", periods=n, freq="1min", tz="UTC")
    opens = start + np.arange(n) * 10.0
    return pd.DataFrame({"open": opens, "high": opens + 7, "low": opens - 3, "close": opens + 5,
                         "volume": np.arange(n) + 1.0}, index=index)


@pytest.fixture
def server() -> Iterator[LiveBinanceServer]:
    live = LiveBinanceServer({"BTC/USDT": make_frame(), "ETH/USDT": make_frame(start=3_000.0)},
                             live_from=LIVE_FROM).start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
async def client(server: LiveBinanceServer) -> AsyncIterator[Any]:
    pro = make_pro_client(server)
    try:
        await asyncio.wait_for(pro.load_markets(), WAIT)
        yield pro
    finally:
        await pro.close()



async def step(server: LiveBinanceServer, watch: Callable[[], Any], *streams: str, n: int = 1) -> Any:
    """Start a watch, wait for its subscription, advance ``n`` bars and return what the watch returns."""
    task = asyncio.ensure_future(watch())
    await asyncio.sleep(0)  # let the watch register before the blocking advance
    await server.wait_for_subscriptions(*streams, timeout=WAIT)
    server.advance(n)
    return await asyncio.wait_for(task, WAIT)


def watch_btc(client: Any) -> Callable[[], Any]:
    return lambda: client.watch_ohlcv("BTC/USDT", "1m")


def cached(client: Any, symbol: str = "BTC/USDT") -> dict[float, list[float]]:
    """Return the OHLCV rows ccxt holds for ``symbol`` (what the client has received), by open time."""
    return {row[0]: list(row) for row in client.ohlcvs.get(symbol, {}).get("1m", [])}


def forming(server: LiveBinanceServer, symbol: str = "BTC/USDT") -> list[float]:
    """Return the row of the bar in progress as it just opened: o=h=l=c=open, v=0."""
    row = server.forming_bar(symbol)
    assert row is not None
    return row


# -- market time and REST -------------------------------------------------------------------------------------
async def test_rest_serves_the_closed_bars_and_the_forming_one(server: LiveBinanceServer, client: Any) -> None:
    assert await client.fetch_time() == server.now_ms == int(make_frame().index[LIVE_FROM].value // 1_000_000)
    rows = await client.fetch_ohlcv("BTC/USDT", "1m", limit=1000)
    assert rows[:-1] == server.closed_bars("BTC/USDT")
    assert len(rows) == LIVE_FROM + 1
    assert rows[-1] == forming(server)
    server.advance(3)
    rows = await client.fetch_ohlcv("BTC/USDT", "1m", limit=1000)
    assert rows[:-1] == server.closed_bars("BTC/USDT")
    assert len(rows) == LIVE_FROM + 4
    assert rows[-1] == forming(server)
    assert await client.fetch_time() == server.now_ms


async def test_rest_aggregates_the_closed_part_and_the_running_coarser_bar(server: LiveBinanceServer,
                                                                          client: Any) -> None:
    server.advance(2)  # bars 0..11 closed, bar 12 forming: 5m bins [0-4], [5-9], [10, 11, forming 12]
    rows = await client.fetch_ohlcv("BTC/USDT", "5m", limit=1000)
    frame = make_frame()
    assert [r[0] for r in rows] == [int(frame.index[i].value // 1_000_000) for i in (0, 5, 10)]
    assert rows[1] == pytest.approx([rows[1][0], 50_050.0, 50_097.0, 50_047.0, 50_095.0, 6.0 + 7 + 8 + 9 + 10])
    # The running 5m bar: bars 10 and 11 in full, bar 12 as just opened.
    assert rows[2] == pytest.approx([rows[2][0], 50_100.0, 50_120.0, 50_097.0, 50_120.0, 11.0 + 12.0])


async def test_the_frame_runs_out_with_a_clear_error(server: LiveBinanceServer, client: Any) -> None:
    server.advance(server.bars_left)
    assert server.bars_left == 0
    assert server.now_ms == server.closed_bars("BTC/USDT")[-1][0] + 60_000
    with pytest.raises(MarketExhausted, match="0 of the frame's 40 bars are left"):
        server.advance()
    rows = await client.fetch_ohlcv("BTC/USDT", "1m", limit=1000)
    assert rows == server.closed_bars("BTC/USDT")  # no forming bar once the last one closed


def test_frames_must_share_one_index_and_live_from_must_be_a_bar() -> None:
    with pytest.raises(ValueError, match="share one index"):
        LiveBinanceServer({"BTC/USDT": make_frame(), "ETH/USDT": make_frame(30)}, live_from=1)
    with pytest.raises(ValueError, match="live_from"):
        LiveBinanceServer({"BTC/USDT": make_frame()}, live_from=40)


# -- the market websocket -------------------------------------------------------------------------------------
async def test_watch_ohlcv_receives_every_close_and_the_forming_bar(server: LiveBinanceServer, client: Any) -> None:
    received: list[list[float]] = []
    for _ in range(4):
        received += await step(server, watch_btc(client), KLINE)
    closed = {row[0]: row for row in server.closed_bars("BTC/USDT")[LIVE_FROM:]}
    last_seen = {row[0]: row for row in received}  # a bar's close is its last message
    assert {t: last_seen[t] for t in closed} == closed
    # The bar that opened on the last step arrived with its opening values (it is in the client's cache).
    await wait_until(lambda: cached(client).get(server.now_ms) == forming(server), "the forming bar")
    assert server.ws_connections == 1


async def test_two_symbols_at_once(server: LiveBinanceServer, client: Any) -> None:
    btc = asyncio.ensure_future(client.watch_ohlcv("BTC/USDT", "1m"))
    eth = asyncio.ensure_future(client.watch_ohlcv("ETH/USDT", "1m"))
    await asyncio.sleep(0)
    await server.wait_for_subscriptions(KLINE, "ethusdt@kline_1m", timeout=WAIT)
    server.advance()
    assert (await asyncio.wait_for(btc, WAIT))[0] == server.closed_bars("BTC/USDT")[-1]
    assert (await asyncio.wait_for(eth, WAIT))[0] == server.closed_bars("ETH/USDT")[-1]


async def test_watch_trades_and_bids_asks_get_one_message_per_closed_bar(server: LiveBinanceServer,
                                                                         client: Any) -> None:
    trades = asyncio.ensure_future(client.watch_trades("BTC/USDT"))
    # bookTicker is what ccxt's watch_bids_asks subscribes to (watch_ticker uses the 24hr ticker stream instead).
    quotes = asyncio.ensure_future(client.watch_bids_asks(["BTC/USDT"]))
    await asyncio.sleep(0)
    await server.wait_for_subscriptions("btcusdt@trade", "btcusdt@bookTicker", timeout=WAIT)
    server.advance()
    bar = server.closed_bars("BTC/USDT")[-1]
    (trade,) = await asyncio.wait_for(trades, WAIT)
    assert (trade["id"], trade["price"], trade["amount"]) == (str(LIVE_FROM + 1), bar[4], bar[5])
    assert trade["timestamp"] == bar[0] + 59_999
    quote = (await asyncio.wait_for(quotes, WAIT))["BTC/USDT"]
    assert quote["bid"] == pytest.approx(bar[4] * (1 - 1e-4))
    assert quote["ask"] == pytest.approx(bar[4] * (1 + 1e-4))
    (later,) = await step(server, lambda: client.watch_trades("BTC/USDT"), "btcusdt@trade")
    assert int(later["id"]) > int(trade["id"])


async def test_raw_protocol_subscribe_unsubscribe_and_unknown_streams(server: LiveBinanceServer) -> None:
    url = f"ws://127.0.0.1:{server.port}/stream/ws/7"
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        await ws.send_str(json.dumps({"method": "SUBSCRIBE", "params": [KLINE, "nosuch@stream"], "id": 1}))
        assert json.loads((await ws.receive(timeout=WAIT)).data) == {"result": None, "id": 1}
        assert server.subscriptions == {KLINE, "nosuch@stream"}
        server.advance()
        closed = json.loads((await ws.receive(timeout=WAIT)).data)
        opened = json.loads((await ws.receive(timeout=WAIT)).data)
        assert closed["e"] == "kline" and closed["k"]["x"] is True and closed["k"]["c"] == "50105"
        assert opened["k"]["x"] is False and opened["k"]["v"] == "0" and opened["k"]["t"] == server.now_ms
        await ws.send_str(json.dumps({"method": "UNSUBSCRIBE", "params": [KLINE], "id": 2}))
        assert json.loads((await ws.receive(timeout=WAIT)).data) == {"result": None, "id": 2}
        assert server.subscriptions == {"nosuch@stream"}
        server.advance()
        with pytest.raises(asyncio.TimeoutError):
            await ws.receive(timeout=QUIET)  # nothing for an unknown or unsubscribed stream
    await wait_until(lambda: not server.subscriptions, "the closed socket's subscriptions to go")


# -- faults -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("how", "code"), [("abort", 1006), ("close", 1001)])
async def test_dropped_sockets_raise_network_error_and_the_next_watch_reconnects(
        server: LiveBinanceServer, client: Any, how: str, code: int) -> None:
    await step(server, watch_btc(client), KLINE)
    pending = asyncio.ensure_future(client.watch_ohlcv("BTC/USDT", "1m"))
    await asyncio.sleep(0.05)
    server.drop_sockets(how=how)  # type: ignore[arg-type]
    with pytest.raises(ccxt.NetworkError, match=f"closing code {code}"):
        await asyncio.wait_for(pending, WAIT)
    assert server.faults_served["drop"] == 1
    server.advance()  # missed by the client: nothing is replayed
    rows = await step(server, watch_btc(client), KLINE)
    assert server.ws_connections == 2
    assert server.closed_bars("BTC/USDT")[-1] in rows  # (after a stale forming row ccxt still counts as new)
    assert (await client.fetch_ohlcv("BTC/USDT", "1m", limit=1000))[:-1] == server.closed_bars("BTC/USDT")


async def test_refused_reconnects_back_off_until_the_refusal_ends(server: LiveBinanceServer, client: Any) -> None:
    await step(server, watch_btc(client), KLINE)
    pending = asyncio.ensure_future(client.watch_ohlcv("BTC/USDT", "1m"))
    await asyncio.sleep(0.05)
    server.drop_sockets(refuse_for_bars=2)
    with pytest.raises(ccxt.NetworkError):
        await asyncio.wait_for(pending, WAIT)
    with pytest.raises(ccxt.NetworkError, match="503"):  # the redial is refused
        await asyncio.wait_for(client.watch_ohlcv("BTC/USDT", "1m"), WAIT)
    server.advance()
    with pytest.raises(ccxt.NetworkError, match="503"):  # still refused, after ccxt's backoff
        await asyncio.wait_for(client.watch_ohlcv("BTC/USDT", "1m"), WAIT)
    server.advance()  # the refusal ends with this bar
    assert not server.refusing
    rows = await step(server, watch_btc(client), KLINE)
    assert server.closed_bars("BTC/USDT")[-1] in rows  # (after a stale forming row ccxt still counts as new)
    assert server.faults_served["refused"] >= 2
    assert server.ws_connections == 2


async def test_refusal_for_seconds_ends_by_itself(server: LiveBinanceServer) -> None:
    server.drop_sockets(refuse_for_seconds=0.2)
    assert server.refusing
    await wait_until(lambda: not server.refusing, "the refusal to end")


async def test_truncated_frame_silently_ends_the_stream(server: LiveBinanceServer, client: Any) -> None:
    await step(server, watch_btc(client), KLINE)
    server.inject("truncated")
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(step(server, watch_btc(client), KLINE), QUIET)
    server.advance(2)  # the market goes on, the socket stays open, and ccxt reads no more of it
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(client.watch_ohlcv("BTC/USDT", "1m"), QUIET)
    assert server.faults_served["truncated"] == 1
    assert server.subscriptions == {KLINE} and server.ws_connections == 1
    # A watchdog's recovery: close the client and watch again (a new connection).
    await client.close()
    rows = await step(server, watch_btc(client), KLINE)
    assert server.closed_bars("BTC/USDT")[-1] in rows  # (after a stale forming row ccxt still counts as new)
    assert server.ws_connections == 2


async def test_malformed_kline_leaves_a_row_without_a_time(server: LiveBinanceServer, client: Any) -> None:
    await step(server, watch_btc(client), KLINE)
    server.inject("malformed")
    rows = await step(server, watch_btc(client), KLINE)
    bar = server.closed_bars("BTC/USDT")[-1]
    assert [None, *bar[1:]] in rows
    assert server.faults_served["malformed"] == 1


async def test_malformed_trade_and_quote(server: LiveBinanceServer, client: Any) -> None:
    await step(server, lambda: client.watch_trades("BTC/USDT"), "btcusdt@trade")
    server.inject("malformed", stream="trade")
    (trade,) = await step(server, lambda: client.watch_trades("BTC/USDT"), "btcusdt@trade")
    assert (trade["id"], trade["timestamp"]) == ("abc", None)
    server.inject("malformed", stream="bookTicker")
    quotes = await step(server, lambda: client.watch_bids_asks(["BTC/USDT"]), "btcusdt@bookTicker")
    assert quotes["BTC/USDT"]["bid"] is None
    assert server.faults_served["malformed"] == 2


async def test_duplicate_trade_is_delivered_twice(server: LiveBinanceServer, client: Any) -> None:
    await step(server, lambda: client.watch_trades("BTC/USDT"), "btcusdt@trade")
    server.inject("duplicate", stream="trade")
    ids = [t["id"] for t in await step(server, lambda: client.watch_trades("BTC/USDT"), "btcusdt@trade")]
    ids += [t["id"] for t in await step(server, lambda: client.watch_trades("BTC/USDT"), "btcusdt@trade")]
    duplicated = str(LIVE_FROM + 2)
    assert ids.count(duplicated) == 2
    assert server.faults_served["duplicate"] == 1


async def test_out_of_order_kline_comes_back_after_the_newer_one(server: LiveBinanceServer, client: Any) -> None:
    assert await step(server, watch_btc(client), KLINE) == server.closed_bars("BTC/USDT")[-1:]
    server.inject("out_of_order")
    received: list[list[float]] = []
    for _ in range(2):  # the older row may come with this step's rows or the next's
        received += await step(server, watch_btc(client), KLINE)
    # ccxt returns the rows it changed in time order: the older bar, delivered before, comes back as an update.
    assert server.closed_bars("BTC/USDT")[-3] in received
    assert server.faults_served["out_of_order"] == 1


async def test_out_of_order_quote_sets_the_bid_back(server: LiveBinanceServer, client: Any) -> None:
    await step(server, lambda: client.watch_bids_asks(["BTC/USDT"]), "btcusdt@bookTicker")
    server.inject("out_of_order", stream="bookTicker")
    await step(server, lambda: client.watch_bids_asks(["BTC/USDT"]), "btcusdt@bookTicker")
    older = server.closed_bars("BTC/USDT")[-2][4] * (1 - 1e-4)
    await wait_until(lambda: client.bidsasks["BTC/USDT"]["bid"] == pytest.approx(older), "the stale quote")


async def test_stall_keeps_sockets_open_and_loses_what_it_holds_back(server: LiveBinanceServer, client: Any) -> None:
    await step(server, watch_btc(client), KLINE)
    server.stall(True)
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(step(server, watch_btc(client), KLINE, n=2), QUIET)
    assert server.faults_served["stalled"] == 4  # two closes and two opens on one socket
    assert server.subscriptions == {KLINE} and server.ws_connections == 1
    stalled = server.closed_bars("BTC/USDT")[-2:]
    server.stall(False)
    rows = await step(server, watch_btc(client), KLINE)
    assert server.closed_bars("BTC/USDT")[-1] in rows
    assert not any(bar in rows for bar in stalled)  # lost, not queued
    assert all(cached(client).get(bar[0]) != bar for bar in stalled)


async def test_skip_next_bar_misses_one_close_and_one_open(server: LiveBinanceServer, client: Any) -> None:
    await step(server, watch_btc(client), KLINE)
    server.skip_next_bar()
    server.advance()  # nothing on the websocket for this bar
    skipped = server.closed_bars("BTC/USDT")[-1]
    rows = await step(server, watch_btc(client), KLINE)
    assert rows[-1][0] >= server.closed_bars("BTC/USDT")[-1][0]
    assert cached(client)[skipped[0]] == [skipped[0], *[skipped[1]] * 4, 0.0]  # seen opening, never closing
    assert server.faults_served["skip_next_bar"] == 1
    assert (await client.fetch_ohlcv("BTC/USDT", "1m", limit=1000))[:-1] == server.closed_bars("BTC/USDT")


async def test_play_advances_in_the_background_until_paused(server: LiveBinanceServer, client: Any) -> None:
    task = asyncio.ensure_future(client.watch_ohlcv("BTC/USDT", "1m"))
    await asyncio.sleep(0)
    await server.wait_for_subscriptions(KLINE, timeout=WAIT)
    server.play(200)
    assert server.playing
    rows = await asyncio.wait_for(task, WAIT)
    assert rows[0][0] == server.closed_bars("BTC/USDT")[LIVE_FROM][0]
    await wait_until(lambda: server.bars_left <= 20, "ten more bars")
    server.pause()
    assert not server.playing
    left = server.bars_left
    await asyncio.sleep(0.1)
    assert server.bars_left == left
    server.play(1000)
    await wait_until(lambda: not server.playing, "the end of the frame")
    assert server.bars_left == 0


async def test_inherited_rest_faults_still_apply(server: LiveBinanceServer, client: Any) -> None:
    server.drop_next(path="/api/v3/klines")
    # async ccxt raises a plain ExchangeError (not a NetworkError) for a body cut short (aiohttp's payload error).
    with pytest.raises(ccxt.ExchangeError, match="klines"):
        await client.fetch_ohlcv("BTC/USDT", "1m", limit=5)
    server.fail_next(status=429, path="/api/v3/klines")
    with pytest.raises(ccxt.DDoSProtection):
        await client.fetch_ohlcv("BTC/USDT", "1m", limit=5)
    assert (await client.fetch_ohlcv("BTC/USDT", "1m", limit=5))[-1] == forming(server)
