"""Standard frames from ccxt's unified structures: OHLCV rows, funding/open-interest/volatility dicts, trades.

ccxt stamps everything in integer milliseconds; frames are indexed in nanoseconds UTC (``schemas``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from engine.datagen.frames import INDEX_NAME
from engine.datagen.schemas import Schema

__all__ = ["bars_frame", "events_frame", "trades_frame"]

logger = logging.getLogger("engine.datagen.exchange")  # one logger for everything the ccxt source says
_MS = 1_000_000  # nanoseconds per millisecond


def _index(ms: Sequence[Any] | np.ndarray) -> pd.DatetimeIndex:
    stamps = np.asarray(ms, dtype=np.int64) * _MS
    return pd.DatetimeIndex(pd.to_datetime(stamps, unit="ns", utc=True), name=INDEX_NAME)


def _ordered(frame: pd.DataFrame, where: str, unique: bool = True) -> pd.DataFrame:
    """Sort ``frame`` by time; drop repeated timestamps (keeping the first) with a warning when ``unique``."""
    if not frame.index.is_monotonic_increasing:
        frame = frame.sort_index(kind="stable")
    if unique and frame.index.has_duplicates:
        repeated = frame.index.duplicated(keep="first")
        logger.warning("%s: the exchange sent %d rows with a repeated timestamp (first at %s); kept the first",
                       where, int(repeated.sum()), frame.index[repeated][0])
        frame = frame[~repeated]
    return frame


def bars_frame(rows: list[list[Any]], kind_schema: Schema, where: str) -> pd.DataFrame:
    """Build a frame of ``kind_schema`` from ccxt OHLCV rows ``[ts, open, high, low, close, volume]``."""
    if not rows:
        return kind_schema.empty()
    width = len(kind_schema.columns)
    values = np.array([row[1:1 + width] for row in rows], dtype=np.float64)
    index = _index([row[0] for row in rows])
    frame = pd.DataFrame(values, index=index, columns=list(kind_schema.columns))
    return _ordered(frame, where)


def events_frame(rows: list[dict[str, Any]], columns: dict[str, str], where: str) -> pd.DataFrame:
    """Build an event frame from ccxt structures: ``columns`` maps our column to the ccxt field."""
    if not rows:
        index = pd.DatetimeIndex([], tz="UTC", name=INDEX_NAME, dtype="datetime64[ns, UTC]")
        return pd.DataFrame({c: np.empty(0, np.float64) for c in columns}, index=index)
    data = {ours: np.array([row.get(theirs) for row in rows], dtype=np.float64) for ours, theirs in columns.items()}
    frame = pd.DataFrame(data, index=_index([row["timestamp"] for row in rows]))
    return _ordered(frame, where)


def trades_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Build a trades frame from ccxt trade structures: in time order, then in numeric trade id order.

    ccxt sorts trades by timestamp and then by id as text ("10" before "9"); the numeric id restores the
    exchange's own order among trades of one millisecond.
    """
    sides = {"buy": 1.0, "sell": -1.0}
    ids = np.array([float(text) if (text := str(row.get("id"))).isdigit() else np.nan for row in rows], np.float64)
    stamps = np.array([row["timestamp"] for row in rows], dtype=np.int64)
    order = np.lexsort((ids, stamps))  # stable; trades without a numeric id keep ccxt's order at the end
    frame = pd.DataFrame({
        "price": np.array([row.get("price") for row in rows], dtype=np.float64),
        "amount": np.array([row.get("amount") for row in rows], dtype=np.float64),
        "side": np.array([sides.get(row.get("side") or "", np.nan) for row in rows], dtype=np.float64),
        "id": ids,
    }, index=_index(stamps))
    return frame.iloc[order]
