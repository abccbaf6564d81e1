"""``mlct data``: download (with a fake source), list, info, delete, import, synth; ``backtest --data QUERY``."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import engine.cli.data as data_cli
from engine.cli import main
from engine.datagen.catalog import Catalog
from engine.datagen.query import Query
from engine.datagen.sample import sample_path
from tests.unit.datagen.fakes import FakeSource, hourly, ts


@pytest.fixture
def source(monkeypatch: pytest.MonkeyPatch) -> FakeSource:
    fake = FakeSource(hourly(n=24 * 90), page=200)
    exchanges: list[str] = []

    def make_source(exchange: str) -> FakeSource:
        exchanges.append(exchange)
        return fake

    monkeypatch.setattr(data_cli, "make_source", make_source)
    fake.exchanges = exchanges  # type: ignore[attr-defined]
    return fake


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_download_stores_then_serves_from_the_catalog(tmp_path: Path, source: FakeSource,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    args = ["data", "download", "--exchange", "binance", "--symbol", "BTC/USDT", "--timeframe", "1h",
            "--since", "2024-01-01", "--until", "2024-02-01", "--data-dir", str(tmp_path)]
    code, out, err = run(capsys, *args)
    assert code == 0 and err == ""  # no progress bar: stderr is not a terminal
    assert source.exchanges == ["binance"] and source.calls == [(ts("2024-01-01"), ts("2024-02-01"))]
    assert out.startswith("stored 744 bars of ccxt:binance:BTC/USDT:1h:ohlcv 2024-01-01 .. 2024-02-01 "
                          "(1 range(s) fetched); data set: 744 rows 2024-01-01 .. 2024-01-31T23:00:00Z, 1 file(s)")
    code, out, _ = run(capsys, *args)
    assert code == 0 and len(source.calls) == 1
    assert out.startswith("stored 0 bars") and "already in the catalog, nothing fetched" in out
    wider = [*args[:-6], "--since", "2024-01-01", "--until", "2024-03-01", "--data-dir", str(tmp_path), "--quiet"]
    code, out, _ = run(capsys, *wider)
    assert source.calls[-1] == (ts("2024-02-01"), ts("2024-03-01")) and out.startswith("stored 696 bars")


def test_download_until_now_stops_before_the_forming_bar(tmp_path: Path, source: FakeSource,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(data_cli, "open_catalog",
                        lambda args: Catalog(args.data_dir, now=lambda: ts("2024-01-03 05:20").value))
    code, out, _ = run(capsys, "data", "--data-dir", str(tmp_path), "download", "--exchange", "binance",
                       "--symbol", "BTC/USDT", "--since", "2024-01-01")
    assert code == 0 and source.calls == [(ts("2024-01-01"), ts("2024-01-03 05:00"))]
    assert out.startswith("stored 53 bars")


def test_download_errors_are_one_line(tmp_path: Path, source: FakeSource, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "data", "download", "--exchange", "binance", "--symbol", "BTCUSDT", "--since",
                       "2024-01-01", "--data-dir", str(tmp_path))
    assert code == 2 and err.startswith("error: query symbol must look like BASE/QUOTE")
    code, _, err = run(capsys, "data", "download", "--exchange", "binance", "--symbol", "BTC/USDT", "--since",
                       "2035-01-01", "--data-dir", str(tmp_path))
    assert code == 2 and "nothing to download" in err


def test_import_list_info_delete(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "data", "import", str(sample_path()), "--data-dir", str(tmp_path))
    assert code == 0 and err == ""  # the bundled sample is in order: nothing sorted, no warning
    assert out.startswith("imported 20,111 bars of csv:coinbase:BTC/USD:1h:ohlcv 2017-07-01T11:00:00Z .. "
                          "2019-10-17T10:00:00Z from ")
    code, out, _ = run(capsys, "data", "list", "--data-dir", str(tmp_path))
    lines = out.splitlines()
    assert lines[0].split() == ["QUERY", "FIRST", "LAST", "ROWS", "FILES", "SIZE"]
    assert lines[1].split()[:5] == ["csv:coinbase:BTC/USD:1h:ohlcv", "2017-07-01T11:00:00Z", "2019-10-17T09:00:00Z",
                                    "20,111", "28"]
    assert lines[-1] == f"1 data set(s) in {tmp_path}"

    code, out, _ = run(capsys, "data", "info", "csv:coinbase:BTC/USD:1h", "--check", "--data-dir", str(tmp_path))
    assert code == 0
    assert "rows      20,111 from 2017-07-01T11:00:00Z to 2019-10-17T09:00:00Z" in out
    assert "gaps      0 (0 bars without data)" in out and "20111 rows, no problems" in out

    code, out, _ = run(capsys, "data", "delete", "csv:coinbase:BTC/USD:1h@2018-01-01..2018-02-01",
                       "--data-dir", str(tmp_path))
    assert out.startswith("deleted 744 rows of csv:coinbase:BTC/USD:1h:ohlcv (2018-01-01 .. 2018-02-01)")
    code, out, _ = run(capsys, "data", "info", "csv:coinbase:BTC/USD:1h", "--data-dir", str(tmp_path))
    assert "covered   2017-07-01T11:00:00Z .. 2018-01-01, 2018-02-01 .. 2019-10-17T10:00:00Z" in out
    code, out, _ = run(capsys, "data", "delete", "csv:coinbase:BTC/USD:1h", "--data-dir", str(tmp_path))
    assert out.startswith("deleted 19,367 rows") and "(all of it)" in out
    code, out, _ = run(capsys, "data", "list", "--data-dir", str(tmp_path))
    assert out == f"no data sets in {tmp_path}\n"
    code, _, err = run(capsys, "data", "info", "csv:coinbase:BTC/USD:1h", "--data-dir", str(tmp_path))
    assert code == 2 and "no data set csv:coinbase:BTC/USD:1h:ohlcv" in err


def test_import_generic_csv_needs_a_symbol(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "eth.csv"
    hourly(n=30).to_csv(path)
    code, _, err = run(capsys, "data", "import", str(path), "--format", "csv", "--data-dir", str(tmp_path / "d"))
    assert code == 2 and "pass --symbol BASE/QUOTE" in err
    code, out, _ = run(capsys, "data", "import", str(path), "--format", "csv", "--symbol", "ETH/USD", "--exchange",
                       "kraken", "--data-dir", str(tmp_path / "d"))
    assert code == 0 and out.startswith("imported 30 bars of csv:kraken:ETH/USD:1h:ohlcv")


def test_synth_is_seeded_and_replaces(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["data", "synth", "--bars", "5000", "--timeframe", "1m", "--seed", "3", "--symbol", "SYN/USD",
            "--data-dir", str(tmp_path)]
    code, out, _ = run(capsys, *args)
    assert code == 0 and out.startswith("stored 5,000 synthetic bars (seed 3, regimes bull/bear/range) as "
                                        "synthetic:SYN/USD:1m:ohlcv 2020-01-01 .. 2020-01-04T11:20:00Z")
    catalog = Catalog(tmp_path)
    first = catalog.read(Query.parse("synthetic:SYN/USD:1m"))
    code, out, _ = run(capsys, *args[:-2], "--plain", "--data-dir", str(tmp_path))
    assert out.startswith("replaced 5,000 synthetic bars (seed 3, plain)")
    plain = catalog.read(Query.parse("synthetic:SYN/USD:1m"))
    assert len(plain) == 5000 and not plain.equals(first)
    run(capsys, *args)
    pd.testing.assert_frame_equal(catalog.read(Query.parse("synthetic:SYN/USD:1m")), first)


def test_data_dir_defaults_to_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("MLCT_DATA_DIR", str(tmp_path / "env"))
    run(capsys, "data", "synth", "--bars", "100", "--seed", "1")
    assert (tmp_path / "env" / "synthetic" / "_" / "SYN-USD" / "ohlcv-1m" / "dataset.json").exists()
    code, out, _ = run(capsys, "data", "list")
    assert code == 0 and "synthetic:SYN/USD:1m:ohlcv" in out


def test_backtest_on_a_catalog_query(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("MLCT_DATA_DIR", str(tmp_path))
    run(capsys, "data", "import", str(sample_path()))
    code, out, _ = run(capsys, "backtest", "--data", "csv:coinbase:BTC/USD:1h@2018-01-01..2018-04-01", "--json")
    assert code == 0
    result = json.loads(out)
    assert result["stats"]["initial_equity"] == 10000.0
    code, _, err = run(capsys, "backtest", "--data", "binance:BTC/USDT:1h@2024-01-01..2024-02-01")
    assert code == 2 and ("mlct data download --exchange binance --symbol BTC/USDT --timeframe 1h "
                          "--since 2024-01-01 --until 2024-02-01") in err
    run(capsys, "data", "delete", "csv:coinbase:BTC/USD:1h@2018-02-01..2018-02-02")
    code, _, err = run(capsys, "backtest", "--data", "csv:coinbase:BTC/USD:1h@2018-01-01..2018-04-01")
    assert code == 2 and "lacks 2018-02-01 .. 2018-02-02" in err


def test_backtest_reads_the_catalog_named_by_data_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    catalog = tmp_path / "elsewhere"
    run(capsys, "data", "--data-dir", str(catalog), "import", str(sample_path()))
    code, out, _ = run(capsys, "backtest", "--data", "csv:coinbase:BTC/USD:1h@2018-01-01..2018-02-01",
                       "--data-dir", str(catalog), "--json")
    assert code == 0 and json.loads(out)["stats"]["n_bars"] == 31 * 24


def _import_eth(tmp_path: Path, capsys: pytest.CaptureFixture[str], frame: pd.DataFrame, *extra: str
                ) -> tuple[int, str, str]:
    path = tmp_path / "eth.csv"
    frame.to_csv(path)
    return run(capsys, "data", "import", str(path), "--format", "csv", "--symbol", "ETH/USD", "--exchange", "kraken",
               "--data-dir", str(tmp_path / "d"), *extra)


def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "garbage":
        path.write_bytes(bytes(range(256)) * (len(data) // 256 + 1))
    else:
        path.unlink()


@pytest.mark.parametrize("how", ["truncated", "empty", "garbage"])
def test_a_damaged_partition_is_a_one_line_error_naming_it(tmp_path: Path, how: str,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert _import_eth(tmp_path, capsys, hourly(n=24 * 60))[0] == 0
    catalog = Catalog(tmp_path / "d")
    damaged = catalog.path(Query.parse("csv:kraken:ETH/USD:1h")) / "2024-02.parquet"
    _damage(damaged, how)
    commands = [("data", "list"), ("data", "info", "csv:kraken:ETH/USD:1h"),
                ("data", "info", "csv:kraken:ETH/USD:1h", "--check"),
                ("backtest", "--data", "csv:kraken:ETH/USD:1h@2024-01-01..2024-03-01")]
    for command in commands:
        code, _, err = run(capsys, *command, "--data-dir", str(tmp_path / "d"))
        assert code == 2, command
        assert err.startswith("error: ") and err.count("\n") == 1, (command, err)
        assert f"{damaged}: unreadable catalog partition" in err, (command, err)
    # The way out: delete the data set, damaged as it is, and import it again.
    code, out, _ = run(capsys, "data", "delete", "csv:kraken:ETH/USD:1h", "--data-dir", str(tmp_path / "d"))
    assert code == 0 and out.startswith("deleted 744 rows")  # January's; February's file is unreadable
    assert _import_eth(tmp_path, capsys, hourly(n=24 * 60))[0] == 0


def test_a_deleted_partition_is_reported_missing_not_as_a_gap(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert _import_eth(tmp_path, capsys, hourly(n=24 * 90))[0] == 0
    catalog = Catalog(tmp_path / "d")
    lost = catalog.path(Query.parse("csv:kraken:ETH/USD:1h")) / "2024-02.parquet"
    _damage(lost, "deleted")
    for command in [("data", "info", "csv:kraken:ETH/USD:1h", "--check"), ("data", "info", "csv:kraken:ETH/USD:1h"),
                    ("backtest", "--data", "csv:kraken:ETH/USD:1h@2024-01-01..2024-03-01")]:
        code, _, err = run(capsys, *command, "--data-dir", str(tmp_path / "d"))
        assert code == 2 and err.count("\n") == 1, (command, err)
        assert err.startswith(f"error: {lost}: partition file missing, though dataset.json records it as stored; "
                              f"delete its range (mlct data delete csv:kraken:ETH/USD:1h:ohlcv@2024-02-01..2024-03-01)")
    # Nothing is stored around it (a partial February would hide the loss), not even the same bars again.
    code, _, err = _import_eth(tmp_path, capsys, hourly(n=24 * 90))
    assert code == 2 and err.startswith(f"error: {lost}: partition file missing")
    # March is still whole and readable on its own.
    code, _, _ = run(capsys, "backtest", "--data", "csv:kraken:ETH/USD:1h@2024-03-01..2024-03-30",
                     "--data-dir", str(tmp_path / "d"))
    assert code == 0
    # Deleting the lost range, as the message says, leaves a data set that knows February is not there.
    run(capsys, "data", "delete", "csv:kraken:ETH/USD:1h@2024-02-01..2024-03-01", "--data-dir", str(tmp_path / "d"))
    code, out, _ = run(capsys, "data", "info", "csv:kraken:ETH/USD:1h", "--check", "--data-dir", str(tmp_path / "d"))
    assert code == 0 and "covered   2024-01-01 .. 2024-02-01, 2024-03-01 .. 2024-03-31" in out


def test_import_refuses_a_timeframe_the_bars_do_not_have(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    frame = hourly(n=24 * 10)
    frame = frame.drop(frame.index[[5, 6, 7, 30, 100, 101]])  # gaps: the most common step is still an hour
    code, _, err = _import_eth(tmp_path, capsys, frame, "--timeframe", "1d")
    assert code == 2 and err == (f"error: {tmp_path / 'eth.csv'}: timeframe 1d declared, but the bars are 1h apart "
                                 f"(the most common step between them)\n")
    assert run(capsys, "data", "list", "--data-dir", str(tmp_path / "d"))[1].startswith("no data sets")
    code, out, _ = _import_eth(tmp_path, capsys, frame, "--timeframe", "1h")
    assert code == 0 and out.startswith("imported 234 bars of csv:kraken:ETH/USD:1h:ohlcv")
    code, _, err = _import_eth(tmp_path, capsys, hourly(n=24 * 10).iloc[::24], "--timeframe", "4h")
    assert code == 2 and "timeframe 4h declared, but the bars are 1d apart" in err
