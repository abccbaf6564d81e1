"""CryptoDataDownload CSV: the real files, the date formats, and every validation rule named by file line."""

from __future__ import annotations

import gzip
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.datagen.cryptodatadownload import load_cryptodatadownload
from engine.datagen.frames import OHLCV_COLUMNS
from engine.errors import ConfigError, DataError

from .helpers import CDD_ROWS, write_cdd

# -- the real files --------------------------------------------------------------------------------------


def test_hourly_file_loads_in_ascending_utc_time(hourly_path: Path) -> None:
    frame, meta = load_cryptodatadownload(hourly_path, order="sort")
    assert len(frame) == 20_111
    assert frame.index[0] == pd.Timestamp("2017-07-01 11:00", tz="UTC")
    assert frame.index[-1] == pd.Timestamp("2019-10-17 09:00", tz="UTC")
    assert str(frame.index.dtype) == "datetime64[ns, UTC]" and frame.index.name == "ts"
    assert frame.index.is_monotonic_increasing and frame.index.is_unique
    assert (np.diff(frame.index.asi8) == 3_600_000_000_000).all()  # no gaps, as the README says
    assert list(frame.columns) == [*OHLCV_COLUMNS, "quote_volume"]
    assert (frame.dtypes == np.float64).all()
    assert meta.symbol == "BTC/USD" and meta.interval == pd.Timedelta("1h")
    assert meta.source == str(hourly_path) and meta.exchange == "coinbase"


def test_hourly_file_values_map_volume_btc_to_volume(hourly_path: Path) -> None:
    frame, _ = load_cryptodatadownload(hourly_path, order="sort")
    # line 3 of the file: 2019-10-17 09-AM,BTCUSD,8051,8056.83,8021.23,8035.88,61.25,492394.56
    last = frame.iloc[-1]
    assert last.tolist() == [8051.0, 8056.83, 8021.23, 8035.88, 61.25, 492394.56]
    # last line: 2017-07-01 11-AM,BTCUSD,2505.56,2513.38,2495.12,2509.17,114.6,287000.32
    assert frame.iloc[0].tolist() == [2505.56, 2513.38, 2495.12, 2509.17, 114.6, 287000.32]
    # the 12-hour clock: 12-AM is midnight, 12-PM noon
    assert frame.loc["2019-10-17 00:00", "open"] == 7993.54
    assert frame.loc["2019-10-16 12:00", "open"] == 8049.38


def test_hourly_file_quirk_interleaved_rows(hourly_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Lines 16900-16909 are out of the file's newest-first order: refused, or sorted with a warning if asked."""
    with pytest.raises(DataError, match=r"Coinbase_BTCUSD_1h\.csv line 16901: date = 2017-11-12T08:00:00"):
        load_cryptodatadownload(hourly_path)
    with caplog.at_level(logging.WARNING):
        _, meta = load_cryptodatadownload(hourly_path, order="sort")
    assert meta.notes == ("sorted 10 row(s) out of order between lines 16900 and 16909",)
    assert "16900" in caplog.text


@pytest.mark.parametrize(("symbol", "rows", "first"), [
    ("BTC", 1865, "2014-11-28"),
    ("ETH", 1865 - 1077, "2017-11-09"),
    ("LTC/USD", 1865 - 940, "2017-06-25"),
    ("ltc", 925, "2017-06-25"),
])
def test_daily_wide_file_takes_one_asset(daily_path: Path, symbol: str, rows: int, first: str) -> None:
    frame, meta = load_cryptodatadownload(daily_path, symbol)
    assert len(frame) == rows
    assert frame.index[0] == pd.Timestamp(first, tz="UTC")
    assert frame.index[-1] == pd.Timestamp("2020-01-17", tz="UTC")
    assert frame.index.is_monotonic_increasing and str(frame.index.tz) == "UTC"
    assert list(frame.columns) == list(OHLCV_COLUMNS) and (frame.dtypes == np.float64).all()
    assert meta.symbol == f"{symbol.upper().split('/')[0]}/USD"
    assert meta.interval == pd.Timedelta("1D") and meta.exchange == "bitstamp"


def test_daily_wide_file_values(daily_path: Path) -> None:
    eth, meta = load_cryptodatadownload(daily_path, "ETH")
    # 2020-01-17: ETH:open..ETH:volume = 164.09,165.07,162.01,164.52,1176.94
    assert eth.iloc[-1].tolist() == [164.09, 165.07, 162.01, 164.52, 1176.94]
    assert meta.notes == ("dropped 1077 row(s) before ETH's first bar on line 1079",)


def test_daily_wide_file_needs_a_symbol(daily_path: Path) -> None:
    with pytest.raises(DataError, match="holds BTC, ETH, LTC: choose one with --symbol"):
        load_cryptodatadownload(daily_path)
    with pytest.raises(DataError, match="no XRP columns"):
        load_cryptodatadownload(daily_path, "XRP")


# -- layouts and formats ---------------------------------------------------------------------------------


def test_newest_first_is_sorted_and_values_follow_their_rows(tmp_path: Path) -> None:
    frame, meta = load_cryptodatadownload(write_cdd(tmp_path, name="Kraken_BTCUSD_1h.csv"))
    assert frame.index.tolist() == [pd.Timestamp(f"2019-10-17 0{h}:00", tz="UTC") for h in range(3)]
    assert frame["open"].tolist() == [100.0, 101.0, 102.0]
    assert frame["volume"].tolist() == [3.0, 1.5, 2.5] and frame["quote_volume"].tolist() == [303.0, 153.0, 260.0]
    assert meta.notes == () and meta.exchange == "kraken" and meta.symbol == "BTC/USD"


@pytest.mark.parametrize("dates", [
    ["2019-10-17 02:00:00", "2019-10-17 01:00:00", "2019-10-17 00:00:00"],
    ["2019-10-17 02-AM", "2019-10-17 01-AM", "2019-10-17 12-AM"],
])
def test_date_formats(tmp_path: Path, dates: list[str]) -> None:
    rows = [",".join([d, *row.split(",")[1:]]) for d, row in zip(dates, CDD_ROWS, strict=True)]
    frame, meta = load_cryptodatadownload(write_cdd(tmp_path, rows))
    assert frame.index[0] == pd.Timestamp("2019-10-17 00:00", tz="UTC") and meta.interval == pd.Timedelta("1h")


def test_date_only_and_oldest_first(tmp_path: Path) -> None:
    rows = ["2019-10-15,BTCUSD,100,102,99,101,3,303", "2019-10-16,BTCUSD,101,103,100,102,1,102",
            "2019-10-17,BTCUSD,102,106,101,104,2,208"]
    frame, meta = load_cryptodatadownload(write_cdd(tmp_path, rows))
    assert frame["open"].tolist() == [100.0, 101.0, 102.0] and meta.interval == pd.Timedelta("1D")


@pytest.mark.parametrize("scale", [1, 1000])
def test_unix_column_seconds_or_milliseconds(tmp_path: Path, scale: int) -> None:
    base = 1571270400  # 2019-10-17 00:00 UTC
    header = "unix,date,symbol,open,high,low,close,Volume BTC,Volume USD"
    rows = [f"{(base + 3600 * (2 - i)) * scale},ignored,{row.split(',', 1)[1]}" for i, row in enumerate(CDD_ROWS)]
    frame, meta = load_cryptodatadownload(write_cdd(tmp_path, rows, header=header))
    assert frame.index[0] == pd.Timestamp("2019-10-17 00:00", tz="UTC")
    assert frame.index.asi8[0] == base * 1_000_000_000
    assert frame["volume"].tolist() == [3.0, 1.5, 2.5] and frame["quote_volume"].tolist() == [303.0, 153.0, 260.0]
    assert meta.symbol == "BTC/USD"


def test_gzip_is_read_transparently(tmp_path: Path) -> None:
    plain = write_cdd(tmp_path)
    packed = tmp_path / "Coinbase_BTCUSD_1h.csv.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    assert load_cryptodatadownload(packed)[0].equals(load_cryptodatadownload(plain)[0])


def test_symbol_argument_must_match_the_file(tmp_path: Path) -> None:
    path = write_cdd(tmp_path)
    assert load_cryptodatadownload(path, "BTC/USD")[1].symbol == "BTC/USD"
    with pytest.raises(DataError, match="holds BTCUSD, not the requested ETH/USD"):
        load_cryptodatadownload(path, "ETH/USD")


def _wide(tmp_path: Path, eth: list[str]) -> Path:
    lines = [",BTC:open,BTC:high,BTC:low,BTC:close,BTC:volume,ETH:open,ETH:high,ETH:low,ETH:close,ETH:volume"]
    for day, cells in enumerate(eth, start=1):
        lines.append(f"2020-01-0{day},10,11,9,10,5,{cells}")
    path = tmp_path / "bitstamp_BTC_ETH_USD_d.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_wide_layout_drops_rows_before_listing(tmp_path: Path) -> None:
    path = _wide(tmp_path, [",,,,", ",,,,", "1,2,1,2,7", "2,3,2,3,8"])
    frame, meta = load_cryptodatadownload(path, "ETH")
    assert frame.index[0] == pd.Timestamp("2020-01-03", tz="UTC") and len(frame) == 2
    assert meta.notes == ("dropped 2 row(s) before ETH's first bar on line 4",) and meta.symbol == "ETH/USD"


def test_wide_layout_hole_in_history_is_an_error(tmp_path: Path) -> None:
    path = _wide(tmp_path, [",,,,", "1,2,1,2,7", ",,,,", "2,3,2,3,8"])
    with pytest.raises(DataError, match=r"bitstamp_BTC_ETH_USD_d\.csv line 4: ETH columns are empty .* line 3"):
        load_cryptodatadownload(path, "ETH")


def test_wide_layout_partly_empty_row_names_the_field(tmp_path: Path) -> None:
    path = _wide(tmp_path, [",,,,", "1,2,1,2,7", "2,3,,3,8"])
    with pytest.raises(DataError, match=r"bitstamp_BTC_ETH_USD_d\.csv line 4: low is NaN"):
        load_cryptodatadownload(path, "ETH")


# -- every validation rule, named by file, line and field --------------------------------------------------


def _edit(row: int, field: int, value: str) -> list[str]:
    rows = [r.split(",") for r in CDD_ROWS]
    rows[row][field] = value
    return [",".join(r) for r in rows]


# columns: 0 date, 1 symbol, 2 open, 3 high, 4 low, 5 close, 6 volume_btc, 7 volume; rows are lines 3, 4, 5
@pytest.mark.parametrize(("row", "col", "value", "line", "expected"), [
    (1, 5, "", 4, "close is NaN"),
    (0, 2, "nan", 3, "open is NaN"),
    (2, 4, "0", 5, "low = 0.0 is not a positive price"),
    (1, 2, "-101", 4, "open = -101.0 is not a positive price"),
    (0, 6, "-2.5", 3, "volume = -2.5 is negative"),
    (0, 7, "-1", 3, "quote_volume = -1.0 is negative"),
    (1, 3, "101.5", 4, "high = 101.5 is below max(open = 101.0, close = 102.0)"),
    (2, 4, "100.5", 5, "low = 100.5 is above min(open = 100.0, close = 101.0)"),
    (1, 3, "1O3", 4, "high = '1O3' is not a number"),
    (1, 0, "2019-10-17 01:00:00", 4, "date = '2019-10-17 01:00:00' is not a time"),
    (1, 0, "", 4, "date is empty"),
])
def test_bad_value_names_file_line_and_field(tmp_path: Path, row: int, col: int, value: str, line: int,
                                             expected: str) -> None:
    path = write_cdd(tmp_path, _edit(row, col, value))
    with pytest.raises(DataError) as info:
        load_cryptodatadownload(path)
    assert str(info.value).startswith(f"{path} line {line}: {expected}")


def test_missing_column_names_the_header_line(tmp_path: Path) -> None:
    header = "date,symbol,open,high,low,volume_btc,volume"
    rows = [",".join(r.split(",")[:5] + r.split(",")[6:]) for r in CDD_ROWS]
    path = write_cdd(tmp_path, rows, header=header)
    with pytest.raises(DataError, match=rf"^{path} line 2: missing column\(s\) close"):
        load_cryptodatadownload(path)


def test_missing_base_volume_names_the_header_line(tmp_path: Path) -> None:
    path = write_cdd(tmp_path, [r.rsplit(",", 2)[0] for r in CDD_ROWS], header="date,symbol,open,high,low,close")
    with pytest.raises(DataError, match=rf"^{path} line 2: no base volume column"):
        load_cryptodatadownload(path)


def test_duplicate_timestamp_names_both_lines(tmp_path: Path) -> None:
    path = write_cdd(tmp_path, _edit(1, 0, "2019-10-17 02-AM"))
    for order in ("sort", "raise"):
        with pytest.raises(DataError, match=rf"^{path} line 4: date = 2019-10-17T02:00:00\+00:00 duplicates line 3"):
            load_cryptodatadownload(path, order=order)  # type: ignore[arg-type]


def test_shuffled_rows_are_an_error_by_default_and_noted_when_sorted(tmp_path: Path) -> None:
    rows = [CDD_ROWS[1], CDD_ROWS[0], CDD_ROWS[2], "2019-10-16 11-PM,BTCUSD,99,100,98,100,1,100"]
    path = write_cdd(tmp_path, rows)
    for order in ({}, {"order": "raise"}):
        with pytest.raises(DataError, match=rf"^{path} line 4: date = 2019-10-17T02:00:00\+00:00 is out of order"):
            load_cryptodatadownload(path, **order)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="order must be 'raise' or 'sort', got 'strict'"):
        load_cryptodatadownload(path, order="strict")  # type: ignore[arg-type]
    frame, meta = load_cryptodatadownload(path, order="sort")
    assert frame.index.is_monotonic_increasing and frame["open"].tolist() == [99.0, 100.0, 101.0, 102.0]
    assert meta.notes == ("sorted 2 row(s) out of order between lines 3 and 4",)


def test_one_pair_per_file(tmp_path: Path) -> None:
    path = write_cdd(tmp_path, _edit(2, 1, "ETHUSD"))
    with pytest.raises(DataError, match=rf"^{path} line 5: symbol = 'ETHUSD' differs"):
        load_cryptodatadownload(path)


def test_blank_lines_do_not_shift_line_numbers(tmp_path: Path) -> None:
    rows = [CDD_ROWS[0], "", _edit(1, 5, "")[1], CDD_ROWS[2]]
    path = write_cdd(tmp_path, rows)
    with pytest.raises(DataError, match=rf"^{path} line 5: close is NaN"):
        load_cryptodatadownload(path)


def test_no_header(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("just,some\ntext,here\n")
    with pytest.raises(DataError, match="no CryptoDataDownload header"):
        load_cryptodatadownload(path)
