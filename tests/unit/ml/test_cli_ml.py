"""``mlct ml train | evaluate | run`` and ``mlct recommend`` on a small CSV, with settings that train in seconds."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from engine.cli import main

SMALL = ["--symbol", "BTC/USD", "--features", "core", "--horizon", "12", "--embargo", "12", "--min-train", "2000",
         "--retrain-every", "1000", "--max-depth", "2", "--eta", "0.1", "--inner-folds", "2", "--max-rounds", "30",
         "--min-signals", "50", "--bootstrap", "100", "--quiet"]


@pytest.fixture(scope="module")
def csv(head: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "btc.csv"
    head.reset_index().assign(ts=lambda f: f["ts"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def model(csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("models") / "btc"
    assert main(["ml", "train", "--data", str(csv), *SMALL, "--out", str(out)]) == 0
    return out


def test_train_writes_models_metadata_predictions_and_the_table(model: Path, capsys: pytest.CaptureFixture[str]
                                                                 ) -> None:
    assert {"model.json", "metadata.json", "evaluation.csv", "predictions.csv"} <= {p.name for p in model.iterdir()}
    assert len(list((model / "folds").glob("fold_*.json"))) == 3


def test_evaluate_on_the_training_data_gives_back_the_saved_table(model: Path, csv: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["ml", "evaluate", "--model", str(model), "--data", str(csv), "--symbol", "BTC/USD",
                 "--bootstrap", "100", "--json"]) == 0
    table = pd.DataFrame(json.loads(capsys.readouterr().out))
    saved = pd.read_csv(model / "evaluation.csv")
    columns = ["n_signals", "precision", "avg_return", "avg_return_lo", "avg_return_hi", "p_value"]
    pd.testing.assert_frame_equal(table[columns], saved[columns], check_dtype=False)
    assert main(["ml", "evaluate", "--model", str(model), "--data", str(csv), "--symbol", "BTC/USD",
                 "--bootstrap", "50"]) == 0
    assert "the walk-forward's out-of-sample rows" in capsys.readouterr().out


def test_recommend_json_has_the_promised_keys(model: Path, csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["recommend", "--model", str(model), "--data", str(csv), "--symbol", "BTC/USD", "--json"]) == 0
    view = json.loads(capsys.readouterr().out)
    assert {"action", "threshold", "precision", "avg_return", "n_signals", "as_of", "contributions"} <= set(view)
    assert view["action"] in ("BUY", "SELL", "HOLD")
    assert view["as_of"].startswith("2018-01-")  # the close of the 5,000th hourly bar
    assert view["model"]["kind"] == "final" and len(view["contributions"]) == 5
    assert main(["recommend", "--model", str(model), "--data", str(csv), "--symbol", "BTC/USD"]) == 0
    assert "top indicators" in capsys.readouterr().out


def test_recommend_refuses_data_older_than_every_model(model: Path, tmp_path: Path, head: pd.DataFrame,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    old = tmp_path / "old.csv"
    head.iloc[:1000].reset_index().to_csv(old, index=False)
    assert main(["recommend", "--model", str(model), "--data", str(old), "--symbol", "BTC/USD"]) == 2
    assert "before the model's first out-of-sample bar" in capsys.readouterr().err


def test_run_trains_back_tests_recommends_and_writes_the_report(csv: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["ml", "run", "--data", str(csv), *SMALL, "--out", str(out)]) == 0
    text = capsys.readouterr().out
    for step in ("1/4", "2/4", "3/4", "4/4"):
        assert step in text
    assert (out / "model" / "metadata.json").is_file() and (out / "recommendation.json").is_file()
    page = (out / "report.html").read_text()
    assert "ML signal" in page and "Precision and average net return by threshold" in page
    result = json.loads((out / "result.json").read_text())
    first = json.loads((out / "model" / "metadata.json").read_text())["training_window"]["out_of_sample_from"]
    assert result["data"]["start"] == first  # the back-test covers the out-of-sample bars only


def test_backtest_runs_the_ml_strategy_from_a_model_directory(model: Path, csv: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backtest", "--strategy", "ml_signal", "--param", f"model={model}", "--param", "threshold=0.45",
                 "--data", str(csv), "--symbol", "BTC/USD", "--quiet"]) == 0
    assert capsys.readouterr().out.startswith("MlSignal {")


def test_bad_settings_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["ml", "train", "--window", "weekly", "--out", str(tmp_path)]) == 2
    assert "--window" in capsys.readouterr().err


@pytest.fixture(scope="module")
def daily_csv(head: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same BTC/USD bars as daily ones."""
    daily = head.resample("1D").agg({"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum",
                                     "quote_volume": "sum"}).dropna()
    path = tmp_path_factory.mktemp("data") / "btc_daily.csv"
    daily.reset_index().to_csv(path, index=False)
    return path


@pytest.mark.parametrize("command", [["recommend"], ["ml", "evaluate", "--bootstrap", "50"]])
def test_a_model_refuses_data_of_another_timeframe_or_symbol(command: list[str], model: Path, csv: Path,
                                                             daily_csv: Path, capsys: pytest.CaptureFixture[str]
                                                             ) -> None:
    meta = json.loads((model / "metadata.json").read_text())
    assert meta["symbol"] == "BTC/USD" and meta["interval_ns"] == 3600 * 10**9  # what it was trained on
    capsys.readouterr()
    assert main([*command, "--model", str(model), "--data", str(daily_csv), "--symbol", "BTC/USD"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert "this model was trained on BTC/USD 1h bars, the data is BTC/USD 1d bars" in captured.err
    assert main([*command, "--model", str(model), "--data", str(csv), "--symbol", "ETH/USD"]) == 2
    assert "this model was trained on BTC/USD 1h bars, the data is ETH/USD 1h bars" in capsys.readouterr().err
    assert main([*command, "--model", str(model), "--data", str(csv), "--symbol", "BTC/USDT"]) == 0  # same asset


def test_recommend_on_a_timerange_answers_for_its_last_bar(model: Path, csv: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["recommend", "--model", str(model), "--data", str(csv), "--symbol", "BTC/USD",
                 "--timerange", "-20180101", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["as_of"] == "2018-01-01T00:00:00+00:00"  # the close of Dec 31 23:00


def test_ml_signal_refuses_bars_of_another_timeframe_in_a_backtest(model: Path, daily_csv: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["backtest", "--strategy", "ml_signal", "--param", f"model={model}", "--data", str(daily_csv),
                 "--symbol", "BTC/USD", "--quiet"]) == 2  # found inside the run, still bad input: one line
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "this model was trained on BTC/USD 1h bars, the data is BTC/USD 1d bars" in err
