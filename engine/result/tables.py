"""The frames of a run: one row per order, per fill and per round trip, with the columns and types they share.

The fills are read from one representation, the packed ``FillLog`` the order manager keeps: ``fill_log`` turns
any other sequence of fills (a list a test or the ML code made) into one, once, at the boundary.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from enum import Enum
from typing import Any

import numpy as np
import pandas as pd

from engine.datagen.frames import utc_index
from engine.events import Fill
from engine.orders import OrderManager
from engine.store import FillLog

__all__ = ["CATEGORY_COLUMNS", "FILL_COLUMNS", "ORDER_COLUMNS", "TRADE_COLUMNS", "as_categories", "booked",
           "category_column", "fill_log", "fills_frame", "orders_frame", "time_column"]

TRADE_COLUMNS = ["symbol", "entry_time", "exit_time", "side", "quantity", "entry_price", "exit_price", "pnl",
                 "fees", "return"]
FILL_COLUMNS = ["ts", "client_order_id", "trade_id", "symbol", "side", "price", "quantity", "fee", "fee_currency",
                "liquidity"]
ORDER_COLUMNS = ["ts", "client_order_id", "symbol", "side", "type", "quantity", "price", "stop_price",
                 "time_in_force", "post_only", "status", "filled_quantity", "average_price", "fees", "reason",
                 "updated_ts"]
# Text columns with a handful of distinct values are categoricals: a byte a row instead of about twelve for
# pandas' Arrow-backed strings (5 MB less for the 38,710 orders of the 1M-bar benchmark). They compare, filter
# and write to CSV as the strings they hold.
CATEGORY_COLUMNS = frozenset({"symbol", "side", "type", "time_in_force", "status", "reason", "fee_currency",
                              "liquidity"})


def fill_log(fills: Iterable[Fill]) -> FillLog:
    """Return ``fills`` as the packed log the result code reads: a session's log as it is, other fills packed
    once, in their order."""
    if isinstance(fills, FillLog):
        return fills
    log = FillLog()
    for fill in fills:
        log.append(fill)
    return log


def booked(log: FillLog, names: Sequence[str]) -> Iterator[tuple[Any, ...]]:
    """Yield fields ``names`` of the log's fills in booking order, one block of them decoded at a time.

    A ``FillRow`` per fill, or whole columns of their Decimals, would take several MB for 40,000 fills.
    """
    for block in log.column_blocks(*names):
        rows = zip(*block, strict=True)
        del block  # the rows hold the block's lists until they are read: then they go, before the next block
        yield from rows


def fills_frame(fills: Iterable[Fill]) -> pd.DataFrame:
    """Return one row per fill, read a column and a block at a time, without making a Fill per row."""
    log = fill_log(fills)
    n = len(log)
    data: dict[str, Any] = {}
    for name in FILL_COLUMNS:  # each column made whole before the next is read
        if name in ("price", "quantity", "fee"):
            data[name] = _joined(log.float_blocks(name), n, np.float64)
        elif name == "ts":
            data[name] = time_column(log.int64s(name))
        elif name in ("side", "liquidity"):
            data[name] = category_column(map(_values, _blocks(log, name)), n)
        elif name in CATEGORY_COLUMNS:
            data[name] = category_column(_blocks(log, name), n)
        else:
            data[name] = _inferred(_blocks(log, name))
    return pd.DataFrame(data, columns=FILL_COLUMNS, copy=False)


def _blocks(log: FillLog, name: str) -> Iterator[list[Any]]:
    """Yield one field of the log's fills a block at a time."""
    return (block for (block,) in log.column_blocks(name))


def orders_frame(orders: OrderManager) -> pd.DataFrame:
    """Return one row per order in submission order, built a column at a time from the order manager's rows.

    Each column is made whole (an array, or a Series pandas has typed) before the next is read: the order
    manager hands out whole columns of Python objects, and only one of them exists at a time.
    """
    data: dict[str, Any] = {}
    for name in ORDER_COLUMNS:
        if name == "average_price":  # read a block at a time
            data[name] = _optional(orders.average_prices())
        elif name in ("quantity", "filled_quantity", "fees"):
            data[name] = orders.floats(name)
        elif name in ("price", "stop_price"):  # None where the order has none
            data[name] = _optional(orders.floats(name))
        elif name in ("ts", "updated_ts"):
            data[name] = time_column(orders.int64s(name))
        elif name in ("side", "type", "time_in_force", "status"):
            data[name] = category_column([_values(orders.column(name))], len(orders))
        elif name in CATEGORY_COLUMNS:
            data[name] = category_column([orders.column(name)], len(orders))
        else:
            data[name] = _inferred([orders.column(name)])
    return pd.DataFrame(data, columns=ORDER_COLUMNS, copy=False)


def time_column(stamps: np.ndarray) -> pd.DatetimeIndex:
    """Return int64 nanoseconds as the frames' time columns have them: UTC, sharing their memory (``to_datetime``
    took 20 ms for 40,000 of them), and for none what ``to_datetime`` makes, a column in seconds."""
    if len(stamps) == 0:
        return pd.to_datetime(stamps, utc=True)
    return utc_index(stamps, name=None)


def category_column(blocks: Iterable[Sequence[Any]], n: int) -> pd.Categorical | list[Any]:
    """Return the ``n`` values of ``blocks`` as a categorical whose categories are sorted, as
    ``astype("category")`` makes them, without building a column of strings first; no values give an empty
    list (typed by the frame).

    The values of these columns are shared strings (an enum's value, a name the packed history reads once), so
    a dict lookup a row finds their codes.
    """
    if n == 0:
        return []
    codes = np.empty(n, dtype=np.int32)
    seen: dict[Any, int] = {}
    found: list[Any] = []  # the values with a code, in the order of their codes
    at = 0
    for block in blocks:
        for value in set(block).difference(seen):
            if value is None or value != value:  # None or NaN: missing, code -1
                seen[value] = -1
            else:
                seen[value] = len(found)
                found.append(value)
        codes[at:at + len(block)] = list(map(seen.__getitem__, block))
        at += len(block)
    order = sorted(range(len(found)), key=found.__getitem__)
    remap = np.empty(len(found) + 1, dtype=np.int32)
    remap[-1] = -1  # a missing value's code, -1, indexes the last slot
    remap[order] = np.arange(len(found), dtype=np.int32)
    return pd.Categorical.from_codes(remap[codes], categories=pd.Index([found[i] for i in order]))


def as_categories(frame: pd.DataFrame) -> pd.DataFrame:
    """Turn the ``CATEGORY_COLUMNS`` of a non-empty result frame into categoricals, in place; return it."""
    if len(frame):
        for name in CATEGORY_COLUMNS.intersection(frame.columns):
            frame[name] = frame[name].astype("category")
    return frame


def _joined(blocks: Iterable[Sequence[Any]], n: int, dtype: type[np.generic]) -> np.ndarray:
    """Return the ``n`` values of ``blocks`` as one array of ``dtype``, filled a block at a time."""
    out = np.empty(n, dtype=dtype)
    at = 0
    for block in blocks:
        out[at:at + len(block)] = block
        at += len(block)
    return out


def _inferred(blocks: Iterable[list[Any]]) -> pd.Series | list[Any]:
    """Return the values of ``blocks`` (of one type) as one column, typed as pandas types the list of them.

    Each block becomes a Series as it comes, so that only one block of Python objects exists at a time (for text,
    pandas keeps the characters, not the ``str`` objects). No values stay a list, for the frame to type as
    before (pandas types an empty list in a frame as float64).
    """
    parts = [pd.Series(block) for block in blocks if block]
    if not parts:
        return []
    return parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)


def _values(members: Iterable[Enum]) -> list[Any]:
    """Return the members' values: ``_value_`` is a plain attribute, where ``value`` is a property (Python code
    a row) and hashing a member runs Python code too."""
    return [member._value_ for member in members]


def _optional(values: np.ndarray) -> np.ndarray | list[None]:
    """Return floats with NaN for None as they are, and a column of None when all are None: what pandas makes
    of a list of floats and None."""
    return [None] * len(values) if np.isnan(values).all() else values
