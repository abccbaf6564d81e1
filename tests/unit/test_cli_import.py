"""``mlct data import`` and ``--data`` read files the same way; imported data is addressed as ``data list`` prints it;
``--cash`` is checked before the run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.cli import main

N = 120  # hourly bars: enough for the default SMA cross (slow 30) to trade


def closes() -> np.ndarray:
    return 100.0 + 5.0 * np.sin(np.arange(N) / 6.0)


def times() -> pd.DatetimeIndex:
    return pd.date_range("2024-03-01", periods=N, freq="1h", tz="UTC")


def write_volume_from(path: Path) -> Path:
    """A CryptoDataDownload file of their VolumeFrom/VolumeTo layout: URL line, newest first."""
    rows = [f"{t:%Y-%m-%d %H:%M:%S},BTC/USD,{c - 0.2:.4f},{c + 1:.4f},{c - 1:.4f},{c:.4f},{3 + i % 4},"
            f"{(3 + i % 4) * c:.4f}" for i, (t, c) in enumerate(zip(times(), closes(), strict=True))]
    path.write_text("https://www.CryptoDataDownload.com\nDate,Symbol,Open,High,Low,Close,VolumeFrom,VolumeTo\n"
                    + "\n".join(reversed(rows)) + "\n")
    return path


def write_generic(path: Path, bad_row: int | None = None) -> Path:
    """A generic export: its own column names, epoch milliseconds, no symbol."""
    rows = [f"{int(t.timestamp() * 1000)},{c - 0.2:.4f},{c + 1:.4f},{c - 1:.4f},{c:.4f},7"
            for t, c in zip(times(), closes(), strict=True)]
    if bad_row is not None:
        rows[bad_row] = rows[bad_row].rsplit(",", 2)[0] + ",1.2.3,7"
    path.write_text("When,O,H,L,C,Vol\n" + "\n".join(rows) + "\n")
    return path


COLUMNS = ["--columns", "time=When,open=O,high=H,low=L,close=C,volume=Vol", "--time-unit", "ms"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def backtest(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    return run(capsys, "backtest", "--quiet", *argv)


def test_volume_from_layout_imports_and_back_tests(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_volume_from(tmp_path / "btc_hourly.csv")
    code, out, err = backtest(capsys, "--data", str(path))
    assert code == 0, err
    assert f"BTC/USD  1h bars  2024-03-01 00:00 to 2024-03-06 00:00 UTC  ({N} bars)" in out
    code, out, err = run(capsys, "data", "import", str(path), "--data-dir", str(tmp_path / "cat"))
    assert code == 0, err
    # no exchange: the file name is not in CryptoDataDownload's convention and the file does not say it
    assert out.startswith(f"imported {N} bars of csv:BTC/USD:1h:ohlcv 2024-03-01 .. 2024-03-06 from ")
    assert "back-test on it with: mlct backtest --data csv:BTC/USD:1h:ohlcv" in out


def test_out_of_order_csv_does_not_name_an_exchange(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_volume_from(tmp_path / "out_of_order.csv")
    code, out, _ = run(capsys, "data", "import", str(path), "--data-dir", str(tmp_path / "cat"))
    assert code == 0 and "csv:BTC/USD:1h:ohlcv" in out and "out:" not in out
    code, out, _ = run(capsys, "data", "import", str(path), "--exchange", "Kraken", "--data-dir",
                       str(tmp_path / "cat"))
    assert code == 0 and "csv:kraken:BTC/USD:1h:ohlcv" in out


def test_data_list_form_and_a_query_without_source_work_as_data(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    catalog = str(tmp_path / "cat")
    path = write_volume_from(tmp_path / "bars.csv")
    assert run(capsys, "data", "import", str(path), "--exchange", "kraken", "--data-dir", catalog)[0] == 0
    _, listing, _ = run(capsys, "data", "list", "--data-dir", catalog)
    printed = listing.splitlines()[1].split()[0]
    assert printed == "csv:kraken:BTC/USD:1h:ohlcv"
    results = []
    for query in (printed, "csv:kraken:BTC/USD:1h", "kraken:BTC/USD:1h", "kraken:BTC/USD:1h@2024-03-02.."):
        code, out, err = backtest(capsys, "--data", query, "--data-dir", catalog)
        assert code == 0, f"{query}: {err}"
        results.append(out.splitlines()[1])
    assert results[0] == results[1] == results[2] and "2024-03-02 00:00" in results[3]
    code, out, _ = run(capsys, "data", "info", "kraken:BTC/USD:1h", "--data-dir", catalog)
    assert code == 0 and out.startswith("data set  csv:kraken:BTC/USD:1h:ohlcv")

    # the same exchange, symbol and timeframe from two sources: the source tells them apart
    generic = write_generic(tmp_path / "generic.csv")
    assert run(capsys, "data", "import", str(generic), *COLUMNS, "--format", "parquet", "--symbol", "BTC/USD",
               "--data-dir", catalog)[0] == 2  # --columns with parquet: refused
    frame = pd.read_csv(generic)
    pq_path = tmp_path / "bars.parquet"
    frame.rename(columns={"When": "ts", "O": "open", "H": "high", "L": "low", "C": "close", "Vol": "volume"}).assign(
        ts=lambda f: pd.to_datetime(f["ts"], unit="ms", utc=True)).set_index("ts").to_parquet(pq_path)
    assert run(capsys, "data", "import", str(pq_path), "--symbol", "BTC/USD", "--exchange", "kraken",
               "--data-dir", catalog)[0] == 0
    code, _, err = backtest(capsys, "--data", "kraken:BTC/USD:1h", "--data-dir", catalog)
    assert code == 2 and "names 2 data sets" in err and "csv:kraken:BTC/USD:1h:ohlcv" in err


def test_generic_csv_with_column_options_imports_and_back_tests_alike(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    path = write_generic(tmp_path / "export.csv")
    code, _, err = backtest(capsys, "--data", str(path), "--symbol", "ETH/USD")
    assert code == 2 and "no time column" in err and "--columns time=NAME" in err and "columns=" not in err
    code, direct, err = backtest(capsys, "--data", str(path), *COLUMNS, "--symbol", "eth/usd", "--timeframe", "1h")
    assert code == 0, err
    catalog = str(tmp_path / "cat")
    code, out, err = run(capsys, "data", "import", str(path), *COLUMNS, "--symbol", "ETH/USD", "--exchange",
                         "bitstamp", "--timeframe", "1h", "--data-dir", catalog)
    assert code == 0 and "csv:bitstamp:ETH/USD:1h:ohlcv" in out, err
    code, stored, err = backtest(capsys, "--data", "bitstamp:ETH/USD:1h", "--data-dir", catalog)
    assert code == 0, err
    assert stored == direct  # the file read by --data and by import give the same run
    code, _, err = backtest(capsys, "--data", "bitstamp:ETH/USD:1h", "--data-dir", catalog, "--columns", "time=ts")
    assert code == 2 and "--columns describe(s) a file, but --data bitstamp:ETH/USD:1h is a catalog query" in err


def test_a_bad_value_is_named_by_file_line_column_and_value(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    path = write_generic(tmp_path / "export.csv", bad_row=41)
    for argv in (["data", "import", str(path), "--data-dir", str(tmp_path / "cat")], ["backtest", "--data", str(path)]):
        code, out, err = run(capsys, *argv, *COLUMNS, "--symbol", "ETH/USD")
        assert code == 2 and out == ""
        assert err == f"error: {path} line 43: C = '1.2.3' is not a number\n"  # header on line 1, row 41 on 43
    code, _, err = run(capsys, "data", "import", str(path), "--columns", "time=When,price=C", "--symbol", "ETH/USD")
    assert code == 2 and err.startswith("error: --columns: 'price' is not one of time, open, high, low, close")
    code, _, err = run(capsys, "data", "import", str(path), *COLUMNS[:2], "--time-unit", "s", "--symbol", "ETH/USD",
                       "--data-dir", str(tmp_path / "cat"))
    assert code == 2 and "line 2: When = 1709251200000 is not a time between" in err and "--time-unit s" in err


@pytest.mark.parametrize("cash", ["1e400", "1e30", "nan", "inf", "-inf", "0", "-5", "lots"])
def test_bad_cash_is_refused_before_the_run(tmp_path: Path, capsys: pytest.CaptureFixture[str], cash: str) -> None:
    # the data named does not exist: the cash is refused first, so no data was read and nothing ran
    code, out, err = backtest(capsys, f"--cash={cash}", "--data", str(tmp_path / "absent.csv"))
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("error: cash must be ")


def test_largest_cash_runs(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write_volume_from(tmp_path / "btc.csv")
    code, out, err = backtest(capsys, "--cash", "1e15", "--data", str(path))
    assert code == 0 and "No trades" not in out, err


def test_bad_cash_is_refused_before_ml_training(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "ml", "run", "--cash", "1e400", "--out", str(tmp_path / "run"))
    assert code == 2 and "training" not in out and err.startswith("error: cash must be at most 1,000,000,000,000,000")
    assert not (tmp_path / "run").exists()
