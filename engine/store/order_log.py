"""The packed log of a session's fills and finished orders (see ``engine.store.packed`` for why packed)."""

from __future__ import annotations

import dataclasses
import math
import operator
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple, overload

import numpy as np

from engine.events import Fill, Liquidity, Order, OrderStatus, OrderType, Side, TimeInForce
from engine.store.key_index import KeyIndex
from engine.store.packed import (
    BOOL,
    DECIMAL,
    I64,
    INT_TUPLE,
    NAME,
    OBJECT,
    OPTIONAL_DECIMAL,
    STR,
    PackedTable,
    enum_codec,
)


@dataclass(slots=True)
class OrderRecord:
    """What we know of one order: the request and its latest state."""

    order: Order
    status: OrderStatus = OrderStatus.SUBMITTED
    filled_quantity: Decimal = Decimal(0)
    filled_notional: Decimal = Decimal(0)
    fees: Decimal = Decimal(0)
    reason: str = ""
    updated_ts: int = 0
    fills: list[Fill] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return not self.status.is_terminal

    @property
    def remaining_quantity(self) -> Decimal:
        return self.order.quantity - self.filled_quantity

    @property
    def average_price(self) -> Decimal | None:
        return self.filled_notional / self.filled_quantity if self.filled_quantity else None


class FillRow(NamedTuple):
    """A packed fill read in bulk (result frames, round trips).

    Its fields are named like ``Fill``'s, so code that reads ``fill.price`` takes either, and making one costs
    a tenth of rebuilding a ``Fill``.
    """

    ts: int
    client_order_id: str
    trade_id: str
    symbol: str
    side: Side
    price: Decimal
    quantity: Decimal
    fee: Decimal
    fee_currency: str
    liquidity: Liquidity
    venue_order_id: str


class OrderRow(NamedTuple):
    """An order's fields, then its state and the rows of its fills in the session's ``FillLog``."""

    ts: int
    client_order_id: str
    symbol: str
    side: Side
    type: OrderType
    quantity: Decimal
    price: Decimal | None
    stop_price: Decimal | None
    time_in_force: TimeInForce
    post_only: bool
    reduce_only: bool
    tags: Mapping[str, str]
    status: OrderStatus
    filled_quantity: Decimal
    filled_notional: Decimal
    fees: Decimal
    reason: str
    updated_ts: int
    fill_rows: tuple[int, ...]


FILL_FIELDS = tuple(f.name for f in dataclasses.fields(Fill))
ORDER_FIELDS = tuple(f.name for f in dataclasses.fields(Order))
_FILL_CODECS = {"ts": I64, "client_order_id": STR, "trade_id": STR, "symbol": NAME, "side": enum_codec(Side),
                "price": DECIMAL, "quantity": DECIMAL, "fee": DECIMAL, "fee_currency": NAME,
                "liquidity": enum_codec(Liquidity), "venue_order_id": STR}
_ORDER_CODECS = {"ts": I64, "client_order_id": STR, "symbol": NAME, "side": enum_codec(Side),
                 "type": enum_codec(OrderType), "quantity": DECIMAL, "price": OPTIONAL_DECIMAL,
                 "stop_price": OPTIONAL_DECIMAL, "time_in_force": enum_codec(TimeInForce), "post_only": BOOL,
                 "reduce_only": BOOL, "tags": OBJECT, "status": enum_codec(OrderStatus), "filled_quantity": DECIMAL,
                 "filled_notional": DECIMAL, "fees": DECIMAL, "reason": NAME, "updated_ts": I64,
                 "fill_rows": INT_TUPLE}
_CID = OrderRow._fields.index("client_order_id")
_FILLED_QUANTITY = OrderRow._fields.index("filled_quantity")
_FILLED_NOTIONAL = OrderRow._fields.index("filled_notional")

# Should Fill or Order gain, lose or reorder a field, the packed layouts must follow: fail at import, not in a run.
if FillRow._fields != FILL_FIELDS or tuple(_FILL_CODECS) != FILL_FIELDS:
    raise RuntimeError(f"FillRow {FillRow._fields} no longer matches Fill {FILL_FIELDS}")
if OrderRow._fields[:len(ORDER_FIELDS)] != ORDER_FIELDS or tuple(_ORDER_CODECS) != OrderRow._fields:
    raise RuntimeError(f"OrderRow {OrderRow._fields} no longer matches Order {ORDER_FIELDS}")


def _rebuild(cls: type[Any], names: Sequence[str], values: Iterable[Any]) -> Any:
    """Make an instance of a slotted dataclass from its field values without running ``__init__`` again.

    The values were checked when the object was first made; a keyword call into a generated ``__init__`` costs
    several times as much, and a result rebuilds these by the ten thousand.
    """
    obj = object.__new__(cls)
    for name, value in zip(names, values, strict=True):
        object.__setattr__(obj, name, value)
    return obj


def record_row(record: OrderRecord, fill_rows: Sequence[int] = ()) -> OrderRow:
    """Return a record as the ``OrderRow`` it is packed as."""
    o = record.order
    return OrderRow(o.ts, o.client_order_id, o.symbol, o.side, o.type, o.quantity, o.price, o.stop_price,
                    o.time_in_force, o.post_only, o.reduce_only, o.tags, record.status, record.filled_quantity,
                    record.filled_notional, record.fees, record.reason, record.updated_ts, tuple(fill_rows))


class FillLog(Sequence[Fill]):
    """Every fill of a session in booking order, packed; read back as ``Fill`` events equal to the originals."""

    def __init__(self) -> None:
        self.table = PackedTable(tuple(_FILL_CODECS.values()))
        self._last_ts: int | None = None
        self._time_ordered = True  # no fill booked with a ts before the one booked ahead of it

    def append(self, fill: Fill) -> int:
        """Keep ``fill``; return its row number."""
        # a plain tuple in FillRow's field order (readers make FillRows of what they read): no NamedTuple call
        row = self.table.append((fill.ts, fill.client_order_id, fill.trade_id, fill.symbol, fill.side, fill.price,
                                 fill.quantity, fill.fee, fill.fee_currency, fill.liquidity, fill.venue_order_id))
        if self._last_ts is not None and fill.ts < self._last_ts:
            self._time_ordered = False
        self._last_ts = fill.ts
        return row

    def column(self, name: str) -> list[Any]:
        """Return one field of every fill, in order, without making the fills."""
        return self.table.column(FILL_FIELDS.index(name))

    def floats(self, name: str) -> np.ndarray:
        """Return one numeric field of every fill as float64, without making Decimals."""
        return self.table.floats(FILL_FIELDS.index(name))

    def int64s(self, name: str) -> np.ndarray:
        """Return one integer field of every fill (``ts``) as int64, without making ints."""
        return self.table.int64s(FILL_FIELDS.index(name))

    def rows(self) -> Iterator[FillRow]:
        """Yield every fill as a ``FillRow``, unpacking one block at a time."""
        return map(FillRow._make, self.table)

    def in_time_order(self) -> Iterable[FillRow]:
        """Return the rows by ``ts`` (stable); without sorting when booking order already is time order."""
        if self._time_ordered:
            return self.rows()
        return sorted(self.rows(), key=lambda row: row.ts)

    def __len__(self) -> int:
        return len(self.table)

    @overload
    def __getitem__(self, index: int) -> Fill: ...

    @overload
    def __getitem__(self, index: slice) -> list[Fill]: ...

    def __getitem__(self, index: int | slice) -> Fill | list[Fill]:
        if isinstance(index, slice):
            return [_rebuild(Fill, FILL_FIELDS, row) for row in self.table[index]]
        return _rebuild(Fill, FILL_FIELDS, self.table[index])

    def __iter__(self) -> Iterator[Fill]:
        for row in self.table:
            yield _rebuild(Fill, FILL_FIELDS, row)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # equal to lists, which are unhashable

    def column_blocks(self, *names: str) -> Iterator[tuple[list[Any], ...]]:
        """Yield fields ``names`` of the fills a block at a time: one list per name, in booking order.

        Results fold tens of thousands of fills; whole columns of their Decimals would take 4 MB each.
        """
        return zip(*(self.table.column_blocks(FILL_FIELDS.index(name)) for name in names), strict=True)

    def float_blocks(self, name: str) -> Iterator[list[float]]:
        """Yield one numeric field of the fills as floats a block at a time, without making Decimals."""
        return self.table.float_blocks(FILL_FIELDS.index(name))

    def is_time_ordered(self) -> bool:
        """Return whether booking order is time order (no ``ts`` before the one booked ahead of it)."""
        return self._time_ordered


class FinishedOrders:
    """The records of finished orders, packed as ``OrderRow``s."""

    def __init__(self, fills: FillLog) -> None:
        self._fills = fills
        self._table = PackedTable(tuple(_ORDER_CODECS.values()))
        self._ids = KeyIndex()

    def add(self, record: OrderRecord, fill_rows: Sequence[int]) -> int:
        """Pack ``record``, whose fills are ``fill_rows`` of the fill log; return its row number."""
        row = self._table.append(record_row(record, fill_rows))
        self._ids.add(record.order.client_order_id, row)
        return row

    def find(self, client_order_id: str) -> int | None:
        """Return the row of the order packed last with ``client_order_id``, None if none was."""
        table = self._table
        return self._ids.find(client_order_id, lambda row: table[row][_CID] == client_order_id)

    def column(self, index: int) -> list[Any]:
        """Return field ``index`` of every packed row, in packing order."""
        return self._table.column(index)

    def floats(self, index: int) -> np.ndarray:
        """Return numeric field ``index`` of every packed row as float64 (None as NaN), in packing order."""
        return self._table.floats(index)

    def int64s(self, index: int) -> np.ndarray:
        """Return integer field ``index`` of every packed row as int64 (stamps), in packing order."""
        return self._table.int64s(index)

    def average_prices(self) -> np.ndarray:
        """Return ``OrderRecord.average_price`` of every packed row as float64 (NaN for None), in packing order.

        The two columns are read a block at a time: whole columns of their Decimals would take 4 MB each.
        """
        out = np.full(len(self._table), math.nan)
        at = 0
        for quantities, notionals in zip(self._table.column_blocks(_FILLED_QUANTITY),
                                         self._table.column_blocks(_FILLED_NOTIONAL), strict=True):
            if all(quantities):  # every order of the block filled: divided in C
                out[at:at + len(quantities)] = list(map(float, map(operator.truediv, notionals, quantities)))
            else:
                out[at:at + len(quantities)] = [float(n / q) if q else math.nan
                                                for q, n in zip(quantities, notionals, strict=True)]
            at += len(quantities)
        return out

    def row(self, row: int) -> OrderRow:
        """Return the packed row ``row``."""
        return OrderRow._make(self._table[row])

    def get(self, row: int) -> tuple[OrderRecord, tuple[int, ...]]:
        """Return the record packed at ``row`` (a new object equal to the one packed) and its fill rows."""
        values = self.row(row)
        order = _rebuild(Order, ORDER_FIELDS, values[:len(ORDER_FIELDS)])
        record = OrderRecord(order, values.status, values.filled_quantity, values.filled_notional, values.fees,
                             values.reason, values.updated_ts, [self._fills[i] for i in values.fill_rows])
        return record, values.fill_rows
