"""What the live-session tests share: a market that makes a moving-average cross trade, a paper session on the
real ccxt.pro client against the loopback server, and a driver that closes bars one by one."""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from adapters.ccxt.feed import CcxtFeed
from adapters.ccxt.markets import markets_from_exchange
from adapters.ccxt.venue import Exchange
from adapters.sim import SimSettings
from adapters.sim.paper import Paper
from engine.backtest import BacktestConfig
from engine.events import Bar, Fill, Order, OrderStatus, OrderUpdate, Signal
from engine.live import LiveSession
from engine.risk import RiskLimits
from engine.strategy import Strategy
from engine.testing.binance import make_client
from engine.testing.binance_live import LiveBinanceServer, make_pro_client

MIN = 60_000_000_000
SYMBOL = "BTC/USDT"


def wavy_bars(n: int, *, period: int = 14, start: str = "2024-03-01", seed: int = 7) -> pd.DataFrame:
    """Minute bars whose close swings around 100 (a cross of short averages every few bars), exact in binary."""
    rng = np.random.default_rng(seed)
    closes = [round(100 + 5 * math.sin(2 * math.pi * i / period) + float(rng.integers(-8, 9)) / 8, 2)
              for i in range(n)]
    opens = [closes[0], *closes[:-1]]
    highs = [max(o, c) + 0.25 for o, c in zip(opens, closes, strict=True)]
    lows = [min(o, c) - 0.25 for o, c in zip(opens, closes, strict=True)]
    index = pd.date_range(start, periods=n, freq="1min", tz="UTC", name="ts")
    return pd.DataFrame({"open": opens, "high": highs, "low": lows, "close": closes,
                         "volume": [float(10 + i % 7) for i in range(n)]}, index=index)


def trading(events: Sequence[Any]) -> list[tuple[str, dict[str, Any]]]:
    """The bars, signals, orders, order updates and fills of a journal, without the times the engine's own clock
    stamps (an order's, a refusal's: the wall clock live, the bar's close in a back-test). The paper venue goes
    by market time, so its acknowledgements and fills keep their times."""
    kept = []
    for event in events:
        if isinstance(event, Bar | Signal | Order | OrderUpdate | Fill):
            fields = dataclasses.asdict(event)
            refused = isinstance(event, OrderUpdate) and event.status is OrderStatus.REJECTED and (
                not event.venue_order_id)
            if isinstance(event, Order) or refused:  # the order manager's refusals: warming up, a risk limit
                fields.pop("ts")
            kept.append((type(event).__name__, fields))
    return kept


class SeenBars:
    """A handler that notes every bar the session handled (warm-up included)."""

    def __init__(self) -> None:
        self.bars: list[Bar] = []

    def on_bar(self, bar: Bar) -> None:
        self.bars.append(bar)


async def wait_until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.01)


class PaperRun:
    """A paper session on ``server`` with ``strategies``, and the clients it runs on."""

    def __init__(self, server: LiveBinanceServer, strategies: Sequence[Strategy], journal: Path, *,
                 warmup_bars: int, max_bars: int | None = None, stale_after: float = 5.0,
                 symbols: Sequence[str] = (SYMBOL,), handlers: Sequence[object] = (), timeframe: str = "1m",
                 real_orders: bool = False, cancel_on_stop: bool = True, risk: RiskLimits | None = None,
                 monitor_port: int | None = None, **feed: Any) -> None:
        self.server = server
        self.client = make_pro_client(server)
        self.rest = make_client(server)
        self.seen = SeenBars()
        self.symbols = list(symbols)
        self.timeframe = timeframe
        self.feed = CcxtFeed(self.client, self.symbols, timeframe, rest=self.rest, stale_after=stale_after,
                             backoff_base=0.05, backoff_cap=0.5, **feed)
        self.strategies = list(strategies)
        self.journal = journal
        self.warmup_bars = warmup_bars
        self.max_bars = max_bars
        self.handlers = [self.seen, *handlers]
        self.real_orders = real_orders  # orders to the server's account (it needs credentials), not the simulator
        self.cancel_on_stop = cancel_on_stop
        self.risk = risk or RiskLimits()
        self.monitor_port = monitor_port  # serve the monitor page (0: any free port)
        self.session: LiveSession | None = None

    async def start(self) -> asyncio.Task[Any]:
        """Load the markets, start the session, and return once its streams are subscribed (with real orders,
        the user-data stream too)."""
        await self.client.load_markets()
        self.rest.load_markets()
        self.markets = markets_from_exchange(self.client, self.symbols)
        venue = Exchange(self.client, check_every=1.0, stale_after=5.0, settle_for=10.0,
                         cancel_on_stop=self.cancel_on_stop) if self.real_orders else Paper(SimSettings())
        self.session = LiveSession(self.strategies, self.feed, venue,
                                   BacktestConfig(cash=Decimal(10_000), markets=tuple(self.markets), risk=self.risk),
                                   journal=self.journal, warmup_bars=self.warmup_bars, max_bars=self.max_bars,
                                   handlers=self.handlers, settings={"kind": "paper"},
                                   monitor_port=self.monitor_port)
        task = asyncio.create_task(self.session.run(stop_on_signals=False))
        streams = [f"{s.replace('/', '').lower()}@kline_{self.timeframe}" for s in self.symbols]
        await self.server.wait_for_subscriptions(*streams)
        if self.real_orders:
            await self.server.wait_for_user_stream()
        return task

    async def close_bars(self, n: int, before: Callable[[int], None] = lambda i: None) -> None:
        """Close ``n`` bars one at a time, each handled by the session before the next (``before(i)`` first)."""
        for i in range(n):
            before(i)
            expected = len(self.seen.bars) + len(self.symbols)
            await asyncio.to_thread(self.server.advance)
            await wait_until(lambda want=expected: len(self.seen.bars) >= want, f"bar {i} of {n} handled")

    async def run_bars(self, n: int) -> Any:
        """Start the session, close ``n`` bars one by one, and return its result once it stopped by itself
        (``max_bars``); the clients are closed however it ends."""
        try:
            task = await self.start()
            await self.close_bars(n)
            return await task
        finally:
            await self.close()

    async def close(self) -> None:
        await self.client.close()
