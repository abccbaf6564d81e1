"""Explanations add up: feature contributions plus the bias give log(p_up / p_down), per row, exactly."""

from __future__ import annotations

import numpy as np
import pytest

from engine.ml.explain import BIAS, by_indicator, feature_contributions, signal_contributions, top

from .conftest import SmallRun


def test_contributions_add_up_to_the_log_odds_of_up_against_down(small_run: SmallRun) -> None:
    bundle = small_run.bundle
    features = bundle.features.batch(small_run.frame)
    x = features.loc[features["ready"], bundle.features.names].to_numpy()[:300]
    model = bundle.final
    assert model is not None
    contributions = feature_contributions(model.booster, x)
    assert contributions.shape == (300, len(bundle.features.names) + 1)
    p = model.predict(x)
    log_odds = np.log(p[:, 2] / p[:, 0])
    # xgboost works in float32: the sum matches to float32 precision
    assert np.allclose(contributions.sum(axis=1), log_odds, atol=1e-5)
    table = by_indicator(contributions, bundle.features.groups)
    assert list(table.columns) == [*dict.fromkeys(bundle.features.groups), BIAS]
    assert np.allclose(table.sum(axis=1), log_odds, atol=1e-5)
    rsi_columns = [j for j, g in enumerate(bundle.features.groups) if g == "RSI"]
    assert np.allclose(table["RSI"], contributions[:, rsi_columns].sum(axis=1))


def test_a_signals_contributions_point_toward_its_direction(small_run: SmallRun) -> None:
    bundle = small_run.bundle
    features = bundle.features.batch(small_run.frame)
    row = features.loc[features["ready"], bundle.features.names].to_numpy()[-1]
    assert bundle.final is not None
    up = signal_contributions(bundle.final.booster, row, bundle.features.groups, 1)
    down = signal_contributions(bundle.final.booster, row, bundle.features.groups, -1)
    assert BIAS not in up and set(up) == set(bundle.features.groups)
    assert all(down[k] == pytest.approx(-v) for k, v in up.items())
    assert top({"a": 0.1, "b": -0.3, "c": 0.2}, 2) == [("b", -0.3), ("c", 0.2)]
