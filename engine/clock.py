"""Clocks: the only source of "now" in the engine.

Nothing in ``engine/`` or ``strategies/`` reads the wall clock directly; it is handed a ``Clock``
(``engine.ports``). In a
back-test time is the ``ts`` of the event being processed; live it is the wall clock. Timers fire as
``Timer`` events on the bus in both cases.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time

from engine.events import Timer
from engine.ports import EventSink

NEVER = 2**63 - 1  # later than any int64 nanosecond timestamp


class SimulatedClock:
    """Time that moves only when the back-test says so: to each event's ``ts`` before it is dispatched."""

    def __init__(self, bus: EventSink, start: int = 0) -> None:
        self._bus = bus
        self._now = start
        self._timers: list[tuple[int, int, str, int | None]] = []  # (at, seq, name, interval)
        self._live: dict[str, int] = {}  # name -> seq of its current schedule
        self._seq = itertools.count()
        # When the earliest timer is due (NEVER if none), kept current so that an event with no timer due costs
        # one comparison. It may be early (a cancelled timer), never late.
        self._next_due = NEVER

    def now(self) -> int:
        """Return the current time: the ``ts`` of the event being handled, or of the timer firing."""
        return self._now

    def set_timer(self, name: str, at: int, interval: int | None = None) -> None:
        if interval is not None and interval <= 0:
            raise ValueError(f"timer {name!r}: interval must be positive, got {interval}")
        seq = next(self._seq)
        self._live[name] = seq
        due = max(at, self._now)
        heapq.heappush(self._timers, (due, seq, name, interval))
        self._next_due = min(self._next_due, due)

    def cancel_timer(self, name: str) -> None:
        self._live.pop(name, None)

    def next_timer_at(self) -> int | None:
        """Return when the earliest live timer is due, or None."""
        timers = self._timers
        while timers and self._live.get(timers[0][2]) != timers[0][1]:
            heapq.heappop(timers)  # a cancelled or rescheduled timer
        self._next_due = timers[0][0] if timers else NEVER
        return timers[0][0] if timers else None

    def advance_to(self, ts: int) -> None:
        """Fire, in time order, every timer due at or before ``ts``, then set the time to ``ts``.

        Each timer is published with the clock set to its own time; the caller drains the bus between calls
        when it needs each timer handled before the next one (``fire_next_due``).
        """
        while self.fire_next_due(ts):
            pass
        if ts > self._now:
            self._now = ts

    def fire_next_due(self, until: int) -> bool:
        """Publish the earliest timer due at or before ``until``; return whether one fired."""
        if self._next_due > until:
            return False
        due = self.next_timer_at()
        if due is None or due > until:
            return False
        at, seq, name, interval = heapq.heappop(self._timers)
        self._now = max(self._now, at)
        if interval is None:
            del self._live[name]
        else:
            heapq.heappush(self._timers, (at + interval, seq, name, interval))
        self.next_timer_at()  # refresh _next_due
        self._bus.publish(Timer(ts=at, name=name))
        return True

    def set_time(self, ts: int) -> None:
        """Move time forward to ``ts`` without firing timers (the caller fired them first)."""
        if ts > self._now:
            self._now = ts


class LiveClock:
    """Wall-clock time; timers are scheduled on the running asyncio loop and handed to ``sink`` when due.

    In a live session ``sink`` is the loop's ``Inbox``: a timer is then handled, with what it leads to, as soon as
    it fires, whether or not market data is arriving.
    """

    def __init__(self, sink: EventSink) -> None:
        self._bus = sink
        self._handles: dict[str, asyncio.TimerHandle] = {}

    def now(self) -> int:
        return time.time_ns()

    def set_timer(self, name: str, at: int, interval: int | None = None) -> None:
        if interval is not None and interval <= 0:
            raise ValueError(f"timer {name!r}: interval must be positive, got {interval}")
        self.cancel_timer(name)
        loop = asyncio.get_running_loop()
        delay = max(0.0, (at - self.now()) / 1e9)

        def fire() -> None:
            self._bus.publish(Timer(ts=at, name=name))
            if interval is not None:
                self.set_timer(name, at + interval, interval)
            else:
                self._handles.pop(name, None)

        self._handles[name] = loop.call_later(delay, fire)

    def cancel_timer(self, name: str) -> None:
        handle = self._handles.pop(name, None)
        if handle is not None:
            handle.cancel()
