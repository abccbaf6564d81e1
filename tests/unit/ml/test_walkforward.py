"""Walk-forward: the schedule purges and embargoes, choices stay inside the training window, runs repeat exactly."""

from __future__ import annotations

import numpy as np
import pytest

from engine.errors import ConfigError
from engine.ml.labels import known_at
from engine.ml.tuning import choose_threshold, inner_splits
from engine.ml.walkforward import WalkForwardConfig, plan

from .conftest import SMALL_CONFIG, SMALL_LABEL, SmallRun


def test_plan_purges_the_horizon_and_the_embargo() -> None:
    config = WalkForwardConfig(retrain_every=100, min_train=500, embargo=7)
    folds = plan(2000, 50, 10, config)
    first = 50 + 500 + 10 + 7
    assert folds[0] == (50, first - 17, first, first + 100)
    for lo, hi, start, end in folds:
        assert lo == 50 and end - start <= 100
        last_row = hi - 1
        assert known_at(last_row, 10) + 7 <= start  # the last training label is known embargo bars before the test
    assert folds[-1][3] == 2000
    rolling = plan(2000, 50, 10, WalkForwardConfig(retrain_every=100, min_train=500, embargo=7, window=300))
    assert all(hi - lo == 300 for lo, hi, _, _ in rolling[1:])


def test_without_purge_the_training_rows_reach_the_test_block() -> None:
    folds = plan(2000, 50, 10, WalkForwardConfig(retrain_every=100, min_train=500, embargo=7, purge=False))
    assert all(hi == start for _, hi, start, _ in folds)
    assert [f[2] for f in folds] == [f[2] for f in plan(2000, 50, 10, WalkForwardConfig(
        retrain_every=100, min_train=500, embargo=7))]  # same test blocks, so the two can be compared


def test_inner_folds_are_purged_too() -> None:
    rows = np.arange(100, 400)
    for train, validation in inner_splits(rows, 3, gap=20):
        assert rows[train].max() < rows[validation].min() - 20
        assert np.all(np.diff(rows[validation]) == 1)


def test_threshold_is_the_best_average_net_return_with_enough_signals() -> None:
    p_up = np.array([0.3, 0.45, 0.55, 0.6, 0.65, 0.7, 0.8])
    p_down = np.full(7, 0.1)
    returns = np.array([-0.05, 0.01, -0.02, 0.03, 0.02, 0.01, 0.04])
    # signals at 0.6: rows 3..6 -> mean net (0.03+0.02+0.01+0.04)/4 - cost
    assert choose_threshold(p_up, p_down, returns, cost=0.002, thresholds=[0.4, 0.6, 0.8], min_signals=2) == 0.6
    assert choose_threshold(p_up, p_down, returns, cost=0.002, thresholds=[0.4, 0.6, 0.8], min_signals=1) == 0.8
    assert choose_threshold(p_up, p_down, -np.abs(returns), cost=0.0, thresholds=[0.4, 0.6],
                            min_signals=1) is None  # nothing earns: the model does not trade


def test_every_fold_trains_only_on_rows_labelled_before_its_test_block(small_run: SmallRun) -> None:
    result = small_run.result
    assert len(result.folds) >= 4
    horizon, embargo = SMALL_LABEL.horizon, SMALL_CONFIG.embargo
    for number, fold in enumerate(result.folds):
        assert fold.test_rows is not None
        start, end = fold.test_rows
        assert known_at(fold.train_rows[1], horizon) + embargo <= start
        predicted = result.predictions[result.predictions["fold"] == number]
        positions = small_run.frame.index.get_indexer(predicted.index)
        assert positions.min() >= start and positions.max() < end
    assert result.predictions.index.is_unique and result.predictions.index.is_monotonic_increasing
    assert result.final is not None and result.final.valid_from > result.folds[-1].valid_from


def test_the_same_data_and_settings_give_the_same_models(small_run: SmallRun) -> None:
    from engine.ml.pipeline import train

    _, again = train(small_run.frame, "BTC/USD", features="core", label=SMALL_LABEL, config=SMALL_CONFIG,
                     n_boot=10, n_random=10)
    assert again.predictions.equals(small_run.result.predictions)
    assert [f.threshold for f in again.folds] == [f.threshold for f in small_run.result.folds]


def test_the_thread_count_changes_no_model(small_run: SmallRun) -> None:
    """``mlct ml train`` picks its threads from the machine's load: the models must not depend on the pick."""
    from dataclasses import replace

    from engine.ml.pipeline import train

    other = 1 if SMALL_CONFIG.nthread != 1 else 2
    _, again = train(small_run.frame, "BTC/USD", features="core", label=SMALL_LABEL,
                     config=replace(SMALL_CONFIG, nthread=other), n_boot=10, n_random=10)
    assert again.predictions.equals(small_run.result.predictions)
    assert [f.threshold for f in again.folds] == [f.threshold for f in small_run.result.folds]


def test_predict_rescores_the_out_of_sample_rows_exactly(small_run: SmallRun) -> None:
    from engine.ml.features import feature_set

    features = feature_set("core").batch(small_run.frame)
    again = small_run.result.predict(features)
    assert np.array_equal(again.to_numpy(), small_run.result.predictions[["p_down", "p_flat", "p_up"]].to_numpy())


def test_too_little_data_is_a_clear_error(small_run: SmallRun) -> None:
    from engine.ml.pipeline import train

    with pytest.raises(ConfigError, match=r"the data has 2,000 bars; --min-train 2,000 needs at least 2,569 .*lower "
                                          r"--min-train to at most 1,431"):  # engine.ml.sizing, before training
        train(small_run.frame.iloc[:2000], "BTC/USD", features="core", label=SMALL_LABEL, config=SMALL_CONFIG)
    with pytest.raises(ConfigError):
        WalkForwardConfig(retrain_every=0)


def test_sells_choose_their_own_threshold_on_the_out_of_fold_predictions() -> None:
    p_down = np.array([0.3, 0.45, 0.55, 0.6, 0.65, 0.7, 0.8])
    p_up = np.full(7, 0.1)
    returns = -np.array([-0.05, 0.01, -0.02, 0.03, 0.02, 0.01, 0.04])  # a fall is a short's gain
    # short net returns, -r - cost: at 0.6 rows 3..6 earn (0.03+0.02+0.01+0.04)/4 - cost, the best with >= 2
    assert choose_threshold(p_up, p_down, returns, cost=0.002, thresholds=[0.4, 0.6, 0.8], min_signals=2,
                            side="sell") == 0.6
    assert choose_threshold(p_up, p_down, returns, cost=0.002, thresholds=[0.4, 0.6, 0.8], min_signals=2) is None


def test_each_fold_keeps_its_sell_threshold_and_its_directions_use_it(small_run: SmallRun) -> None:
    result = small_run.result
    predictions = result.predictions
    for number, fold in enumerate(result.folds):
        rows = predictions[predictions["fold"] == number]
        sell = np.inf if fold.sell_threshold is None else fold.sell_threshold
        buy = np.inf if fold.threshold is None else fold.threshold
        expected = np.where((rows["p_up"] >= buy) & (rows["p_up"] > rows["p_down"]), 1,
                            np.where((rows["p_down"] >= sell) & (rows["p_down"] > rows["p_up"]), -1, 0))
        assert rows["direction"].tolist() == expected.tolist()
        assert np.array_equal(rows["sell_threshold"].to_numpy(), np.full(len(rows), np.nan if sell == np.inf else sell),
                              equal_nan=True)


def test_in_sample_rows_are_each_counted_once_by_the_first_model_trained_on_them(small_run: SmallRun) -> None:
    result = small_run.result
    in_sample = result.in_sample
    assert in_sample.index.is_unique
    positions = small_run.frame.index.get_indexer(in_sample.index)
    trained: set[int] = set()
    for number, fold in enumerate(result.folds):
        first, last = fold.train_rows
        mine = positions[in_sample["fold"].to_numpy() == number]
        # a fold scores the rows of its window that no earlier fold trained on
        assert len(mine) == 0 or (mine.min() >= first and mine.max() <= last)
        assert not trained & set(mine.tolist())
        trained |= set(range(first, last + 1))
    every: set[int] = set()
    for fold in result.folds:
        every |= set(range(fold.train_rows[0], fold.train_rows[1] + 1))
    assert set(positions.tolist()) <= every and len(positions) > 0.9 * len(every)
