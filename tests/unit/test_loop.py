"""The two drivers: replay (a back-test's order of timers, venue and event) and live (an inbox drained after every
event, timers on time without market data, a failing handler logged while the session goes on)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from adapters.sim import SimConfig, SimulatedExchange
from engine.bus import EventBus
from engine.clock import LiveClock, SimulatedClock
from engine.errors import HandlerError
from engine.events import Bar, Event, HandlerFailed, MarketData, Signal, Timer
from engine.kernel import Kernel
from engine.ledger import Ledger
from engine.loop import Inbox, live, replay
from engine.markets import Market, Markets
from engine.strategy import Strategy
from engine.testing.events import make_bar

MS = 1_000_000


def bar(ts: int, symbol: str = "BTC/USD") -> Bar:
    return make_bar(ts, 1.0, symbol=symbol, interval=1)


def bare_kernel(bus: EventBus, clock: Any, venue: Any = lambda e: None) -> Any:
    """What the replay driver needs of a kernel: its bus, its clock, a venue to show events to, start and stop."""
    return SimpleNamespace(bus=bus, clock=clock, execution=SimpleNamespace(on_market_data=venue),
                           start=lambda: None, stop=lambda: None)


def test_replay_orders_timers_venue_and_event_as_the_general_path_does() -> None:
    """Due timers first (clock at their time), then the venue sees the event, then what the venue published and
    what that led to, then the event itself and what it published."""
    bus = EventBus()
    clock = SimulatedClock(bus)
    seen: list[tuple[str, int, int]] = []

    def venue(e: Bar) -> None:
        seen.append(("venue", e.ts, clock.now()))
        bus.publish(Signal(ts=e.ts, name="fill", symbol=e.symbol, direction=1))

    def on_signal(s: Signal) -> None:
        seen.append((s.name, s.ts, clock.now()))
        if s.name == "fill":
            bus.publish(Signal(ts=s.ts, name="fill's consequence", symbol=s.symbol, direction=1))

    def on_bar(e: Bar) -> None:
        seen.append(("bar", e.ts, clock.now()))
        bus.publish(Signal(ts=e.ts, name="bar's consequence", symbol=e.symbol, direction=1))
        if e.ts == 20:
            clock.set_timer("now", e.ts)  # due at once: it fires before the next event of the same ts

    bus.subscribe(Timer, lambda t: seen.append(("timer " + t.name, t.ts, clock.now())))
    bus.subscribe(Signal, on_signal)
    bus.subscribe(Bar, on_bar)
    clock.set_timer("every 15", 15, interval=15)
    expected = [
        ("venue", 10, 10), ("fill", 10, 10), ("fill's consequence", 10, 10), ("bar", 10, 10),
        ("bar's consequence", 10, 10),
        ("timer every 15", 15, 15),
        ("venue", 20, 20), ("fill", 20, 20), ("fill's consequence", 20, 20), ("bar", 20, 20),
        ("bar's consequence", 20, 20),
        ("timer now", 20, 20),
        ("venue", 20, 20), ("fill", 20, 20), ("fill's consequence", 20, 20), ("bar", 20, 20),
        ("bar's consequence", 20, 20),
    ]
    replay(bare_kernel(bus, clock, venue), [bar(10), bar(20), bar(20, "ETH/USD")])
    assert seen == expected
    assert clock.now() == 20 and bus.pending() == 0


def test_replay_never_moves_the_clock_back_and_halts_naming_a_failing_handler() -> None:
    bus = EventBus(halt_on_error=True)
    clock = SimulatedClock(bus, start=100)
    times: list[int] = []

    def on_bar(e: Bar) -> None:
        times.append(clock.now())
        if e.ts == 120:
            raise ValueError("boom")

    bus.subscribe(Bar, on_bar)
    with pytest.raises(HandlerError, match=r"on_bar.*ts=120.*ValueError: boom"):
        replay(bare_kernel(bus, clock), [bar(50), bar(110), bar(120), bar(130)])
    assert times == [100, 110, 120]


def test_replay_awaits_coroutine_handlers_in_the_same_order() -> None:
    bus = EventBus()
    clock = SimulatedClock(bus)
    seen: list[tuple[str, int]] = []

    async def on_bar(e: Bar) -> None:
        await asyncio.sleep(0)
        seen.append(("bar", e.ts))

    bus.subscribe(Bar, on_bar)
    bus.subscribe(Timer, lambda t: seen.append(("timer", t.ts)))
    clock.set_timer("t", 15)
    replay(bare_kernel(bus, clock), [bar(10), bar(20)])
    assert seen == [("bar", 10), ("timer", 15), ("bar", 20)]


# -- live --------------------------------------------------------------------------------------------------

class Recorder(Strategy):
    """Set a timer 50 ms after the start; note when each timer and bar is handled, on the wall clock."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, float]] = []

    def on_start(self) -> None:
        self.started = time.monotonic()
        self.set_timer("soon", self.now() + 50 * MS)

    def on_timer(self, timer: Timer) -> None:
        self.seen.append(("timer", time.monotonic() - self.started))

    def on_bar(self, bar: Bar) -> None:
        self.seen.append(("bar", time.monotonic() - self.started))
        if bar.close == 13.0:
            raise RuntimeError("a strategy bug")


def live_kernel(strategy: Strategy) -> tuple[Kernel, Inbox, list[Event]]:
    inbox = Inbox()
    bus = EventBus(halt_on_error=False)
    clock = LiveClock(inbox)
    markets = Markets([Market.from_symbol("BTC/USD")])
    ledger = Ledger(markets, "USD", {"USD": Decimal(10_000)}, clock=clock)
    venue = SimulatedExchange(inbox, clock, markets, SimConfig(), account=ledger)
    failures: list[Event] = []
    kernel = Kernel(bus=bus, clock=clock, ledger=ledger, markets=markets, execution=venue, strategies=[strategy],
                    recorders=[SimpleNamespace(on_handler_failed=failures.append)])
    return kernel, inbox, failures


async def slow_feed(closes: list[float], wait: float) -> AsyncIterator[MarketData]:
    for close in closes:
        await asyncio.sleep(wait)
        yield make_bar(time.time_ns(), close)


def test_a_live_timer_fires_on_time_while_no_market_data_arrives() -> None:
    strategy = Recorder()
    kernel, inbox, _ = live_kernel(strategy)
    asyncio.run(live(kernel, [slow_feed([10.0, 11.0], wait=0.4)], inbox))
    assert [kind for kind, _ in strategy.seen] == ["timer", "bar", "bar"]
    timer_at = strategy.seen[0][1]
    assert 0.04 <= timer_at < 0.3  # due at 50 ms: handled then, not with the first bar at 400 ms


def test_a_failing_strategy_in_live_is_logged_as_an_event_and_the_session_goes_on(
        caplog: pytest.LogCaptureFixture) -> None:
    strategy = Recorder()
    kernel, inbox, failures = live_kernel(strategy)
    with caplog.at_level(logging.ERROR, logger="engine.bus"):
        asyncio.run(live(kernel, [slow_feed([12.0, 13.0, 14.0], wait=0.01)], inbox))
    assert [kind for kind, _ in strategy.seen].count("bar") == 3  # the bar after the failure was handled
    assert len(failures) == 1 and isinstance(failures[0], HandlerFailed)
    assert "Recorder.on_bar" in failures[0].handler or "on_bar" in failures[0].handler
    assert "a strategy bug" in caplog.text


def test_closing_the_inbox_stops_a_session_whose_feed_never_ends() -> None:
    strategy = Recorder()
    kernel, inbox, _ = live_kernel(strategy)

    async def endless() -> AsyncIterator[MarketData]:
        close = 20.0
        while True:
            await asyncio.sleep(0.01)
            close += 1
            yield make_bar(time.time_ns(), close)

    async def session() -> None:
        asyncio.get_running_loop().call_later(0.1, inbox.close)
        await asyncio.wait_for(live(kernel, [endless()], inbox), timeout=5)

    stopped: list[str] = []
    strategy.on_stop = lambda: stopped.append("stop")  # type: ignore[method-assign]
    asyncio.run(session())
    assert stopped == ["stop"] and any(kind == "bar" for kind, _ in strategy.seen)


# -- warm-up ------------------------------------------------------------------------------------------------

class BuysEveryBar(Strategy):
    """Buy a little on every bar; note each bar and whether orders were refused then."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[int, str | None]] = []
        self.records: list[Any] = []

    def on_bar(self, bar: Bar) -> None:
        self.seen.append((bar.ts, self.halted))
        self.records.append(self.buy(bar.symbol, 0.01))


def warm_kernel(strategy: Strategy, clock: Any, bus: EventBus) -> tuple[Kernel, Any]:
    from engine.result.recorder import EquityRecorder

    markets = Markets([Market.from_symbol("BTC/USD")])
    ledger = Ledger(markets, "USD", {"USD": Decimal(10_000)}, clock=clock)
    venue = SimulatedExchange(bus, clock, markets, SimConfig(), account=ledger)
    recorder = EquityRecorder(ledger.equity)
    kernel = Kernel(bus=bus, clock=clock, ledger=ledger, markets=markets, execution=venue, strategies=[strategy],
                    recorders=[recorder])
    return kernel, recorder


def test_a_warm_up_is_seen_by_strategies_refuses_orders_and_is_not_recorded_in_replay_and_live() -> None:
    from engine.kernel import WARMING_UP

    bars = [make_bar(ts * MS, 100.0 + ts, interval=MS) for ts in range(1, 7)]

    replayed = BuysEveryBar()
    bus = EventBus()
    kernel, recorder = warm_kernel(replayed, SimulatedClock(bus), bus)
    replay(kernel, bars, warmup=3)

    async def feed() -> AsyncIterator[MarketData]:
        for event in bars[3:]:
            yield event

    lived = BuysEveryBar()
    inbox = Inbox()
    live_bus = EventBus()
    live_kernel_, live_recorder = warm_kernel(lived, LiveClock(inbox), live_bus)
    asyncio.run(live(live_kernel_, [feed()], inbox, warmup=bars[:3]))

    for strategy, rec in ((replayed, recorder), (lived, live_recorder)):
        assert [ts for ts, _ in strategy.seen] == [b.ts for b in bars]  # history reached the strategy
        assert [halted for _, halted in strategy.seen] == [WARMING_UP] * 3 + [None] * 3
        statuses = [r.status.name for r in strategy.records]
        assert statuses[:3] == ["REJECTED"] * 3 and all(r.reason == WARMING_UP for r in strategy.records[:3])
        assert "REJECTED" not in statuses[3:]
        assert list(rec.ts) == [b.ts for b in bars[3:]]  # the equity curve starts at the first live bar
