"""The order manager: pre-trade checks on the way out, and every order's state as the venue reports it."""

from __future__ import annotations

import contextlib
import math
from array import array
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from typing import Any, Protocol

import numpy as np

from engine.bus import EventBus
from engine.errors import ConfigError, OrderRejected
from engine.events import CancelOrder, Fill, Order, OrderStatus, OrderUpdate, Side
from engine.markets import Markets
from engine.ports import Clock
from engine.store import FillLog, FinishedOrders, OrderRecord, OrderRow, record_row

__all__ = ["OrderManager", "OrderRecord", "Reserver"]

_ZERO = Decimal(0)
HELD = -1  # the slot of an order whose record is an object, not a packed row


class Reserver(Protocol):
    def reserve(self, order: Order, reference_price: Decimal | float | None = None) -> None: ...


class PreTradeCheck(Protocol):
    def check(self, order: Order, reference_price: Decimal | float | None) -> None:
        """Raise ``OrderRejected`` naming the limit an order would break."""
        ...

    def sent(self, order: Order) -> None:
        """Count an order that passed every check and is on its way."""
        ...


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
        # Every order in submission order: its row in _finished, or HELD while its record is an object here.
        self._slots = array("q")
        # client order id -> (slot, record) of the orders held as objects: open ones, and finished ones a late
        # fill reopened
        self._held: dict[str, tuple[int, OrderRecord]] = {}
        self._open: dict[str, OrderRecord] = {}
        self._fill_rows: dict[str, list[int]] = {}  # rows in ``fills`` of the orders not packed yet
        self._sequence: dict[str, int] = {}
        self._halts: dict[str, str] = {}  # who halted trading -> why (warm-up, the risk engine, a kill switch)
        self.risk: PreTradeCheck | None = None  # the risk engine's check, when the session has limits
        self.id_tag = ""  # put before every new id: a live session's own, so no two sessions share an id

    def next_id(self, prefix: str) -> str:
        """Return a new client order id: ``prefix-n``, deterministic, so a replay produces the same ids; with an
        ``id_tag`` (a real-money session's), ``tag`` + ``prefix`` cut to 16 characters + ``-n``, unique across
        sessions and within the 36 characters exchanges such as Binance take."""
        n = self._sequence.get(prefix, 0) + 1
        self._sequence[prefix] = n
        if self.id_tag:
            return f"{self.id_tag}{prefix[:16]}-{n}"
        return f"{prefix}-{n}"

    @property
    def halted(self) -> str | None:
        """Why new orders are refused now (the session is warming up, trading was halted), or None."""
        return next(iter(self._halts.values()), None)

    @property
    def halts(self) -> dict[str, str]:
        """Who halted trading, and why (a copy)."""
        return dict(self._halts)

    def halt(self, reason: str | None, *, by: str = "session") -> None:
        """Refuse every new order with ``reason`` from now on, for ``by`` (None: ``by`` lifts its halt; another's
        stays); cancels still go out."""
        if reason is None:
            self._halts.pop(by, None)
        else:
            self._halts.setdefault(by, reason)

    def submit(self, order: Order, reference_price: Decimal | float | None = None, *,
               closing: bool = False) -> OrderRecord:
        """Check and reserve funds for ``order``, then publish it for the venue; refused orders are recorded.

        A ``closing`` order (the kill switch closing a position) passes a halt and the risk limits: it only
        reduces what is at risk. The market's rules and the funds still apply.
        """
        cid = order.client_order_id
        self._check_new(cid)
        if self._halts and not closing:
            return self._record_rejection(order, next(iter(self._halts.values())))
        try:
            market = self._markets[order.symbol]
            market.check_order(cid, order.quantity, order.price, order.stop_price, reference_price)
            if self.risk is not None and not closing:
                self.risk.check(order, reference_price)
            self._ledger.reserve(order, reference_price)
        except (OrderRejected, ConfigError) as exc:
            return self._record_rejection(order, str(exc))
        if self.risk is not None:
            self.risk.sent(order)
        record = self._hold(order)
        self._bus.publish(order)
        return record

    def restore(self, order: Order, reference_price: Decimal | float | None = None) -> OrderRecord:
        """Take back an order that an earlier process of this session sent (``engine.resume`` reads it from the
        journal): open again, with its funds reserved as when it was sent, and nothing published, since the venue
        has it already. Funds that no longer cover it (a market buy priced at a later mark) are not reserved."""
        self._check_new(order.client_order_id)
        with contextlib.suppress(OrderRejected, ConfigError):  # its fills and final state book all the same
            self._ledger.reserve(order, reference_price)
        return self._hold(order)

    def _hold(self, order: Order) -> OrderRecord:
        record = OrderRecord(order=order, updated_ts=order.ts)
        cid = order.client_order_id
        self._held[cid] = (len(self._slots), record)
        self._slots.append(HELD)
        self._open[cid] = record
        return record

    def refuse(self, order: Order, reason: str) -> OrderRecord:
        """Record ``order`` as REJECTED for ``reason`` without sending it, and publish the rejection."""
        self._check_new(order.client_order_id)
        return self._record_rejection(order, reason)

    def _check_new(self, cid: str) -> None:
        """Raise ``ConfigError`` if ``cid`` was used before: the one lookup of an order's id."""
        if cid in self._held or self._finished.find(cid) is not None:
            raise ConfigError(f"duplicate client order id {cid!r}")

    def _record_rejection(self, order: Order, reason: str) -> OrderRecord:
        cid = order.client_order_id
        record = OrderRecord(order=order, status=OrderStatus.REJECTED, reason=reason, updated_ts=order.ts)
        self._slots.append(self._finished.add(record, ()))
        self._bus.publish(OrderUpdate(ts=self._clock.now(), client_order_id=cid, symbol=order.symbol,
                                      status=OrderStatus.REJECTED, remaining_quantity=order.quantity, reason=reason))
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
            slot, _ = self._held.pop(cid)
            self._slots[slot] = self._finished.add(record, self._fill_rows.pop(cid, ()))

    def on_fill(self, fill: Fill) -> None:
        row = self.fills.append(fill)
        cid = fill.client_order_id
        held = self._held.get(cid)
        if held is not None:
            record = held[1]
        else:
            packed = self._finished.find(cid)
            if packed is None:
                return  # not ours
            # a late fill of a finished order: its record becomes an object again, never packed twice
            record, rows = self._finished.get(packed)
            slot = self._slots.index(packed)
            self._slots[slot] = HELD
            self._held[cid] = (slot, record)
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
        held = self._held.get(client_order_id)
        if held is not None:
            return held[1]
        packed = self._finished.find(client_order_id)
        if packed is None:
            raise KeyError(client_order_id)
        return self._finished.get(packed)[0]

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
        held = self._held_by_slot()
        for slot, row in enumerate(self._slots.tolist()):  # a copy: the handler of a record may submit orders
            yield held[slot][1] if row == HELD else self._finished.get(row)[0]

    def column(self, name: str) -> list[Any]:
        """Return one ``OrderRow`` field of every order in submission order, without making the rows."""
        index = OrderRow._fields.index(name)
        packed = self._finished.column(index)
        if self._in_packing_order():  # every order finished, in the order it was submitted: nothing to move
            return packed
        # each slot's packed row looked up in C (a held order's slot, -1, reads a value that is replaced below)
        values = list(map(packed.__getitem__, self._slots)) if packed else [None] * len(self._slots)
        for slot, (cid, record) in self._held_by_slot().items():
            values[slot] = record_row(record, self._fill_rows.get(cid, ()))[index]
        return values

    def floats(self, name: str) -> np.ndarray:
        """Return one numeric ``OrderRow`` field of every order as float64 (None as NaN), in submission order."""
        index = OrderRow._fields.index(name)

        def held(record: OrderRecord, fill_rows: Sequence[int]) -> float:
            value: Any = record_row(record, fill_rows)[index]
            return math.nan if value is None else float(value)

        return self._in_submission_order(self._finished.floats(index), held)

    def int64s(self, name: str) -> np.ndarray:
        """Return one integer ``OrderRow`` field of every order (``ts``, ``updated_ts``) as int64, in submission
        order."""
        index = OrderRow._fields.index(name)
        return self._in_submission_order(self._finished.int64s(index),
                                         lambda record, fill_rows: record_row(record, fill_rows)[index])

    def average_prices(self) -> np.ndarray:
        """Return each order's ``average_price`` as float64 (NaN where nothing filled), in submission order."""

        def held(record: OrderRecord, fill_rows: Sequence[int]) -> float:
            price = record.average_price
            return math.nan if price is None else float(price)

        return self._in_submission_order(self._finished.average_prices(), held)

    def _in_submission_order(self, packed: np.ndarray,
                             held: Callable[[OrderRecord, Sequence[int]], Any]) -> np.ndarray:
        """Return the values of ``packed`` (one per packed row) by submission order, with ``held(record, its fill
        rows)`` of the orders held as objects in their slots."""
        if self._in_packing_order():
            return packed
        slots = np.frombuffer(self._slots, dtype=np.int64)
        values = np.empty(len(slots), dtype=packed.dtype)  # every slot is set: a packed row's or a held order's
        is_packed = slots != HELD
        values[is_packed] = packed[slots[is_packed]]
        for slot, (cid, record) in self._held_by_slot().items():
            values[slot] = held(record, self._fill_rows.get(cid, ()))
        return values

    def _in_packing_order(self) -> bool:
        """Return whether every order is packed, each at the row of its slot (orders finished as submitted)."""
        slots = np.frombuffer(self._slots, dtype=np.int64)
        return not self._held and bool(np.array_equal(slots, np.arange(len(slots))))

    def rows(self) -> Iterator[OrderRow]:
        """Yield every order as an ``OrderRow`` (order fields, then its state) in submission order, cheaply."""
        finished, fill_rows, held = self._finished, self._fill_rows, self._held_by_slot()
        for slot, row in enumerate(self._slots.tolist()):
            if row == HELD:
                cid, record = held[slot]
                yield record_row(record, fill_rows.get(cid, ()))
            else:
                yield finished.row(row)

    def __len__(self) -> int:
        return len(self._slots)

    def _held_by_slot(self) -> dict[int, tuple[str, OrderRecord]]:
        return {slot: (cid, record) for cid, (slot, record) in self._held.items()}
