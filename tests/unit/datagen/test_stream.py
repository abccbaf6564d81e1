"""Catalog feeds: events in time order across symbols and kinds, tie-breaks, ranges, and bounded memory."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from engine.datagen.bar_feed import BarFeed
from engine.datagen.catalog import Catalog
from engine.datagen.query import Query
from engine.datagen.stream import CatalogFeed, merged_catalog_feed
from engine.datagen.synthetic import synthetic_bars
from engine.errors import ConfigError, DataError
from engine.events import Bar, FundingRate, Trade, VolIndex

from .fakes import NOW, hourly, ts

HOUR = 3600 * 10**9
BTC, ETH = "binance:BTC/USDT:1h", "binance:ETH/USDT:1h"
FUNDING, VOL = "binance:BTC/USDT:USDT:8h:funding", "deribit:BTC/USD:1h:vol"


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    catalog = Catalog(tmp_path, now=lambda: NOW)
    catalog.put(Query.parse(BTC), hourly(n=24 * 40))
    catalog.put(Query.parse(ETH), hourly(n=24 * 40, seed=1))
    funding_index = pd.date_range("2024-01-01", periods=120, freq="8h", tz="UTC", name="ts").as_unit("ns")
    catalog.put(Query.parse(FUNDING), pd.DataFrame({"funding_rate": np.linspace(1e-4, 2e-4, 120)},
                                                   index=funding_index))
    vol_index = pd.date_range("2024-01-01 00:30", periods=24 * 40, freq="1h", tz="UTC", name="ts").as_unit("ns")
    catalog.put(Query.parse(VOL), pd.DataFrame({"volatility": np.full(24 * 40, 55.0)}, index=vol_index))
    return catalog


def test_bars_replay_like_barfeed_across_files_and_batches(catalog: Catalog) -> None:
    feed = CatalogFeed(catalog, BTC, batch_rows=100)
    events = list(feed)
    assert events == list(BarFeed(hourly(n=24 * 40), "BTC/USDT", "1h"))
    assert events[0].ts == ts("2024-01-01 01:00").value  # stamped at the close
    assert feed.interval == pd.Timedelta("1h") and feed.symbol == "BTC/USDT"


def test_a_range_replays_only_its_rows(catalog: Catalog) -> None:
    events = list(CatalogFeed(catalog, f"{BTC}@2024-01-31T22:00..2024-02-01T02:00", batch_rows=7))
    assert [e.ts for e in events] == [ts("2024-01-31 23:00").value + k * HOUR for k in range(4)]


def test_symbols_and_kinds_merge_in_time_order_with_ties_in_list_order(catalog: Catalog) -> None:
    merged = merged_catalog_feed(catalog, [f"{BTC}@2024-01-01..2024-01-02", f"{FUNDING}@2024-01-01..2024-01-02",
                                      f"{ETH}@2024-01-01..2024-01-02", f"{VOL}@2024-01-01..2024-01-02"])
    events = list(merged)
    stamps = [e.ts for e in events]
    assert stamps == sorted(stamps) and len(events) == 24 + 3 + 24 + 24
    # 08:00: the BTC bar of 07:00 closes, a funding payment is due, the ETH bar closes: in the order of the list.
    at_eight = [e for e in events if e.ts == ts("2024-01-01 08:00").value]
    assert [type(e).__name__ + ":" + e.symbol for e in at_eight] == [
        "Bar:BTC/USDT", "FundingRate:BTC/USDT:USDT", "Bar:ETH/USDT"]
    funding = next(e for e in events if isinstance(e, FundingRate))
    assert funding == FundingRate(ts=ts("2024-01-01").value, symbol="BTC/USDT:USDT", rate=1e-4)
    vol = next(e for e in events if isinstance(e, VolIndex))
    assert vol == VolIndex(ts=ts("2024-01-01 00:30").value, symbol="BTC/USD", value=0.55, kind="realized")
    flipped = list(merged_catalog_feed(catalog, [f"{ETH}@2024-01-01..2024-01-02", f"{BTC}@2024-01-01..2024-01-02"]))
    assert [e.symbol for e in flipped[:2]] == ["ETH/USDT", "BTC/USDT"]


async def test_async_iteration_yields_the_same_events(catalog: Catalog) -> None:
    merged = merged_catalog_feed(catalog, [BTC, FUNDING])
    seen = [event async for event in merged]
    assert seen == list(merged)
    assert [e async for e in CatalogFeed(catalog, ETH)] == list(CatalogFeed(catalog, ETH))


def test_trades_mark_prices_and_unsupported_kinds(catalog: Catalog) -> None:
    index = pd.DatetimeIndex(["2024-01-01 00:00:00.001"] * 2 + ["2024-01-01 00:00:01"], tz="UTC", name="ts")
    trades = pd.DataFrame({"price": [1.0, 2.0, 3.0], "amount": [0.5, 0.25, 1.0], "side": [1.0, np.nan, -1.0],
                           "id": [7.0, 8.0, np.nan]}, index=index.as_unit("ns"))
    catalog.put(Query.parse("binance:BTC/USDT:trades"), trades)
    events = list(CatalogFeed(catalog, "binance:BTC/USDT:trades"))
    assert events == [Trade(ts=index[0].value, symbol="BTC/USDT", price=1.0, quantity=0.5, aggressor=1, trade_id="7"),
                      Trade(ts=index[0].value, symbol="BTC/USDT", price=2.0, quantity=0.25, aggressor=0, trade_id="8"),
                      Trade(ts=index[2].value, symbol="BTC/USDT", price=3.0, quantity=1.0, aggressor=-1, trade_id="")]
    mark = hourly(n=3).drop(columns="volume")
    catalog.put(Query.parse("binance:BTC/USDT:USDT:1h:mark"), mark)
    bars = list(CatalogFeed(catalog, "binance:BTC/USDT:USDT:1h:mark"))
    assert isinstance(bars[0], Bar) and bars[0].symbol == "BTC/USDT:USDT@mark" and bars[0].volume == 0.0
    with pytest.raises(ConfigError, match="open interest"):
        CatalogFeed(catalog, "binance:BTC/USDT:USDT:1h:open_interest")
    with pytest.raises(ConfigError, match="at least one"):
        merged_catalog_feed(catalog, [])


def test_bad_bars_in_a_file_are_named(catalog: Catalog) -> None:
    frame = hourly(n=24 * 3)
    frame.iloc[30, frame.columns.get_loc("low")] = 1e9
    catalog.put(Query.parse("binance:XRP/USDT:1h"), frame)
    with pytest.raises(DataError, match=r"2024-01\.parquet row at 2024-01-02T06:00:00\+00:00: low = 1000000000\.0"):
        list(CatalogFeed(catalog, "binance:XRP/USDT:1h"))


def _replay_peak(root: Path, bars: int) -> tuple[int, int, int]:
    """Store ``bars`` one-minute bars, then replay them; return (events, peak Python bytes, peak Arrow bytes)."""
    catalog = Catalog(root, now=lambda: NOW)
    query = Query.parse("synthetic:SYN/USD:1m")
    catalog.put(query, synthetic_bars(bars, interval="1min", seed=3))
    count, arrow_peak = 0, 0
    tracemalloc.start()
    try:
        for count, _ in enumerate(CatalogFeed(catalog, query, batch_rows=8192), 1):
            if count % 4096 == 0:
                arrow_peak = max(arrow_peak, pa.total_allocated_bytes())
        _, python_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return count, python_peak, arrow_peak


def test_replay_memory_does_not_grow_with_history(tmp_path: Path) -> None:
    small = _replay_peak(tmp_path / "small", 60_000)
    large = _replay_peak(tmp_path / "large", 240_000)  # four times the history, six partition files
    assert (small[0], large[0]) == (60_000, 240_000)
    history_bytes = 240_000 * 6 * 8
    assert large[1] < small[1] * 1.25 + 256 * 1024  # Python objects: flat
    assert large[1] < history_bytes / 4  # and far below the history itself
    assert large[2] < small[2] * 1.25 + 1024 * 1024  # Arrow buffers: one file's batch at a time
