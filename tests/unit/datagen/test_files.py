"""load_bars: dispatch by format, generic CSV with column mapping and epoch units, Parquet round trip, errors."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.datagen.files import load_bars, save_parquet
from engine.datagen.synthetic import synthetic_bars
from engine.errors import ConfigError, DataError

from .helpers import write_cdd

GENERIC = """ts,open,high,low,close,volume
{t0},100,102,99,101,3
{t1},101,103,100,102,1.5
{t2},102,106,101,104,2.5
"""
T0 = pd.Timestamp("2024-03-01 00:00", tz="UTC")


def write_generic(tmp_path: Path, stamps: list[str], text: str = GENERIC, name: str = "bars.csv") -> Path:
    path = tmp_path / name
    path.write_text(text.format(t0=stamps[0], t1=stamps[1], t2=stamps[2]))
    return path


def test_cryptodatadownload_is_detected_by_its_header(tmp_path: Path) -> None:
    frame, meta = load_bars(write_cdd(tmp_path, name="Coinbase_BTCUSD_1h.csv"))
    assert meta.format == "cryptodatadownload" and meta.symbol == "BTC/USD" and len(frame) == 3


def test_real_files_through_load_bars(hourly_path: Path, daily_path: Path) -> None:
    assert len(load_bars(hourly_path, order="sort")[0]) == 20_111
    assert len(load_bars(daily_path, symbol="ETH")[0]) == 788


@pytest.mark.parametrize(("stamps", "label"), [
    (["2024-03-01 00:00:00", "2024-03-01 00:01:00", "2024-03-01 00:02:00"], "iso naive"),
    (["2024-03-01T00:00:00Z", "2024-03-01T00:01:00Z", "2024-03-01T00:02:00Z"], "iso Z"),
    (["2024-03-01T01:00:00+01:00", "2024-03-01T01:01:00+01:00", "2024-03-01T01:02:00+01:00"], "iso offset"),
    ([str(int(T0.timestamp()) + 60 * i) for i in range(3)], "epoch s"),
    ([str(int(T0.timestamp()) * 1000 + 60_000 * i) for i in range(3)], "epoch ms"),
    ([str(T0.value + 60_000_000_000 * i) for i in range(3)], "epoch ns"),
])
def test_generic_csv_timestamps(tmp_path: Path, stamps: list[str], label: str) -> None:
    frame, meta = load_bars(write_generic(tmp_path, stamps), symbol="ETH/USDT")
    assert frame.index.tolist() == [T0 + pd.Timedelta(minutes=i) for i in range(3)], label
    assert frame.index.asi8[0] == T0.value and str(frame.index.dtype) == "datetime64[ns, UTC]"
    assert frame["close"].tolist() == [101.0, 102.0, 104.0]
    assert meta.format == "csv" and meta.symbol == "ETH/USDT" and meta.interval == pd.Timedelta("1min")


def test_generic_csv_newest_first_and_gzip(tmp_path: Path) -> None:
    stamps = [str(int(T0.timestamp()) + 60 * i) for i in (2, 1, 0)]
    path = write_generic(tmp_path, stamps)
    packed = tmp_path / "bars.csv.gz"
    packed.write_bytes(gzip.compress(path.read_bytes()))
    frame, _ = load_bars(packed)
    assert frame.index.is_monotonic_increasing and frame["open"].tolist() == [102.0, 101.0, 100.0]


def test_generic_csv_column_mapping(tmp_path: Path) -> None:
    text = "Time,O,H,L,C,Vol,symbol\n{t0},1,2,1,2,5,X/Y\n{t1},2,3,2,3,6,X/Y\n{t2},3,4,3,4,7,X/Y\n"
    path = write_generic(tmp_path, ["2024-01-01", "2024-01-02", "2024-01-03"], text)
    columns = {"Time": "ts", "O": "open", "H": "high", "L": "low", "C": "close", "Vol": "volume"}
    frame, meta = load_bars(path, columns=columns)
    assert frame["volume"].tolist() == [5.0, 6.0, 7.0] and meta.interval == pd.Timedelta("1D")
    assert meta.symbol == "X/Y"  # from the file's symbol column
    with pytest.raises(ConfigError, match="maps to no standard name"):
        load_bars(path, columns={"O": "opening"})
    with pytest.raises(DataError, match=rf"^{path} line 1: no column\(s\) 'Open'"):
        load_bars(path, columns={"Open": "open"})
    with pytest.raises(DataError, match=rf"^{path} line 1: missing column\(s\) high, low, close, volume"):
        load_bars(path, columns={"O": "open"})  # "Time" is found without mapping, the rest is not
    untimed = tmp_path / "untimed.csv"
    untimed.write_text("when,open,high,low,close,volume\n2024-01-01,1,2,1,2,5\n")
    with pytest.raises(DataError, match=rf"^{untimed} line 1: no time column"):
        load_bars(untimed)


def test_generic_csv_errors_name_file_line_and_field(tmp_path: Path) -> None:
    text = GENERIC.replace("101,103,100,102,1.5", "101,103,100,102,-1.5")
    path = write_generic(tmp_path, ["2024-01-01", "2024-01-02", "2024-01-03"], text)
    with pytest.raises(DataError, match=rf"^{path} line 3: volume = -1\.5 is negative"):
        load_bars(path)
    text = GENERIC.replace("{t2},102,106", "{t2},102,1o6")
    path = write_generic(tmp_path, ["2024-01-01", "2024-01-02", "2024-01-03"], text)
    with pytest.raises(DataError, match=rf"^{path} line 4: high = '1o6' is not a number"):
        load_bars(path)
    path = write_generic(tmp_path, ["2024-01-01", "2024-01-02", "2024-01-02"])
    with pytest.raises(DataError, match=rf"^{path} line 4: ts = 2024-01-02T00:00:00\+00:00 duplicates line 3"):
        load_bars(path)
    path = write_generic(tmp_path, ["2024-01-01", "2024-01-02", "someday"])
    with pytest.raises(DataError, match=rf"^{path} line 4: ts = 'someday' is not a time"):
        load_bars(path)
    path = write_generic(tmp_path, ["1709251200", "1709251260", "soon"])
    with pytest.raises(DataError, match=rf"^{path} line 4: ts = 'soon' is not an epoch number"):
        load_bars(path)


def test_parquet_round_trip(tmp_path: Path) -> None:
    frame = synthetic_bars(500, interval="5min", seed=3)
    frame["quote_volume"] = frame["volume"] * frame["close"]
    path = save_parquet(frame, tmp_path / "bars.parquet", symbol="BTC/USDT")
    loaded, meta = load_bars(path)
    pd.testing.assert_frame_equal(loaded, frame)
    assert meta.symbol == "BTC/USDT" and meta.interval == pd.Timedelta("5min") and meta.format == "parquet"
    assert load_bars(path, symbol="XBT/USDT")[1].symbol == "XBT/USDT"


def test_parquet_one_bar_keeps_its_interval(tmp_path: Path) -> None:
    path = save_parquet(synthetic_bars(2, interval="4h"), tmp_path / "two.parquet")
    one = save_parquet(synthetic_bars(1), tmp_path / "one.parquet")
    assert load_bars(path)[1].interval == pd.Timedelta("4h")
    with pytest.raises(DataError, match="interval"):
        load_bars(one)


def test_save_parquet_refuses_bad_frames(tmp_path: Path) -> None:
    frame = synthetic_bars(5)
    frame.iloc[2, 1] = np.nan
    with pytest.raises(DataError, match=r"bad\.parquet row at .*: high is NaN"):
        save_parquet(frame, tmp_path / "bad.parquet")
    assert not (tmp_path / "bad.parquet").exists()


def test_parquet_file_with_bad_data_is_named(tmp_path: Path) -> None:
    frame = synthetic_bars(5)
    frame.to_parquet(tmp_path / "ok.parquet")
    frame.iloc[3, 4] = -1.0
    frame.to_parquet(tmp_path / "neg.parquet")
    assert len(load_bars(tmp_path / "ok.parquet")[0]) == 5
    with pytest.raises(DataError, match=r"neg\.parquet row at 2020-01-01T00:03:00\+00:00: volume = -1\.0"):
        load_bars(tmp_path / "neg.parquet")


def test_missing_unreadable_and_unknown_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope\.csv: no such file"):
        load_bars(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="not a file"):
        load_bars(tmp_path)
    (tmp_path / "bars.xlsx").write_bytes(b"PK\x03\x04")
    with pytest.raises(DataError, match=r"bars\.xlsx: unknown format \(extension \.xlsx\)"):
        load_bars(tmp_path / "bars.xlsx")
    with pytest.raises(DataError, match="unknown --format 'feather'"):
        load_bars(write_cdd(tmp_path), format="feather")
    (tmp_path / "broken.csv.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(DataError, match=r"broken\.csv\.gz: not a readable text file"):
        load_bars(tmp_path / "broken.csv.gz")
    (tmp_path / "binary.csv").write_bytes(bytes(range(128, 256)) * 4)
    with pytest.raises(DataError, match=r"binary\.csv: not a readable text file"):
        load_bars(tmp_path / "binary.csv")
    (tmp_path / "fake.parquet").write_text("not parquet")
    with pytest.raises(DataError, match=r"fake\.parquet: not a readable Parquet file"):
        load_bars(tmp_path / "fake.parquet")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match=r"empty\.csv: empty file"):
        load_bars(tmp_path / "empty.csv")


def test_format_argument_overrides_the_extension(tmp_path: Path) -> None:
    path = tmp_path / "bars.dat"
    path.write_bytes(write_cdd(tmp_path).read_bytes())
    assert load_bars(path, format="cdd")[1].format == "cryptodatadownload"
    with pytest.raises(ConfigError, match="--columns applies to generic CSV files, not to cryptodatadownload"):
        load_bars(path, format="cdd", columns={"date": "ts"})
