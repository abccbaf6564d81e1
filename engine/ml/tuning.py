"""Choices made inside one training window only: hyperparameters by time-series CV, then the decision threshold.

Given the rows of a training window (time order), the window is cut into ``inner_folds + 1`` consecutive
blocks; inner fold ``k`` trains on the blocks before block ``k`` and validates on block ``k``, with the same
purge and embargo as the outer walk-forward (an inner training row must have its label known before the
validation block starts, plus the embargo). Every grid point is trained on every inner fold with early stopping
on that fold's validation block; the grid point with the lowest mean validation log-loss wins, and the final
model of the window gets the mean of its best round counts.

The thresholds are chosen from the winner's out-of-fold predictions (the validation blocks, each predicted by a
model that never saw it), one per side: the one that maximises the average net return of that side's signals
among thresholds giving at least ``min_signals`` of them (buys: ``threshold``, sells: ``sell_threshold``). If
none has a positive average, that side's threshold is None and the model does not take it: that is a finding,
not a failure. Nothing here reads a row outside the training window.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.ml.evaluate import net_returns, signal_mask
from engine.ml.model import fit, params_for, probabilities


@dataclass(frozen=True, kw_only=True)
class Tuned:
    """What the inner CV chose for one training window."""

    params: dict[str, Any]  # the tuned values only (max_depth, eta)
    rounds: int
    score: float  # mean inner validation log-loss of the winner
    threshold: float | None
    sell_threshold: float | None
    oof_rows: np.ndarray  # positions (in the window's rows) of the out-of-fold predictions
    oof_probabilities: np.ndarray  # (n, 3)
    scores: dict[str, float]  # every grid point's mean log-loss, by "max_depth=2,eta=0.05"


def inner_splits(rows: np.ndarray, folds: int, gap: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Return ``(train, validation)`` positions into ``rows`` for each inner fold, purged by ``gap`` bars.

    ``rows`` are bar indices in time order; an inner training row ``i`` is kept only when
    ``i < first validation bar - gap``, with ``gap = horizon + embargo`` (its label ends before validation).
    """
    blocks = np.array_split(np.arange(len(rows)), folds + 1)
    splits = []
    for k in range(1, folds + 1):
        validation = blocks[k]
        if len(validation) == 0:
            continue
        first = rows[validation[0]]
        train = np.concatenate(blocks[:k])
        train = train[rows[train] < first - gap]
        if len(train):
            splits.append((train, validation))
    return splits


def choose_threshold(p_up: np.ndarray, p_down: np.ndarray, returns: np.ndarray, *, cost: float,
                     thresholds: Sequence[float], min_signals: int, side: str = "buy") -> float | None:
    """Return the threshold maximising the average net return of ``side``'s signals with at least
    ``min_signals`` (None: no threshold has enough signals with a positive average)."""
    best: tuple[float, float] | None = None
    net = net_returns(returns, cost, side)
    for threshold in thresholds:
        mask = signal_mask(p_up, p_down, threshold, side)
        if mask.sum() < min_signals:
            continue
        average = float(net[mask].mean())
        if best is None or average > best[0]:
            best = (average, float(threshold))
    if best is None or best[0] <= 0:
        return None
    return best[1]


def tune(x: np.ndarray, y: np.ndarray, returns: np.ndarray, rows: np.ndarray, *, grid: Sequence[Mapping[str, Any]],
         folds: int, gap: int, max_rounds: int, early_stopping: int, seed: int, nthread: int, cost: float,
         thresholds: Sequence[float], min_signals: int, step: Callable[[int], object] | None = None) -> Tuned:
    """Tune on the training window ``x[rows]`` (labels ``y``, forward returns ``returns``; all indexed by bar).

    ``step(1)`` is called after each model trained (progress bars).
    """
    splits = inner_splits(rows, folds, gap)
    if not splits:
        raise ValueError(f"training window of {len(rows)} rows is too short for {folds} purged inner folds")
    results: list[tuple[float, dict[str, Any], int, list[np.ndarray]]] = []
    for point in grid:
        params = params_for(point, seed=seed, nthread=nthread)
        losses: list[float] = []
        rounds: list[int] = []
        predictions: list[np.ndarray] = []
        for train, validation in splits:
            tr, va = rows[train], rows[validation]
            model = fit(x[tr], y[tr], params, rounds=max_rounds, validation=(x[va], y[va]),
                        early_stopping=early_stopping)
            losses.append(model.score if model.score is not None else np.inf)
            rounds.append(model.rounds)
            predictions.append(probabilities(model.booster, x[va], model.rounds))
            if step is not None:
                step(1)
        results.append((float(np.mean(losses)), dict(point), round(float(np.mean(rounds))), predictions))
    best = min(range(len(results)), key=lambda i: results[i][0])  # first of equals: grid order breaks ties
    score, params, kept, predictions = results[best]
    oof_rows = np.concatenate([validation for _, validation in splits])
    oof = np.vstack(predictions)
    bars = rows[oof_rows]
    threshold, sell_threshold = (
        choose_threshold(oof[:, 2], oof[:, 0], returns[bars], cost=cost, thresholds=thresholds,
                         min_signals=min_signals, side=side) for side in ("buy", "sell"))
    scores = {",".join(f"{k}={v}" for k, v in point.items()): loss for loss, point, _, _ in results}
    return Tuned(params=params, rounds=max(1, kept), score=score, threshold=threshold,
                 sell_threshold=sell_threshold, oof_rows=oof_rows,
                 oof_probabilities=oof, scores=scores)
