"""Which of an exchange's reports about our orders to believe, and in what order to hand them on.

Reports arrive late, twice and out of order: the user stream repeats an ``executionReport``, sends a stale NEW after
FILLED, reports a fill before the acknowledgement; a REST check finds what the stream already said. An order's
state here moves forward only, by a transition table, and each trade is handed on once (by trade id). A report
that an order has filled more than the fills handed on so far waits for them, so the ledger always books a fill
before the update that finishes its order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from engine.events import Fill, Order, OrderStatus, OrderUpdate

__all__ = ["NEXT", "OrderTracker", "TrackedOrder"]

S = OrderStatus
# The moves an order may make, from each state: anything else is a stale or repeated report, ignored. SUBMITTED is
# our own state between sending the order and the exchange's first word about it (the order is "in flight").
NEXT: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.SUBMITTED: frozenset({S.ACCEPTED, S.REJECTED, S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED}),
    S.ACCEPTED: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED}),
    S.PARTIALLY_FILLED: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED}),
    S.FILLED: frozenset(),
    S.CANCELLED: frozenset(),
    S.EXPIRED: frozenset(),
    S.REJECTED: frozenset(),
}


@dataclass
class TrackedOrder:
    """An order of ours as the exchange last told us, and what of it was handed on."""

    order: Order
    status: OrderStatus = S.SUBMITTED
    filled: Decimal = Decimal(0)  # the quantity whose fills were handed on
    trade_ids: set[str] = field(default_factory=set)
    venue_order_id: str = ""
    waiting: OrderUpdate | None = None  # an update that reports more filled than the fills handed on

    @property
    def open(self) -> bool:
        return not self.status.is_terminal


class OrderTracker:
    """The orders of one session at one exchange: reports in, the events to hand on out."""

    def __init__(self) -> None:
        self.orders: dict[str, TrackedOrder] = {}

    def add(self, order: Order) -> TrackedOrder:
        tracked = self.orders[order.client_order_id] = TrackedOrder(order)
        return tracked

    def adopt(self, order: Order, status: OrderStatus, fills: Iterable[Fill]) -> TrackedOrder:
        """Track an order an earlier process of the session sent, as its journal left it: its state and fills."""
        tracked = self.add(order)
        tracked.status = status
        for fill in fills:
            tracked.trade_ids.add(fill.trade_id)
            tracked.filled += fill.quantity
            tracked.venue_order_id = fill.venue_order_id or tracked.venue_order_id
        return tracked

    def open_orders(self) -> list[TrackedOrder]:
        return [t for t in self.orders.values() if t.open]

    def update(self, update: OrderUpdate) -> list[OrderUpdate]:
        """Take a report of an order's state; return the updates to hand on now (none if stale, repeated, not
        ours, or waiting for its fills)."""
        tracked = self.orders.get(update.client_order_id)
        if tracked is None:
            return []
        if update.venue_order_id:
            tracked.venue_order_id = update.venue_order_id
        if update.status not in NEXT[tracked.status]:
            return []
        if update.status is S.PARTIALLY_FILLED and update.filled_quantity <= tracked.filled and (
                tracked.status is S.PARTIALLY_FILLED):
            return []  # nothing new
        if update.filled_quantity > tracked.filled:
            tracked.waiting = _later(tracked.waiting, update)
            return []
        tracked.status = update.status
        return [update]

    def fill(self, fill: Fill) -> list[Fill | OrderUpdate]:
        """Take a reported trade; return it (once) and any update that was waiting for it."""
        tracked = self.orders.get(fill.client_order_id)
        if tracked is None or fill.trade_id in tracked.trade_ids:
            return []
        tracked.trade_ids.add(fill.trade_id)
        tracked.filled += fill.quantity
        out: list[Fill | OrderUpdate] = [fill]
        waiting = tracked.waiting
        if waiting is not None and waiting.filled_quantity <= tracked.filled:
            tracked.waiting = None
            if waiting.status in NEXT[tracked.status]:
                tracked.status = waiting.status
                out.append(waiting)
        elif tracked.status is S.SUBMITTED:  # a fill before the acknowledgement: the exchange has the order
            tracked.status = S.ACCEPTED
        return out


def _later(waiting: OrderUpdate | None, update: OrderUpdate) -> OrderUpdate:
    """Of two updates waiting for fills, keep the one further along."""
    if waiting is None:
        return update
    if update.status.is_terminal or update.filled_quantity >= waiting.filled_quantity:
        return update
    return waiting
