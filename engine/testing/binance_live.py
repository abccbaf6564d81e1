"""A loopback Binance *live market* for tests: bars that close as the test says, pushed on Binance's websocket.

``LiveBinanceServer`` extends the REST ``BinanceServer`` with a server time that the test moves bar by bar
(``advance``) or at a pace (``play``), a market-data websocket at ``/stream/ws/<n>`` speaking Binance's raw stream
protocol, and faults that the real ccxt.pro client meets on the real exchange. ``make_pro_client`` returns the
real ``ccxt.pro.binance`` pointed at it.

Market time. Bars before ``live_from`` are closed history; bar ``live_from`` has just opened. ``GET
/api/v3/klines`` returns only bars open at the server time, the last one (the forming bar) with its running values
(o=h=l=c=its open, v=0), aggregated on the fly to coarser intervals too. Each ``advance`` step pushes, per symbol,
one ``trade`` (close price, bar volume, id = bar position + 1), one ``bookTicker`` (close -/+ 1e-4), the closing
kline (``"x": true``) and the first kline of the next bar (``"x": false``). Kline streams are pushed for the base
interval only: a subscription to another interval is answered and gets nothing.

What the real client does with the faults (ccxt.pro 4.5.90):

- ``drop_sockets()``: the pending ``watch_*`` raises ``ccxt.NetworkError`` ("closing code 1006", or 1001 with
  ``how="close"``) and the next call dials again and re-subscribes. A refused dial (HTTP 503 while refusing) also
  raises ``NetworkError`` and grows ccxt's dial backoff (0.2, 0.4, 0.8 ... s), which the next call waits out.
- ``inject("truncated")``: the receive loop of that connection dies inside an asyncio callback; nothing is raised
  to the caller, the socket stays open, and every later ``watch_*`` on it waits forever. Only a watchdog of the
  caller's (a timeout, then ``client.close()`` and watch again) recovers.
- ``inject("malformed")``: nothing is raised. A kline with ``"t": "abc"`` becomes a row with a ``None`` time in
  ``watch_ohlcv``'s result (with ``since=`` given, the row is filtered out: that bar's close just goes missing);
  a trade with ``"t"``/``"T"`` not numbers comes out with id ``"abc"`` and timestamp ``None``; a bookTicker with
  ``"b": "abc"`` gives ``bid`` ``None``.
- ``inject("duplicate" | "out_of_order")``, ``skip_next_bar()``: delivered as sent. A duplicated trade is
  returned twice; an older kline after a newer one is returned again as an update (ccxt lists the rows it
  changed in time order); an older bookTicker sets the bid and ask back; a skipped bar leaves its row with the
  opening values in ccxt's cache. ccxt dedupes nothing and notices no gap: a client must (REST has every bar).
- ``stall(True)``: sockets stay open (pings are answered) and nothing is sent; what is produced meanwhile is lost.

Example
-------
>>> with LiveBinanceServer({"BTC/USDT": frame}, live_from=100) as server:      # doctest: +SKIP
...     client = make_pro_client(server)
...     task = asyncio.create_task(client.watch_ohlcv("BTC/USDT", "1m"))
...     await server.wait_for_subscriptions("btcusdt@kline_1m")
...     server.advance()                      # bar 100 closes, bar 101 opens
...     rows = await task                     # [[t100, o, h, l, c, v], [t101, o, o, o, o, 0.0]] (1 or 2 rows)
...     await client.close()
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections import Counter
from collections.abc import Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import ccxt.pro
import numpy as np
import pandas as pd
from aiohttp import WSCloseCode, WSMsgType, web

from engine.testing import binance_stream as msg
from engine.testing.binance import BinanceServer, _Bars, _client_settings, _market_id, _point_rest_at
from engine.testing.binance_account import Account, Filters
from engine.testing.binance_trading import TradingDesk, TradingServer

__all__ = ["LiveBinanceServer", "MarketExhausted", "make_pro_client"]

_CALL_TIMEOUT = 60.0  # seconds a thread waits for the server loop: generous, a loaded machine is slow
_T = TypeVar("_T")


class MarketExhausted(RuntimeError):
    """The frame has no bar left to close: the market cannot advance further."""


@dataclass(eq=False)
class _Socket:
    """One accepted market websocket and the streams it subscribed to."""

    ws: web.WebSocketResponse
    transport: asyncio.BaseTransport | None
    streams: set[str] = field(default_factory=set)


class LiveBinanceServer(TradingServer, BinanceServer):
    """A Binance spot server whose market moves when the test says, with a market-data websocket and faults.

    It is also a counterparty: signed order routes, a matching engine driven by its market, balances and the
    user-data stream (``engine.testing.binance_trading``, whose ``TradingServer`` gives the account's faults and
    counters).

    Parameters
    ----------
    bars
        Unified symbol -> standard OHLCV frame at ``interval``; every frame has the same index.
    interval
        Binance interval of the frames, the base interval of the market.
    live_from
        Position of the first bar not closed at start: the server time starts at its open time.
    symbols
        As for ``BinanceServer``.
    credentials
        The ``(api_key, secret)`` that signed routes and the user-data stream accept (without: all refused).
    balances
        Asset -> free amount of the trading account at start.
    taker_fee, maker_fee
        The account's fee rates, charged in the quote asset.
    order_latency
        Seconds between a new order's arrival and its matching (the market may move meanwhile).
    """

    def __init__(self, bars: Mapping[str, pd.DataFrame], *, interval: str = "1m", live_from: int,
                 symbols: Iterable[str] = (), credentials: tuple[str, str] | None = None,
                 balances: Mapping[str, float] | None = None, taker_fee: float = 0.001,
                 maker_fee: float = 0.001, order_latency: float = 0.0) -> None:
        if not bars:
            raise ValueError("bars: give at least one symbol's frame")
        super().__init__(bars, symbols=symbols, interval=interval, credentials=credentials, balances=balances)
        self.interval = interval
        self._times = self._shared_open_times(bars)
        if not 0 <= live_from < len(self._times):
            raise ValueError(f"live_from must be a bar position in [0, {len(self._times)}), got {live_from}")
        self._cursor = live_from  # position of the forming bar; len(frame) once the last bar has closed
        self._market_ids = {symbol: _market_id(symbol) for symbol in bars}
        account = Account(balances or {}, {s: Filters.from_info(self._symbol_info(s)) for s in bars},
                          taker_fee=taker_fee, maker_fee=maker_fee)
        self._desk = TradingDesk(self.app, account, {m: s for s, m in self._market_ids.items()},
                                 credentials=credentials, price=self.price_now, clock=lambda: self.now_ms,
                                 order_latency=order_latency)
        self._live_lock = threading.Lock()  # guards the sockets and their streams (read from the test's thread)
        self._step_lock = asyncio.Lock()  # one market step, drop or pause at a time on the server loop
        self._sockets: list[_Socket] = []
        self._stream_faults = msg.StreamFaults()
        self._player: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Task[Any]] = set()
        self.ws_connections = 0
        self.app.router.add_get("/api/v3/time", self._time)
        self.app.router.add_get("/stream/ws{tail:.*}", self._market_ws)

    def _shared_open_times(self, bars: Mapping[str, pd.DataFrame]) -> np.ndarray:
        frames = list(bars.items())
        first_symbol, first = frames[0]
        index = pd.DatetimeIndex(first.index)
        for symbol, frame in frames[1:]:
            if not index.equals(pd.DatetimeIndex(frame.index)):
                raise ValueError(f"bars of {symbol} and {first_symbol} must share one index (the market's clock)")
        times = index.as_unit("ns").asi8 // 1_000_000
        diffs = np.diff(times)
        if len(times) == 0 or (diffs <= 0).any() or (diffs % self._base_ms).any():
            raise ValueError(f"bars must be a non-empty, increasing index on the {self._base_ms} ms grid")
        return times

    # -- market time ----------------------------------------------------------------------------------------
    @property
    def now_ms(self) -> int:
        """Return the server time: the open time of the forming bar (after the last bar, its close)."""
        cursor = self._cursor
        if cursor < len(self._times):
            return int(self._times[cursor])
        return int(self._times[-1]) + self._base_ms

    @property
    def bars_left(self) -> int:
        """Return how many more bars ``advance`` can close."""
        return len(self._times) - self._cursor

    def closed_bars(self, symbol: str) -> list[list[float]]:
        """Return ccxt's OHLCV rows ``[t_ms, o, h, l, c, v]`` of ``symbol``'s bars closed so far, oldest first."""
        bars = self._bars_at(symbol, self._base_ms)
        v = bars.values
        return [[int(bars.open_ms[i]), *(float(v[c][i]) for c in ("open", "high", "low", "close", "volume"))]
                for i in range(self._cursor)]

    def forming_bar(self, symbol: str) -> list[float] | None:
        """Return the row of ``symbol``'s bar in progress as it just opened (o=h=l=c=open, v=0); None at the end."""
        cursor = self._cursor
        if cursor >= len(self._times):
            return None
        o = float(self._bars_at(symbol, self._base_ms).values["open"][cursor])
        return [int(self._times[cursor]), o, o, o, o, 0.0]

    def price_now(self, symbol: str) -> float:
        """Return the price an order of ``symbol`` trades at now: the forming bar's open (the last close at the end).

        The account rounds it to the tick (0.01).
        """
        v, cursor = self._bars_at(symbol, self._base_ms).values, self._cursor
        return float(v["open"][cursor] if cursor < len(self._times) else v["close"][-1])

    def advance(self, n: int = 1) -> None:
        """Close the forming bar and open the next one, ``n`` times; return once the messages are on the sockets.

        Raises ``MarketExhausted`` (and moves nothing) when fewer than ``n`` bars are left to close.
        """
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        self._call(self._advance(n))

    def play(self, bars_per_second: float) -> None:
        """Advance one bar every ``1 / bars_per_second`` seconds in the background until paused or exhausted."""
        if not bars_per_second > 0:
            raise ValueError(f"bars_per_second must be positive, got {bars_per_second}")
        self._call(self._start_playing(bars_per_second))

    def pause(self) -> None:
        """Stop playing; return once no step is in progress."""
        self._call(self._stop_playing())

    @property
    def playing(self) -> bool:
        """Return whether ``play`` is advancing the market."""
        player = self._player
        return player is not None and not player.done()

    # -- websocket state ------------------------------------------------------------------------------------
    @property
    def subscriptions(self) -> set[str]:
        """Return the stream names subscribed on the open market sockets."""
        with self._live_lock:
            return set().union(*(s.streams for s in self._sockets))

    async def wait_for_subscriptions(self, *streams: str, timeout: float = 20.0) -> None:
        """Wait, on the caller's event loop, until every one of ``streams`` is subscribed on an open socket.

        Push only after this: a message produced before a client's SUBSCRIBE arrived is not delivered to it.
        """
        deadline = time.monotonic() + timeout
        while not set(streams) <= self.subscriptions:
            if time.monotonic() > deadline:
                raise TimeoutError(f"streams {sorted(set(streams) - self.subscriptions)} not subscribed "
                                   f"within {timeout} s (subscribed: {sorted(self.subscriptions)})")
            await asyncio.sleep(0.01)

    # -- faults ---------------------------------------------------------------------------------------------
    def drop_sockets(self, *, refuse_for_bars: int = 0, refuse_for_seconds: float = 0.0,
                     how: Literal["abort", "close"] = "abort") -> None:
        """End every open market socket now, then refuse new ones (HTTP 503) for some bars or seconds.

        ``how="abort"`` closes the TCP connection without a close frame (ccxt sees code 1006); ``"close"`` sends a
        close frame with code 1001 (going away). Refusal lasts until ``refuse_for_bars`` more bars have advanced
        and ``refuse_for_seconds`` have passed.
        """
        if how not in ("abort", "close"):
            raise ValueError(f"how must be 'abort' or 'close', got {how!r}")
        if refuse_for_bars < 0 or refuse_for_seconds < 0:
            raise ValueError("refuse_for_bars and refuse_for_seconds must not be negative")
        self._call(self._drop_sockets(refuse_for_bars, refuse_for_seconds, how))

    def stall(self, on: bool) -> None:
        """Send nothing on any market socket while on (sockets stay open; messages produced meanwhile are lost)."""
        self._stream_faults.stall(on)

    def inject(self, kind: str, *, stream: str = "kline", symbol: str | None = None) -> None:
        """Spoil the next message of ``stream`` (of ``symbol``, else of any symbol) that a socket subscribed to.

        ``kind``: ``"truncated"`` (a text frame cut in half), ``"malformed"`` (valid JSON, wrong field types),
        ``"duplicate"`` (sent twice) or ``"out_of_order"`` (followed by the same stream's message of the bar
        before: an older closed kline after a newer one). Each injection is served once.
        """
        if symbol is not None and symbol not in self._market_ids:
            raise ValueError(f"symbol {symbol!r} has no bars")
        self._stream_faults.inject(kind, stream, symbol)

    def skip_next_bar(self) -> None:
        """Send nothing on the websocket for the next ``advance`` step (one close and one open go missing)."""
        self._stream_faults.skip_next_bar()

    @property
    def refusing(self) -> bool:
        """Return whether new market websockets are refused (after ``drop_sockets`` asked for it)."""
        return self._stream_faults.refusing

    @property
    def faults_served(self) -> Counter[str]:
        """Return the count of faults served by kind: the injected kinds, ``skip_next_bar``, ``stalled`` (messages
        held back, per socket), ``drop`` (sockets ended) and ``refused`` (connections refused)."""
        return self._stream_faults.served

    # -- life cycle -----------------------------------------------------------------------------------------
    def start(self) -> LiveBinanceServer:
        """Start serving on a free port of 127.0.0.1 in a daemon thread; return self."""
        super().start()
        return self

    def __enter__(self) -> LiveBinanceServer:
        return self.start()

    def stop(self) -> None:
        """Stop playing, end the market sockets and stop serving."""
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._call(self._shutdown())
        super().stop()

    def _call(self, coro: Coroutine[Any, Any, _T]) -> _T:
        """Run ``coro`` on the server loop and return its result (from any thread but the server's)."""
        loop = self._loop
        if loop is None:
            coro.close()
            raise RuntimeError("the server is not started")
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("call the server from the test's thread, not from its own loop")
        return asyncio.run_coroutine_threadsafe(coro, loop).result(_CALL_TIMEOUT)

    async def _shutdown(self) -> None:
        await self._stop_playing()
        await self._desk.shutdown()
        with self._live_lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            if sock.transport is not None:
                sock.transport.close()

    # -- stepping (on the server loop) ----------------------------------------------------------------------
    async def _advance(self, n: int) -> None:
        async with self._step_lock:
            if n > self.bars_left:
                raise MarketExhausted(f"cannot advance {n} bar(s): {self.bars_left} of the frame's "
                                      f"{len(self._times)} bars are left to close (server time {self.now_ms})")
            for _ in range(n):
                await self._step()

    async def _step(self) -> None:
        i = self._cursor
        self._cursor = i + 1  # REST shows the bar closed before any message says so
        closed = {s: self._bars_at(s, self._base_ms).values for s in self._market_ids}
        await self._desk.bar_closed({s: (float(v["high"][i]), float(v["low"][i])) for s, v in closed.items()},
                                    self.now_ms)
        if self._stream_faults.next_bar():
            return
        event_ms, step, interval = self.now_ms, self._base_ms, self.interval
        for symbol, market_id in self._market_ids.items():
            bars = self._bars_at(symbol, step)
            before = i - 1 if i > 0 else None  # the bar whose messages an out-of-order fault sends again
            await self._emit("trade", symbol, msg.trade(market_id, step, bars, i),
                             None if before is None else msg.trade(market_id, step, bars, before))
            await self._emit("bookTicker", symbol, msg.book_ticker(market_id, bars, i),
                             None if before is None else msg.book_ticker(market_id, bars, before))
            await self._emit("kline", symbol,
                             msg.kline(market_id, interval, step, bars, i, closed=True, event_ms=event_ms),
                             None if before is None else msg.kline(market_id, interval, step, bars, before,
                                                                   closed=True, event_ms=event_ms))
            if i + 1 < len(self._times):
                opened = msg.kline(market_id, interval, step, bars, i + 1, closed=False, event_ms=event_ms)
                await self._emit("kline", symbol, opened, None)

    async def _emit(self, stream: str, symbol: str, message: dict[str, Any],
                    previous: dict[str, Any] | None) -> None:
        """Send ``message`` to the sockets subscribed to its stream, spoilt by a pending injection if any."""
        name = msg.stream_name(self._market_ids[symbol], stream, self.interval)
        with self._live_lock:
            targets = [s for s in self._sockets if name in s.streams]
        if not targets:
            return  # nobody listens: an injection waits for a message that is sent
        texts = self._stream_faults.texts(stream, symbol, message, previous)
        for sock in targets:
            for text in texts:
                await self._send(sock, text)

    async def _send(self, sock: _Socket, text: str) -> None:
        if self._stream_faults.hold_back() or sock.ws.closed:
            return
        with contextlib.suppress(ConnectionError, RuntimeError):  # the peer went away meanwhile
            await sock.ws.send_str(text)

    async def _start_playing(self, bars_per_second: float) -> None:
        await self._stop_playing()
        self._player = asyncio.get_running_loop().create_task(self._play(1 / bars_per_second))

    async def _stop_playing(self) -> None:
        player, self._player = self._player, None
        if player is not None:
            player.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await player
        async with self._step_lock:  # a shielded step still running finishes first
            pass

    async def _play(self, period: float) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time()
        while self.bars_left > 0:
            due += period  # a fixed schedule: a slow step does not slow the pace down
            await asyncio.sleep(max(0.0, due - loop.time()))
            with contextlib.suppress(MarketExhausted):  # a concurrent advance took the last bar
                await asyncio.shield(self._advance(1))  # a pause never cuts a step in half

    async def _drop_sockets(self, refuse_for_bars: int, refuse_for_seconds: float, how: str) -> None:
        async with self._step_lock:
            self._stream_faults.refuse(refuse_for_bars, refuse_for_seconds)
            with self._live_lock:
                sockets, self._sockets = self._sockets, []
            self._stream_faults.count("drop", len(sockets))
            closing = []
            for sock in sockets:
                if how == "abort" and sock.transport is not None:
                    sock.transport.close()
                elif how == "close":
                    task = asyncio.create_task(sock.ws.close(code=WSCloseCode.GOING_AWAY, message=b"going away"))
                    self._closing.add(task)
                    task.add_done_callback(self._closing.discard)
                    closing.append(task)
            if closing:
                # The close frame goes out at once; the handshake's end needs the client, whose loop may be the
                # blocked caller's: do not wait for it.
                await asyncio.wait(closing, timeout=0.2)

    # -- endpoints (on the server loop) ---------------------------------------------------------------------
    async def _time(self, request: web.Request) -> web.Response:
        return web.json_response({"serverTime": self.now_ms})

    async def _market_ws(self, request: web.Request) -> web.StreamResponse:
        if self.refusing:
            self._stream_faults.count("refused")
            return web.json_response({"code": -1008, "msg": "Service unavailable (the test refuses websockets)."},
                                     status=503)
        ws = web.WebSocketResponse()  # autoping: pings are answered even while stalled, as a live peer would
        await ws.prepare(request)
        sock = _Socket(ws, request.transport)
        with self._live_lock:
            self._sockets.append(sock)
            self.ws_connections += 1
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    await self._answer(sock, message.data)
        finally:
            with self._live_lock:
                if sock in self._sockets:
                    self._sockets.remove(sock)
        return ws

    async def _answer(self, sock: _Socket, text: str) -> None:
        """Answer one SUBSCRIBE, UNSUBSCRIBE or LIST_SUBSCRIPTIONS request as Binance does."""
        try:
            request = json.loads(text)
            method, request_id = request["method"], request.get("id")
            params = request.get("params") or []
        except (ValueError, KeyError, TypeError):
            await self._send(sock, json.dumps({"error": {"code": 3, "msg": "Invalid JSON"}}))
            return
        result: Any = None
        with self._live_lock:
            if method == "SUBSCRIBE":
                sock.streams.update(str(p) for p in params)
            elif method == "UNSUBSCRIBE":
                sock.streams.difference_update(str(p) for p in params)
            elif method == "LIST_SUBSCRIPTIONS":
                result = sorted(sock.streams)
            else:
                result = KeyError
        if result is KeyError:
            answer: dict[str, Any] = {"error": {"code": 2, "msg": f"Invalid request: unknown method {method!r}"},
                                      "id": request_id}
        else:
            answer = {"result": result, "id": request_id}
        await self._send(sock, json.dumps(answer))

    # -- REST bars --------------------------------------------------------------------------------------------
    def _served_bars(self, symbol: str, step: int) -> _Bars:
        """Return the bars open at the server time, the last one with its running values (as Binance does)."""
        full = self._bars_at(symbol, step)
        cursor = self._cursor
        if cursor >= len(self._times) or symbol not in self._market_ids:  # the end, or a symbol with no bars
            return full
        base = self._bars_at(symbol, self._base_ms)
        k = int(np.searchsorted(full.open_ms, self._times[cursor], side="right"))
        lo = int(np.searchsorted(base.open_ms, full.open_ms[k - 1], side="left"))  # first base bar of the last
        values = {c: a[:k].copy() for c, a in full.values.items()}
        trades = full.trades[:k].copy()
        bv, current = base.values, base.values["open"][cursor]  # the forming bar: o=h=l=c=open, v=0
        values["open"][-1] = bv["open"][lo]
        values["high"][-1] = np.max(bv["high"][lo:cursor], initial=current)
        values["low"][-1] = np.min(bv["low"][lo:cursor], initial=current)
        values["close"][-1] = current
        values["volume"][-1] = bv["volume"][lo:cursor].sum()
        values["quote_volume"][-1] = bv["quote_volume"][lo:cursor].sum()
        trades[-1] = base.trades[lo:cursor].sum()
        return _Bars(full.open_ms[:k], values, trades)


def make_pro_client(server: LiveBinanceServer, **config: Any) -> ccxt.pro.binance:
    """Return the real ``ccxt.pro.binance`` (async) client, spot only, talking to ``server`` by REST and websocket.

    Settings as ``make_client``'s; ``config`` entries override any. The user-data websocket (``ws-api``) points
    at the server too: nothing a test runs can reach the real exchange. The client signs with the server's
    credentials unless ``apiKey`` or ``secret`` is given. Close it with ``await client.close()``.
    """
    if server._credentials is not None and "apiKey" not in config and "secret" not in config:
        config = {"apiKey": server._credentials[0], "secret": server._credentials[1], **config}
    client = ccxt.pro.binance(_client_settings(config))
    _point_rest_at(client, server)
    ws = client.urls["api"]["ws"]
    ws["spot"] = ws["margin"] = f"ws://127.0.0.1:{server.port}/stream/ws"
    ws["ws-api"]["spot"] = f"ws://127.0.0.1:{server.port}/ws-api/v3"
    return client
