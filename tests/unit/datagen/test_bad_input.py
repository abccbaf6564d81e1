"""Wrong input files are refused with a DataError naming file, row, field and value, in bounded time and memory."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli import main
from engine.datagen.files import load_bars, save_parquet
from engine.datagen.frames import empty_ohlcv
from engine.datagen.textio import MAX_LINE
from engine.errors import DataError, shorten

from .helpers import CDD_HEADER, CDD_ROWS, write_cdd

HEADER = "ts,open,high,low,close,volume"


def write(tmp_path: Path, rows: list[str], name: str = "bars.csv", header: str = HEADER) -> Path:
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


# -- a header and no rows ---------------------------------------------------------------------------------


def test_header_only_csv_has_no_rows(tmp_path: Path) -> None:
    generic = write(tmp_path, [], "header_only.csv")
    with pytest.raises(DataError, match=rf"^{generic}: no rows, only the header on line 1$"):
        load_bars(generic)
    blank = write(tmp_path, ["", ""], "blank_rows.csv")  # blank lines are no rows either
    with pytest.raises(DataError, match=rf"^{blank}: no rows"):
        load_bars(blank)
    cdd = write_cdd(tmp_path, [], name="Coinbase_BTCUSD_1h.csv")
    with pytest.raises(DataError, match=rf"^{cdd}: no rows, only the header on line 2$"):
        load_bars(cdd)


def test_parquet_without_rows_is_refused(tmp_path: Path) -> None:
    path = save_parquet(empty_ohlcv(), tmp_path / "empty.parquet", symbol="BTC/USD")
    with pytest.raises(DataError, match=rf"^{path}: no rows$"):
        load_bars(path)


def test_cli_header_only_file_exits_2_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, [], "header_only.csv")
    assert main(["backtest", "--data", str(path), "--symbol", "BTC/USD"]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {path}: no rows, only the header on line 1\n"


# -- times --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stamp", ["2300-01-01", "2262-04-12T00:00:00Z", "9999-12-31 23:59:59"])
def test_times_past_2262_name_row_field_and_value(tmp_path: Path, stamp: str) -> None:
    path = write(tmp_path, ["2024-01-01,1,2,1,2,3", f"{stamp},1,2,1,2,3"])
    with pytest.raises(DataError, match=rf"^{path} line 3: ts = '{stamp}' is a time outside 1677-09-21 to "
                                        r"2262-04-11"):
        load_bars(path)


def test_cdd_date_past_2262_is_named(tmp_path: Path) -> None:
    path = write_cdd(tmp_path, [CDD_ROWS[0], "2300-01-01 01-AM" + CDD_ROWS[1][16:]])
    with pytest.raises(DataError, match=rf"^{path} line 4: date = '2300-01-01 01-AM' is a time outside"):
        load_bars(path)


SECOND = 1_709_251_200  # 2024-03-01 00:00 UTC


@pytest.mark.parametrize("scale", [1, 1000, 1_000_000, 1_000_000_000])
def test_epoch_units_of_the_crypto_era_load(tmp_path: Path, scale: int) -> None:
    path = write(tmp_path, [f"{(SECOND + 60 * i) * scale},1,2,1,2,3" for i in range(3)])
    frame, _ = load_bars(path)
    assert frame.index.asi8.tolist() == [(SECOND + 60 * i) * 10**9 for i in range(3)]


def test_epoch_units_mixed_in_a_column_are_refused(tmp_path: Path) -> None:
    # By the largest value alone, the seconds would be read as milliseconds of January 1970.
    path = write(tmp_path, [f"{SECOND},1,2,1,2,3", f"{SECOND + 60},1,2,1,2,3", f"{(SECOND + 120) * 1000},1,2,1,2,3"])
    with pytest.raises(DataError, match=rf"^{path} line 4: ts = {(SECOND + 120) * 1000} is epoch ms, but line 2 is "
                                        r"epoch s: one unit per column$"):
        load_bars(path)
    cdd = write_cdd(tmp_path, [f"{(SECOND - 3600 * i) * (1000 if i == 1 else 1)},x,{row.split(',', 1)[1]}"
                               for i, row in enumerate(CDD_ROWS)],
                    header="unix,date,symbol,open,high,low,close,Volume BTC,Volume USD")
    with pytest.raises(DataError, match=rf"^{cdd} line 4: unix = {(SECOND - 3600) * 1000} is epoch ms, but line 3"):
        load_bars(cdd)


@pytest.mark.parametrize("value", ["0", "3600", "631152000", "99999999999999999", "4200000000", "1.5e30"])
def test_epoch_values_outside_the_crypto_era_are_refused(tmp_path: Path, value: str) -> None:
    """0, small counts, 1990 in seconds, 1973 or 2100+ in any unit: no plausible time of a crypto market."""
    path = write(tmp_path, [f"{SECOND},1,2,1,2,3", f"{value},1,2,1,2,3"])
    shown = re.escape(repr(float(value))) if "e" in value else value
    with pytest.raises(DataError, match=rf"^{path} line 3: ts = {shown} is no epoch time in s, ms, us or ns between "
                                        r"2009-01-01 and 2100-01-01$"):
        load_bars(path)


# -- True and False are no numbers -------------------------------------------------------------------------


@pytest.mark.parametrize(("cells", "line", "shown"), [
    (["True", "False"], 2, "True"),  # pandas reads the whole column as bool
    (["3", "FALSE"], 3, "'FALSE'"),  # read as text among numbers
    (["", "true"], 3, "True"),  # a bool among empty cells: an object column
])
def test_booleans_in_a_number_column_are_refused(tmp_path: Path, cells: list[str], line: int, shown: str) -> None:
    path = write(tmp_path, [f"2024-01-0{i + 1},1,2,1,2,{cell}" for i, cell in enumerate(cells)])
    with pytest.raises(DataError, match=rf"^{path} line {line}: volume = {shown} is not a number$"):
        load_bars(path)


def test_booleans_in_the_time_column_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, ["True,1,2,1,2,3", "False,1,2,1,2,3"])
    with pytest.raises(DataError, match=rf"^{path} line 2: ts = 'True' is not a time"):
        load_bars(path)


# -- quoted values are short --------------------------------------------------------------------------------


def test_shorten_keeps_80_characters_and_says_the_length() -> None:
    assert shorten("x" * 80) == "x" * 80
    assert shorten("x" * 200_000) == "x" * 77 + "... (200,000 characters)"


BIG = "7" * 100 + "x" * 200_000


@pytest.mark.parametrize(("rows", "header", "field"), [
    ([f"2024-01-01,1,2,1,2,{BIG}"], HEADER, "volume"),
    ([f"{BIG},1,2,1,2,3"], HEADER, "ts"),
    (["2024-01-01,1,2,1,2,3", f"x{BIG},1,2,1,2,3"], HEADER, "ts"),
    (["2024-01-01,1,2,1,2,3,4"], f"{HEADER},{BIG}", "columns"),
])
def test_error_lines_quote_at_most_80_characters(tmp_path: Path, rows: list[str], header: str, field: str) -> None:
    path = write(tmp_path, rows, header=header)
    columns = {"vol": "volume"} if field == "columns" else None  # a mapping that misses: the columns are listed
    with pytest.raises(DataError) as caught:
        load_bars(path, columns=columns)
    message = str(caught.value)
    assert len(message) < len(str(path)) + 200 and "characters)" in message, message


def test_cdd_symbol_and_header_are_quoted_short(tmp_path: Path) -> None:
    rows = [CDD_ROWS[0], CDD_ROWS[1].replace("BTCUSD", "E" * 300_000), CDD_ROWS[2]]
    path = write_cdd(tmp_path, rows)
    with pytest.raises(DataError, match=r"line 4: symbol = 'E{76}\.\.\. \(300,002 characters\) differs"):
        load_bars(path)
    header = CDD_HEADER.replace("volume_btc", "volume_" + "v" * 300_000)
    wide = write_cdd(tmp_path, CDD_ROWS, header=header, name="w.csv")
    with pytest.raises(DataError, match=r"no base volume column .* \(columns: date, .*characters\)\)$"):
        load_bars(wide)


# -- nonsense files are refused early, in bounded memory -----------------------------------------------------

# Loads one file in a fresh interpreter and reports the error with what loading it cost: the growth of the
# peak resident memory (VmHWM) and the bytes read (rchar), both from /proc/self.
_PROBE = """
import json, sys
from engine.datagen.files import load_bars
def proc(file, key):
    return int(next(line for line in open(file) if line.startswith(key)).split()[1])
hwm, read = proc("/proc/self/status", "VmHWM:"), proc("/proc/self/io", "rchar:")
try:
    load_bars(sys.argv[1])
    error = None
except Exception as exc:
    error = f"{type(exc).__name__}: {exc}"
print(json.dumps({"error": error, "hwm_kb": proc("/proc/self/status", "VmHWM:") - hwm,
                  "read": proc("/proc/self/io", "rchar:") - read}))
"""
SIZE = 48 << 20


def _probe(path: Path) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", _PROBE, str(path)], capture_output=True, text=True, check=True,
                          timeout=120)
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def _nul(path: Path) -> str:
    with path.open("wb") as fh:
        fh.truncate(SIZE)  # sparse: 48 MB of zeros at no disk cost
    return "line 1: a NUL byte"


def _nul_gzip(path: Path) -> str:
    path.write_bytes(gzip.compress(bytes(SIZE), compresslevel=1))
    return "line 1: a NUL byte"


def _one_line(path: Path) -> str:
    with path.open("wb") as fh:
        fh.write(HEADER.encode() + b"\n")
        block = b"9" * (1 << 20)
        for _ in range(SIZE >> 20):
            fh.write(block)
    return f"line 2: longer than {MAX_LINE:,} bytes"


@pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="needs Linux /proc to measure memory and reads")
@pytest.mark.parametrize("make", [_nul, _nul_gzip, _one_line])
def test_nonsense_files_are_refused_without_reading_them_whole(tmp_path: Path, make: object) -> None:
    path = tmp_path / ("bars.csv.gz" if make is _nul_gzip else "bars.csv")
    expected = make(path)  # type: ignore[operator]
    cost = _probe(path)
    assert cost["error"] == f"DataError: {path} {expected}: " + (
        "binary data (or UTF-16), not UTF-8 CSV text" if "NUL" in expected else "not a CSV of bars")
    assert int(cost["hwm_kb"]) < 16 << 10, cost  # KB: today's code grew by 300-450 MB on these
    assert int(cost["read"]) < 2 * MAX_LINE + (1 << 20), cost  # of a 48 MB file


def test_nul_bytes_after_good_rows_name_their_line(tmp_path: Path) -> None:
    path = tmp_path / "bars.csv"
    path.write_bytes(f"{HEADER}\n2024-01-01,1,2,1,2,3\n2024-01-02,1,2\0,1,2,3\n".encode())
    with pytest.raises(DataError, match=rf"^{path} line 3: a NUL byte"):
        load_bars(path)


def test_a_long_line_after_good_rows_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bars.csv"
    rows = [f"2024-01-{d:02d},1,2,1,2,3" for d in range(1, 29)]
    path.write_text("\n".join([HEADER, *rows, "2024-01-29,1,2,1,2," + "3" * MAX_LINE]) + "\n")
    with pytest.raises(DataError, match=rf"^{path} line 30: longer than"):
        load_bars(path)
    assert len(load_bars(write(tmp_path, rows, "ok.csv"))[0]) == 28  # the same rows without that line load
