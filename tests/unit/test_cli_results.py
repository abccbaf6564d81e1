"""Saved runs: the manifest a back-test writes, ``mlct results list|show|compare``, ``--save`` and what
``mlct report`` reads (only the files the manifest lists; a folder without one, whole, with a warning)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from engine.cli import main
from engine.display import SUMMARY_ROWS
from engine.errors import DataError

SPAN = ["--timerange", "20180101-20180401"]  # 2,160 hourly bars of the bundled sample: a fast back-test


def backtest(out: Path, fast: int, slow: int, *extra: str) -> dict[str, Any]:
    assert main(["backtest", "--param", f"fast={fast}", "--param", f"slow={slow}", *SPAN, "--out", str(out), "-q",
                 *extra]) == 0
    return json.loads((out / "manifest.json").read_text())


@pytest.fixture()
def two_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, Path]:
    first, second = tmp_path / "runs" / "sma-10-30", tmp_path / "runs" / "sma-20-50"
    backtest(first, 10, 30)
    backtest(second, 20, 50, "--fee-bps", "5")
    capsys.readouterr()
    return first, second


def test_the_manifest_says_what_ran_on_which_data_which_files_and_the_figures(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    manifest = backtest(out, 12, 48, "--report")
    result = json.loads((out / "result.json").read_text())
    assert manifest["format"] == 1 and manifest["kind"] == "backtest"
    assert "-backtest-SmaCross-" in str(manifest["id"]) and str(manifest["created"]).endswith("Z")
    assert manifest["command"] == ["mlct", "backtest", "--param", "fast=12", "--param", "slow=48", *SPAN, "--out",
                                   str(out), "-q", "--report"]
    configured = result["config"]["strategies"]
    assert manifest["strategies"] == [{"name": s["name"], "params": s["params"]} for s in configured]
    assert manifest["data"] == {"source": "sample", **result["data"]}
    assert manifest["data"]["n_bars"] == 2160 and len(manifest["data"]["sha256"]) == 64
    files = {f["name"]: f["bytes"] for f in manifest["files"]}
    assert set(files) == {"result.json", "trades.csv", "orders.csv", "fills.csv", "equity.parquet",
                          "prices.parquet", "report.html"}
    assert all(size == (out / name).stat().st_size for name, size in files.items())
    stats = manifest["stats"]
    assert {key for key, *_ in SUMMARY_ROWS} < set(stats)
    for key in ("total_return", "sharpe", "max_drawdown", "n_trades"):
        assert stats[key] == pytest.approx(result["stats"][key])
    assert stats["buy_and_hold"]["total_return"] == pytest.approx(
        result["stats"]["buy_and_hold"]["total_return"])


def test_a_journal_the_run_writes_into_its_folder_is_listed(tmp_path: Path) -> None:
    out = tmp_path / "run"
    manifest = backtest(out, 10, 30, "--journal", str(out / "journal.sqlite"))
    assert "journal.sqlite" in {f["name"] for f in manifest["files"]}


def test_secrets_on_the_command_line_are_masked_in_the_manifest(tmp_path: Path) -> None:
    from engine.result.manifest import redact_command

    assert redact_command(["mlct", "live", "--api-key", "abc", "--secret=xyz", "--param", "token=t0k", "fast=3"]) \
        == ["mlct", "live", "--api-key", "***", "--secret=***", "--param", "token=***", "fast=3"]


def test_list_show_and_compare_two_backtests(two_runs: tuple[Path, Path], tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    first, second = two_runs
    assert main(["results", "list", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [line for line in lines if line.startswith("| ") and "sma-" in line]
    assert len(rows) == 2 and str(first) in rows[0] and str(second) in rows[1]  # oldest first
    assert "SmaCross fast=10 slow=30" in rows[0] and "BTC/USD 1h 2018-01-01..2018-04-01 (2,160 bars)" in rows[0]

    assert main(["results", "list", str(tmp_path), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [run["folder"] for run in listed] == [str(first), str(second)]

    assert main(["results", "show", str(second)]) == 0
    shown = capsys.readouterr().out
    assert "SmaCross fast=20 slow=50" in shown and "Total return" in shown and "trades.csv" in shown

    assert main(["results", "compare", str(first), str(second), "--json"]) == 0
    compared = json.loads(capsys.readouterr().out)
    one, two = (json.loads((run / "result.json").read_text())["stats"] for run in two_runs)
    assert compared["stats"]["total_return"] == pytest.approx([one["total_return"], two["total_return"]])
    assert compared["stats"]["n_trades"] == [one["n_trades"], two["n_trades"]]
    assert [run["folder"] for run in compared["runs"]] == [str(first), str(second)]

    assert main(["results", "compare", str(first), str(second)]) == 0
    table = capsys.readouterr().out.splitlines()
    header = next(line for line in table if "sma-10-30" in line)
    assert "sma-20-50" in header
    trades = next(line for line in table if line.startswith("| Trades "))
    assert [cell.strip() for cell in trades.strip("|").split("|")][1:] == [f"{one['n_trades']:,}",
                                                                          f"{two['n_trades']:,}"]
    assert any(line.startswith("| Buy & hold return ") for line in table)


def test_a_run_is_named_by_its_id_or_the_start_of_it(two_runs: tuple[Path, Path], tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    first, _ = two_runs
    run_id = json.loads((first / "manifest.json").read_text())["id"]
    monkeypatch.chdir(tmp_path)
    assert main(["results", "show", run_id, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["folder"] == "runs/sma-10-30"
    assert main(["results", "show", "sma-10"]) == 0
    assert main(["results", "show", "20"]) == 2  # the start of both ids and of one folder name: ambiguous
    assert "names 2 runs" in capsys.readouterr().err
    assert main(["results", "show", "nothing-like-it"]) == 2


def test_save_writes_a_new_folder_under_the_results_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("MLCT_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        assert main(["backtest", "--save", *SPAN, "-q"]) == 0
    folders = sorted((tmp_path / "results").iterdir())
    assert len(folders) == 2 and all((f / "manifest.json").is_file() for f in folders)
    assert json.loads((folders[0] / "manifest.json").read_text())["id"].startswith(f"{folders[0].name}-")
    assert not (tmp_path / "out").exists()
    capsys.readouterr()
    assert main(["results", "list"]) == 0  # the results root is searched by default
    assert sum("SmaCross" in line for line in capsys.readouterr().out.splitlines()) == 2


def test_report_reads_only_the_files_the_manifest_lists(two_runs: tuple[Path, Path],
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    from engine.result import BacktestResult

    first, _ = two_runs
    (first / "extras" / "ml").mkdir(parents=True)
    (first / "extras" / "ml" / "thresholds.csv").write_text("threshold,n_signals,precision,avg_return\n0.5,3,1,0\n")
    assert "ml" in BacktestResult.load(first).extras  # read whole, the stray file would show
    assert main(["report", str(first)]) == 0
    assert "ML signal" not in (first / "report.html").read_text()
    manifest = json.loads((first / "manifest.json").read_text())
    assert "report.html" in {f["name"] for f in manifest["files"]}  # the report now belongs to the run

    manifest["files"] = [f for f in manifest["files"] if f["name"] != "trades.csv"]
    (first / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DataError, match=r"trades\.csv is missing or not listed in manifest\.json"):
        BacktestResult.load(first, files=[f["name"] for f in manifest["files"]])
    assert main(["report", str(first)]) == 2


def test_report_on_a_folder_without_manifest_reads_it_whole_and_warns(two_runs: tuple[Path, Path],
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    first, _ = two_runs
    (first / "manifest.json").unlink()
    assert main(["report", str(first)]) == 0
    assert "has no manifest.json" in capsys.readouterr().err
    assert (first / "report.html").is_file() and not (first / "manifest.json").exists()


def test_a_run_into_a_folder_of_the_older_layout_removes_its_files_only(two_runs: tuple[Path, Path],
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    first, _ = two_runs
    (first / "manifest.json").unlink()  # saved before manifests
    (first / "model").mkdir()
    (first / "model" / "metadata.json").write_text("{}")
    (first / "ml.json").write_text("{}")
    (first / "mine.csv").write_text("a\n1\n")
    (first / "data").mkdir()
    shutil.copy(first / "trades.csv", first / "data" / "trades.csv")  # a user's copy: not a known output
    backtest(first, 10, 30)
    assert "files of the earlier run (saved without a manifest)" in capsys.readouterr().err
    assert not (first / "model").exists() and not (first / "ml.json").exists()
    assert (first / "mine.csv").is_file() and (first / "data" / "trades.csv").is_file()
