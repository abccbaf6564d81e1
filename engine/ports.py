"""The seam between back-test and live: the three interfaces behind which they differ, and nothing else does.

| port | back-test | paper | live |
| --- | --- | --- | --- |
| ``Clock`` | ``SimulatedClock``: time is the event's ``ts`` | ``LiveClock`` | ``LiveClock`` |
| ``DataFeed`` | a replayed iterable (``BarFeed``) | an exchange's websockets | an exchange's websockets |
| ``ExecutionClient`` | the simulated exchange | the simulated exchange on live data | an exchange's API |

Whatever arrives on its own (a feed's events, a venue's reports, a live clock's timers) is handed in through an
``EventSink``: the bus in a back-test, the live loop's ``Inbox`` (``engine.loop``) in a live session, which hands
each event to the bus and drains it before the next.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from engine.events import CancelOrder, Event, MarketData, Order

if TYPE_CHECKING:
    from engine.store import OrderRecord


class EventSink(Protocol):
    """Where events are handed in: ``EventBus`` and the live loop's ``Inbox`` both are."""

    def publish(self, event: Event) -> None: ...


class Clock(Protocol):
    """Tell the time and raise alarms."""

    def now(self) -> int:
        """Return the current time in integer nanoseconds UTC."""
        ...

    def set_timer(self, name: str, at: int, interval: int | None = None) -> None:
        """Publish ``Timer(name=name)`` at ``at`` (ns UTC), then every ``interval`` ns if given."""
        ...

    def cancel_timer(self, name: str) -> None:
        """Forget the timer called ``name``; unknown names are ignored."""
        ...


@runtime_checkable
class DataFeed(Protocol):
    """Market events as they happen, in ``ts`` order: ``async for`` yields them (historical or live); a back-test
    may also iterate a ``HistoricalFeed`` synchronously."""

    def __aiter__(self) -> AsyncIterator[MarketData]: ...


@runtime_checkable
class ExecutionClient(Protocol):
    """Take orders and cancels from the bus; hand ``OrderUpdate`` and ``Fill`` reports back in.

    A venue is built with the ``EventSink`` its reports go to. The kernel subscribes ``on_order`` and
    ``on_cancel_order`` to the bus. ``on_market_data`` is called with each market event *before* the bus
    dispatches it, because a venue sees the market before we do: a simulated venue matches resting orders there,
    so fills at a bar's open reach the ledger and the strategy before the bar itself; a live venue ignores it.
    ``start`` and ``stop`` open and close what the venue holds (connections, streams of reports); the drivers
    call them around a session.
    """

    def on_market_data(self, event: MarketData) -> None: ...

    def on_order(self, order: Order) -> None: ...

    def on_cancel_order(self, cancel: CancelOrder) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass(frozen=True)
class AccountState:
    """What a venue that outlives our process says of the account when a session starts (``Reconciling``).

    ``reports``: what became of the session's orders that the journal does not say yet (fills, final states), in
    the order to book them; ``balances``: each asset of the session's markets, free and locked together;
    ``foreign_trades``: trades in the session's markets since the time asked about by orders that are not the
    session's, described for a person.
    """

    reports: Sequence[Event]
    balances: Mapping[str, Decimal]
    foreign_trades: Sequence[str] = ()


@runtime_checkable
class Reconciling(Protocol):
    """An execution client whose venue keeps the account between our processes (an exchange; not a simulator).

    ``reconcile`` is called once, before ``start``, with every order of the session the journal knows (none for a
    new session) and the time of the journal's last market event, by the venue's clock (None for a new session, or
    one that saw none): it settles the orders that
    were open by asking the venue, and says what the account holds. The session books the reports and compares
    the balances with its ledger before the strategies trade (``engine.resume``).
    """

    async def reconcile(self, orders: Sequence[OrderRecord], since: int | None) -> AccountState: ...
