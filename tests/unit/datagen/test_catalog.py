"""Catalog: fetch only what is missing, resume after a failure, coverage of empty ranges, list/info/delete."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.datagen import storage
from engine.datagen.catalog import Catalog, default_data_dir
from engine.datagen.query import Query
from engine.errors import ConfigError, DataError

from .fakes import NOW, FakeSource, hourly, ts

BTC = "binance:BTC/USDT:1h"


def q(text: str) -> Query:
    return Query.parse(text)


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    return Catalog(tmp_path / "data", now=lambda: NOW)


def expected(frame: pd.DataFrame, start: str, end: str) -> pd.DataFrame:
    return frame[(frame.index >= ts(start)) & (frame.index < ts(end))]


def test_repeated_query_makes_no_source_call(catalog: Catalog) -> None:
    source = FakeSource(hourly())
    first = catalog.get(q(f"{BTC}@2024-01-05..2024-01-20"), source)
    assert source.calls == [(ts("2024-01-05"), ts("2024-01-20"))]
    pd.testing.assert_frame_equal(first, expected(source.frame, "2024-01-05", "2024-01-20"), check_freq=False)
    again = catalog.get(q(f"{BTC}@2024-01-05..2024-01-20"), source)
    inner = catalog.get(q(f"{BTC}@2024-01-06T05:00..2024-01-07"), source)
    assert len(source.calls) == 1  # both served from the catalog
    pd.testing.assert_frame_equal(again, first)
    assert len(inner) == 19 and inner.index[0] == ts("2024-01-06 05:00")


def test_widened_query_fetches_only_the_new_ranges(catalog: Catalog) -> None:
    source = FakeSource(hourly())
    catalog.get(q(f"{BTC}@2024-01-10..2024-01-20"), source)
    wide = catalog.get(q(f"{BTC}@2024-01-01..2024-02-01"), source)
    assert source.calls[1:] == [(ts("2024-01-01"), ts("2024-01-10")), (ts("2024-01-20"), ts("2024-02-01"))]
    pd.testing.assert_frame_equal(wide, expected(source.frame, "2024-01-01", "2024-02-01"), check_freq=False)
    assert catalog.coverage(q(BTC)) == [(ts("2024-01-01").value, ts("2024-02-01").value)]


def test_download_resumes_after_a_failure_mid_way(catalog: Catalog) -> None:
    source = FakeSource(hourly(), page=50, fail_after=3)
    query = q(f"{BTC}@2024-01-01..2024-01-31")
    with pytest.raises(ConnectionError):
        catalog.get(query, source)
    # The three pages that arrived are stored and covered; nothing after them is claimed.
    assert catalog.coverage(query) == [(ts("2024-01-01").value, ts("2024-01-07 06:00").value)]
    assert len(catalog.read(query)) == 150
    full = catalog.get(query, source)
    assert source.calls[1] == (ts("2024-01-07 06:00"), ts("2024-01-31"))
    pd.testing.assert_frame_equal(full, expected(source.frame, "2024-01-01", "2024-01-31"), check_freq=False)


def test_fetched_and_empty_differs_from_never_fetched(catalog: Catalog) -> None:
    frame = hourly()
    holed = frame[(frame.index < ts("2024-01-03")) | (frame.index >= ts("2024-01-05"))]  # no trading for 2 days
    source = FakeSource(holed)
    catalog.get(q(f"{BTC}@2024-01-01..2024-01-10"), source)
    # Entirely empty answers are covered too: asked once, never again.
    catalog.get(q(f"{BTC}@2024-01-03..2024-01-04"), source)
    catalog.get(q(f"{BTC}@2023-06-01..2023-06-02"), source)
    catalog.get(q(f"{BTC}@2023-06-01..2023-06-02"), source)
    assert len(source.calls) == 2
    info = catalog.info(q(BTC))
    assert info.gaps == ((ts("2023-06-01"), ts("2023-06-02")), (ts("2024-01-03"), ts("2024-01-05")))
    assert info.missing_bars() == 24 + 48
    # Never fetched: reported as missing, not as a gap.
    assert catalog.missing(q(f"{BTC}@2023-05-31..2024-01-11")) == [(ts("2023-05-31"), ts("2023-06-01")),
                                                                 (ts("2023-06-02"), ts("2024-01-01")),
                                                                 (ts("2024-01-10"), ts("2024-01-11"))]


def test_the_bar_still_forming_is_never_stored(tmp_path: Path) -> None:
    now = ts("2024-01-02 10:30").value
    catalog = Catalog(tmp_path, now=lambda: now)
    source = FakeSource(hourly())  # would serve bars after "now" (a careless exchange)
    frame = catalog.get(q(f"{BTC}@2024-01-02..2024-01-03"), source)
    assert source.calls == [(ts("2024-01-02"), ts("2024-01-02 10:00"))]
    assert frame.index[-1] == ts("2024-01-02 09:00")
    assert catalog.coverage(q(BTC)) == [(ts("2024-01-02").value, ts("2024-01-02 10:00").value)]
    later = Catalog(tmp_path, now=lambda: ts("2024-01-02 13:00").value)
    assert len(later.get(q(f"{BTC}@2024-01-02.."), source)) == 13  # open end = up to now
    assert source.calls[-1] == (ts("2024-01-02 10:00"), ts("2024-01-02 13:00"))


def test_pages_are_stored_as_they_arrive(catalog: Catalog) -> None:
    catalog.flush_rows = 100
    seen: list[int] = []
    source = FakeSource(hourly(), page=40)

    def on_page(chunk: pd.DataFrame) -> None:
        seen.append(len(catalog.read(q(BTC))))  # stored so far, read back from disk

    catalog.get(q(f"{BTC}@2024-01-01..2024-01-11"), source, on_page=on_page)
    # Stored once 100 rows or more are waiting: after the third page, then after the sixth.
    assert seen == [0, 0, 120, 120, 120, 240]
    assert len(catalog.read(q(BTC))) == 240


def test_a_source_without_pages_is_stored_whole(catalog: Catalog) -> None:
    class Whole:
        def fetch(self, query: Query, on_page: object = None) -> pd.DataFrame:
            return expected(hourly(), "2024-01-01", "2024-01-02")

    assert len(catalog.get(q(f"{BTC}@2024-01-01..2024-01-02"), Whole())) == 24


def test_open_start_needs_a_start_until_something_is_stored(catalog: Catalog) -> None:
    with pytest.raises(ConfigError, match="a start is needed"):
        catalog.get(q(BTC), FakeSource(hourly()))
    catalog.put(q(BTC), expected(hourly(), "2024-01-02", "2024-01-03"))
    assert len(catalog.get(q(BTC))) == 24
    assert catalog.get(q(f"{BTC}@2025-01-01..2025-01-02")).empty


def test_layout_one_file_per_month_and_readable_metadata(catalog: Catalog) -> None:
    query = q("ccxt:binance:BTC/USDT:USDT:1h@2024-01-30..2024-03-02")
    catalog.get(query, FakeSource(hourly(n=24 * 70)))
    directory = catalog.path(query)
    assert directory == catalog.root / "ccxt" / "binance" / "BTC-USDT%3AUSDT" / "ohlcv-1h"
    assert sorted(p.name for p in directory.glob("*.parquet")) == ["2024-01.parquet", "2024-02.parquet",
                                                                   "2024-03.parquet"]
    meta = json.loads((directory / "dataset.json").read_text())
    assert meta["query"] == "ccxt:binance:BTC/USDT:USDT:1h:ohlcv" and meta["partition"] == "month"
    assert meta["covered"] == [["2024-01-30T00:00:00+00:00", "2024-03-02T00:00:00+00:00"]]


def test_a_range_read_opens_only_the_files_it_needs(catalog: Catalog, monkeypatch: pytest.MonkeyPatch) -> None:
    catalog.put(q(BTC), hourly(n=24 * 365))
    opened: list[str] = []
    real = storage.read_files
    monkeypatch.setattr(storage, "read_files", lambda paths: opened.extend(p.stem for p in paths) or real(paths))
    frame = catalog.read(q(f"{BTC}@2024-03-31T23:00..2024-04-02"))
    assert opened == ["2024-03", "2024-04"] and len(frame) == 25


def test_put_replaces_the_rows_of_its_span(catalog: Catalog) -> None:
    frame = hourly(n=48)
    catalog.put(q(BTC), frame)
    newer = frame.iloc[10:20].copy()
    newer["volume"] = 0.5
    catalog.put(q(BTC), newer.drop(newer.index[5]))  # the exchange corrected ten bars and has one fewer
    stored = catalog.read(q(BTC))
    assert len(stored) == 47
    assert (stored["volume"].iloc[10:19] == 0.5).all() and stored["volume"].iloc[9] == 10.0


def test_put_refuses_frames_it_cannot_store_faithfully(catalog: Catalog) -> None:
    frame = hourly(n=5)
    with pytest.raises(DataError, match="ascending time"):
        catalog.put(q(BTC), frame.iloc[[0, 2, 1, 3]])
    with pytest.raises(DataError, match="must be float64"):
        catalog.put(q(BTC), frame.astype({"volume": "int64"}))
    with pytest.raises(DataError, match="UTC DatetimeIndex"):
        catalog.put(q(BTC), frame.tz_convert("Europe/Berlin"))


def test_trades_keep_several_rows_per_millisecond(catalog: Catalog) -> None:
    index = pd.DatetimeIndex(["2024-01-01 00:00:00.001"] * 3 + ["2024-01-01 00:00:00.002"], tz="UTC", name="ts")
    trades = pd.DataFrame({"price": [1.0, 2.0, 3.0, 4.0], "amount": [0.1] * 4, "side": [1.0, -1.0, np.nan, 1.0],
                           "id": [1.0, 2.0, 3.0, 4.0]}, index=index.as_unit("ns"))
    query = q("binance:BTC/USDT:trades")
    catalog.put(query, trades)
    assert catalog.path(query).name == "trades"
    assert sorted(p.name for p in catalog.path(query).glob("*.parquet")) == ["2024-01-01.parquet"]
    pd.testing.assert_frame_equal(catalog.read(query), trades, check_freq=False)
    # Coverage ends 1 ms after the last trade: the resume point of an event download.
    assert catalog.coverage(query) == [(index[0].value, index[-1].value + 1_000_000)]


def test_list_info_and_delete(catalog: Catalog) -> None:
    assert catalog.list() == []
    catalog.get(q(f"{BTC}@2024-01-01..2024-03-01"), FakeSource(hourly()))
    catalog.put(q("synthetic:SYN/USD:1d"), hourly(n=3).asfreq("1D").iloc[:0])  # nothing: no data set
    catalog.put(q("csv:coinbase:BTC/USD:1d"), hourly(n=24 * 3).iloc[::24])
    listed = catalog.list()
    assert [str(i.query) for i in listed] == ["ccxt:binance:BTC/USDT:1h:ohlcv", "csv:coinbase:BTC/USD:1d:ohlcv"]
    info = catalog.info(q(BTC))
    assert (info.rows, info.first, info.last) == (1440, ts("2024-01-01"), ts("2024-02-29 23:00"))
    assert len(info.files) == 2 and info.size == sum(f.stat().st_size for f in info.files) > 0
    assert info.covered == ((ts("2024-01-01"), ts("2024-03-01")),) and info.gaps == ()
    assert listed[0].rows == info.rows and listed[0].first == info.first and listed[0].last == info.last

    assert catalog.delete(q(f"{BTC}@2024-02-01..2024-03-01")) == 696
    assert [p.stem for p in catalog.info(q(BTC)).files] == ["2024-01"]
    assert catalog.missing(q(f"{BTC}@2024-01-01..2024-03-01")) == [(ts("2024-02-01"), ts("2024-03-01"))]
    assert catalog.delete(q(BTC)) == 744
    assert not catalog.path(q(BTC)).exists()
    assert [str(i.query) for i in catalog.list()] == ["csv:coinbase:BTC/USD:1d:ohlcv"]
    with pytest.raises(ConfigError, match="no data set"):
        catalog.delete(q(BTC))


def test_check_names_the_partition_file(catalog: Catalog) -> None:
    frame = hourly(n=24 * 40)
    frame.iloc[24 * 35, frame.columns.get_loc("high")] = 1.0  # 2024-02-05 00:00
    catalog.put(q(BTC), frame)
    report = catalog.check(q(BTC))
    assert report.count() == 1
    problem = report.problems[0]
    assert problem.field == "high" and problem.where.endswith("2024-02.parquet row at 2024-02-05T00:00:00+00:00")


def test_data_directory_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MLCT_DATA_DIR", str(tmp_path / "mine"))
    assert default_data_dir() == tmp_path / "mine" and Catalog().root == tmp_path / "mine"
    monkeypatch.delenv("MLCT_DATA_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_data_dir() == tmp_path / "xdg" / "mlct"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert default_data_dir() == Path.home() / ".local" / "share" / "mlct"


def test_unreadable_files_are_named(catalog: Catalog) -> None:
    catalog.put(q(BTC), hourly(n=24))
    path = catalog.path(q(BTC)) / "2024-01.parquet"
    path.write_bytes(b"not parquet")
    with pytest.raises(DataError, match="unreadable catalog partition"):
        catalog.read(q(BTC))
    (catalog.path(q(BTC)) / "dataset.json").write_text("{")
    with pytest.raises(DataError, match=r"dataset\.json: unreadable catalog metadata"):
        catalog.coverage(q(BTC))


def test_frames_in_coarser_time_units_are_stored_exactly(catalog: Catalog) -> None:
    frame = hourly(n=5)
    catalog.put(q(BTC), frame.set_axis(frame.index.as_unit("s")))
    pd.testing.assert_frame_equal(catalog.read(q(BTC)), frame, check_freq=False)
    source = FakeSource(hourly(start="2024-02-01", n=48).pipe(lambda f: f.set_axis(f.index.as_unit("ms"))))
    got = catalog.get(q(f"{BTC}@2024-02-01..2024-02-03"), source)
    assert got.index.unit == "ns" and got.index[0] == ts("2024-02-01") and len(got) == 48
