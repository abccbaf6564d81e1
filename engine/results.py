"""What a run leaves behind: the equity curve, orders, fills and round-trip trades as DataFrames."""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import pandas as pd

from engine.events import Bar, Fill
from engine.orders import OrderRecord

TRADE_COLUMNS = ["symbol", "entry_time", "exit_time", "side", "quantity", "entry_price", "exit_price", "pnl",
                 "fees", "return"]


class EquityRecorder:
    """Record equity marked to market after each bar has been fully handled (subscribed last)."""

    def __init__(self, equity: Callable[[], float]) -> None:
        self._equity = equity
        # typed arrays: 16 bytes a bar instead of ~70 for lists of Python ints and floats
        self.ts = array("q")
        self.values = array("d")
        self._append_ts = self.ts.append
        self._append_value = self.values.append

    def on_bar(self, bar: Bar) -> None:
        self._append_ts(bar.ts)
        self._append_value(self._equity())

    def frame(self) -> pd.DataFrame:
        """Return equity by bar close time; with several symbols per timestamp the last value wins."""
        index = pd.to_datetime(np.frombuffer(self.ts, dtype="int64"), utc=True).rename("ts")
        frame = pd.DataFrame({"equity": np.frombuffer(self.values, dtype="float64").copy()}, index=index)
        return frame[~frame.index.duplicated(keep="last")]


@dataclass
class _OpenTrip:
    symbol: str
    direction: int
    entry_time: int
    quantity: Decimal = Decimal(0)  # currently open
    entered: Decimal = Decimal(0)
    entry_notional: Decimal = Decimal(0)
    average_price: Decimal = Decimal(0)
    exited: Decimal = Decimal(0)
    exit_notional: Decimal = Decimal(0)
    gross_pnl: Decimal = Decimal(0)
    fees: Decimal = Decimal(0)
    fills: list[Fill] = field(default_factory=list)


def round_trips(fills: Iterable[Fill]) -> pd.DataFrame:
    """Group fills into round trips: from flat to flat per symbol, a reversal closing one trip and opening the next.

    Entry and exit prices are volume-weighted; ``pnl`` is the realised gain against the average entry price
    minus every fee of the trip's fills (fees in the quote currency); ``return`` is ``pnl`` over the entry
    notional.
    """
    open_trips: dict[str, _OpenTrip] = {}
    rows: list[dict[str, object]] = []
    for fill in sorted(fills, key=lambda f: f.ts):
        remaining = fill.quantity
        sign = fill.side.sign
        while remaining > 0:
            trip = open_trips.get(fill.symbol)
            if trip is None:
                trip = open_trips[fill.symbol] = _OpenTrip(fill.symbol, sign, fill.ts)
            share = remaining / fill.quantity
            if sign == trip.direction:  # entering or adding
                trip.average_price = ((trip.average_price * trip.quantity + fill.price * remaining)
                                      / (trip.quantity + remaining))
                trip.quantity += remaining
                trip.entered += remaining
                trip.entry_notional += fill.price * remaining
                trip.fees += fill.fee * share
                remaining = Decimal(0)
                continue
            closing = min(remaining, trip.quantity)
            trip.exited += closing
            trip.exit_notional += fill.price * closing
            trip.gross_pnl += trip.direction * (fill.price - trip.average_price) * closing
            trip.fees += fill.fee * (closing / fill.quantity)
            trip.quantity -= closing
            remaining -= closing
            if trip.quantity == 0:
                rows.append(_trip_row(trip, fill.ts))
                del open_trips[fill.symbol]
    frame = pd.DataFrame(rows, columns=TRADE_COLUMNS)
    for column in ("entry_time", "exit_time"):
        frame[column] = pd.to_datetime(frame[column].astype("int64"), utc=True)
    return frame


def _trip_row(trip: _OpenTrip, exit_ts: int) -> dict[str, object]:
    pnl = trip.gross_pnl - trip.fees
    return {"symbol": trip.symbol, "entry_time": trip.entry_time, "exit_time": exit_ts,
            "side": "long" if trip.direction > 0 else "short", "quantity": float(trip.entered),
            "entry_price": float(trip.entry_notional / trip.entered),
            "exit_price": float(trip.exit_notional / trip.exited), "pnl": float(pnl),
            "fees": float(trip.fees), "return": float(pnl / trip.entry_notional)}


def fills_frame(fills: Iterable[Fill]) -> pd.DataFrame:
    rows = [{"ts": f.ts, "client_order_id": f.client_order_id, "trade_id": f.trade_id, "symbol": f.symbol,
             "side": f.side.value, "price": float(f.price), "quantity": float(f.quantity), "fee": float(f.fee),
             "fee_currency": f.fee_currency, "liquidity": f.liquidity.value} for f in fills]
    frame = pd.DataFrame(rows, columns=["ts", "client_order_id", "trade_id", "symbol", "side", "price",
                                        "quantity", "fee", "fee_currency", "liquidity"])
    frame["ts"] = pd.to_datetime(frame["ts"].astype("int64"), utc=True)
    return frame


def orders_frame(records: Iterable[OrderRecord]) -> pd.DataFrame:
    rows = []
    for r in records:
        o = r.order
        rows.append({"ts": o.ts, "client_order_id": o.client_order_id, "symbol": o.symbol, "side": o.side.value,
                     "type": o.type.value, "quantity": float(o.quantity),
                     "price": None if o.price is None else float(o.price),
                     "stop_price": None if o.stop_price is None else float(o.stop_price),
                     "time_in_force": o.time_in_force.value, "post_only": o.post_only,
                     "status": r.status.value, "filled_quantity": float(r.filled_quantity),
                     "average_price": None if r.average_price is None else float(r.average_price),
                     "fees": float(r.fees), "reason": r.reason, "updated_ts": r.updated_ts})
    frame = pd.DataFrame(rows, columns=["ts", "client_order_id", "symbol", "side", "type", "quantity", "price",
                                        "stop_price", "time_in_force", "post_only", "status", "filled_quantity",
                                        "average_price", "fees", "reason", "updated_ts"])
    for column in ("ts", "updated_ts"):
        frame[column] = pd.to_datetime(frame[column].astype("int64"), utc=True)
    return frame


def position_exposure(fills: Iterable[Fill], bar_ts: np.ndarray) -> float:
    """Return the share of bars (by close time) at which any position was held."""
    if len(bar_ts) == 0:
        return 0.0
    ordered = sorted(fills, key=lambda f: f.ts)
    if not ordered:
        return 0.0
    held: dict[str, Decimal] = {}
    change_ts = []
    any_held = []
    for fill in ordered:
        held[fill.symbol] = held.get(fill.symbol, Decimal(0)) + fill.side.sign * fill.quantity
        change_ts.append(fill.ts)
        any_held.append(any(q != 0 for q in held.values()))
    index = np.searchsorted(np.asarray(change_ts, dtype="int64"), bar_ts, side="left") - 1
    state = np.concatenate([[False], np.asarray(any_held, dtype=bool)])[index + 1]
    return float(state.mean())
