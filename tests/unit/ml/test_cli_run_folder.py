"""Issue 17's stale report: ``mlct ml run --out out`` then an SMA ``mlct backtest --out out --report`` into the same
folder. The ML run's files go (one line says so), the user's own file stays, and the report has no ML section."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from engine.cli import main

SMALL = ["--symbol", "BTC/USD", "--features", "core", "--horizon", "12", "--embargo", "12", "--min-train", "2000",
         "--retrain-every", "1500", "--max-depth", "2", "--eta", "0.1", "--inner-folds", "2", "--max-rounds", "20",
         "--min-signals", "50", "--bootstrap", "20", "--threads", "1", "--quiet"]
ML_SECTION = "ML signal"  # the heading of the report's ML section (engine/report.py)


@pytest.fixture()
def csv(head: pd.DataFrame, tmp_path: Path) -> Path:
    path = tmp_path / "btc.csv"
    head.reset_index().assign(ts=lambda f: f["ts"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(path, index=False)
    return path


def manifest(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "manifest.json").read_text())


def names(folder: Path) -> set[str]:
    return {str(entry["name"]) for entry in manifest(folder)["files"]}


def test_a_backtest_into_an_ml_runs_folder_removes_its_files_and_its_report_section(
        csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("my notes")
    assert main(["ml", "run", "--data", str(csv), *SMALL, "--out", str(out)]) == 0
    assert ML_SECTION in (out / "report.html").read_text()
    ml_files = names(out)
    assert {"model/metadata.json", "extras/ml/thresholds.csv", "recommendation.json", "report.html",
            "result.json"} <= ml_files
    assert "notes.txt" not in ml_files and manifest(out)["kind"] == "ml run"
    assert manifest(out)["training"]["label"]["horizon"] == 12
    earlier = manifest(out)["id"]
    capsys.readouterr()

    assert main(["backtest", "--data", str(csv), "--symbol", "BTC/USD", "--out", str(out), "--report", "-q"]) == 0
    said = capsys.readouterr().err
    assert f"{out}: removed the {len(ml_files) + 1} files of the earlier run {earlier}\n" in said  # + manifest
    assert not (out / "model").exists() and not (out / "extras").exists()
    assert not (out / "recommendation.json").exists()
    assert (out / "notes.txt").read_text() == "my notes"
    assert ML_SECTION not in (out / "report.html").read_text()
    assert manifest(out)["kind"] == "backtest"
    assert names(out) == {"result.json", "trades.csv", "orders.csv", "fills.csv", "equity.parquet",
                          "prices.parquet", "report.html"}

    assert main(["report", str(out)]) == 0  # rebuilt from the listed files: still no ML section
    assert ML_SECTION not in (out / "report.html").read_text()


def test_a_backtest_keeps_the_model_it_reads_from_the_earlier_runs_folder(
        csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["ml", "run", "--data", str(csv), *SMALL, "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["backtest", "--data", str(csv), "--symbol", "BTC/USD", "--strategy", "ml_signal", "--param",
                 f"model={out / 'model'}", "--out", str(out), "-q"]) == 0
    said = capsys.readouterr().err
    assert "kept model/" in said and "(this run reads it)" in said
    assert (out / "model" / "metadata.json").is_file() and not (out / "recommendation.json").exists()
