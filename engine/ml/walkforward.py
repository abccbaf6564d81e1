"""Walk-forward training: every prediction is made by a model trained only on what was known before it.

The bars after a first training window are cut into test blocks of ``retrain_every`` bars. For the block
starting at bar ``s``, a model is trained on the rows ``[lo, s - h - embargo)``:

- **purge**: row ``i``'s label is the return to the open of bar ``i + 1 + h`` (``engine.ml.labels``), so only rows
  with ``i + 1 + h <= s`` have a label known at ``s``; the last ``h`` rows before the block are dropped. Without
  this, the training labels of the last rows would be made of prices inside the test block;
- **embargo**: ``embargo`` more rows are dropped, so that features and labels that move slowly (a 168-bar
  volatility) cannot carry the end of the training window into the start of the test block;
- **window**: ``lo`` is the first ready row (expanding) or ``s - h - embargo - window`` (rolling);
- hyperparameters and the decision thresholds (buy and sell) are chosen inside the training rows only
  (``engine.ml.tuning``).

The block is then predicted by that model and nothing else. The schedule depends on bar positions only (the
first ready row, ``min_train``, ``retrain_every``), never on the data after a bar, so changing the data after
bar ``t`` cannot change any prediction up to ``t`` (tests/unit/ml/test_leakage.py). A final model is trained on
every row whose label is known at the last bar: the model for bars after the data (live, ``mlct recommend``).

``purge=False`` exists to show what the purge is for (tests/unit/ml/test_leakage.py); do not use it otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb

from engine.errors import ConfigError
from engine.ml.evaluate import DEFAULT_THRESHOLDS, directions
from engine.ml.labels import LabelSpec
from engine.ml.model import fit, params_for, probabilities
from engine.ml.tuning import tune

DEFAULT_GRID: tuple[dict[str, Any], ...] = tuple({"max_depth": d, "eta": e} for d in (2, 4) for e in (0.05, 0.15))


@dataclass(frozen=True, kw_only=True)
class WalkForwardConfig:
    """Settings of a walk-forward run; each is saved with the model.

    Parameters
    ----------
    retrain_every
        Bars per test block: a new model every ``retrain_every`` bars.
    window
        Training rows per model (rolling window); None: every row since the first ready one (expanding).
    min_train
        Training rows of the first model; the first test bar is ``first ready row + min_train + h + embargo``.
    embargo
        Rows dropped between the purged training rows and the test block.
    purge
        Drop the rows whose label is unknown at the test block's start (only for demonstrations: keep True).
    inner_folds, grid, max_rounds, early_stopping
        Time-series CV inside each training window: the grid of tuned parameters (``max_depth``, ``eta``...),
        the cap on boosting rounds and the early-stopping patience on each inner validation block.
    thresholds, min_signals
        Candidate thresholds on ``p_up`` (buys) and ``p_down`` (sells), and the fewest signals of that side a
        threshold must give on the inner out-of-fold predictions to be chosen (each side chooses its own).
    seed, nthread
        Fixed for reproducibility (the same data and settings give the same models).
    final
        Also train the final model on every row labelled by the last bar.
    """

    retrain_every: int = 720
    window: int | None = None
    min_train: int = 6000
    embargo: int = 24
    purge: bool = True
    inner_folds: int = 3
    grid: tuple[Mapping[str, Any], ...] = DEFAULT_GRID
    max_rounds: int = 300
    early_stopping: int = 20
    thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS
    min_signals: int = 200
    seed: int = 7
    nthread: int = 2
    final: bool = True

    def __post_init__(self) -> None:
        for name in ("retrain_every", "min_train", "inner_folds", "max_rounds", "early_stopping", "nthread"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"walk-forward {name} must be a positive integer, got {value!r}")
        if self.window is not None and (not isinstance(self.window, int) or self.window < 1):
            raise ConfigError(f"walk-forward window must be a positive number of bars or None, got {self.window!r}")
        if not isinstance(self.embargo, int) or self.embargo < 0:
            raise ConfigError(f"walk-forward embargo must be >= 0 bars, got {self.embargo!r}")
        if not self.grid:
            raise ConfigError("walk-forward grid must hold at least one parameter set")

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["grid"] = [dict(point) for point in self.grid]
        out["thresholds"] = list(self.thresholds)
        return out


@dataclass(kw_only=True)
class FoldModel:
    """One trained model and the bars it may predict: ``[valid_from, valid_to)`` in bar-close nanoseconds."""

    booster: xgb.Booster
    params: dict[str, Any]
    rounds: int
    threshold: float | None  # buys
    train_rows: tuple[int, int]  # [first, last] bar positions trained on
    n_train: int
    valid_from: int
    valid_to: int | None = None
    test_rows: tuple[int, int] | None = None  # [first, end) bar positions predicted out of sample
    score: float | None = None
    scores: dict[str, float] = field(default_factory=dict)
    train_period: tuple[str, str] = ("", "")  # open time of the first row, close time of the last label's bar
    sell_threshold: float | None = None  # sells: chosen on the training data like ``threshold``

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Return ``(n, 3)`` probabilities of down, flat, up."""
        return probabilities(self.booster, x)


@dataclass(kw_only=True)
class WalkForwardResult:
    """The models of a walk-forward and their predictions."""

    folds: list[FoldModel]
    predictions: pd.DataFrame  # out-of-sample rows: p_down p_flat p_up ret label fold threshold direction
    in_sample: pd.DataFrame  # each training row once, by the first fold's model trained on it: as predictions
    final: FoldModel | None
    config: WalkForwardConfig
    label: LabelSpec
    feature_names: list[str] = field(default_factory=list)

    def predict(self, features: pd.DataFrame) -> pd.DataFrame:
        """Score the out-of-sample rows again from ``features`` (same index), each by its own fold's model.

        The frame is what another path computed (the live features, say); with the walk-forward's own features
        this returns ``predictions``' probabilities exactly.
        """
        x = features[self.feature_names].to_numpy(dtype="float64")
        out = np.full((len(features), 3), np.nan)
        for number, fold in enumerate(self.folds):
            rows = np.flatnonzero(self.predictions["fold"].to_numpy() == number)
            positions = features.index.get_indexer(self.predictions.index[rows])
            out[positions] = fold.predict(x[positions])
        return pd.DataFrame(out, index=features.index, columns=["p_down", "p_flat", "p_up"]).loc[
            self.predictions.index]


def plan(n: int, ready_from: int, horizon: int, config: WalkForwardConfig) -> list[tuple[int, int, int, int]]:
    """Return ``(train_lo, train_hi, test_lo, test_hi)`` bar positions of each fold (half-open ranges)."""
    first = ready_from + config.min_train + horizon + config.embargo
    gap = horizon + config.embargo if config.purge else 0
    folds = []
    for start in range(first, n, config.retrain_every):
        hi = start - gap
        lo = ready_from if config.window is None else max(ready_from, hi - config.window)
        folds.append((lo, hi, start, min(start + config.retrain_every, n)))
    return folds


def walk_forward(features: pd.DataFrame, labels: pd.DataFrame, label: LabelSpec, config: WalkForwardConfig, *,
                 interval_ns: int, step: Callable[[int], object] | None = None) -> WalkForwardResult:
    """Train and predict walk-forward.

    Parameters
    ----------
    features
        ``FeatureSet.batch`` output: feature columns and ``ready``, indexed by bar open time.
    labels
        ``engine.ml.labels.labels`` output on the same index (``ret``, ``label``).
    interval_ns
        The bar interval: a bar at open time ``o`` closes, and is predicted, at ``o + interval_ns``.
    step
        Called with 1 after each model trained (progress).
    """
    names = [c for c in features.columns if c != "ready"]
    x = features[names].to_numpy(dtype="float64")
    ready = features["ready"].to_numpy(dtype=bool)
    returns = labels["ret"].to_numpy(dtype="float64")
    classes = labels["label"].to_numpy(dtype="float64")
    close_ts = pd.DatetimeIndex(features.index).as_unit("ns").asi8 + np.int64(interval_ns)
    n = len(features)
    if not ready.any():
        raise ConfigError(f"no bar has every feature ready: {n} bars are fewer than the feature set's warm-up")
    ready_from = int(np.argmax(ready))
    schedule = plan(n, ready_from, label.horizon, config)
    if not schedule:
        needed = ready_from + config.min_train + label.horizon + config.embargo + 1
        raise ConfigError(f"walk-forward needs more than {needed} bars (warm-up {ready_from}, min_train "
                          f"{config.min_train}, horizon {label.horizon}, embargo {config.embargo}); got {n}")
    folds: list[FoldModel] = []
    oos: list[pd.DataFrame] = []
    ins: list[pd.DataFrame] = []
    scored = np.zeros(n, dtype=bool)  # rows already scored in sample
    for number, (lo, hi, start, end) in enumerate(schedule):
        rows = _trainable(lo, hi, ready, returns)
        model = _train(x, classes, returns, rows, label, config, step)
        model.valid_from, model.valid_to = int(close_ts[start]), int(close_ts[end - 1]) + 1
        model.test_rows = (start, end)
        model.train_period = _period(features.index, close_ts, rows, label.horizon)
        folds.append(model)
        test = np.arange(start, end)[ready[start:end]]
        oos.append(_frame(features.index, test, model.predict(x[test]), returns, classes, number, model))
        # in sample, each row once: scored by the first model that trained on it, so that the expanding windows
        # do not count the early rows once per fold (up to ten times); later models' fit on it is not shown
        fresh = rows[~scored[rows]]
        scored[fresh] = True
        if len(fresh):
            ins.append(_frame(features.index, fresh, model.predict(x[fresh]), returns, classes, number, model))
    final = None
    if config.final:
        lo = ready_from if config.window is None else max(ready_from, n - label.horizon - 1 - config.window)
        rows = _trainable(lo, n, ready, returns)
        final = _train(x, classes, returns, rows, label, config, step)
        final.valid_from = int(close_ts[-1]) + 1
        final.train_period = _period(features.index, close_ts, rows, label.horizon)
    return WalkForwardResult(folds=folds, predictions=pd.concat(oos), in_sample=pd.concat(ins), final=final,
                             config=config, label=label, feature_names=names)


def _trainable(lo: int, hi: int, ready: np.ndarray, returns: np.ndarray) -> np.ndarray:
    """Return the ready rows of ``[lo, hi)`` whose label is known (within the data)."""
    rows = np.arange(lo, hi)
    return rows[ready[lo:hi] & np.isfinite(returns[lo:hi])]


def _train(x: np.ndarray, classes: np.ndarray, returns: np.ndarray, rows: np.ndarray, label: LabelSpec,
           config: WalkForwardConfig, step: Callable[[int], object] | None) -> FoldModel:
    """Tune on ``rows``, then train the window's model on all of them with the tuned settings."""
    if len(rows) < 2 * (config.inner_folds + 1):
        raise ConfigError(f"a training window holds only {len(rows)} labelled rows")
    tuned = tune(x, classes, returns, rows, grid=config.grid, folds=config.inner_folds,
                 gap=label.horizon + config.embargo, max_rounds=config.max_rounds,
                 early_stopping=config.early_stopping, seed=config.seed, nthread=config.nthread, cost=label.cost,
                 thresholds=config.thresholds, min_signals=config.min_signals, step=step)
    params = params_for(tuned.params, seed=config.seed, nthread=config.nthread)
    model = fit(x[rows], classes[rows], params, rounds=tuned.rounds)
    if step is not None:
        step(1)
    return FoldModel(booster=model.booster, params=tuned.params, rounds=tuned.rounds, threshold=tuned.threshold,
                     sell_threshold=tuned.sell_threshold,
                     train_rows=(int(rows[0]), int(rows[-1])), n_train=len(rows), valid_from=0, score=tuned.score,
                     scores=tuned.scores)


def _period(index: pd.Index, close_ts: np.ndarray, rows: np.ndarray, horizon: int) -> tuple[str, str]:
    """Return the training data's span: the first row's open and the close of the bar its last label needs."""
    last = min(int(rows[-1]) + horizon, len(close_ts) - 1)  # bar r+h closes when bar r+1+h opens
    return (pd.Timestamp(index[rows[0]]).isoformat(), pd.Timestamp(int(close_ts[last]), tz="UTC").isoformat())


def _frame(index: pd.Index, rows: np.ndarray, probs: np.ndarray, returns: np.ndarray, classes: np.ndarray,
           fold: int, model: FoldModel) -> pd.DataFrame:
    out = pd.DataFrame(probs, index=index[rows], columns=["p_down", "p_flat", "p_up"])
    out["ret"] = returns[rows]
    out["label"] = classes[rows]
    out["fold"] = fold
    out["threshold"] = np.nan if model.threshold is None else model.threshold
    out["sell_threshold"] = np.nan if model.sell_threshold is None else model.sell_threshold
    out["direction"] = directions(out["p_up"].to_numpy(), out["p_down"].to_numpy(), model.threshold,
                                  model.sell_threshold)
    return out


def fold_counts(folds: Sequence[FoldModel], side: str = "buy") -> dict[str, int]:
    """Return how many folds chose each threshold of ``side`` (``"none"``: did not take that side)."""
    counts: dict[str, int] = {}
    for fold in folds:
        threshold = fold.threshold if side == "buy" else fold.sell_threshold
        key = "none" if threshold is None else f"{threshold:g}"
        counts[key] = counts.get(key, 0) + 1
    return counts
