"""validate_ohlcv and infer_interval on in-memory frames: rows are named by timestamp when no line is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.datagen.frames import empty_ohlcv, infer_interval, ns_times, utc_index, validate_ohlcv
from engine.errors import DataError


def bars(n: int = 4, freq: str = "1h") -> pd.DataFrame:
    index = pd.date_range("2024-01-01", periods=n, freq=freq, tz="UTC", name="ts")
    close = 100.0 + np.arange(n)
    return pd.DataFrame({"open": close - 0.5, "high": close + 1.0, "low": close - 1.0, "close": close,
                         "volume": np.full(n, 2.0)}, index=index)


def test_valid_frame_is_returned_unchanged() -> None:
    frame = bars()
    copy = frame.copy()
    assert validate_ohlcv(frame, "mem") is frame
    pd.testing.assert_frame_equal(frame, copy)
    assert validate_ohlcv(empty_ohlcv(), "mem").empty


@pytest.mark.parametrize(("column", "row", "value", "expected"), [
    ("close", 2, np.nan, "close is NaN"),
    ("high", 1, np.inf, "high is inf"),
    ("open", 3, 0.0, "open = 0.0 is not a positive price"),
    ("low", 0, -5.0, "low = -5.0 is not a positive price"),
    ("volume", 2, -1.0, "volume = -1.0 is negative"),
    ("high", 1, 100.0, "high = 100.0 is below max(open = 100.5, close = 101.0)"),
    ("low", 3, 103.0, "low = 103.0 is above min(open = 102.5, close = 103.0)"),
])
def test_bad_value_names_source_timestamp_and_field(column: str, row: int, value: float, expected: str) -> None:
    frame = bars()
    frame.iloc[row, frame.columns.get_loc(column)] = value
    stamp = frame.index[row].isoformat()
    with pytest.raises(DataError) as info:
        validate_ohlcv(frame, "mem")
    assert str(info.value) == f"mem row at {stamp}: {expected}"


def test_lines_name_the_row_and_count_the_rest() -> None:
    frame = bars()
    frame["volume"] = -1.0
    with pytest.raises(DataError, match=r"^f\.csv line 11: volume = -1\.0 is negative \(3 more such row"):
        validate_ohlcv(frame, "f.csv", lines=[11, 12, 13, 14])


def test_duplicate_and_out_of_order_timestamps() -> None:
    frame = bars()
    dup = frame.set_axis(pd.DatetimeIndex([*frame.index[:2], frame.index[1], frame.index[3]], name="ts"))
    with pytest.raises(DataError, match=r"row at 2024-01-01T01:00:00\+00:00: ts = .* duplicate"):
        validate_ohlcv(dup, "mem")
    swapped = frame.iloc[[0, 2, 1, 3]]
    with pytest.raises(DataError, match=r"line 3: ts = 2024-01-01T01:00:00\+00:00 is out of order"):
        validate_ohlcv(swapped, "f.csv", lines=[1, 2, 3, 4])


def test_structure_errors() -> None:
    with pytest.raises(DataError, match=r"missing column.*volume"):
        validate_ohlcv(bars().drop(columns="volume"), "mem")
    with pytest.raises(DataError, match="UTC DatetimeIndex"):
        validate_ohlcv(bars().tz_convert("Europe/Berlin"), "mem")
    with pytest.raises(DataError, match="UTC DatetimeIndex"):
        validate_ohlcv(bars().reset_index(drop=True), "mem")
    with pytest.raises(DataError, match="named 'ts'"):
        validate_ohlcv(bars().rename_axis("time"), "mem")
    with pytest.raises(DataError, match="column volume must be float64, got int64"):
        validate_ohlcv(bars().astype({"volume": "int64"}), "mem")


def test_optional_columns_are_checked_too() -> None:
    frame = bars()
    frame["quote_volume"] = 10.0
    frame["trades"] = [1.0, np.nan, 3.0, 4.0]
    with pytest.raises(DataError, match="trades is NaN"):
        validate_ohlcv(frame, "mem")


def test_infer_interval() -> None:
    assert infer_interval(bars(5, "15min").index) == pd.Timedelta("15min")
    gappy = bars(6).index.delete(3)  # one 2h gap among 1h steps
    assert infer_interval(gappy) == pd.Timedelta("1h")
    assert infer_interval(bars(1).index, "1D") == pd.Timedelta("1D")
    assert infer_interval(bars(3).index.as_unit("s")) == pd.Timedelta("1h")  # any resolution
    repeated = bars(4).index.insert(0, bars(4).index[0])  # a first step of 0, then 1h steps
    assert infer_interval(repeated) == pd.Timedelta("1h")
    with pytest.raises(DataError, match="no two distinct timestamps"):
        infer_interval(bars(1).index.repeat(3))
    with pytest.raises(DataError, match="from 1 row"):
        infer_interval(bars(1).index)
    with pytest.raises(ValueError, match="positive"):
        infer_interval(bars(3).index, "-1h")


def test_ns_times_and_utc_index_share_memory() -> None:
    index = bars(3).index.as_unit("ns")
    assert np.shares_memory(ns_times(index), index.asi8)
    assert ns_times(index.as_unit("s")).tolist() == index.asi8.tolist()  # converted from another resolution
    stamps = index.asi8.copy()
    rebuilt = utc_index(stamps)
    assert rebuilt.equals(index) and rebuilt.name == "ts" and str(rebuilt.dtype) == "datetime64[ns, UTC]"
    assert np.shares_memory(rebuilt.asi8, stamps)
