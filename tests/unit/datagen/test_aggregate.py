"""Aggregation: bars to coarser bars as an exchange builds them, and trades to time/tick/volume/dollar bars."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.datagen.aggregate import resample_bars, trade_bars
from engine.datagen.files import load_bars
from engine.errors import ConfigError, DataError

from .fakes import ts


def bars(rows: list[tuple[str, float, float, float, float, float]]) -> pd.DataFrame:
    index = pd.DatetimeIndex([ts(r[0]) for r in rows], name="ts").as_unit("ns")
    return pd.DataFrame([r[1:] for r in rows], index=index, columns=["open", "high", "low", "close", "volume"],
                        dtype=np.float64)


HOURS = bars([
    ("2024-01-01 00:00", 10, 12, 9, 11, 1),
    ("2024-01-01 01:00", 11, 15, 10, 14, 2),
    ("2024-01-01 02:00", 14, 14, 8, 9, 3),
    ("2024-01-01 03:00", 9, 10, 7, 10, 4),
    ("2024-01-01 04:00", 10, 11, 10, 11, 5),
    ("2024-01-01 05:00", 11, 13, 11, 12, 6),
])


def test_hours_to_two_hours_by_hand() -> None:
    out = resample_bars(HOURS, "2h")
    expected = bars([("2024-01-01 00:00", 10, 15, 9, 14, 3), ("2024-01-01 02:00", 14, 14, 7, 10, 7),
                     ("2024-01-01 04:00", 10, 13, 10, 12, 11)])
    pd.testing.assert_frame_equal(out, expected, check_freq=False)


def test_incomplete_edge_bars_are_dropped_unless_asked() -> None:
    late = HOURS.iloc[1:]  # starts at 01:00: the 00:00-04:00 bar would miss the first hour
    assert list(resample_bars(late, "4h").index) == []  # 04:00-08:00 misses 06:00 and 07:00 too
    kept = resample_bars(late, "4h", partial=True)
    pd.testing.assert_frame_equal(kept, bars([("2024-01-01 00:00", 11, 15, 7, 10, 9),
                                              ("2024-01-01 04:00", 10, 13, 10, 12, 11)]), check_freq=False)
    assert list(resample_bars(HOURS, "3h").index) == [ts("2024-01-01 00:00"), ts("2024-01-01 03:00")]
    assert list(resample_bars(HOURS.iloc[:5], "3h").index) == [ts("2024-01-01 00:00")]


def test_a_missing_hour_inside_keeps_its_day() -> None:
    holed = HOURS.drop(HOURS.index[2])  # the exchange had no trades at 02:00
    out = resample_bars(holed, "2h", interval="1h")
    assert list(out["volume"]) == [3, 4, 11] and out["low"].iloc[1] == 7


def test_optional_columns_are_summed_and_weeks_start_on_monday() -> None:
    index = pd.date_range("2024-01-01", periods=14, freq="1D", tz="UTC", name="ts").as_unit("ns")  # Mon .. Sun
    days = pd.DataFrame({"open": 1.0, "high": 2.0, "low": 0.5, "close": 1.0, "volume": 1.0, "quote_volume": 3.0,
                         "trades": 10.0}, index=index)
    weeks = resample_bars(days, "1w")
    assert list(weeks.index) == [ts("2024-01-01"), ts("2024-01-08")]
    assert list(weeks["quote_volume"]) == [21.0, 21.0] and list(weeks["trades"]) == [70.0, 70.0]


def test_real_hourly_to_four_hours_and_days(hourly_path: Path) -> None:
    frame, _ = load_bars(hourly_path, order="sort")
    for timeframe, rule in (("4h", "4h"), ("1d", "1D")):
        out = resample_bars(frame, timeframe)
        # An independent computation with pandas' resampler (left-closed, labelled at the open, UTC midnight).
        ref = frame.resample(rule).agg({"open": "first", "high": "max", "low": "min",
                                                        "close": "last", "volume": "sum", "quote_volume": "sum"})
        counts = frame["open"].resample(rule).count()
        whole = counts == pd.Timedelta(rule) // pd.Timedelta("1h")
        pd.testing.assert_frame_equal(out, ref[whole], check_freq=False)
    days = resample_bars(frame, "1d")
    assert days.index[0] == ts("2017-07-02") and days.index[-1] == ts("2019-10-16")  # partial first/last dropped
    assert len(days) == 837


def test_bad_targets() -> None:
    with pytest.raises(ConfigError, match="whole multiple"):
        resample_bars(HOURS, "90m")
    shifted = HOURS.copy()
    shifted.index = shifted.index + pd.Timedelta("30min")
    with pytest.raises(DataError, match="not on the"):
        resample_bars(shifted, "2h")


TRADES = pd.DataFrame(
    {"price": [10.0, 11.0, 9.0, 12.0, 10.0, 13.0, 14.0], "amount": [1.0, 2.0, 1.0, 3.0, 1.0, 2.0, 5.0],
     "side": [1.0, -1.0, 1.0, 1.0, np.nan, -1.0, 1.0], "id": np.arange(1.0, 8.0)},
    index=pd.DatetimeIndex([ts("2024-01-01 00:00:01"), ts("2024-01-01 00:00:30"), ts("2024-01-01 00:00:59"),
                            ts("2024-01-01 00:01:00"), ts("2024-01-01 00:03:10"), ts("2024-01-01 00:03:10"),
                            ts("2024-01-01 00:03:50")], name="ts").as_unit("ns"))


def test_trades_to_time_bars_by_hand() -> None:
    out = trade_bars(TRADES, timeframe="1m", end=ts("2024-01-01 00:04"))
    assert list(out.index) == [ts("2024-01-01 00:00"), ts("2024-01-01 00:01"), ts("2024-01-01 00:03")]
    assert out.iloc[0].tolist() == [10.0, 11.0, 9.0, 9.0, 4.0, 10 + 22 + 9, 3.0]
    assert out.iloc[2].tolist() == [10.0, 14.0, 10.0, 14.0, 8.0, 10 + 26 + 70, 3.0]
    assert len(trade_bars(TRADES, timeframe="1m")) == 2  # without an end, the last minute may not be over
    assert len(trade_bars(TRADES, timeframe="1m", partial=True)) == 3


def test_trades_to_tick_volume_and_dollar_bars_by_hand() -> None:
    ticks = trade_bars(TRADES, ticks=3)
    assert ticks[["open", "high", "low", "close", "volume", "trades"]].values.tolist() == [
        [10, 11, 9, 9, 4, 3], [12, 13, 10, 13, 6, 3]]
    assert list(ticks["close_ts"]) == [ts("2024-01-01 00:00:59"), ts("2024-01-01 00:03:10")]
    assert len(trade_bars(TRADES, ticks=3, partial=True)) == 3
    # Running volume 1, 3, 4, 7, 8, 10, 15: multiples of 4 are reached at trade 3 (4), trade 5 (8) and trade 7
    # (15 passes 12); the whole trade that reaches one goes in the bar it closes.
    volume = trade_bars(TRADES, volume=4.0)
    assert volume["volume"].tolist() == [4.0, 4.0, 7.0] and volume["trades"].tolist() == [3.0, 2.0, 2.0]
    assert volume.index[1] == ts("2024-01-01 00:01:00")
    # Notional 10, 22, 9, 36, 10, 26, 70 -> running 10, 32, 41, 77, 87, 113, 183; every 50.
    dollars = trade_bars(TRADES, dollars=50.0)
    assert dollars["quote_volume"].tolist() == [77.0, 36.0, 70.0]
    assert dollars["trades"].tolist() == [4.0, 2.0, 1.0]


def test_trade_bar_arguments_are_checked() -> None:
    with pytest.raises(ConfigError, match="exactly one"):
        trade_bars(TRADES, ticks=3, volume=1.0)
    with pytest.raises(ConfigError, match="positive"):
        trade_bars(TRADES, ticks=0)
    with pytest.raises(DataError, match="missing column"):
        trade_bars(TRADES.drop(columns="amount"), ticks=2)
    bad = TRADES.copy()
    bad.iloc[2, 0] = -9.0
    with pytest.raises(DataError, match=r"row at 2024-01-01T00:00:59\+00:00: price = -9\.0"):
        trade_bars(bad, ticks=2)
    assert trade_bars(TRADES.iloc[:0], ticks=2).empty
