"""The order manager: pre-trade checks on the way out, and every order's state as the venue reports it."""

from __future__ import annotations

import math
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, Protocol

import numpy as np

from engine.bus import EventBus
from engine.clock import Clock
from engine.errors import ConfigError, OrderRejected
from engine.events import CancelOrder, Fill, Order, OrderStatus, OrderUpdate, Side
from engine.markets import Markets
from engine.order_history import FillLog, FinishedOrders, OrderRecord, OrderRow, record_row

__all__ = ["OrderManager", "OrderRecord", "Reserver"]

_ZERO = Decimal(0)


class Reserver(Protocol):
    def reserve(self, order: Order, reference_price: Decimal | None = None) -> None: ...


class OrderManager:
    """Send orders after pre-trade checks, and keep each order's record from the bus's updates and fills.

    A refused order never reaches the venue: it is recorded as REJECTED and an ``OrderUpdate`` with the reason
    is published, so strategies learn of it through ``on_order_update`` in back-test and live alike.

    Open orders are ``OrderRecord`` objects, updated in place. A finished order is packed into ``FinishedOrders``
    (``get`` and iteration rebuild it), and every fill is kept in ``fills``, so a long session's memory grows
    by tens of bytes an order rather than kilobytes. A fill that arrives for a packed order (a late execution
    report, live) unpacks its record again before it is booked.
    """

    def __init__(self, bus: EventBus, clock: Clock, ledger: Reserver, markets: Markets) -> None:
        self._bus = bus
        self._clock = clock
        self._ledger = ledger
        self._markets = markets
        self.fills = FillLog()  # every fill the bus carried, ours or not, in booking order
        self._finished = FinishedOrders(self.fills)
        # every order in submission order: its record while it may change, else its row in _finished
        self._records: dict[str, OrderRecord | int] = {}
        self._open: dict[str, OrderRecord] = {}
        self._fill_rows: dict[str, list[int]] = {}  # rows in ``fills`` of the orders not packed yet
        self._sequence: dict[str, int] = {}

    def next_id(self, prefix: str) -> str:
        """Return a new client order id: deterministic, so a replay produces the same ids."""
        n = self._sequence.get(prefix, 0) + 1
        self._sequence[prefix] = n
        return f"{prefix}-{n}"

    def submit(self, order: Order, reference_price: Decimal | None = None) -> OrderRecord:
        """Check and reserve funds for ``order``, then publish it for the venue; refused orders are recorded."""
        if order.client_order_id in self._records:
            raise ConfigError(f"duplicate client order id {order.client_order_id!r}")
        record = OrderRecord(order=order, updated_ts=order.ts)
        self._records[order.client_order_id] = record
        try:
            market = self._markets[order.symbol]
            market.check_order(order.client_order_id, order.quantity, order.price, order.stop_price,
                               reference_price)
            self._ledger.reserve(order, reference_price)
        except (OrderRejected, ConfigError) as exc:
            record.status = OrderStatus.REJECTED
            record.reason = str(exc)
            self._records[order.client_order_id] = self._finished.add(record, ())
            self._bus.publish(OrderUpdate(ts=self._clock.now(), client_order_id=order.client_order_id,
                                          symbol=order.symbol, status=OrderStatus.REJECTED,
                                          remaining_quantity=order.quantity, reason=str(exc)))
            return record
        self._open[order.client_order_id] = record
        self._bus.publish(order)
        return record

    def cancel(self, client_order_id: str) -> None:
        """Ask the venue to cancel an open order; unknown or closed orders are ignored."""
        record = self._open.get(client_order_id)
        if record is not None:
            self._bus.publish(CancelOrder(ts=self._clock.now(), client_order_id=client_order_id,
                                          symbol=record.order.symbol))

    # -- bus handlers --------------------------------------------------------------------------------------
    def on_order_update(self, update: OrderUpdate) -> None:
        # Only open records change: an order of another session is not ours (live reconciliation adopts those),
        # and a finished one stays as it ended (our own pre-trade rejection coming back, a cancel refused late).
        record = self._open.get(update.client_order_id)
        if record is None:
            return
        record.updated_ts = update.ts
        record.status = update.status
        if update.reason:
            record.reason = update.reason
        if update.status.is_terminal:
            cid = update.client_order_id
            del self._open[cid]
            self._records[cid] = self._finished.add(record, self._fill_rows.pop(cid, ()))

    def on_fill(self, fill: Fill) -> None:
        row = self.fills.append(fill)
        cid = fill.client_order_id
        record = self._records.get(cid)
        if record is None:
            return
        if isinstance(record, int):  # a late fill of a finished order: it becomes a record object again
            record, rows = self._finished.get(record)
            self._records[cid] = record
            self._fill_rows[cid] = list(rows)
        rows_of_order = self._fill_rows.get(cid)
        if rows_of_order is None:
            rows_of_order = self._fill_rows[cid] = []
        rows_of_order.append(row)
        record.fills.append(fill)
        record.filled_quantity += fill.quantity
        record.filled_notional += fill.price * fill.quantity
        record.fees += fill.fee
        record.updated_ts = fill.ts

    # -- reads ---------------------------------------------------------------------------------------------
    def get(self, client_order_id: str) -> OrderRecord:
        """Return the record of an order; a finished one is rebuilt, equal to what it was when it finished."""
        return self._record(self._records[client_order_id])

    def _record(self, kept: OrderRecord | int) -> OrderRecord:
        return self._finished.get(kept)[0] if isinstance(kept, int) else kept

    def open_orders(self, symbol: str | None = None) -> list[OrderRecord]:
        return [r for r in self._open.values() if symbol is None or r.order.symbol == symbol]

    def open_quantity(self, symbol: str) -> Decimal:
        """Return the signed quantity still to fill on open orders of ``symbol`` (buys positive)."""
        total = _ZERO
        for record in self._open.values():
            order = record.order
            if order.symbol == symbol:
                remaining = order.quantity - record.filled_quantity
                total = total + remaining if order.side is Side.BUY else total - remaining
        return total

    def __iter__(self) -> Iterator[OrderRecord]:
        """Yield every order's record in submission order."""
        for kept in list(self._records.values()):
            yield self._record(kept)

    def column(self, name: str) -> list[Any]:
        """Return one ``OrderRow`` field of every order in submission order, without making the rows."""
        index = OrderRow._fields.index(name)
        packed = self._finished.column(index)
        fill_rows = self._fill_rows
        return [packed[kept] if isinstance(kept, int) else record_row(kept, fill_rows.get(cid, ()))[index]
                for cid, kept in self._records.items()]

    def floats(self, name: str) -> np.ndarray:
        """Return one numeric ``OrderRow`` field of every order as float64 (None as NaN), in submission order."""
        index = OrderRow._fields.index(name)
        packed = self._finished.floats(index)
        fill_rows = self._fill_rows
        values: list[Any] = [packed[kept] if isinstance(kept, int) else record_row(kept, fill_rows.get(cid, ()))[index]
                             for cid, kept in self._records.items()]
        return np.array([math.nan if v is None else float(v) for v in values], dtype=np.float64)

    def rows(self) -> Iterator[OrderRow]:
        """Yield every order as an ``OrderRow`` (order fields, then its state) in submission order, cheaply."""
        finished, fill_rows = self._finished, self._fill_rows
        for cid, kept in list(self._records.items()):
            yield finished.row(kept) if isinstance(kept, int) else record_row(kept, fill_rows.get(cid, ()))

    def __len__(self) -> int:
        return len(self._records)
