"""``engine.result.manifest``: which files are a run's, what an earlier run leaves to remove, and finding runs."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.errors import DataError
from engine.result.manifest import (
    MANIFEST,
    build_manifest,
    earlier_run_files,
    find_runs,
    listed_files,
    remove_files,
    run_id,
    snapshot,
    write_manifest,
    written_files,
)

STARTED = datetime(2026, 12, 3, 22, 15, 0, tzinfo=UTC)


def manifest_in(folder: Path, names: list[str], created: str = "2026-12-03T22:15:00Z") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    write_manifest(folder, {"format": 1, "id": folder.name, "kind": "backtest", "created": created,
                            "files": [{"name": n, "bytes": 1} for n in names]})


def test_run_id_sorts_by_time_and_names_kind_and_strategy() -> None:
    assert run_id(STARTED, "ml run", "strategies.x:MlSignal", "ab12cd") == "20261203T221500Z-ml_run-MlSignal-ab12cd"
    assert run_id(STARTED, "backtest", "./my strat.py:") == "20261203T221500Z-backtest-my_strat"


def test_written_files_are_the_new_and_changed_ones(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("user")
    (tmp_path / "result.json").write_text("old")
    before = snapshot(tmp_path)
    (tmp_path / "result.json").write_text("newer")
    (tmp_path / "extras" / "ml").mkdir(parents=True)
    (tmp_path / "extras" / "ml" / "t.csv").write_text("a\n")
    (tmp_path / MANIFEST).write_text("{}")
    assert written_files(tmp_path, before) == [{"name": "extras/ml/t.csv", "bytes": 2},
                                               {"name": "result.json", "bytes": 5}]


def test_an_earlier_run_is_what_its_manifest_lists_and_removing_it_keeps_the_rest(tmp_path: Path) -> None:
    for name in ("result.json", "model/metadata.json", "model/folds/f.json", "notes.txt", "model/mine.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    manifest_in(tmp_path, ["result.json", "model/metadata.json", "model/folds/f.json", "gone.csv"])
    manifest, names = earlier_run_files(tmp_path)
    assert manifest is not None and names == ["result.json", "model/metadata.json", "model/folds/f.json",
                                              "gone.csv", MANIFEST]
    removed, kept = remove_files(tmp_path, names)
    assert removed == ["result.json", "model/metadata.json", "model/folds/f.json", MANIFEST] and kept == []
    assert not (tmp_path / "model" / "folds").exists()  # emptied: removed
    assert (tmp_path / "model" / "mine.txt").is_file() and (tmp_path / "notes.txt").is_file()


def test_what_the_new_run_reads_is_kept(tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "metadata.json").write_text("{}")
    (tmp_path / "result.json").write_text("{}")
    removed, kept = remove_files(tmp_path, ["model/metadata.json", "result.json"], keep=[tmp_path / "model"])
    assert removed == ["result.json"] and kept == ["model/metadata.json"]


def test_a_folder_of_the_older_layout_gives_its_known_outputs_only_when_a_run_was_saved(tmp_path: Path) -> None:
    (tmp_path / "report.html").write_text("x")
    (tmp_path / "extras" / "ml").mkdir(parents=True)
    (tmp_path / "extras" / "ml" / "thresholds.csv").write_text("x")
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "notes.txt").write_text("a folder named model, not a model")
    assert earlier_run_files(tmp_path) == (None, [])  # no result.json: no run was saved here
    (tmp_path / "result.json").write_text("{}")
    assert earlier_run_files(tmp_path) == (None, ["result.json", "report.html", "extras/ml/thresholds.csv"])


def test_a_manifest_cannot_reach_outside_its_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="outside the run's folder"):
        listed_files({"files": [{"name": "../elsewhere.txt", "bytes": 1}]})
    with pytest.raises(DataError, match="outside the run's folder"):
        listed_files({"files": [{"name": "/etc/passwd", "bytes": 1}]})
    (tmp_path / MANIFEST).write_text("[1, 2]")
    with pytest.raises(DataError, match="not a run manifest"):
        earlier_run_files(tmp_path)


def test_find_runs_searches_a_few_levels_oldest_first_and_once_each(tmp_path: Path) -> None:
    manifest_in(tmp_path / "b", [], created="2026-12-03T22:00:00Z")
    manifest_in(tmp_path / "x" / "a", [], created="2026-12-02T10:00:00Z")
    manifest_in(tmp_path / "x" / "y" / "z" / "deep", [])
    manifest_in(tmp_path / ".hidden" / "c", [])
    (tmp_path / "webapp").mkdir()
    (tmp_path / "webapp" / MANIFEST).write_text('{"name": "a web app", "icons": []}')
    assert find_runs([tmp_path, tmp_path / "x"], depth=2) == [tmp_path / "x" / "a", tmp_path / "b"]


def test_build_manifest_keeps_the_headline_figures_and_masks_secrets(tmp_path: Path) -> None:
    stats = {"total_return": 0.5, "sharpe": 1.2, "n_trades": 3, "calmar_internal": 9,
             "buy_and_hold": {"total_return": 0.2, "n_trades": 1}}
    manifest = build_manifest(kind="backtest", created=STARTED, version="0.1.0",
                              command=["mlct", "backtest", "--password", "hunter2"], strategies=[
                                  {"name": "SmaCross", "params": {"fast": 3}}], data={"n_bars": 10},
                              source="sample", files=[], stats=stats, folder=tmp_path)
    assert manifest["command"] == ["mlct", "backtest", "--password", "***"]
    assert manifest["stats"]["total_return"] == 0.5 and "calmar_internal" not in manifest["stats"]
    assert manifest["stats"]["buy_and_hold"] == {**dict.fromkeys(manifest["stats"]["buy_and_hold"]),
                                                 "total_return": 0.2}
    assert manifest["created"] == "2026-12-03T22:15:00Z" and manifest["id"].startswith("20261203T221500Z-")
    assert "hunter2" not in json.dumps(manifest)
