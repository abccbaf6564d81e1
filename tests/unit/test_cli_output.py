"""Saving from the command line: ``--csv`` (flag and config key) and the line on stderr while files are written."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from engine.cli import main
from engine.cli.output import save_result
from engine.result import BacktestResult
from tests.unit.test_result_files import small_run

PER_BAR = ("equity.csv", "prices.csv")


def test_csv_flag_writes_the_per_bar_tables_as_csv_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backtest", "--out", str(tmp_path), "--csv"]) == 0
    assert all((tmp_path / name).is_file() for name in (*PER_BAR, "equity.parquet", "prices.parquet"))
    equity = pd.read_csv(tmp_path / "equity.csv")
    assert len(equity) == 20_111 and list(equity.columns) == ["ts", "equity", "buy_and_hold"]
    assert equity["ts"].iloc[0].endswith("+00:00")


def test_csv_in_a_config_file_and_refused_when_not_a_boolean(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "run.toml"
    config.write_text('out = "results"\ncsv = true\n')
    assert main(["backtest", "--quiet", "--config", str(config)]) == 0
    assert all((tmp_path / "results" / name).is_file() for name in PER_BAR)
    config.write_text('csv = "yes"\n')
    assert main(["backtest", "--quiet", "--config", str(config)]) == 2
    assert "csv must be true or false, got 'yes'" in capsys.readouterr().err


def test_a_line_per_file_on_stderr_when_it_is_not_a_terminal(tmp_path: Path) -> None:
    # Its own process, stderr a pipe, as in CI or under nohup.
    proc = subprocess.run([sys.executable, "-m", "engine.cli", "backtest", "--out", str(tmp_path)],
                          capture_output=True, text=True, check=False, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("wrote ")]
    assert [line.split(":")[0] for line in lines] == [
        f"wrote {tmp_path / name}" for name in ("trades.csv", "orders.csv", "fills.csv", "equity.parquet",
                                                "prices.parquet")]
    assert "20,111 rows" in lines[3] and lines[3].endswith(" s") and "\r" not in proc.stderr
    assert "results written to" in proc.stdout and "wrote " not in proc.stdout


def test_a_log_line_sums_up_what_was_written(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO", logger="engine.cli.output"):
        save_result(small_run(), tmp_path, csv=True, quiet=True)
    [record] = [r for r in caplog.records if r.getMessage() == "results written"]
    assert record.__dict__["files"] == 7 and record.__dict__["out"] == str(tmp_path)
    assert record.__dict__["megabytes"] == round(sum(p.stat().st_size for p in tmp_path.iterdir()
                                                     if p.name != "result.json") / 1e6, 1)
    assert record.__dict__["seconds"] >= 0


def test_quiet_writes_no_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backtest", "--quiet", "--out", str(tmp_path)]) == 0
    assert "wrote " not in capsys.readouterr().err and (tmp_path / "equity.parquet").is_file()


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_one_line_is_redrawn_then_cleared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "300")
    stream = Terminal()
    save_result(small_run(), tmp_path, csv=True, stream=stream)
    shown = stream.getvalue()
    frames = shown.split("\r")
    assert "\n" not in shown  # never a new line: the same line, redrawn
    assert [f.strip() for f in frames if f.strip()][:2] == [f"writing results 1/7: {tmp_path / 'trades.csv'}",
                                                            f"writing results 2/7: {tmp_path / 'orders.csv'}"]
    assert shown.endswith("\r") and frames[-2].strip() == ""  # cleared: spaces over the last text
    assert BacktestResult.load(tmp_path).equity.shape == (600, 2)


def test_the_terminal_line_is_cut_to_the_width(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "30")
    stream = Terminal()
    save_result(small_run(), tmp_path / ("deep" * 20), stream=stream)
    assert max(len(frame) for frame in stream.getvalue().split("\r")) == 29  # a wrapped line cannot be redrawn
