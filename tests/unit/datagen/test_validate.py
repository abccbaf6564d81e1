"""Validation report and policies: every rule on a bad file, each problem naming its file, row and field."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.datagen.files import load_bars
from engine.datagen.validate import InvalidData, check_bars, forward_fill, validate_bars
from engine.errors import ConfigError, DataError

from .fakes import hourly, ts

ROW = "2024-01-01T02:00:00+00:00"  # the row each single-problem case spoils (position 2)


def spoiled(field: str, value: float) -> pd.DataFrame:
    frame = hourly(n=6)
    frame.iloc[2, frame.columns.get_loc(field)] = value
    return frame


# (rule, frame maker, field, message fragment)
CASES = [
    ("nan", lambda: spoiled("close", np.nan), "close", "close is NaN"),
    ("nan", lambda: spoiled("volume", np.inf), "volume", "volume is inf"),
    ("price", lambda: spoiled("low", -1.0), "low", "low = -1.0 is not a positive price"),
    ("volume", lambda: spoiled("volume", -3.0), "volume", "volume = -3.0 is negative"),
    ("high", lambda: spoiled("high", 50.0), "high", "high = 50.0 is below max(open = "),
    ("low", lambda: spoiled("low", 500.0), "low", "low = 500.0 is above min(open = "),
]


@pytest.mark.parametrize(("rule", "make", "field", "message"), CASES)
def test_each_value_rule_is_reported_with_row_and_field(rule: str, make: object, field: str, message: str) -> None:
    frame = make()  # type: ignore[operator]
    report = check_bars(frame, "btc.csv")
    problems = report.of(rule)
    assert len(problems) == 1, str(report)
    problem = problems[0]
    assert (problem.row, problem.field, problem.ts) == (2, field, ts("2024-01-01 02:00"))
    assert str(problem).startswith(f"btc.csv row at {ROW}: {message}")
    with pytest.raises(InvalidData, match=rf"^btc\.csv row at {ROW[:19]}.*: {message[:12]}") as info:
        validate_bars(frame, "btc.csv")
    assert info.value.report.count(rule) == 1 and isinstance(info.value, DataError)
    clean, done = validate_bars(frame, "btc.csv", **{rule: "drop"})
    assert len(clean) == 5 and ts("2024-01-01 02:00") not in clean.index
    assert done.actions == (f"dropped 1 row(s) ({rule})",)
    kept, _ = validate_bars(frame, "btc.csv", **{rule: "keep"})
    assert kept is frame  # reported, unchanged


def test_duplicates_order_and_gaps_name_the_ts_field() -> None:
    frame = hourly(n=8)
    messy = frame.iloc[[0, 1, 1, 3, 2, 4, 7]]  # a repeat, two swapped rows, and a 3-hour gap
    report = check_bars(messy, "x.csv")
    assert [(p.rule, p.row, p.field) for p in report.problems] == [
        ("duplicate", 2, "ts"), ("order", 4, "ts"), ("gap", 6, "ts")]
    assert "ts = 2024-01-01T01:00:00+00:00 is a duplicate of an earlier row" in str(report.problems[0])
    assert "ts = 2024-01-01T02:00:00+00:00 is out of order (after 2024-01-01T03:00:00+00:00" in str(report.problems[1])
    assert "ts = 2024-01-01T07:00:00+00:00: 2 bar(s) missing from 2024-01-01T05:00:00+00:00" in str(report.problems[2])
    assert report.summary() == "x.csv: 7 rows, 3 problem(s): 1 duplicate, 1 order, 1 gap"

    clean, done = validate_bars(messy, "x.csv", duplicate="drop", order="sort", gap="ffill")
    assert list(clean.index) == list(frame.index)
    assert (clean.loc[ts("2024-01-01 05:00"), ["open", "high", "low", "close"]] == frame["close"].iloc[4]).all()
    assert clean.loc[ts("2024-01-01 06:00"), "volume"] == 0.0
    assert done.actions == ("dropped 1 row(s) (duplicate)", "sorted 1 row(s) into time order",
                            "inserted 2 bar(s) in 1 gap(s) (ffill)")
    dropped, _ = validate_bars(messy, "x.csv", duplicate="drop", order="drop", gap="keep")
    assert list(dropped.index) == [frame.index[i] for i in (0, 1, 3, 4, 7)]


def test_every_problem_is_listed_not_just_the_first() -> None:
    frame = hourly(n=10)
    frame.iloc[[1, 4, 7], frame.columns.get_loc("volume")] = -1.0
    frame.iloc[5, frame.columns.get_loc("open")] = np.nan
    report = check_bars(frame, "f")
    assert [(p.rule, p.row) for p in report.problems] == [("volume", 1), ("volume", 4), ("nan", 5), ("volume", 7)]
    with pytest.raises(InvalidData, match=r"volume = -1\.0 is negative \(3 more problem\(s\) of rule\(s\) volume, nan"):
        validate_bars(frame, "f")
    # Policies are per rule: drop the negative volumes, still refuse the NaN.
    with pytest.raises(InvalidData, match="open is NaN") as info:
        validate_bars(frame, "f", volume="drop")
    assert info.value.report.count() == 4


def test_bad_files_name_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("ts,open,high,low,close,volume\n"
                    "2024-01-01 00:00,10,11,9,10.5,1\n"
                    "2024-01-01 01:00,10.5,10,9,10.2,1\n"  # line 3: high below open
                    "2024-01-01 04:00,10.2,11,9,10.4,1\n")  # line 4: after a gap
    with pytest.raises(DataError, match=r"bad\.csv line 3: high = 10\.0 is below max"):
        load_bars(path)  # loaders stop at the first problem
    table = pd.read_csv(path, index_col="ts", parse_dates=True).astype(float)
    table.index = table.index.tz_localize("UTC").as_unit("ns")
    report = check_bars(table, str(path), lines=[2, 3, 4])
    assert [str(p) for p in report.problems] == [
        f"{path} line 3: high = 10.0 is below max(open = 10.5, close = 10.2)",
        f"{path} line 4: ts = 2024-01-01T04:00:00+00:00: 2 bar(s) missing from 2024-01-01T02:00:00+00:00 "
        "(interval 0 days 01:00:00)"]


def test_gaps_use_the_given_interval_and_flag_misaligned_steps() -> None:
    frame = hourly(n=4).iloc[[0, 1, 3]]
    assert check_bars(frame, "f", interval="30min").count("gap") == 2
    shifted = frame.copy()
    shifted.index = pd.DatetimeIndex([ts("2024-01-01"), ts("2024-01-01 01:00"), ts("2024-01-01 02:30")], name="ts")
    (gap,) = check_bars(shifted, "f", interval="1h").of("gap")
    assert "not on the 0 days 01:00:00 grid" in gap.message
    assert check_bars(hourly(n=1), "f").ok  # one row: no interval, no gap


def test_policies_are_checked() -> None:
    with pytest.raises(ConfigError, match=r"gap='drop'.*allowed raise, keep, ffill"):
        validate_bars(hourly(n=3), "f", gap="drop")
    with pytest.raises(ConfigError, match=r"high='ffill'"):
        validate_bars(hourly(n=3), "f", high="ffill")
    unsorted = hourly(n=5).iloc[[0, 2, 1, 4]]
    with pytest.raises(ConfigError, match="needs rows in time order"):
        validate_bars(unsorted, "f", order="keep", gap="ffill")


def test_a_clean_frame_is_returned_as_it_is() -> None:
    frame = hourly(n=50)
    same, report = validate_bars(frame, "f")
    assert same is frame and report.ok and report.summary() == "f: 50 rows, no problems"


def test_structure_errors_are_raised_at_once() -> None:
    with pytest.raises(DataError, match="missing column"):
        check_bars(hourly(n=3).drop(columns="close"), "f")


def test_forward_fill_on_the_real_daily_gap(daily_path: Path) -> None:
    frame, _ = load_bars(daily_path, symbol="ETH/USD")
    report = check_bars(frame, str(daily_path))
    (gap,) = report.of("gap")  # the publisher's file lacks twelve ETH days in March 2019
    assert "12 bar(s) missing from 2019-03-20" in gap.message and str(daily_path) in gap.where
    filled, added = forward_fill(frame, pd.Timedelta("1D"))
    assert added == 12 and check_bars(filled, "filled").ok
