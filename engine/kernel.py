"""The kernel: wires the shared components in one fixed order and runs the event loop.

Back-test and live both use this class; they hand it different clocks, feeds and execution clients.
Subscription order is part of the contract, because handlers of one event run in that order:
ledger, order manager, execution client, user handlers, strategies, recorders. A back-test without coroutine
handlers runs its loop in ``EventBus.replay``, next to the dispatch code it writes out for speed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from typing import Any

from engine.bus import EventBus
from engine.clock import Clock, SimulatedClock
from engine.errors import DataError
from engine.events import Bar, CancelOrder, Fill, MarketData, Order, OrderUpdate
from engine.execution import ExecutionClient
from engine.markets import Markets
from engine.orders import OrderManager
from engine.strategy import Strategy, StrategyContext


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


async def _as_async(events: Iterable[MarketData]) -> AsyncIterator[MarketData]:
    for event in events:
        yield event
        await asyncio.sleep(0)


def run_sync(kernel: Kernel, feed: Iterator[MarketData] | Iterable[MarketData]) -> None:
    """Run a kernel to completion from synchronous code (tests, the back-test runner)."""
    asyncio.run(kernel.run(feed))
