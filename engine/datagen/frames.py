"""The standard OHLCV frame every source produces, and the checks that keep bad data out.

A frame has a UTC ``DatetimeIndex`` named ``ts`` holding each bar's OPEN time and float64 columns ``open high low
close volume`` (base-asset volume), optionally ``quote_volume`` and ``trades``. Nothing here alters data: a frame
either passes as it is or a ``DataError`` names the source, the row, the field and the value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.datagen.query import timeframe_of
from engine.errors import ConfigError, DataError, shorten

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


UTC_NS = pd.DatetimeTZDtype("ns", "UTC")
# Bars a result reads at a time where it folds a whole curve (statistics, exposure, the data's fingerprint):
# 512 KB of float64, where the curve of a million bars is 8 MB.
PIECE_BARS = 65_536


def ns_times(index: pd.Index) -> np.ndarray:
    """Return a ``DatetimeIndex``'s times as int64 nanoseconds, a view when they already are.

    ``index.as_unit("ns").asi8`` copies them (8 bytes a row) even when the unit is already ``ns``.
    """
    times = pd.DatetimeIndex(index)
    return times.asi8 if times.unit == "ns" else times.as_unit("ns").asi8


def utc_index(ns: np.ndarray, name: str | None = INDEX_NAME) -> pd.DatetimeIndex:
    """Return int64 nanoseconds since the epoch as a UTC ``DatetimeIndex`` that shares their memory.

    ``tz_localize("UTC")`` would copy them, and ``pd.to_datetime`` would parse them, 50 times slower.
    """
    return pd.DatetimeIndex(np.asarray(ns, dtype=np.int64), dtype=UTC_NS, name=name, copy=False)


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
        raise DataError(f"{source}: missing column(s) {', '.join(missing)} "
                        f"(has: {shorten(', '.join(map(str, frame.columns)))})")
    index = frame.index
    if not isinstance(index, pd.DatetimeIndex) or str(index.tz) != "UTC":
        raise DataError(f"{source}: index must be a UTC DatetimeIndex of bar open times, "
                        f"got {type(index).__name__} (tz={getattr(index, 'tz', None)})")
    if index.hasnans:
        i = int(np.argmax(index.isna()))
        raise DataError(f"{_where(source, i, index, lines)}: ts is missing (NaT)")
    if index.name != INDEX_NAME:
        raise DataError(f"{source}: index must be named {INDEX_NAME!r}, got {shorten(repr(index.name))}")
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
    for _rule, _field, bad, describe in rule_checks(values, index):
        if bad.any():
            i = int(np.argmax(bad))
            return i, describe(i), int(bad.sum())
    return None


# The rules, in the order they are checked: (rule, field) pairs name what rule_checks yields.
RULES: tuple[str, ...] = ("nan", "price", "volume", "high", "low", "duplicate", "order")


def rule_checks(values: dict[str, np.ndarray], index: pd.DatetimeIndex
                ) -> Iterator[tuple[str, str, np.ndarray, Callable[[int], str]]]:
    """Yield ``(rule, field, bad, describe)`` for every row rule of the OHLCV frame, in ``RULES`` order.

    ``values`` maps each standard column present to its float64 array; ``bad`` is a boolean mask over the rows
    and ``describe(i)`` words the problem of row ``i`` (``"high = 9.0 is below max(open = 10.0, close = 9.5)"``).
    ``validate_ohlcv`` stops at the first mask with a row set; ``engine.datagen.validate`` reports them all, so
    both say the same thing about the same row.
    """
    for name, column in values.items():
        def nan(i: int, name: str = name, column: np.ndarray = column) -> str:
            return f"{name} is {'NaN' if np.isnan(column[i]) else repr(float(column[i]))}"
        yield "nan", name, ~np.isfinite(column), nan
    for name in PRICE_COLUMNS:
        def price(i: int, name: str = name) -> str:
            return f"{name} = {float(values[name][i])!r} is not a positive price"
        yield "price", name, values[name] <= 0.0, price
    for name in ("volume", "quote_volume", "trades"):
        if name in values:
            def negative(i: int, name: str = name) -> str:
                return f"{name} = {float(values[name][i])!r} is negative"
            yield "volume", name, values[name] < 0.0, negative
    o, h, low, c = (values[name] for name in PRICE_COLUMNS)

    def body(i: int) -> str:
        return f"open = {float(o[i])!r}, close = {float(c[i])!r}"
    yield "high", "high", h < np.maximum(o, c), lambda i: f"high = {float(h[i])!r} is below max({body(i)})"
    yield "low", "low", low > np.minimum(o, c), lambda i: f"low = {float(low[i])!r} is above min({body(i)})"
    duplicate, late, latest = time_order(index.asi8)
    yield "duplicate", INDEX_NAME, duplicate, lambda i: f"ts = {index[i].isoformat()} is a duplicate of an earlier row"
    yield "order", INDEX_NAME, late, lambda i: (
        f"ts = {index[i].isoformat()} is out of order (after {_iso(latest[i])}; rows must be in ascending time)")


def time_order(stamps: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return masks of rows whose time repeats an earlier row's, and of rows earlier than a row before them.

    The third array is the latest time before each row (what a late row comes after). Ascending stamps, the
    usual case, are recognised with one comparison per row and no sorting.
    """
    n = len(stamps)
    if n < 2 or bool((stamps[1:] > stamps[:-1]).all()):
        none = np.zeros(n, dtype=bool)
        return none, none, stamps
    latest = np.empty_like(stamps)
    latest[0] = stamps[0]
    np.maximum.accumulate(stamps[:-1], out=latest[1:])
    duplicate = pd.Index(stamps).duplicated(keep="first")
    late = (stamps < latest) & ~duplicate
    late[0] = False
    return duplicate, late, latest


def _iso(ns: int | np.integer) -> str:
    return pd.Timestamp(int(ns), unit="ns", tz="UTC").isoformat()


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
    steps = np.diff(ns_times(index))
    if steps[0] > 0 and (steps == steps[0]).all():  # the usual case, without a filtered copy or a sort
        return pd.Timedelta(int(steps[0]), unit="ns")
    steps = steps[steps > 0]
    if steps.size == 0:
        raise DataError(f"{where}cannot infer the bar interval: no two distinct timestamps")
    first = steps[0]
    if (steps == first).all():  # all positive steps equal: no sort needed
        return pd.Timedelta(int(first), unit="ns")
    uniques, counts = np.unique(steps, return_counts=True)
    return pd.Timedelta(int(uniques[int(np.argmax(counts))]), unit="ns")


def check_spacing(index: pd.Index, interval: pd.Timedelta, where: str) -> None:
    """Refuse bars that are not ``interval`` apart, the most common step between them (gaps allowed).

    Hourly bars stored as daily ones would be read back as days and pass every check; fewer than two distinct
    times show no spacing and pass.
    """
    if len(index) < 2 or len(index.unique()) < 2:
        return
    observed = infer_interval(index, source=where)
    if observed != interval:
        raise DataError(f"{where}: timeframe {_short(interval)} declared, but the bars are {_short(observed)} apart "
                        f"(the most common step between them)")


def _short(delta: pd.Timedelta) -> str:
    """Write a spacing as a timeframe when it is one (``1h``), else as pandas writes it."""
    try:
        return timeframe_of(delta)
    except ConfigError:  # a spacing that is no whole number of seconds
        return str(delta)
