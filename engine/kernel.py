"""The kernel: wires the shared components in one fixed order and runs the event loop.

Back-test and live both use this class; they hand it different clocks, feeds and execution clients.
Subscription order is part of the contract, because handlers of one event run in that order:
ledger, order manager, execution client, user handlers, strategies, recorders. A back-test without coroutine
handlers runs its loop in ``EventBus.replay``, next to the dispatch code it writes out for speed.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from engine.bus import EventBus
from engine.clock import Clock, SimulatedClock
from engine.errors import DataError
from engine.events import Bar, CancelOrder, Fill, MarketData, Order, OrderUpdate
from engine.execution import ExecutionClient
from engine.markets import Markets
from engine.orders import OrderManager
from engine.strategy import Strategy, StrategyContext

YOUNG_COLLECTION_AT = 20_000


class Kernel:
    """Own the bus, clock, ledger, order manager, venue, handlers and strategies of one session."""

    def __init__(self, *, bus: EventBus, clock: Clock, ledger: Any, markets: Markets,
                 execution: ExecutionClient, strategies: Sequence[Strategy] = (),
                 handlers: Sequence[object] = (), recorders: Sequence[object] = ()) -> None:
        self.bus = bus
        self.clock = clock
        self.ledger = ledger
        self.markets = markets
        self.execution = execution
        self.orders = OrderManager(bus, clock, ledger, markets)
        self.strategies = list(strategies)
        self.handlers = list(handlers)
        self.recorders = list(recorders)
        self._wire()

    def _wire(self) -> None:
        bus = self.bus
        ledger, orders, execution = self.ledger, self.orders, self.execution
        for event_type, handler, component in (
                (Fill, ledger.on_fill, "ledger"), (OrderUpdate, ledger.on_order_update, "ledger"),
                (Bar, ledger.on_bar, "ledger"), (OrderUpdate, orders.on_order_update, "order manager"),
                (Fill, orders.on_fill, "order manager"), (Order, execution.on_order, "venue"),
                (CancelOrder, execution.on_cancel_order, "venue")):
            bus.subscribe(event_type, handler)
            bus.name_component(handler, component)
        bus.name_component(execution.on_market_data, "venue")
        for handler in self.handlers:
            attach = getattr(handler, "attach", None)
            if callable(attach):
                attach(self)  # a handler that wants the kernel (clock, markets) subscribes itself
            else:
                bus.subscribe_object(handler)
        context = StrategyContext(bus=bus, clock=self.clock, ledger=self.ledger, orders=self.orders,
                                  markets=self.markets)
        for strategy in self.strategies:
            strategy.attach(context)
        for recorder in self.recorders:
            bus.subscribe_object(recorder)

    # -- lifecycle -----------------------------------------------------------------------------------------
    async def run(self, feed: Iterable[MarketData] | AsyncIterator[MarketData]) -> None:
        """Start the strategies, feed every market event through the venue and the bus, then stop them."""
        self._start()
        if isinstance(feed, Iterable) and isinstance(self.clock, SimulatedClock):
            if self.bus.has_async_handlers:
                for event in feed:
                    await self._step(event)
            else:
                with _fewer_full_collections():
                    self.bus.replay(feed, self.clock, self.execution.on_market_data)  # the back-test hot path
        else:
            async for event in feed if not isinstance(feed, Iterable) else _as_async(feed):
                await self._step(event)
        await self._stop()

    async def _step(self, event: MarketData) -> None:
        """Handle one market event on the general path (coroutine handlers, live feeds)."""
        clock = self.clock
        if isinstance(clock, SimulatedClock):
            while clock.fire_next_due(event.ts):
                await self.bus.drain()
            clock.set_time(event.ts)
        try:
            self.execution.on_market_data(event)
        except DataError:
            raise
        except Exception as exc:
            self.bus.handler_failed(self.execution.on_market_data, event, exc)
        await self.bus.drain()
        self.bus.publish(event)
        await self.bus.drain()

    def _start(self) -> None:
        for strategy in self.strategies:
            strategy.on_start()
        self.bus.dispatch()

    async def _stop(self) -> None:
        for strategy in self.strategies:
            strategy.on_stop()
        await self.bus.drain()


@contextmanager
def _fewer_full_collections() -> Iterator[None]:
    """Let the garbage collector scan rarely during a replay, then restore its settings.

    A back-test keeps every order, fill and journal row. They are packed now (engine.history), but each full
    collection still walks whatever objects the run has made alive: on 2026-11-24, with the history still made
    of objects, full collections cost about 10 us an order on a long run with the default thresholds. Objects alive
    before the replay are frozen out of the scans; cycles still get collected, just less often.

    The young generation is collected every ``YOUNG_COLLECTION_AT`` net new objects instead of 700: the rows
    waiting to be packed make the count grow by about 6 an order, so at 700 the 1M-bar benchmark ran 450
    collections, each walking the waiting rows from memory long out of the cache (3.5% of the replay, measured
    with gc.callbacks on 2026-12-01). The hot path makes no reference cycles, so this only delays the collection
    of a strategy's own cyclic garbage, by at most that many objects.
    """
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(thresholds[0], YOUNG_COLLECTION_AT), thresholds[1], max(thresholds[2], 1000))
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


async def _as_async(events: Iterable[MarketData]) -> AsyncIterator[MarketData]:
    for event in events:
        yield event
        await asyncio.sleep(0)


def run_sync(kernel: Kernel, feed: Iterator[MarketData] | Iterable[MarketData]) -> None:
    """Run a kernel to completion from synchronous code (tests, the back-test runner)."""
    asyncio.run(kernel.run(feed))
