"""``mlct sweep``: the best rows as a table or JSON, every row in Parquet, walk-forward windows, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from engine.cli import main
from engine.datagen.synthetic import synthetic_bars


@pytest.fixture
def bars(tmp_path: Path) -> str:
    path = tmp_path / "bars.csv"
    synthetic_bars(700, interval="1h", seed=3).to_csv(path)
    return str(path)


def _sweep(bars: str, out: Path, *extra: str) -> list[str]:
    return ["sweep", "--data", bars, "--symbol", "BTC/USD", "--grid", "fast=3:9:3", "--grid", "slow=20,30",
            "--executor", "inprocess", "--out", str(out), "-q", *extra]


def test_sweep_prints_the_best_rows_and_saves_every_row(bars: str, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_sweep(bars, tmp_path / "a", "--top", "3")) == 0
    out = capsys.readouterr().out
    assert out.startswith("best by sharpe:") and "PBO" in out
    table = pd.read_parquet(tmp_path / "a" / "results.parquet")
    assert list(table["job"]) == list(range(6)) and {"fast", "slow", "objective", "error"} <= set(table.columns)
    shown = out.split("\n")[2:5]
    best = table.sort_values("objective", ascending=False).head(3)
    assert [int(line.split()[0]) for line in shown] == list(best["job"])


def test_sweep_json_random_and_walk_forward(bars: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_sweep(bars, tmp_path / "b", "--random", "4", "--seed", "2", "--walk-forward", "300:200",
                       "--objective", "return_dd:0.5", "--json")) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["objective"] == "return_dd:0.5" and summary["n_points"] == 4
    windows = summary["walk_forward"]["windows"]
    assert [w["window"] for w in windows] == [0, 1] and all("oos_total_return" in w for w in windows)
    equity = pd.read_parquet(tmp_path / "b" / "oos_equity.parquet")
    assert len(equity) == 400
    assert summary == json.loads((tmp_path / "b" / "summary.json").read_text())


@pytest.mark.parametrize("extra", [["--grid", "fast=9:3:1"], ["--objective", "best"], ["--walk-forward", "9"],
                                   ["--strategy", "no_such"], ["--workers", "0", "--executor", "process"]])
def test_bad_settings_exit_2_on_one_line(bars: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         extra: list[str]) -> None:
    assert main([*_sweep(bars, tmp_path / "c"), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err
