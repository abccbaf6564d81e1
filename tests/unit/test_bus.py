"""The bus's ordering guarantees: breadth-first, deterministic, base-class subscriptions, async handlers."""

from __future__ import annotations

import asyncio

import pytest

from engine.bus import EventBus, handler_names
from engine.errors import HandlerError
from engine.events import Bar, Event, HandlerFailed, MarketData, Signal, Timer, Trade


def bar(ts: int, symbol: str = "BTC/USD") -> Bar:
    return Bar(ts=ts, symbol=symbol, open=1.0, high=1.0, low=1.0, close=1.0, volume=1.0, interval=1)


def test_handlers_run_in_subscription_order() -> None:
    bus = EventBus()
    seen: list[str] = []
    bus.subscribe(Bar, lambda e: seen.append("first"))
    bus.subscribe(Bar, lambda e: seen.append("second"))
    bus.subscribe(MarketData, lambda e: seen.append("base"))
    bus.publish(bar(1))
    bus.dispatch()
    assert seen == ["first", "second", "base"]


def test_events_published_while_handling_are_processed_breadth_first() -> None:
    bus = EventBus()
    seen: list[tuple[str, int]] = []

    def on_bar(e: Bar) -> None:
        seen.append(("a", e.ts))
        bus.publish(Signal(ts=e.ts, name="child", symbol=e.symbol, direction=1))

    bus.subscribe(Bar, on_bar)
    bus.subscribe(Bar, lambda e: seen.append(("b", e.ts)))
    bus.subscribe(Signal, lambda e: seen.append(("signal", e.ts)))
    bus.publish(bar(1))
    bus.publish(bar(2))
    bus.dispatch()
    # both handlers of bar 1, then bar 2 (queued before the child signal), then the signals in order
    assert seen == [("a", 1), ("b", 1), ("a", 2), ("b", 2), ("signal", 1), ("signal", 2)]


def test_subscribing_to_a_base_class_receives_subclasses_only() -> None:
    bus = EventBus()
    market: list[Event] = []
    everything: list[Event] = []
    bus.subscribe(MarketData, market.append)
    bus.subscribe(Event, everything.append)
    events: list[Event] = [bar(1), Trade(ts=2, symbol="BTC/USD", price=1.0, quantity=1.0), Timer(ts=3, name="t")]
    for e in events:
        bus.publish(e)
    bus.dispatch()
    assert market == events[:2]
    assert everything == events


def test_order_is_deterministic_across_runs() -> None:
    def run() -> list[tuple[str, int]]:
        bus = EventBus()
        log: list[tuple[str, int]] = []
        for name in ("x", "y", "z"):
            def handler(e: Event, name: str = name) -> None:
                log.append((name, e.ts))
                if name == "y" and e.ts < 5:
                    bus.publish(Timer(ts=e.ts + 10, name="again"))
            bus.subscribe(Event, handler)
        for ts in range(5):
            bus.publish(bar(ts))
        bus.dispatch()
        return log

    assert run() == run()


async def test_async_handlers_are_awaited_in_turn() -> None:
    bus = EventBus()
    seen: list[str] = []

    async def slow(e: Bar) -> None:
        seen.append(f"slow-start-{e.ts}")
        await asyncio.sleep(0.01)
        seen.append(f"slow-end-{e.ts}")
        if e.ts == 1:
            bus.publish(Timer(ts=5, name="child"))

    bus.subscribe(Bar, slow)
    bus.subscribe(Bar, lambda e: seen.append(f"sync-{e.ts}"))
    bus.subscribe(Timer, lambda e: seen.append("timer"))
    assert bus.has_async_handlers
    bus.publish(bar(1))
    bus.publish(bar(2))
    await bus.drain()
    assert seen == ["slow-start-1", "slow-end-1", "sync-1", "slow-start-2", "slow-end-2", "sync-2", "timer"]


def test_sync_dispatch_refuses_coroutine_handlers() -> None:
    bus = EventBus()

    async def handler(e: Bar) -> None: ...

    bus.subscribe(Bar, handler)
    bus.publish(bar(1))
    with pytest.raises(RuntimeError, match=r"await bus\.drain"):
        bus.dispatch()


def test_failing_handler_halts_and_names_handler_and_event() -> None:
    bus = EventBus(halt_on_error=True)

    class Broken:
        def on_bar(self, e: Bar) -> None:
            raise ValueError("boom")

    bus.subscribe_object(Broken())
    bus.publish(bar(7))
    bus.publish(bar(8))
    with pytest.raises(HandlerError, match=r"Broken\.on_bar.*ts=7.*ValueError: boom"):
        bus.dispatch()
    assert bus.pending() == 0


def test_live_mode_logs_publishes_failure_and_goes_on() -> None:
    bus = EventBus(halt_on_error=False)
    after: list[int] = []
    failures: list[HandlerFailed] = []

    def broken(e: Bar) -> None:
        raise ValueError("boom")

    bus.subscribe(Bar, broken)
    bus.subscribe(Bar, lambda e: after.append(e.ts))
    bus.subscribe(HandlerFailed, failures.append)
    bus.publish(bar(1))
    bus.publish(bar(2))
    bus.dispatch()
    assert after == [1, 2]
    assert [f.ts for f in failures] == [1, 2]
    assert "ValueError: boom" in failures[0].error


def test_subscribe_object_maps_on_methods_to_event_types() -> None:
    class Handler:
        def __init__(self) -> None:
            self.got: list[Event] = []

        def on_bar(self, e: Bar) -> None:
            self.got.append(e)

        def on_signal(self, e: Signal) -> None:
            self.got.append(e)

    bus = EventBus()
    handler = Handler()
    assert bus.subscribe_object(handler) == [Bar, Signal]
    events: list[Event] = [bar(1), Signal(ts=2, name="s", symbol="BTC/USD", direction=-1), Timer(ts=3, name="t")]
    for e in events:
        bus.publish(e)
    bus.dispatch()
    assert handler.got == events[:2]
    assert handler_names()["on_order_update"].__name__ == "OrderUpdate"


def test_unsubscribe_and_bad_subscriptions() -> None:
    bus = EventBus()
    got: list[Event] = []
    bus.subscribe(Bar, got.append)
    bus.unsubscribe(Bar, got.append)
    bus.publish(bar(1))
    bus.dispatch()
    assert got == []
    with pytest.raises(TypeError, match="not an Event class"):
        bus.subscribe(int, got.append)  # type: ignore[arg-type]


def test_dispatch_event_keeps_breadth_first_order() -> None:
    bus = EventBus()
    seen: list[tuple[str, int]] = []

    def on_bar(e: Bar) -> None:
        seen.append(("bar", e.ts))
        bus.publish(Timer(ts=e.ts, name="child"))

    bus.subscribe(Bar, on_bar)
    bus.subscribe(Timer, lambda e: seen.append(("timer", e.ts)))
    bus.dispatch_event(bar(1))  # empty queue: handled at once, then its child
    assert seen == [("bar", 1), ("timer", 1)]
    seen.clear()
    bus.publish(Timer(ts=0, name="queued first"))
    bus.dispatch_event(bar(2))  # queued behind what was already waiting
    assert seen == [("timer", 0), ("bar", 2), ("timer", 2)]
