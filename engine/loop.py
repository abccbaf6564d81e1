"""The two drivers of a session: replay (a back-test) and live. They differ in where events come from and how
time moves; the kernel's components, the bus and its breadth-first order are the same in both.

- ``replay``: a back-test's events in their order, the simulated clock moved to each event's ``ts`` (timers due
  before it fire first). Without coroutine handlers it runs the fast loop, the only code that reads and sets the
  simulated clock's fields directly.
- ``live``: one asyncio queue, the ``Inbox``, fed by the feeds, the venue's reports and the live clock's timers;
  its tasks are owned by a ``TaskGroup``; the bus is drained after every event, so a timer or a report is handled
  when it arrives, not with the next bar.

Both can begin with a warm-up: the first events are history that handlers and strategies see while orders are
refused and recorders wait (``Kernel.begin_warm_up``), so a live session and its replay decide alike.

For each market event both show it to the venue first (it may fill resting orders at the event's open), handle
what that led to, then the event itself. A failure of the venue's ``on_market_data`` is the engine's
(``EngineError``), except bad market data, which stays a ``DataError``.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterable, Iterable, Sequence
from typing import TYPE_CHECKING

from engine.clock import SimulatedClock
from engine.errors import ConfigError, DataError
from engine.events import Event, MarketData
from engine.ports import DataFeed

if TYPE_CHECKING:
    from engine.kernel import Kernel

__all__ = ["Inbox", "live", "replay"]


def replay(kernel: Kernel, events: Iterable[MarketData] | AsyncIterable[MarketData], *, warmup: int = 0) -> None:
    """Run a back-test: start the strategies, handle every event in order (the first ``warmup`` as a warm-up),
    stop them."""
    if not isinstance(kernel.clock, SimulatedClock):
        raise ConfigError(f"a replay needs a SimulatedClock, got {type(kernel.clock).__name__}")
    if warmup < 0:
        raise ConfigError(f"warmup must be a number of events >= 0, got {warmup}")
    if kernel.bus.has_async_handlers or not isinstance(events, Iterable):
        asyncio.run(_replay_awaiting(kernel, kernel.clock, events, warmup))
        return
    kernel.start()
    kernel.bus.dispatch()
    if warmup:
        events = iter(events)
        kernel.begin_warm_up()
        _replay_fast(kernel, kernel.clock, itertools.islice(events, warmup))
        kernel.end_warm_up()
    _replay_fast(kernel, kernel.clock, events)
    kernel.stop()
    kernel.bus.dispatch()


def _replay_fast(kernel: Kernel, clock: SimulatedClock, events: Iterable[MarketData]) -> None:
    """The back-test's hot loop: everything a local, the clock's fields read and set here, not through calls."""
    bus = kernel.bus
    see = kernel.execution.on_market_data
    queue, routes, dispatch, failed = bus.queue, bus.routes, bus.dispatch, bus.handler_failed
    for event in events:
        ts = event.ts
        if ts >= clock._next_due:
            while clock.fire_next_due(ts):
                dispatch()
        if ts > clock._now:
            clock._now = ts
        try:
            see(event)
        except DataError:  # the market data itself is wrong: the caller names the file it came from
            raise
        except Exception as exc:
            failed(see, event, exc)
        if queue:
            dispatch()
        handlers = routes.get(type(event))  # routes is cleared in place on (un)subscribe, never replaced
        if handlers is None:
            handlers = bus.handlers_for(type(event))
        for handler in handlers:
            try:
                handler(event)
            except Exception as exc:
                failed(handler, event, exc)
        if queue:
            dispatch()


async def _replay_awaiting(kernel: Kernel, clock: SimulatedClock,
                           events: Iterable[MarketData] | AsyncIterable[MarketData], warmup: int) -> None:
    """The same order as the fast loop, awaiting coroutine handlers (and an async iterable of events)."""
    bus = kernel.bus
    kernel.start()
    await bus.drain()
    warming = warmup > 0
    if warming:
        kernel.begin_warm_up()
    async for event in _as_async(events):
        if warming and warmup == 0:
            kernel.end_warm_up()
            warming = False
        warmup -= 1
        while clock.fire_next_due(event.ts):
            await bus.drain()
        clock.set_time(event.ts)
        _show_venue(kernel, event)
        await bus.drain()
        bus.publish(event)
        await bus.drain()
    if warming:
        kernel.end_warm_up()
    kernel.stop()
    await bus.drain()


class Inbox:
    """The live loop's one queue: feeds, the venue's reports and the live clock's timers hand events in here.

    ``publish`` makes it an ``EventSink`` (``engine.ports``), so a venue or a clock takes it where a back-test
    hands them the bus. ``close`` ends the session once the events already handed in are handled.
    """

    def __init__(self) -> None:
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue()

    def publish(self, event: Event) -> None:
        self._queue.put_nowait(event)

    def close(self) -> None:
        self._queue.put_nowait(None)

    def empty(self) -> bool:
        return self._queue.empty()

    async def get(self) -> Event | None:
        return await self._queue.get()


async def live(kernel: Kernel, feeds: Sequence[DataFeed], inbox: Inbox, *,
               warmup: Iterable[MarketData] = ()) -> None:
    """Run a live session until every feed has ended or ``inbox.close()`` is called, then stop it cleanly.

    ``warmup`` events (history fetched before the session, e.g. the last closed bars) are handled first, as a
    warm-up, before any feed is read.
    """
    bus = kernel.bus
    await kernel.execution.start()
    try:
        kernel.start()
        await bus.drain()
        kernel.begin_warm_up()
        for history in warmup:
            _show_venue(kernel, history)
            await bus.drain()
            bus.publish(history)
            await bus.drain()
        kernel.end_warm_up()
        async with asyncio.TaskGroup() as tasks:
            pumps = [tasks.create_task(_pump(feed, inbox)) for feed in feeds]
            tasks.create_task(_close_when_done(pumps, inbox))
            while True:
                if inbox.empty():
                    kernel.idle()
                event = await inbox.get()
                if event is None:
                    break
                if isinstance(event, MarketData):
                    _show_venue(kernel, event)
                    await bus.drain()
                bus.publish(event)
                await bus.drain()
            for pump in pumps:  # closed while feeds still run: they are stopped
                pump.cancel()
        kernel.stop()
        await bus.drain()
        # The venue settles what is still on its way (orders in flight, cancels, fills not yet reported) as it
        # stops; what it hands in meanwhile is handled, so the ledger ends as the venue does.
        stopping = asyncio.ensure_future(kernel.execution.stop())
        while not (stopping.done() and inbox.empty()):
            try:
                event = await asyncio.wait_for(inbox.get(), timeout=0.05)
            except TimeoutError:
                continue
            if event is not None:
                bus.publish(event)
                await bus.drain()
        await stopping
        kernel.idle()
    except BaseException:
        await kernel.execution.stop()
        raise


async def _pump(feed: DataFeed, inbox: Inbox) -> None:
    async for event in feed:
        inbox.publish(event)


async def _close_when_done(pumps: Sequence[asyncio.Task[None]], inbox: Inbox) -> None:
    await asyncio.gather(*pumps, return_exceptions=True)  # a failing feed fails the group by itself
    inbox.close()


def _show_venue(kernel: Kernel, event: MarketData) -> None:
    """Show a market event to the venue before the bus handles it; name its failure the engine's."""
    see = kernel.execution.on_market_data
    try:
        see(event)
    except DataError:
        raise
    except Exception as exc:
        kernel.bus.handler_failed(see, event, exc)


async def _as_async(events: Iterable[MarketData] | AsyncIterable[MarketData]) -> AsyncIterable[MarketData]:
    if isinstance(events, AsyncIterable):
        async for event in events:
            yield event
    else:
        for event in events:
            yield event
