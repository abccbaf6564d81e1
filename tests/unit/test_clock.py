"""Simulated clock: time moves to each event's ts; timers fire in time order, before later events."""

from __future__ import annotations

import asyncio

from engine.bus import EventBus
from engine.clock import NEVER, LiveClock, SimulatedClock
from engine.events import Timer


def test_timers_fire_in_time_order_with_the_clock_at_their_time() -> None:
    bus = EventBus()
    clock = SimulatedClock(bus)
    fired: list[tuple[str, int, int]] = []
    bus.subscribe(Timer, lambda t: fired.append((t.name, t.ts, clock.now())))
    clock.set_timer("b", 20)
    clock.set_timer("a", 10)
    clock.set_timer("every", 5, interval=10)
    while clock.fire_next_due(30):
        bus.dispatch()
    clock.set_time(30)
    assert fired == [("every", 5, 5), ("a", 10, 10), ("every", 15, 15), ("b", 20, 20), ("every", 25, 25)]
    assert clock.now() == 30
    assert clock.next_timer_at() == 35


def test_cancel_and_reschedule() -> None:
    bus = EventBus()
    clock = SimulatedClock(bus)
    fired: list[int] = []
    bus.subscribe(Timer, lambda t: fired.append(t.ts))
    clock.set_timer("x", 10)
    clock.set_timer("x", 40)  # rescheduling replaces the first alarm
    clock.set_timer("y", 20)
    clock.cancel_timer("y")
    clock.advance_to(100)
    bus.dispatch()
    assert fired == [40]


def test_time_never_goes_backwards() -> None:
    clock = SimulatedClock(EventBus(), start=100)
    clock.set_time(50)
    assert clock.now() == 100
    clock.set_timer("late", 10)  # a timer in the past fires now, not before now
    assert clock.next_timer_at() == 100


async def test_live_clock_publishes_timer_on_the_loop() -> None:
    bus = EventBus()
    clock = LiveClock(bus)
    got: list[Timer] = []
    bus.subscribe(Timer, got.append)
    clock.set_timer("soon", clock.now() + 5_000_000)
    await asyncio.sleep(0.05)
    bus.dispatch()
    assert [t.name for t in got] == ["soon"]


def test_the_due_time_the_replay_loop_reads_is_never_later_than_a_live_timer() -> None:
    """The replay driver (``engine.loop``) skips the timer heap while an event's ts is before ``_next_due``: it
    must never be late."""
    bus = EventBus()
    clock = SimulatedClock(bus)

    def earliest_live() -> int:
        live = [at for at, seq, name, _ in clock._timers if clock._live.get(name) == seq]
        return min(live, default=NEVER)

    steps: list[tuple[str, str, int]] = [("set", "a", 50), ("set", "b", 30), ("cancel", "b", 0), ("set", "b", 70),
                                         ("fire", "", 55), ("set", "c", 20), ("set", "a", 10), ("fire", "", 60),
                                         ("cancel", "c", 0), ("set", "d", 65), ("fire", "", 100)]
    for action, name, at in steps:
        if action == "set":
            clock.set_timer(name, at)
        elif action == "cancel":
            clock.cancel_timer(name)
        else:
            while clock.fire_next_due(at):
                pass
        assert clock._next_due <= earliest_live(), (action, name, at)
