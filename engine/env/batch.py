"""Shared plumbing of the batch (research) side: event-time indexes and as-of joins.

A batch frame has one row per distinct event time of its inputs, holding the values as they stand once every
event of that time has been handled: exactly what a streaming component reports when asked between two times.
Bars count at their close (open time + interval), as ``BarFeed`` stamps them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import pandas as pd

from engine.datagen.frames import INDEX_NAME, validate_ohlcv
from engine.errors import DataError
from engine.events import Bar, Event, FundingRate, Quote, VolIndex


class HasValues(Protocol):
    """A component (or an env) that reports its current values by name."""

    def values(self) -> dict[str, float]: ...


def close_index(frame: pd.DataFrame, interval_ns: int) -> pd.DatetimeIndex:
    """Return the close times (event times) of the bars of ``frame``, indexed by open time."""
    opens = pd.DatetimeIndex(frame.index).as_unit("ns")
    return pd.DatetimeIndex(opens.asi8 + np.int64(interval_ns), tz="UTC", name=INDEX_NAME).as_unit("ns")


def event_index(frame: pd.DataFrame, source: str) -> pd.DatetimeIndex:
    """Return the UTC nanosecond index of an event frame (funding, vol, quotes), checking it is sorted."""
    index = frame.index
    if not isinstance(index, pd.DatetimeIndex) or str(index.tz) != "UTC":
        raise DataError(f"{source}: index must be a UTC DatetimeIndex, got {type(index).__name__}")
    if not index.is_monotonic_increasing:
        raise DataError(f"{source}: index must be in ascending time order")
    return pd.DatetimeIndex(index, name=INDEX_NAME).as_unit("ns")


def checked_bars(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """Return ``frame`` once it passed the OHLCV checks (the streaming side trusts its feed the same way)."""
    return validate_ohlcv(frame, source)


def last_per_time(frame: pd.DataFrame) -> pd.DataFrame:
    """Keep the last row of each timestamp: the state after every event of that time."""
    if frame.index.has_duplicates:
        return frame[~frame.index.duplicated(keep="last")]
    return frame


def asof_join(parts: Sequence[pd.DataFrame], columns: Sequence[str]) -> pd.DataFrame:
    """Join frames of different event times on the union of their times, each carried forward as of that time.

    A row of a part stands until the part's next row; before its first row a part's columns are NaN. NaN values
    inside a part are kept (not filled from earlier rows): they are the part's value at that time.
    """
    parts = [last_per_time(part) for part in parts]
    index = parts[0].index
    for part in parts[1:]:
        index = index.union(part.index)
    index = pd.DatetimeIndex(index, name=INDEX_NAME)
    joined = [part.reindex(index, method="ffill") if not part.index.equals(index) else part for part in parts]
    out = pd.concat(joined, axis=1) if len(joined) > 1 else joined[0]
    return out[list(columns)]


def prefixed(frame: pd.DataFrame, prefix: str) -> pd.DataFrame:
    """Return ``frame`` with every column renamed ``<prefix>.<column>``."""
    return frame.rename(columns={c: f"{prefix}.{c}" for c in frame.columns})


def snapshots_frame(times: Sequence[int], rows: Sequence[Mapping[str, float]], columns: Sequence[str]
                    ) -> pd.DataFrame:
    """Return recorded snapshots (one per event time, ns) as a frame shaped like a batch frame."""
    index = pd.DatetimeIndex(pd.to_datetime(np.asarray(times, dtype=np.int64), unit="ns", utc=True),
                             name=INDEX_NAME).as_unit("ns")
    data = {c: np.fromiter((row[c] for row in rows), dtype=np.float64, count=len(rows)) for c in columns}
    return pd.DataFrame(data, index=index, columns=list(columns))


def replay(handler: HasValues, events: Iterable[Event]) -> tuple[list[int], list[dict[str, float]]]:
    """Feed ``events`` (in time order) to ``handler``'s ``on_<event>`` methods; snapshot ``values()`` per time.

    Returns the distinct event times and, for each, ``handler.values()`` once every event of that time was
    handled: the streaming side of every batch-equals-streaming guarantee.
    """
    values = handler.values
    methods: dict[type, Callable[[Any], None] | None] = {}
    times: list[int] = []
    rows: list[dict[str, float]] = []
    last: int | None = None
    for event in events:
        ts = event.ts
        if last is not None and ts != last:
            if ts < last:
                raise DataError(f"replay: events out of time order ({ts} after {last})")
            times.append(last)
            rows.append(values())
        kind = type(event)
        if kind not in methods:
            methods[kind] = getattr(handler, _HANDLER_OF.get(kind, ""), None)
        method = methods[kind]
        if method is not None:
            method(event)
        last = ts
    if last is not None:
        times.append(last)
        rows.append(values())
    return times, rows


_HANDLER_OF: dict[type, str] = {Bar: "on_bar", Quote: "on_quote", FundingRate: "on_funding_rate",
                                VolIndex: "on_vol_index"}
