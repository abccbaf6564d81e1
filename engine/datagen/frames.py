"""The standard OHLCV frame every source produces, and the checks that keep bad data out.

A frame has a UTC ``DatetimeIndex`` named ``ts`` holding each bar's OPEN time and float64 columns ``open high low
close volume`` (base-asset volume), optionally ``quote_volume`` and ``trades``. Nothing here alters data: a frame
either passes as it is or a ``DataError`` names the source, the row, the field and the value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.errors import DataError

PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close")
OHLCV_COLUMNS: tuple[str, ...] = (*PRICE_COLUMNS, "volume")
OPTIONAL_COLUMNS: tuple[str, ...] = ("quote_volume", "trades")
STANDARD_COLUMNS: tuple[str, ...] = OHLCV_COLUMNS + OPTIONAL_COLUMNS
INDEX_NAME = "ts"


@dataclass(frozen=True, slots=True, kw_only=True)
class BarsMeta:
    """What a loader knows about the bars it returns.

    Parameters
    ----------
    symbol
        Unified symbol, ``BASE/QUOTE`` (``"BTC/USD"``) when both are known.
    interval
        Bar length: the most common difference between consecutive open times.
    source
        Where the bars came from (the file path).
    format
        The reader that parsed them (``"cryptodatadownload"``, ``"csv"``, ``"parquet"``, ``"synthetic"``).
    exchange
        Venue when the source names it (CryptoDataDownload file names start with it), else None.
    notes
        Anything the loader did beyond parsing (rows dropped or reordered), in words; empty when nothing.
    """

    symbol: str
    interval: pd.Timedelta
    source: str
    format: str
    exchange: str | None = None
    notes: tuple[str, ...] = ()


def empty_ohlcv() -> pd.DataFrame:
    """Return a frame with the standard columns and no rows."""
    index = pd.DatetimeIndex([], tz="UTC", name=INDEX_NAME, dtype="datetime64[ns, UTC]")
    return pd.DataFrame({c: np.empty(0, dtype=np.float64) for c in OHLCV_COLUMNS}, index=index)


def _where(source: str, position: int, index: pd.DatetimeIndex, lines: Sequence[int] | np.ndarray | None) -> str:
    """Name row ``position`` of a frame: ``"<source> line <n>"`` when the file line is known, else its timestamp."""
    if lines is not None:
        return f"{source} line {int(lines[position])}"
    return f"{source} row at {index[position].isoformat()}"


def validate_ohlcv(frame: pd.DataFrame, source: str, *, lines: Sequence[int] | np.ndarray | None = None
                   ) -> pd.DataFrame:
    """Check that ``frame`` is a standard OHLCV frame and return it unchanged.

    Parameters
    ----------
    frame
        The bars, index = open times.
    source
        Name of the origin (a file path) used in error messages.
    lines
        1-based file line number of each row, in frame order, when the frame was read from a text file; errors
        then name the line, else the row's timestamp.

    Raises
    ------
    DataError
        On a missing column, a non-float64 column, a NaN or infinite value, a non-positive price, a negative
        volume, ``high < max(open, close)``, ``low > min(open, close)``, a duplicate or out-of-order timestamp.
        The message names the source, the first offending row, the field and its value.
    """
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"{source}: expected a pandas DataFrame, got {type(frame).__name__}")
    if lines is not None and len(lines) != len(frame):
        raise ValueError(f"{source}: {len(lines)} line numbers for {len(frame)} rows")
    missing = [c for c in OHLCV_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"{source}: missing column(s) {', '.join(missing)} (has: {', '.join(map(str, frame.columns))})")
    index = frame.index
    if not isinstance(index, pd.DatetimeIndex) or str(index.tz) != "UTC":
        raise DataError(f"{source}: index must be a UTC DatetimeIndex of bar open times, "
                        f"got {type(index).__name__} (tz={getattr(index, 'tz', None)})")
    if index.hasnans:
        i = int(np.argmax(index.isna()))
        raise DataError(f"{_where(source, i, index, lines)}: ts is missing (NaT)")
    if index.name != INDEX_NAME:
        raise DataError(f"{source}: index must be named {INDEX_NAME!r}, got {index.name!r}")
    columns = [c for c in STANDARD_COLUMNS if c in frame.columns]
    for name in columns:
        if frame[name].dtype != np.float64:
            raise DataError(f"{source}: column {name} must be float64, got {frame[name].dtype}")
    if len(frame) == 0:
        return frame

    values = {name: frame[name].to_numpy() for name in columns}
    problem = _first_problem(values, index)
    if problem is not None:
        position, message, count = problem
        more = f" ({count - 1} more such row(s))" if count > 1 else ""
        raise DataError(f"{_where(source, position, index, lines)}: {message}{more}")
    return frame


def _first_problem(values: dict[str, np.ndarray], index: pd.DatetimeIndex) -> tuple[int, str, int] | None:
    """Return (row position, message, rows with that problem) for the first rule broken, in rule order."""
    for name, column in values.items():
        bad = ~np.isfinite(column)
        if bad.any():
            i = int(np.argmax(bad))
            kind = "NaN" if np.isnan(column[i]) else f"{float(column[i])!r}"
            return i, f"{name} is {kind}", int(bad.sum())
    for name in PRICE_COLUMNS:
        bad = values[name] <= 0.0
        if bad.any():
            i = int(np.argmax(bad))
            return i, f"{name} = {float(values[name][i])!r} is not a positive price", int(bad.sum())
    for name in ("volume", "quote_volume", "trades"):
        if name in values:
            bad = values[name] < 0.0
            if bad.any():
                i = int(np.argmax(bad))
                return i, f"{name} = {float(values[name][i])!r} is negative", int(bad.sum())
    o, h, low, c = (values[name] for name in PRICE_COLUMNS)
    bad = h < np.maximum(o, c)
    if bad.any():
        i = int(np.argmax(bad))
        body = f"open = {float(o[i])!r}, close = {float(c[i])!r}"
        return i, f"high = {float(h[i])!r} is below max({body})", int(bad.sum())
    bad = low > np.minimum(o, c)
    if bad.any():
        i = int(np.argmax(bad))
        body = f"open = {float(o[i])!r}, close = {float(c[i])!r}"
        return i, f"low = {float(low[i])!r} is above min({body})", int(bad.sum())
    stamps = index.asi8
    step = np.diff(stamps)
    bad = step == 0
    if bad.any():
        i = int(np.argmax(bad)) + 1
        return i, f"ts = {index[i].isoformat()} is a duplicate of the row before", int(bad.sum())
    bad = step < 0
    if bad.any():
        i = int(np.argmax(bad)) + 1
        return i, (f"ts = {index[i].isoformat()} is out of order (after {index[i - 1].isoformat()}; "
                   f"rows must be in ascending time)"), int(bad.sum())
    return None


def to_interval(interval: str | pd.Timedelta | int | np.timedelta64) -> pd.Timedelta:
    """Return ``interval`` (``"1h"``, a Timedelta, or integer nanoseconds) as a positive Timedelta."""
    try:
        delta = pd.Timedelta(interval)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"interval {interval!r} is not a duration ({exc})") from exc
    if pd.isna(delta) or delta <= pd.Timedelta(0):
        raise ValueError(f"interval must be positive, got {interval!r}")
    return delta


def infer_interval(index: pd.Index, interval: str | pd.Timedelta | int | None = None, *, source: str = ""
                   ) -> pd.Timedelta:
    """Return the bar interval: ``interval`` when given, else the most common step between open times.

    Ties between equally common steps go to the shortest. Raises ``DataError`` (naming ``source`` when given)
    when ``interval`` is None and there are fewer than two rows or no positive step.
    """
    if interval is not None:
        return to_interval(interval)
    where = f"{source}: " if source else ""
    if not isinstance(index, pd.DatetimeIndex):
        raise DataError(f"{where}cannot infer the bar interval from a {type(index).__name__}: need a DatetimeIndex")
    if len(index) < 2:
        raise DataError(f"{where}cannot infer the bar interval from {len(index)} row(s): it must be given")
    steps = np.diff(index.as_unit("ns").asi8)
    steps = steps[steps > 0]
    if steps.size == 0:
        raise DataError(f"{where}cannot infer the bar interval: no two distinct timestamps")
    first = steps[0]
    if (steps == first).all():  # the usual case, without the sort that np.unique needs
        return pd.Timedelta(int(first), unit="ns")
    uniques, counts = np.unique(steps, return_counts=True)
    return pd.Timedelta(int(uniques[int(np.argmax(counts))]), unit="ns")
