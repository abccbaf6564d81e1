"""``--timerange`` and several symbols from the command line, run as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from engine.cli import main
from engine.cli.timerange import parse_timerange
from engine.datagen.sample import load_sample


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two symbols' hourly bars, 2,000 each from 2017-07-01 11:00: the sample, and it at a twentieth as ETH."""
    frame = load_sample()[0].iloc[:2000]
    folder = tmp_path_factory.mktemp("bars")
    btc, eth = folder / "btc.csv", folder / "eth.csv"
    frame.reset_index().to_csv(btc, index=False)
    prices = ["open", "high", "low", "close"]
    frame.assign(**{c: frame[c] / 20 for c in prices}).reset_index().to_csv(eth, index=False)
    return btc, eth


@pytest.mark.parametrize(("text", "start", "end"), [
    ("20240101-20240601", "2024-01-01", "2024-06-01"),
    ("20240101-", "2024-01-01", None),
    ("-20240601", None, "2024-06-01"),
    ("2024-01-01-2024-06-01", "2024-01-01", "2024-06-01"),
    ("2024-01-01T12:00..2024-02-01", "2024-01-01 12:00", "2024-02-01"),
    ("1704067200-", "2024-01-01", None),
])
def test_timerange_forms(text: str, start: str | None, end: str | None) -> None:
    def utc(value: str | None) -> pd.Timestamp | None:
        return None if value is None else pd.Timestamp(value, tz="UTC")

    assert parse_timerange(text) == (utc(start), utc(end))


def test_backtest_timerange_keeps_only_the_bars_inside(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backtest", "--timerange", "20190101-20190301", "--json", "--quiet"]) == 0
    data = json.loads(capsys.readouterr().out)["data"]
    assert data["n_bars"] == 59 * 24  # January and February of 2019, the end excluded
    assert data["start"].startswith("2019-01-01T00:00")
    assert main(["backtest", "--timerange", "2019-01-01..2019-03-01", "--json", "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["data"]["n_bars"] == 59 * 24  # the ISO form: the same bars
    assert main(["backtest", "--timerange", "20191001-", "--json", "--quiet"]) == 0
    data = json.loads(capsys.readouterr().out)["data"]
    assert data["start"].startswith("2019-10-01T00:00") and data["n_bars"] == 16 * 24 + 10  # to the sample's end


@pytest.mark.parametrize(("text", "says"), [
    ("20300101-", "--timerange 20300101-: no bars of the bundled sample in that range (the bundled sample spans "
                  "2017-07-01 11:00 to 2019-10-17 09:00 UTC)"),
    ("20200101-20190101", "--timerange 20200101-20190101: the start 2020-01-01 00:00 is not before the end"),
    ("june", "--timerange 'june' is not a range"),
    ("-", "--timerange '-' is not a range"),
    ("20191301-", "--timerange 20191301-: cannot read '20191301' as a date"),
])
def test_a_bad_or_empty_timerange_is_one_line_and_exit_2(text: str, says: str,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backtest", "--timerange", text, "--quiet"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and says in captured.err


def test_other_commands_reading_data_take_the_timerange(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["signals", "--signal", "rsi", "--timerange", "20300101-"]) == 2
    assert "no bars of the bundled sample in that range" in capsys.readouterr().err


def test_two_symbols_from_the_command_line(files: tuple[Path, Path], tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    btc, eth = files
    assert main(["backtest", "--data", str(btc), "--symbol", "BTC/USD", "--data", str(eth), "--symbol", "ETH/USD",
                 "--param", "size=0.45",  # each symbol a share of the account, so both can be held at once
                 "--timerange", "20170801-", "--out", str(tmp_path), "--json", "--quiet"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["data"]["symbols"] == ["BTC/USD", "ETH/USD"]
    assert result["data"]["n_bars"] == 2 * (2000 - 733)  # July's 733 bars cut from each
    trades = pd.read_csv(tmp_path / "trades.csv")
    assert set(trades["symbol"]) == {"BTC/USD", "ETH/USD"} and len(trades) == result["stats"]["n_trades"]
    assert main(["backtest", "--data", str(btc), "--symbol", "BTC/USD", "--data", str(eth), "--symbol", "ETH/USD",
                 "--quiet"]) == 0
    assert "BTC/USD, ETH/USD  1h bars" in capsys.readouterr().out


def test_symbols_and_data_sources_must_pair_up(files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    btc, eth = files
    assert main(["backtest", "--data", str(btc), "--symbol", "BTC/USD", "--symbol", "ETH/USD", "--quiet"]) == 2
    assert "give one --data per --symbol, in the same order: 2 symbols (BTC/USD, ETH/USD) and 1 data sources" in \
        capsys.readouterr().err
    assert main(["backtest", "--data", str(btc), "--symbol", "BTC/USD", "--data", str(eth), "--symbol", "BTC/USD",
                 "--quiet"]) == 2
    assert "symbol BTC/USD is given by more than one --data" in capsys.readouterr().err
