"""Settings that fit the data: defaults sized to the bar count and length, given ones kept, a too-short file
refused in one line naming the bars needed and the setting to change; gaps in the data reported."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.cli import main
from engine.errors import ConfigError
from engine.ml.features import feature_set
from engine.ml.gaps import find_gaps, gap_report
from engine.ml.labels import LabelSpec
from engine.ml.sizing import MIN_TRAIN, SIZED_SETTINGS, size_settings
from engine.ml.walkforward import WalkForwardConfig

HOUR, DAY = 3600 * 10**9, 86_400 * 10**9
FAST = ["--features", "core", "--max-depth", "2", "--eta", "0.1", "--max-rounds", "20", "--inner-folds", "2",
        "--bootstrap", "20", "--quiet", "--symbol", "BTC/USD"]


def daily_frame(n: int, seed: int = 3) -> pd.DataFrame:
    """A seeded random walk of ``n`` daily OHLCV bars."""
    rng = np.random.default_rng(seed)
    close = 1000 * np.exp(np.cumsum(rng.normal(0.0005, 0.03, n)))
    open_ = np.concatenate([[close[0]], close[:-1]])
    spread = np.abs(rng.normal(0, 0.01, n)) * close
    index = pd.date_range("2015-01-01", periods=n, freq="1D", tz="UTC", name="ts")
    return pd.DataFrame({"open": open_, "high": np.maximum(open_, close) + spread,
                         "low": np.minimum(open_, close) - spread, "close": close,
                         "volume": rng.uniform(100, 1000, n)}, index=index)


def write(frame: pd.DataFrame, path: Path) -> Path:
    frame.reset_index().to_csv(path, index=False)
    return path


def test_the_hourly_sample_keeps_the_library_defaults() -> None:
    sized = size_settings(20_111, feature_set("composite").warmup, HOUR, LabelSpec(), WalkForwardConfig(), set())
    assert sized.label == LabelSpec() and sized.config == WalkForwardConfig()
    assert set(sized.derived) == set(SIZED_SETTINGS)


def test_daily_defaults_are_sized_in_time_and_rows_and_given_ones_are_kept() -> None:
    sized = size_settings(1500, 100, DAY, LabelSpec(), WalkForwardConfig(), set())
    used = sized.used()
    assert used["horizon"] == 1 and used["embargo"] == 1  # one day
    assert used["min_train"] == (1500 - 100 - 2) // 2 and used["retrain_every"] == 30  # half the usable rows; 30 days
    assert used["min_signals"] == used["min_train"] // 30
    kept = size_settings(1500, 100, DAY, LabelSpec(horizon=5), WalkForwardConfig(min_train=400, retrain_every=100),
                         {"horizon", "min_train", "retrain_every"})
    assert (kept.label.horizon, kept.config.min_train, kept.config.retrain_every) == (5, 400, 100)
    assert set(kept.derived) == {"embargo", "min_signals"}


def test_a_frame_too_short_even_for_sized_settings_names_the_bars_and_the_setting() -> None:
    with pytest.raises(ConfigError, match=rf"needs at least {1090 + 2 + 2 * MIN_TRAIN:,} .*--min-train"):
        size_settings(1500, 1090, DAY, LabelSpec(), WalkForwardConfig(), set(), features="composite")
    with pytest.raises(ConfigError, match=r"--min-train 6,000 needs at least 6,103 .*lower --min-train to at most "
                                          r"1,397"):
        size_settings(1500, 100, DAY, LabelSpec(), WalkForwardConfig(), {"min_train"})


def test_gaps_are_found_and_split_between_training_and_evaluated_window() -> None:
    index = pd.date_range("2020-01-01", periods=100, freq="1D", tz="UTC")
    holed = index.delete(list(range(70, 83)))  # 13 days missing
    assert find_gaps(index, DAY) == []
    gaps = find_gaps(holed, DAY)
    assert gaps == [{"after": "2020-03-10T00:00:00+00:00", "next": "2020-03-24T00:00:00+00:00", "missing": 13}]
    report = gap_report(holed, DAY, holed[50])
    assert report["training"]["count"] == 0 and report["evaluated"]["count"] == 1
    assert report["evaluated"]["largest"]["missing"] == 13
    assert gap_report(holed, DAY, holed[80])["training"]["missing_bars"] == 13


@pytest.fixture(scope="module")
def daily_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """``mlct ml train`` at default settings on 1,500 synthetic daily bars with 13 days removed late in them."""
    frame = daily_frame(1513)
    frame = frame.drop(frame.index[1400:1413])
    root = tmp_path_factory.mktemp("daily")
    data = write(frame, root / "daily.csv")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["ml", "train", "--data", str(data), *FAST, "--out", str(root / "model")])
    assert code == 0
    return out.getvalue(), root / "model"


def test_daily_data_trains_with_sized_defaults_and_says_which(daily_run: tuple[str, Path]) -> None:
    text, model = daily_run
    meta = json.loads((model / "metadata.json").read_text())
    used = meta["settings"]["used"]
    assert used["horizon"] == 1 and used["embargo"] == 1 and 250 <= used["min_train"] < 6000
    assert used["inner_folds"] == 2 and "inner_folds" not in meta["settings"]["derived_from_data"]
    assert meta["walkforward"]["min_train"] == used["min_train"]
    assert f"settings: horizon 1, embargo 1, min-train {used['min_train']:,}, retrain-every 30" in text
    assert "sized to the data" in text and meta["evaluation"]["folds"] >= 5


def test_a_13_day_gap_in_the_evaluated_window_is_reported(daily_run: tuple[str, Path]) -> None:
    text, model = daily_run
    gaps = json.loads((model / "metadata.json").read_text())["evaluation"]["gaps"]
    assert gaps["training"]["count"] == 0
    assert gaps["evaluated"]["count"] == 1 and gaps["evaluated"]["missing_bars"] == 13
    assert ("evaluated window: 1 gap, 13 bars missing, largest 2018-10-31 00:00 to 2018-11-14 00:00 (13 bars, "
            "13 d 0 h)") in text


def test_too_short_daily_data_stops_before_training_with_one_line(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    data = write(daily_frame(900), tmp_path / "short.csv")
    capsys.readouterr()
    assert main(["ml", "run", "--data", str(data), *FAST, "--out", str(tmp_path / "out")]) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "the data has 900 bars; the walk-forward needs at least" in captured.err
    assert "--min-train" in captured.err and "1/4 training" in captured.out and "settings:" not in captured.out


def test_the_gaps_reach_the_back_test_result_for_the_report(daily_run: tuple[str, Path]) -> None:
    from engine.ml.handler import MLSignal

    extras = MLSignal(daily_run[1]).result_extras()["ml"]
    table = extras["gaps"].set_index("window")
    assert table.loc["evaluated", "gaps"] == 1 and table.loc["evaluated", "largest_missing"] == 13
    assert table.loc["training", "gaps"] == 0
