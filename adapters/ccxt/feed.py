"""A live ``DataFeed`` over ccxt.pro: closed bars of several symbols (and, if asked, trades and best bid/ask),
each bar exactly once and in order per symbol, whatever the websockets do.

What the exchange's streams do, and what this does about it (see ``../shared/EXCHANGE_PROTOCOL.md``):

- ``watch_ohlcv`` repeats the bar in progress without Binance's closed flag. The feed reads the flag from the raw
  kline message (a wrapper around the client's ``handle_ohlcv``), so a bar is handed out as soon as the exchange
  closes it; without the flag (another exchange, a lost closing message) ``ClosedBars`` closes bar t when bar t+1
  first appears. It drops late, repeated and out-of-order rows and reports a skip as a gap.
- A dropped socket rejects the pending ``watch_*`` with a ``NetworkError`` and nothing missed is replayed: the
  watcher backs off (exponentially, with jitter) and watches again; the bar that was in progress is forgotten
  (its last values seen may not be its final ones) and every bar missed is fetched by REST (``fetch_ohlcv``,
  closed bars only, by the exchange's clock) before the stream's next bar is handed out.
- A stream can die silently (a truncated frame ends ccxt's receive loop; a stalled socket raises nothing for
  minutes): a watch that brings nothing for ``stale_after`` seconds closes the client's websockets, clears its
  caches and watches again, which resubscribes; the gap is back-filled as above. Closing them cancels every
  pending watch on the client, the execution client's user stream too (and its watchdog's close cancels ours):
  ``within`` turns that into the ``NetworkError`` of a dropped socket, so each side reconnects and catches up.
- A malformed row (a ``None`` time, a price that is not a positive number) is dropped and the stream restarted,
  the bar fetched by REST.

Every fault is logged on ``adapters.ccxt.feed`` at WARNING and counted in ``health`` (for a monitor page).
Warm-up (``warm_up``) fetches the last N closed bars through DataGen's ``CcxtSource``, the code a back-test's
download uses, on a synchronous client of the same exchange.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import random
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import ccxt
import pandas as pd

from adapters.ccxt.bars import ClosedBars, Gap
from engine.datagen.exchange import CcxtSource
from engine.datagen.query import Query, timeframe_delta
from engine.events import Bar, MarketData, Quote, Trade

__all__ = ["CcxtFeed", "FeedHealth"]

log = logging.getLogger(__name__)

_MS = 1_000_000
_REST_LIMIT = 1000
_REST_RETRIES = 5


@dataclass
class FeedHealth:
    """What the feed has been through: the figures a monitor shows and a test checks."""

    bars: int = 0  # closed bars handed out by the stream and by back-fill, warm-up excluded
    backfilled_bars: int = 0
    warmup_bars: int = 0
    reconnects: int = 0  # watches retried after the exchange or the network failed them
    restarts: int = 0  # websockets closed and resubscribed by the feed (silence, a malformed message)
    faults: Counter[str] = field(default_factory=Counter)  # by kind: disconnected, stale, malformed ...
    last_bar_ts: int | None = None
    last_message_at: float | None = None  # time.monotonic() of the latest update from any stream


def _backoff(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Seconds to wait before retry ``attempt`` (1-based): half of the capped exponential step, plus jitter up to
    the other half, so that many clients dropped at once do not come back in step."""
    step = min(cap, base * 2.0 ** (attempt - 1))
    return step / 2 + rng.uniform(0, step / 2)


async def within(awaitable: Any, seconds: float) -> Any:
    """Await ``awaitable`` for at most ``seconds``, else raise ``TimeoutError`` without waiting for it to end:
    ``asyncio.wait_for`` waits for the cancelled call, and a ccxt watch caught in a reconnect may never end (a CI
    run hung there).

    A watch cancelled under its caller raises ``ccxt.NetworkError``, as a dropped socket does: ccxt's
    ``close_ws_clients`` cancels the pending watches of every socket of the client, so the feed's restart ends
    the execution client's user-stream watches and the other way round; a ``CancelledError`` would end the
    watcher that did not ask for it, silently (the session would get no more bars, or no more reports)."""
    task = asyncio.ensure_future(awaitable)
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if not done:
        task.cancel()
        task.add_done_callback(lambda t: t.cancelled() or t.exception())  # abandoned: its error is not news
        raise TimeoutError
    if task.cancelled():
        raise ccxt.NetworkError("the watch was cancelled: the client's websockets were closed under it")
    return task.result()


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


def _valid_row(row: Any) -> bool:
    """Return whether ``row`` is an OHLCV row the engine can take: a time and positive, consistent prices."""
    try:
        t, o, h, low, c, v = row
        values = [float(o), float(h), float(low), float(c), float(v)]
        int(t)
    except (TypeError, ValueError):
        return False
    return (all(math.isfinite(x) for x in values) and 0 < low <= min(o, c) and max(o, c) <= h and v >= 0
            and isinstance(t, int | float))


class CcxtFeed:
    """Closed bars of ``symbols`` at ``timeframe`` from a ccxt.pro client, as a ``DataFeed`` (``async for``).

    Parameters
    ----------
    client
        A ccxt.pro exchange (``ccxt.pro.binance(...)``) with its markets loaded; the feed closes its websockets
        when it ends, the caller closes the client.
    symbols, timeframe
        What to watch: unified symbols and a ccxt timeframe (``"1m"``).
    trades, quotes
        Also hand out each trade (``Trade``) and each change of the best bid and ask (``Quote``).
    rest
        A synchronous ccxt client of the same exchange, for the warm-up's download (``warm_up``).
    stale_after
        Seconds a watch may bring nothing before the feed restarts the streams.
    backoff_base, backoff_cap, rng
        Retry waits after a failed watch: exponential from ``backoff_base`` to ``backoff_cap`` seconds, jittered
        by ``rng``.
    """

    def __init__(self, client: Any, symbols: Sequence[str], timeframe: str, *, trades: bool = False,
                 quotes: bool = False, rest: Any = None, stale_after: float = 60.0, backoff_base: float = 0.5,
                 backoff_cap: float = 30.0, rng: random.Random | None = None) -> None:
        self.client = client
        self.symbols = list(symbols)
        self.timeframe = timeframe
        self.interval = int(timeframe_delta(timeframe).value)  # ns
        self.trades = trades
        self.quotes = quotes
        self.rest = rest
        self.stale_after = stale_after
        self._backoff: Callable[[int], float] = lambda attempt: _backoff(attempt, backoff_base, backoff_cap,
                                                                          rng or random.Random())
        self.health = FeedHealth()
        self._bars = {symbol: ClosedBars(symbol, self.interval) for symbol in self.symbols}
        self._closed_through: dict[str, int] = {}  # symbol -> open time (ns) of the latest bar flagged closed
        self._queue: asyncio.Queue[MarketData | BaseException] = asyncio.Queue()
        self._restart_lock = asyncio.Lock()
        self._generation = 0  # bumped by each restart, so watchers failed by one restart do not restart again

    # -- warm-up ----------------------------------------------------------------------------------------------
    async def warm_up(self, n: int) -> list[Bar]:
        """Return the last ``n`` closed bars of each symbol, in time order (symbols interleaved by time).

        They come through DataGen's ``CcxtSource`` (paging, retries, checks) with the exchange's clock as "now",
        and count as handed out: the stream goes on from the next bar.
        """
        if n <= 0:
            return []
        if self.rest is None:
            raise ValueError("warm_up needs the synchronous client given as rest=")
        server_now = int(await self.client.fetch_time()) * _MS
        source = CcxtSource(self.rest.id, exchange=self.rest, now=lambda: server_now)
        start = pd.Timestamp(server_now - (n + 1) * self.interval, unit="ns", tz="UTC")
        bars: list[Bar] = []
        for symbol in self.symbols:
            query = Query(exchange=self.rest.id, symbol=symbol, timeframe=self.timeframe, start=start)
            frame = await asyncio.to_thread(source.fetch, query)
            opens = pd.DatetimeIndex(frame.index).as_unit("ns").asi8 // _MS
            rows = [[int(t), o, h, low, c, v] for t, o, h, low, c, v in zip(
                opens, frame["open"], frame["high"], frame["low"], frame["close"], frame["volume"], strict=True)]
            bars.extend(self._bars[symbol].backfill(rows[-n:], closed_by=server_now))
        bars.sort(key=lambda bar: bar.ts)
        self.health.warmup_bars = len(bars)
        log.info("warm-up: %d closed bars of %s by REST", len(bars), ", ".join(self.symbols))
        return bars

    # -- the DataFeed ---------------------------------------------------------------------------------------
    def __aiter__(self) -> AsyncIterator[MarketData]:
        return self._events()

    async def _events(self) -> AsyncIterator[MarketData]:
        self._read_closed_flags()
        watchers = [asyncio.create_task(self._guard(self._watch_bars(symbol))) for symbol in self.symbols]
        if self.trades:
            watchers += [asyncio.create_task(self._guard(self._watch_trades(symbol))) for symbol in self.symbols]
        if self.quotes:
            watchers.append(asyncio.create_task(self._guard(self._watch_quotes())))
        try:
            while True:
                item = await self._queue.get()
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            for watcher in watchers:
                watcher.cancel()
            await asyncio.wait(watchers, timeout=5)  # a watch caught in a reconnect may not end on cancel
            try:  # a socket caught half-way through its handshake may never answer a close
                await asyncio.wait_for(self.client.close_ws_clients(), timeout=5)
            except TimeoutError:
                log.warning("feed: the market sockets did not close within 5 s: dropping them")
                self.client.clients = {}  # else the client's own close() waits on them for ever

    async def _guard(self, watcher: Any) -> None:
        """Run a watcher; hand a failure it did not expect (a bug) to the consumer, which then ends the feed."""
        try:
            await watcher
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # re-raised in the consumer's task
            self._queue.put_nowait(exc)

    def _emit(self, events: Sequence[MarketData]) -> None:
        for event in events:
            self._queue.put_nowait(event)

    # -- watchers ---------------------------------------------------------------------------------------------
    async def _watch(self, what: str, call: Callable[[], Any], catch_up: Callable[[], Any] | None = None) -> Any:
        """Await one update of a stream, retrying until one comes: back off after a failure, restart the
        streams after silence or a message ccxt could not parse. After each failure ``catch_up()`` fetches
        by REST what the stream missed, at once: the stream itself may say nothing more for a while.
        Return the update."""
        attempt = 0
        while True:
            generation = self._generation
            try:
                return await self._one(call)
            except TimeoutError:
                await self._restart(generation, "stale", f"{what}: nothing for {self.stale_after:g} s")
            except ccxt.NetworkError as exc:
                attempt += 1
                self._fault("disconnected", f"{what}: {type(exc).__name__}: {exc}")
                self.health.reconnects += 1
                self._forget_forming()
                await asyncio.sleep(self._backoff(attempt))
            except (ccxt.BaseError, TypeError, ValueError, KeyError, IndexError) as exc:
                await self._restart(generation, "malformed", f"{what}: {type(exc).__name__}: {exc}")
            if catch_up is not None:
                await catch_up()

    async def _one(self, call: Callable[[], Any]) -> Any:
        update = await within(call(), self.stale_after)
        self.health.last_message_at = time.monotonic()
        return update

    def _read_closed_flags(self) -> None:
        """Wrap the client's kline handler to note Binance's closed flag (``k.x``) before ccxt drops it."""
        handle = getattr(self.client, "handle_ohlcv", None)
        markets = getattr(self.client, "markets", None) or {}
        ids = {markets[s]["id"]: s for s in self.symbols if s in markets}
        if handle is None or getattr(handle, "reads_closed_flags", False):
            return

        def handle_ohlcv(connection: Any, message: Any) -> Any:
            answer = handle(connection, message)
            kline = message.get("k") if isinstance(message, dict) else None
            if isinstance(kline, dict) and kline.get("x") is True and kline.get("i") == self.timeframe:
                symbol, opened = ids.get(kline.get("s")), kline.get("t")
                if symbol is not None and isinstance(opened, int):
                    self._closed_through[symbol] = max(self._closed_through.get(symbol, 0), opened * _MS)
            return answer

        handle_ohlcv.reads_closed_flags = True  # type: ignore[attr-defined]
        self.client.handle_ohlcv = handle_ohlcv

    async def _watch_bars(self, symbol: str) -> None:
        closed = self._bars[symbol]
        what = f"{symbol} {self.timeframe} bars"
        while True:
            generation = self._generation
            rows = await self._watch(what, lambda: self.client.watch_ohlcv(symbol, self.timeframe),
                                     lambda: self._catch_up(closed))
            bad = [row for row in rows if not _valid_row(row)]
            if bad:  # ccxt keeps the row in its cache: clear it; the bars it stood for are fetched by REST
                await self._restart(generation, "malformed", f"{what}: {len(bad)} malformed row(s): {bad[0]!r}")
                await self._catch_up(closed)
                continue
            bars, gap = closed.update([list(row) for row in rows], self._closed_through.get(symbol))
            self._hand_out(bars)
            if gap is not None:
                await self._backfill(closed, gap)
                self._hand_out(closed.update([], self._closed_through.get(symbol))[0])

    async def _catch_up(self, closed: ClosedBars) -> None:
        """Fetch by REST every bar closed since the last one handed out (after a reconnect or a restart)."""
        start = closed.next_open
        if start is None:
            return
        server_now = int(await self._rest(f"{closed.symbol} catch-up", self.client.fetch_time)) * _MS
        if server_now > start:
            await self._backfill(closed, Gap(start, server_now))

    async def _backfill(self, closed: ClosedBars, gap: Gap) -> None:
        """Fetch the closed bars of ``gap`` by REST, page by page, and hand out those not handed out yet."""
        what = f"{closed.symbol} {self.timeframe} back-fill"
        since = gap.start // _MS
        fetched: list[list[Any]] = []
        while since * _MS < gap.end:
            page = await self._rest(what, functools.partial(self.client.fetch_ohlcv, closed.symbol, self.timeframe,
                                                            since=since, limit=_REST_LIMIT))
            page = [row for row in page if _valid_row(row) and row[0] >= since]
            fetched += page
            if len(page) < _REST_LIMIT:
                break
            since = int(page[-1][0]) + self.interval // _MS
        server_now = int(await self._rest(what, self.client.fetch_time)) * _MS
        bars = closed.backfill(fetched, closed_by=server_now)
        self.health.backfilled_bars += len(bars)
        if bars:
            log.warning("%s: %d bar(s) from %s fetched by REST", what, len(bars),
                        pd.Timestamp(gap.start, unit="ns", tz="UTC"))
        self._hand_out(bars)

    async def _rest(self, what: str, call: Callable[[], Any]) -> Any:
        """Await a REST call, retrying with backoff: network failures for as long as they last (the bars must
        come: nothing is skipped), other exchange errors five times (a body cut short raises a plain
        ``ExchangeError``), then the feed fails with the error."""
        attempt = 0
        while True:
            try:
                return await call()
            except ccxt.BaseError as exc:
                attempt += 1
                if not isinstance(exc, ccxt.NetworkError) and attempt > _REST_RETRIES:
                    raise
                self._fault("rest", f"{what}: {type(exc).__name__}: {exc}")
                await asyncio.sleep(self._backoff(attempt))

    def _hand_out(self, bars: Sequence[Bar]) -> None:
        if bars:
            self.health.bars += len(bars)
            self.health.last_bar_ts = bars[-1].ts
            self._emit(bars)

    async def _watch_trades(self, symbol: str) -> None:
        last_ts, recent_ids = -1, deque[str](maxlen=1000)
        while True:
            trades = await self._watch(f"{symbol} trades", lambda: self.client.watch_trades(symbol))
            events = []
            for trade in trades:
                ts, trade_id = trade.get("timestamp"), str(trade.get("id"))
                price, amount = trade.get("price"), trade.get("amount")
                if not (isinstance(ts, int) and _positive(price) and _positive(amount)):
                    self._fault("malformed", f"{symbol} trades: dropped {trade.get('info')!r}")
                    continue
                if ts < last_ts or trade_id in recent_ids:
                    continue  # late or repeated
                last_ts = ts
                recent_ids.append(trade_id)
                side = trade.get("side")
                events.append(Trade(ts=ts * _MS, symbol=symbol, price=float(price), quantity=float(amount),
                                    trade_id=trade_id, aggressor=1 if side == "buy" else -1 if side == "sell" else 0))
            self._emit(events)

    async def _watch_quotes(self) -> None:
        """Hand out the best bid and ask of every symbol whenever they changed. ccxt resolves a watch with the one
        symbol its message updated and keeps the others' latest in ``client.bidsasks``: read them all there, so
        a change that came while no watch was pending is not lost (changes between two reads are coalesced)."""
        last: dict[str, tuple[float, float, float, float]] = {}
        while True:
            update = await self._watch("best bid/ask", lambda: self.client.watch_bids_asks(self.symbols))
            latest = {**update, **(getattr(self.client, "bidsasks", None) or {})}
            now = time.time_ns()
            quotes = []
            for symbol in self.symbols:
                ticker = latest.get(symbol) or {}
                bid, ask = ticker.get("bid"), ticker.get("ask")
                if not (isinstance(bid, int | float) and isinstance(ask, int | float) and 0 < bid <= ask):
                    continue  # a side missing or a malformed price: wait for the next
                sizes = (float(ticker.get("bidVolume") or 0), float(ticker.get("askVolume") or 0))
                book = (float(bid), float(ask), *sizes)
                if last.get(symbol) != book:
                    last[symbol] = book
                    stamp = ticker.get("timestamp")
                    quotes.append(Quote(ts=int(stamp) * _MS if isinstance(stamp, int) else now, symbol=symbol,
                                        bid=book[0], ask=book[1], bid_size=book[2], ask_size=book[3]))
            self._emit(quotes)

    # -- faults ---------------------------------------------------------------------------------------------
    def _fault(self, kind: str, message: str) -> None:
        self.health.faults[kind] += 1
        log.warning("feed %s: %s", kind, message)

    def _forget_forming(self) -> None:
        for closed in self._bars.values():
            closed.reset_stream()

    async def _restart(self, generation: int, kind: str, message: str) -> None:
        """Close the client's websockets and clear its caches, once for every watcher that noticed the same
        failure; the next watch reconnects and resubscribes."""
        self._fault(kind, message)
        async with self._restart_lock:
            if generation != self._generation:
                return  # another watcher restarted the streams after this one last watched
            self._generation += 1
            self.health.restarts += 1
            self._forget_forming()
            try:
                await asyncio.wait_for(self.client.close_ws_clients(), timeout=5)
            except TimeoutError:
                self._fault("close", "the market sockets did not close within 5 s: dropping them")
                self.client.clients = {}
            self.client.clean_ws_data()
