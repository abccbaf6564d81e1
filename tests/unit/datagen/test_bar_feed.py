"""BarFeed: bars stamped at their close, exact values, sync and async equal; merge_feeds order and tie-break."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

import engine.datagen.bar_feed as bar_feed
from engine.datagen.bar_feed import BarFeed, HistoricalFeed, merge_feeds
from engine.datagen.synthetic import synthetic_bars
from engine.errors import DataError
from engine.events import Bar, MarketData, Trade
from engine.ports import DataFeed

HOUR = 3_600_000_000_000


def frame(n: int = 3, start: str = "2024-01-01", freq: str = "1h") -> pd.DataFrame:
    index = pd.date_range(start, periods=n, freq=freq, tz="UTC", name="ts")
    close = 100.0 + np.arange(n) + 0.125
    return pd.DataFrame({"open": close - 0.5, "high": close + 1.0, "low": close - 1.0, "close": close,
                         "volume": np.arange(1, n + 1) * 0.1}, index=index)


def test_bars_are_stamped_at_their_close_with_exact_values() -> None:
    bars = frame()
    out = list(BarFeed(bars, "BTC/USD"))
    open_ns = pd.Timestamp("2024-01-01", tz="UTC").value
    assert [b.ts for b in out] == [open_ns + HOUR, open_ns + 2 * HOUR, open_ns + 3 * HOUR]
    assert all(type(b.ts) is int and type(b.interval) is int for b in out)
    assert out[0] == Bar(ts=open_ns + HOUR, symbol="BTC/USD", open=99.625, high=101.125, low=99.125, close=100.125,
                         volume=0.1, interval=HOUR)
    assert out[2].open_ts == bars.index[2].value
    for bar, row in zip(out, bars.itertuples(), strict=True):
        assert (bar.open, bar.high, bar.low, bar.close, bar.volume) == (row.open, row.high, row.low, row.close,
                                                                       row.volume)


def test_close_times_are_the_open_times_plus_the_interval() -> None:
    bars = frame(4)  # an index in microseconds, converted
    feed = BarFeed(bars, "BTC/USD")
    assert feed.close_times().tolist() == (bars.index.as_unit("ns").asi8 + HOUR).tolist() == [b.ts for b in feed]
    assert feed.close_times(2, 4).tolist() == feed.close_times()[2:4].tolist()  # a slice, for readers in pieces
    bars.index = bars.index.as_unit("ns")
    assert np.shares_memory(BarFeed(bars, "BTC/USD")._open_ts, bars.index.asi8)  # in ns: no copy of the index


def test_interval_given_or_inferred() -> None:
    feed = BarFeed(frame(4, freq="15min"), "X")
    assert feed.interval_ns == 15 * 60 * 1_000_000_000 and feed.interval == pd.Timedelta("15min")
    one = BarFeed(frame(1), "X", interval="1D")
    assert next(iter(one)).ts == pd.Timestamp("2024-01-02", tz="UTC").value
    with pytest.raises(DataError, match="interval"):
        BarFeed(frame(1), "X")


def test_feed_validates_its_frame() -> None:
    bad = frame()
    bad.iloc[1, 1] = 1.0  # high below open and close
    with pytest.raises(DataError, match=r"BarFeed\(BTC/USD\) row at 2024-01-01T01:00:00\+00:00: high"):
        BarFeed(bad, "BTC/USD")


async def test_sync_and_async_iteration_are_equal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bar_feed, "ASYNC_BATCH", 1000)  # the async iteration yields to the loop now and then
    feed = BarFeed(synthetic_bars(bar_feed.CHUNK + 10, seed=5), "ETH/USD")  # crosses a chunk boundary
    synced = list(feed)
    asynced = [bar async for bar in feed]
    assert len(synced) == len(feed) == bar_feed.CHUNK + 10
    assert synced == asynced
    assert list(feed) == synced  # iterating again starts again


def test_fast_construction_equals_the_constructor(monkeypatch: pytest.MonkeyPatch) -> None:
    """The slot-filling fast path makes exactly the Bars that Bar(...) makes."""
    assert bar_feed._FAST, "Bar changed shape: BarFeed fell back to its slow path"
    bars = synthetic_bars(100, seed=1)
    fast = list(BarFeed(bars, "BTC/USD"))
    monkeypatch.setattr(bar_feed, "_FAST", False)
    slow = list(BarFeed(bars, "BTC/USD"))
    assert fast == slow
    assert [dataclasses.astuple(b) for b in fast] == [dataclasses.astuple(b) for b in slow]


def test_empty_frame_yields_nothing() -> None:
    assert list(BarFeed(frame(0), "X", interval="1h")) == []


def test_feeds_satisfy_the_protocols() -> None:
    feed = BarFeed(frame(), "X")
    assert isinstance(feed, DataFeed) and isinstance(feed, HistoricalFeed)
    assert not isinstance([1, 2], DataFeed)


def ts_of(events: list[MarketData]) -> list[tuple[int, str]]:
    return [(e.ts, e.symbol) for e in events]


def test_merge_orders_by_ts_and_breaks_ties_by_feed_position() -> None:
    hourly = BarFeed(frame(3, freq="1h"), "H")  # closes at 01:00, 02:00, 03:00
    half = BarFeed(frame(4, freq="30min"), "M")  # closes at 00:30, 01:00, 01:30, 02:00
    merged = list(merge_feeds([hourly, half]))
    half_hour = HOUR // 2
    t0 = pd.Timestamp("2024-01-01", tz="UTC").value
    assert ts_of(merged) == [(t0 + half_hour, "M"), (t0 + HOUR, "H"), (t0 + HOUR, "M"), (t0 + 3 * half_hour, "M"),
                             (t0 + 2 * HOUR, "H"), (t0 + 2 * HOUR, "M"), (t0 + 3 * HOUR, "H")]
    swapped = list(merge_feeds([half, hourly]))
    assert ts_of(swapped)[1:3] == [(t0 + HOUR, "M"), (t0 + HOUR, "H")]
    assert sorted(ts_of(merged)) == sorted(ts_of(swapped))


def test_merge_mixes_event_types_and_keeps_order_within_a_feed() -> None:
    trades = [Trade(ts=5, symbol="T", price=1.0, quantity=1.0, trade_id=str(i)) for i in range(3)]
    later = [Trade(ts=4, symbol="U", price=1.0, quantity=1.0), Trade(ts=5, symbol="U", price=1.0, quantity=1.0)]
    merged = list(merge_feeds([trades, later]))
    assert [(e.ts, e.symbol) for e in merged] == [(4, "U"), (5, "T"), (5, "T"), (5, "T"), (5, "U")]
    assert [e.trade_id for e in merged[1:4]] == ["0", "1", "2"]  # type: ignore[attr-defined]


def test_merge_single_feed_is_the_feed_itself() -> None:
    events: Iterator[MarketData] = iter([Trade(ts=1, symbol="T", price=1.0, quantity=1.0)])
    assert merge_feeds([events]) is events  # no wrapper: an iterator's iter() is itself
    feed = BarFeed(frame(), "X")
    assert list(merge_feeds([feed])) == list(feed)
    assert list(merge_feeds([])) == []
