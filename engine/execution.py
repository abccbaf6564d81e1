"""The venue interface: what differs between a simulated and a real exchange, and nothing else."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from engine.events import CancelOrder, MarketData, Order


@runtime_checkable
class ExecutionClient(Protocol):
    """Take orders and cancels from the bus; publish ``OrderUpdate`` and ``Fill`` events back onto it.

    The kernel subscribes ``on_order`` and ``on_cancel_order`` to the bus. ``on_market_data`` is called with
    each market event *before* the bus dispatches it, because a venue sees the market before we do: a
    simulated venue matches resting orders there, so fills at a bar's open reach the ledger and the strategy
    before the bar itself; a live venue ignores it.
    """

    def on_market_data(self, event: MarketData) -> None: ...

    def on_order(self, order: Order) -> None: ...

    def on_cancel_order(self, cancel: CancelOrder) -> None: ...
