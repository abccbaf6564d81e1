"""Explanations: how much each feature, and each indicator, pushed a prediction up or down.

xgboost's ``pred_contribs`` gives, for every row, class and feature, the feature's SHAP value in the margin
(log-odds) of that class; with the bias they add up to the class's margin exactly (TreeSHAP, Lundberg et al.
2020). For a three-class softmax, ``log(p_up / p_down) = margin_up - margin_down``, so

    contribution of feature f = contrib[up, f] - contrib[down, f]

splits the log-odds of up against down among the features, exactly: the bias plus the contributions give
``log(p_up / p_down)`` (tests/unit/ml/test_explain.py). Summing the contributions of every feature read from
one indicator (``Feature.indicator``: the three RSI periods, %b and width of the Bollinger bands) gives the
indicator's share, which is what a trader can act on.

In a ``Signal`` the contributions are signed toward the signal's direction: positive means "this indicator
argued for the signal" (for a sell, toward down). Computing them costs a ``DMatrix`` and a TreeSHAP pass (0.3 to
1.5 ms for one row), so the live handler does it only for rows that signal.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import xgboost as xgb

from engine.ml.labels import DOWN, UP

BIAS = "bias"


def feature_contributions(booster: xgb.Booster, x: np.ndarray) -> np.ndarray:
    """Return ``(n, n_features + 1)`` contributions to ``log(p_up / p_down)``; the last column is the bias."""
    rows = np.ascontiguousarray(np.atleast_2d(x), dtype="float64")
    matrix = xgb.DMatrix(rows, missing=np.nan, nthread=1)  # threads cost more than a few rows take to copy
    contributions = booster.predict(matrix, pred_contribs=True, strict_shape=True)
    # strict_shape: (rows, classes, features + 1) for a multi-class booster
    return np.asarray(contributions[:, UP, :] - contributions[:, DOWN, :], dtype="float64")


def by_indicator(contributions: np.ndarray, groups: Sequence[str]) -> pd.DataFrame:
    """Sum feature contributions (bias column last) into one column per indicator, in order of first appearance.

    The bias is kept as the last column, ``bias``, so that each row still adds up to ``log(p_up / p_down)``.
    """
    order = list(dict.fromkeys(groups))
    columns = {name: np.zeros(len(contributions)) for name in order}
    for j, group in enumerate(groups):
        columns[group] = columns[group] + contributions[:, j]
    columns[BIAS] = contributions[:, len(groups)]
    return pd.DataFrame(columns)


def signal_contributions(booster: xgb.Booster, row: np.ndarray, groups: Sequence[str],
                         direction: int) -> dict[str, float]:
    """Return one row's indicator contributions signed toward ``direction`` (up for 0), without the bias.

    The live path: the same sums as ``by_indicator``, without building a DataFrame (a third of the cost).
    """
    sign = -1.0 if direction < 0 else 1.0
    values = feature_contributions(booster, row)[0]
    out: dict[str, float] = {}
    for j, group in enumerate(groups):
        out[group] = out.get(group, 0.0) + float(values[j])
    return {name: sign * value for name, value in out.items()}


def top(contributions: dict[str, float], n: int = 5) -> list[tuple[str, float]]:
    """Return the ``n`` largest contributions by size, largest first."""
    return sorted(contributions.items(), key=lambda item: (-abs(item[1]), item[0]))[:n]
