"""Historical data feeds: replay a bar frame as ``Bar`` events, and merge several feeds by time.

A bar is published at its close, so ``Bar.ts`` is the open time plus the interval: a strategy sees a bar only
once it is complete (no look-ahead).
"""

from __future__ import annotations

import asyncio
import dataclasses
import heapq
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from operator import attrgetter
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

from engine.datagen.frames import OHLCV_COLUMNS, infer_interval, ns_times, validate_ohlcv
from engine.events import Bar, MarketData
from engine.ports import DataFeed

# Rows converted to Python lists at a time. The six lists of a chunk (about 200 bytes a row with their int and
# float objects) are the replay's only transient memory: 2,048 rows take 0.4 MB, stay in the CPU cache and replay
# as fast as 65,536 rows did, which took 13 MB and left the allocator's heap fragmented for the rest of the run.
CHUNK = 2_048
# Bars between two awaits of the asynchronous iteration: an await costs tens of microseconds, so one every chunk
# would slow it by about 3%.
ASYNC_BATCH = 65_536
_BAR_FIELDS = ("ts", "symbol", "open", "high", "low", "close", "volume", "interval")


@runtime_checkable
class HistoricalFeed(DataFeed, Protocol):
    """A feed that can also be iterated synchronously, the fast path of back-tests."""

    def __iter__(self) -> Iterator[MarketData]: ...


def _fast_construction_is_exact() -> bool:
    """Tell whether ``Bar`` still has exactly the fields that ``BarFeed`` sets, with no ``__post_init__``."""
    names = tuple(f.name for f in dataclasses.fields(Bar))
    return names == _BAR_FIELDS and not hasattr(Bar, "__post_init__") and "__slots__" in vars(Bar)


# Bar's generated __init__ takes keywords only, and a keyword call into a Python function is not specialised by
# CPython 3.11: building each Bar through it caps a feed near 1.3 million bars/s. Filling the slots of a bare
# instance makes the same object (same fields, same __eq__) at more than twice that speed. Should Bar gain a
# field or a __post_init__, the check above sends every feed back through __init__.
_FAST = _fast_construction_is_exact()


class BarFeed:
    """Replay an OHLCV frame as ``Bar`` events stamped at their close, in time order.

    Parameters
    ----------
    frame
        A standard OHLCV frame (index = open times, ascending); validated here.
    symbol
        The symbol put on every bar (``"BTC/USD"``).
    interval
        Bar length (``"1h"``, a Timedelta, or ns); inferred from the index when None.

    Iterate it synchronously (``for bar in feed``) in a back-test, or asynchronously (``async for``) where a
    ``DataFeed`` is expected; both yield equal bars. Every iteration starts again from the first bar.
    """

    def __init__(self, frame: pd.DataFrame, symbol: str, interval: str | pd.Timedelta | int | None = None) -> None:
        validate_ohlcv(frame, f"BarFeed({symbol})")
        self.symbol = symbol
        self.interval_ns: int = infer_interval(frame.index, interval, source=f"BarFeed({symbol})").value
        # Views of the frame's arrays (no copy when the index is in ns): the feed adds nothing to the data.
        self._open_ts = ns_times(frame.index)
        self._columns = [frame[name].to_numpy(dtype=np.float64) for name in OHLCV_COLUMNS]

    @property
    def interval(self) -> pd.Timedelta:
        return pd.Timedelta(self.interval_ns, unit="ns")

    def close_times(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Return the close time (int64 ns) of every bar, or of bars ``start:stop``, a new array at each call.

        The feed keeps only the open times (a view of the frame's index): the replay adds the interval a chunk
        at a time, so the close times (8 bytes a bar) exist only while a result needs them, and a reader that
        takes them a slice at a time never holds them all.
        """
        return self._open_ts[start:stop] + np.int64(self.interval_ns)

    def __len__(self) -> int:
        return len(self._open_ts)

    def __repr__(self) -> str:
        return f"BarFeed({self.symbol!r}, {len(self)} bars, interval={self.interval})"

    def _chunks(self) -> Iterator[tuple[list[int], list[float], list[float], list[float], list[float], list[float]]]:
        open_ts, interval = self._open_ts, np.int64(self.interval_ns)
        opens, highs, lows, closes, volumes = self._columns
        for start in range(0, len(open_ts), CHUNK):
            end = start + CHUNK
            yield ((open_ts[start:end] + interval).tolist(), opens[start:end].tolist(), highs[start:end].tolist(),
                   lows[start:end].tolist(), closes[start:end].tolist(), volumes[start:end].tolist())

    def __iter__(self) -> Iterator[Bar]:
        symbol, interval = self.symbol, self.interval_ns
        if not _FAST:
            for ts, o, h, low, c, v in (row for chunk in self._chunks() for row in zip(*chunk, strict=True)):
                yield Bar(ts=ts, symbol=symbol, open=o, high=h, low=low, close=c, volume=v, interval=interval)
            return
        new = object.__new__
        cls = Bar
        for chunk in self._chunks():
            for row in zip(*chunk, strict=True):
                bar = new(cls)
                # Unpacked straight into the slots: 33 bytecodes a bar instead of 42 through six locals. The row
                # is dropped before the next one so that zip can reuse its tuple (0.8% of a bar's instructions).
                bar.ts, bar.open, bar.high, bar.low, bar.close, bar.volume = row
                del row
                bar.symbol = symbol
                bar.interval = interval
                yield bar

    async def __aiter__(self) -> AsyncIterator[Bar]:
        count = 0
        for bar in self:
            yield bar
            count += 1
            if count == ASYNC_BATCH:  # let other tasks run now and then; the order of bars does not depend on it
                count = 0
                await asyncio.sleep(0)


def merge_feeds(feeds: Sequence[Iterable[MarketData]]) -> Iterator[MarketData]:
    """Merge historical feeds, each in ``ts`` order, into one stream in ``ts`` order.

    Events with equal ``ts`` come in the order of their feeds in ``feeds`` (then in their order within a feed),
    so a back-test's event order is fixed by the list. A single feed is returned as its own iterator, untouched.
    """
    if len(feeds) == 1:
        return iter(feeds[0])
    if not feeds:
        return iter(())
    # heapq.merge breaks ties by the position of the iterable, which is the tie-break promised above.
    return heapq.merge(*feeds, key=attrgetter("ts"))
