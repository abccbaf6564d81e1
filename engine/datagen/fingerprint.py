"""Prices and fingerprint of the bars a run saw, read from its bar feeds after the run.

Both read the arrays the feeds already hold, so recording them costs nothing per bar; the close times, which a
feed computes from its open times, are taken ``CHUNK`` bars at a time, so that a result never holds all of them
unless it keeps them (8 bytes a bar).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

from engine.datagen.frames import INDEX_NAME, PIECE_BARS, UTC_NS, utc_index

OHLCV = ("open", "high", "low", "close", "volume")
__all__ = ["bar_columns", "data_fingerprint", "feed_prices", "interval_text"]

CHUNK = PIECE_BARS  # a name of this module's own, so that tests can read in smaller pieces


def bar_columns(feed: object) -> list[np.ndarray] | None:
    """Return a ``BarFeed``'s open, high, low, close, volume arrays; None for other feeds.

    Read after the run from the arrays the feed already holds, so recording prices costs nothing per bar; its
    close times are computed from its open times (``close_times``), a piece at a time where that is enough.
    """
    close_times, columns = getattr(feed, "close_times", None), getattr(feed, "_columns", None)
    if not callable(close_times) or columns is None or len(columns) != 5:
        return None
    return list(columns)


def _close_time_pieces(feed: Any, n_bars: int) -> Iterator[np.ndarray]:
    """Yield a bar feed's close times ``CHUNK`` bars at a time: all of them at once would be 8 bytes a bar."""
    for start in range(0, n_bars, CHUNK):
        yield feed.close_times(start, start + CHUNK)


def feed_prices(feeds: Sequence[object], index: pd.Index | None = None) -> dict[str, pd.DataFrame]:
    """Return ``{symbol: frame of open, high, low, close and volume indexed by bar close time}`` for every bar
    feed (no copies: the frame's columns are the feed's arrays).

    ``index`` is an index of close times the caller already holds (the equity curve's): a feed with the same
    close times shares it rather than getting one of its own (8 bytes a bar).
    """
    prices: dict[str, pd.DataFrame] = {}
    for feed in feeds:
        columns = bar_columns(feed)
        if columns is None:
            continue
        times = index if index is not None and _closes_at(feed, len(columns[0]), index) else _close_index(feed)
        prices[str(getattr(feed, "symbol", ""))] = pd.DataFrame(dict(zip(OHLCV, columns, strict=True)), index=times,
                                                               copy=False)
    return prices


def _close_index(feed: Any) -> pd.DatetimeIndex:
    """Return the index of a bar feed's close times (a new array of them)."""
    return utc_index(feed.close_times())


def _first_and_last_close(feed: Any, n_bars: int) -> tuple[int, int]:
    return int(feed.close_times(0, 1)[0]), int(feed.close_times(n_bars - 1, n_bars)[0])


def _closes_at(feed: Any, n_bars: int, index: pd.Index) -> bool:
    """Return whether ``index`` equals (and is named like) the index of the feed's close times.

    An index of the same type is compared a piece at a time; any other as ``Index.equals`` compares it.
    """
    if not (isinstance(index, pd.DatetimeIndex) and index.dtype == UTC_NS):
        return index.name == INDEX_NAME and index.equals(_close_index(feed))
    if index.name != INDEX_NAME or len(index) != n_bars:
        return False
    stamps = index.asi8
    return all(np.array_equal(stamps[start:start + len(piece)], piece)
               for start, piece in zip(range(0, n_bars, CHUNK), _close_time_pieces(feed, n_bars), strict=True))


def data_fingerprint(feeds: Sequence[object]) -> dict[str, Any]:
    """Describe the bars a run saw: symbols, interval, first open, last close, count and sha256 of the bars.

    The hash covers each feed's symbol, interval, close times and OHLCV arrays (little-endian int64/float64),
    in feed order: the same bars give the same hash whichever file or frame they came from. None if a feed is
    not a bar feed. The arrays are hashed a piece at a time, which gives the hash of the whole.
    """
    digest = hashlib.sha256()
    symbols, n_bars, starts, ends, intervals = [], 0, [], [], []
    for feed in feeds:
        columns = bar_columns(feed)
        if columns is None:
            return {"symbols": [str(getattr(f, "symbol", "?")) for f in feeds], "sha256": None}
        interval = int(getattr(feed, "interval_ns", 0))
        symbol = str(getattr(feed, "symbol", ""))
        digest.update(f"{symbol}|{interval}|".encode())
        count = len(columns[0])
        for piece in _close_time_pieces(feed, count):
            _hash(digest, piece, "<i8")
        for column in columns:
            for start in range(0, len(column), CHUNK):
                _hash(digest, column[start:start + CHUNK], "<f8")
        symbols.append(symbol)
        intervals.append(interval)
        n_bars += count
        if count:
            first, last = _first_and_last_close(feed, count)
            starts.append(first - interval)
            ends.append(last)
    interval_ns = min(intervals) if intervals else 0
    return {"symbols": symbols, "interval": interval_text(interval_ns), "interval_ns": interval_ns,
            "start": _iso(min(starts)) if starts else None, "end": _iso(max(ends)) if ends else None,
            "n_bars": n_bars, "sha256": digest.hexdigest()}


def _hash(digest: Any, values: np.ndarray, dtype: str) -> None:
    """Add the bytes of ``values`` as ``dtype`` to ``digest`` (no copy when they already are)."""
    digest.update(np.ascontiguousarray(values.astype(dtype, copy=False)).data)


def interval_text(interval_ns: int) -> str:
    """Return a bar interval the way exchanges name it: ``1m``, ``15m``, ``1h``, ``4h``, ``1d`` (else seconds)."""
    for unit, ns in (("d", 86_400 * 10**9), ("h", 3_600 * 10**9), ("m", 60 * 10**9), ("s", 10**9)):
        if interval_ns >= ns and interval_ns % ns == 0:
            return f"{interval_ns // ns}{unit}"
    return f"{interval_ns}ns"


def _iso(ts: int) -> str:
    return pd.Timestamp(ts, unit="ns", tz="UTC").isoformat()
