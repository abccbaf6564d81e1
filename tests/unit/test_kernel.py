"""The kernel runs the same components whichever way events arrive: sync replay, async handlers, async feeds."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pandas as pd

from adapters.sim import SimConfig, SimSettings, SimulatedExchange
from engine.backtest import run_backtest
from engine.bus import EventBus
from engine.clock import SimulatedClock
from engine.datagen.bar_feed import BarFeed
from engine.datagen.files import save_parquet
from engine.datagen.sample import load_sample
from engine.events import Bar, Fill, MarketData
from engine.kernel import Kernel
from engine.ledger import Ledger
from engine.loop import replay
from engine.markets import Market, Markets
from strategies.sma_cross import SmaCross


def sample(rows: int = 2000) -> tuple[pd.DataFrame, str]:
    frame, meta = load_sample()
    return frame.iloc[:rows], meta.symbol


class AsyncAudit:
    """A user handler whose hooks are coroutines: the kernel must await them in their turn."""

    def __init__(self) -> None:
        self.bars = 0
        self.fills: list[Fill] = []

    async def on_bar(self, bar: Bar) -> None:
        await asyncio.sleep(0)
        self.bars += 1

    async def on_fill(self, fill: Fill) -> None:
        self.fills.append(fill)


def test_async_handlers_give_the_same_backtest_as_the_sync_path() -> None:
    frame, symbol = sample()
    plain = run_backtest(SmaCross(), frame, venue=SimSettings(), symbol=symbol)
    audit = AsyncAudit()
    awaited = run_backtest(SmaCross(), frame, venue=SimSettings(), symbol=symbol, handlers=[audit])
    pd.testing.assert_frame_equal(plain.trades, awaited.trades)
    pd.testing.assert_frame_equal(plain.equity, awaited.equity)
    assert audit.bars == len(frame)
    assert len(audit.fills) == len(plain.fills) > 0


def test_an_async_feed_drives_the_same_components() -> None:
    """A live session hands the kernel an async iterator; with a simulated clock it must replay identically."""
    frame, symbol = sample()
    expected = run_backtest(SmaCross(), frame, venue=SimSettings(fee_bps=10, slippage="none"), symbol=symbol)

    async def live_like(feed: BarFeed) -> AsyncIterator[MarketData]:
        async for bar in feed:
            yield bar

    bus = EventBus()
    clock = SimulatedClock(bus)
    markets = Markets([Market.from_symbol(symbol)])
    ledger = Ledger(markets, "USD", {"USD": Decimal(10_000)}, clock=clock, reserve_fee_rate=Decimal("0.001"))
    venue = SimulatedExchange(bus, clock, markets, SimConfig(), account=ledger)
    fills: list[Fill] = []

    class Collect:
        def on_fill(self, fill: Fill) -> None:
            fills.append(fill)

    kernel = Kernel(bus=bus, clock=clock, ledger=ledger, markets=markets, execution=venue,
                    strategies=[SmaCross()], recorders=[Collect()])
    replay(kernel, live_like(BarFeed(frame, symbol)))
    got = [(f.ts, f.side.value, float(f.price), float(f.quantity)) for f in fills]
    want = [(t.value, side, price, qty) for t, side, price, qty in expected.fills[["ts", "side", "price", "quantity"]]
            .itertuples(index=False)]
    assert got == want and len(got) > 0
    assert ledger.equity() == expected.stats["final_equity"]


def test_backtest_from_a_parquet_file(tmp_path: Path) -> None:
    frame, symbol = sample()
    path = tmp_path / "bars.parquet"
    save_parquet(frame, path, symbol=symbol)
    from_file = run_backtest(SmaCross(), path, venue=SimSettings())
    from_frame = run_backtest(SmaCross(), frame, venue=SimSettings(), symbol=symbol)
    pd.testing.assert_frame_equal(from_file.trades, from_frame.trades)
