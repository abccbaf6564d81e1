"""The xgboost model, through its native API: three classes (down, flat, up), fixed seeds and threads.

Why the native API (``xgb.DMatrix``, ``xgb.train``, ``Booster``) rather than the scikit-learn wrapper: the
booster is what is saved, loaded and run bar by bar live, early stopping and ``pred_contribs`` are plain
arguments, and nothing estimates anything behind our back. Probabilities come from ``inplace_predict`` on
float64 rows (no ``DMatrix`` per bar, a few hundred microseconds for one row) and are bit-identical whether
one row or a thousand are scored at once, which is what lets a back-test reproduce the walk-forward exactly.

Determinism: ``seed`` and ``nthread`` are fixed in every parameter set; row and column subsampling draw from
the seeded generator, and the ``hist`` method sums histograms in a fixed order, so the same rows give the same
trees, run after run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import xgboost as xgb

N_CLASSES = 3

# Settings held fixed (not tuned): strong regularisation for noisy returns, and the hist method with 64 bins,
# which trains several times faster than exact splits at no measurable cost on features this noisy.
BASE_PARAMS: Mapping[str, Any] = {
    "objective": "multi:softprob", "num_class": N_CLASSES, "eval_metric": "mlogloss", "tree_method": "hist",
    "max_bin": 64, "subsample": 0.8, "colsample_bytree": 0.8, "min_child_weight": 20.0, "lambda": 1.0,
}


@dataclass(frozen=True, kw_only=True)
class Fit:
    """One trained booster and how it was trained."""

    booster: xgb.Booster
    params: dict[str, Any]
    rounds: int  # boosting rounds kept (the best iteration + 1 when early-stopped)
    score: float | None = None  # validation mlogloss at ``rounds``, when validated


def params_for(tuned: Mapping[str, Any], *, seed: int, nthread: int) -> dict[str, Any]:
    """Return the full parameter set: the fixed ones, the tuned ones, the seed and the thread count."""
    return {**BASE_PARAMS, **tuned, "seed": seed, "nthread": nthread}


def matrix(x: np.ndarray, y: np.ndarray | None = None, *, nthread: int, names: Sequence[str] | None = None
           ) -> xgb.DMatrix:
    """Return a ``DMatrix`` of float rows (NaN = missing) and optional class labels."""
    return xgb.DMatrix(x, label=y, missing=np.nan, nthread=nthread,
                       feature_names=list(names) if names is not None else None)


def fit(x: np.ndarray, y: np.ndarray, params: Mapping[str, Any], *, rounds: int,
        validation: tuple[np.ndarray, np.ndarray] | None = None, early_stopping: int | None = None) -> Fit:
    """Train a booster; with ``validation`` and ``early_stopping``, keep the rounds up to the best validation loss."""
    nthread = int(params["nthread"])
    train = matrix(x, y, nthread=nthread)
    evals = []
    if validation is not None:
        evals = [(matrix(validation[0], validation[1], nthread=nthread), "validation")]
    booster = xgb.train(dict(params), train, num_boost_round=rounds, evals=evals,
                        early_stopping_rounds=early_stopping if evals else None, verbose_eval=False)
    if not evals:
        return Fit(booster=booster, params=dict(params), rounds=rounds)
    kept = booster.best_iteration + 1 if early_stopping else rounds
    return Fit(booster=booster, params=dict(params), rounds=kept, score=float(booster.best_score))


def probabilities(booster: xgb.Booster, x: np.ndarray, rounds: int | None = None) -> np.ndarray:
    """Return ``(n, 3)`` probabilities of down, flat, up for float64 rows (the first ``rounds`` trees if given)."""
    rows = np.ascontiguousarray(np.atleast_2d(x), dtype="float64")
    if len(rows) == 0:
        return np.empty((0, N_CLASSES))
    kwargs: dict[str, Any] = {"iteration_range": (0, rounds)} if rounds is not None else {}
    out = booster.inplace_predict(rows, missing=np.nan, **kwargs)
    return np.asarray(out, dtype="float64").reshape(len(rows), N_CLASSES)


def versions() -> dict[str, str]:
    """Return the versions of the libraries that decide a model's numbers."""
    import platform

    import pandas as pd
    import talib

    return {"xgboost": xgb.__version__, "ta-lib": talib.__version__, "numpy": np.__version__,
            "pandas": pd.__version__, "python": platform.python_version()}
