"""Evaluation of signals: how often they fire, how often they are right, and what they earn after costs.

For each threshold and side (``buy``: ``p_up >= threshold`` and ``p_up > p_down``; ``sell``: the mirror), over
the rows whose label is known:

- ``n_signals``: rows that signal; ``precision``: the share of them whose label is the side's class (``UP`` for
  a buy: the return beat the round-trip cost); ``avg_return`` and ``median_return``: the return after the
  signal net of costs (``r - cost`` for a buy, ``-r - cost`` for a sell: a short, or what a seller avoided);
- ``avg_return_lo``/``_hi``, ``precision_lo``/``_hi``: 95% confidence intervals from a **circular moving-block
  bootstrap** of the whole evaluated series (Kuensch 1989), percentile intervals, block = twice the label
  horizon. Labels of neighbouring rows share ``h-1`` of their ``h`` bars and signals come in runs, so the rows
  are far from independent: an i.i.d. bootstrap (or ``std / sqrt(n)``) makes the interval several times too
  narrow (it covered the true mean 34% of the time on the test process of tests/unit/ml/test_evaluate.py).
  Resampling blocks of consecutive rows keeps that dependence inside each block; the overlap spans ``h`` rows
  and runs of signals about as much again, hence ``2h``: on that process (overlapping ``h``-bar returns,
  signal runs of about ``h`` bars) it covered 92-93% of the time, against 85-87% with blocks of ``h``;
- ``baseline_precision``, ``baseline_avg_return``: the same side taken on every row (for buys: the always-long
  baseline): the share of rows whose label is the side's class, and their average net return;
- ``random_avg_return``, ``random_hi``: the mean and 97.5th percentile of the average of ``n_signals`` rows drawn
  at random (seeded, ``n_random`` draws), and ``p_value``: the share of random draws that did at least as well
  (one-sided, with the +1 correction). Random rows are drawn singly, so this baseline ignores clustering: read
  it with the block-bootstrap interval, which does not.

``in-sample`` columns (``is_*``) give the same figures for the models scored on their own training rows, side by
side with the out-of-sample ones: the gap is what fitting alone produces.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from engine.ml.labels import DOWN, UP

SIDES = ("buy", "sell")
DEFAULT_THRESHOLDS = tuple(float(t) for t in np.round(np.arange(0.35, 0.701, 0.025), 3))
COLUMNS = ["side", "threshold", "n_signals", "precision", "precision_lo", "precision_hi", "avg_return",
           "avg_return_lo", "avg_return_hi", "median_return", "baseline_precision", "baseline_avg_return",
           "random_avg_return", "random_hi", "p_value"]


def signal_mask(p_up: np.ndarray, p_down: np.ndarray, threshold: float | None, side: str) -> np.ndarray:
    """Return where ``side`` signals at ``threshold`` (None: never)."""
    if threshold is None:
        return np.zeros(len(p_up), dtype=bool)
    if side == "buy":
        return (p_up >= threshold) & (p_up > p_down)
    return (p_down >= threshold) & (p_down > p_up)


def directions(p_up: np.ndarray, p_down: np.ndarray, threshold: float | None) -> np.ndarray:
    """Return +1 (buy), -1 (sell) or 0 for each row: the direction of the ``Signal`` the handler publishes."""
    return (signal_mask(p_up, p_down, threshold, "buy").astype(int)
            - signal_mask(p_up, p_down, threshold, "sell").astype(int))


def net_returns(returns: np.ndarray, cost: float, side: str) -> np.ndarray:
    """Return the return of taking ``side`` on each row, net of the round-trip cost."""
    return returns - cost if side == "buy" else -returns - cost


def hits(labels: np.ndarray, side: str) -> np.ndarray:
    return labels == (UP if side == "buy" else DOWN)


def block_bootstrap(values: np.ndarray, mask: np.ndarray, block: int, n_boot: int,
                    rng: np.random.Generator) -> np.ndarray:
    """Return ``n_boot`` bootstrap draws of ``mean(values[mask])`` by the circular moving-block bootstrap.

    Each draw glues ``round(n / block)`` blocks of ``block`` consecutive rows, starting anywhere (wrapping at
    the end), and takes the ratio of the summed ``values * mask`` to the summed ``mask``. Block sums come from
    cumulative sums, so a draw costs O(n / block). Draws with no signal are NaN.
    """
    n = len(values)
    if n == 0:
        return np.full(n_boot, np.nan)
    block = max(1, min(block, n))
    weighted = np.where(mask, values, 0.0)
    counts = mask.astype("float64")
    sums = _block_sums(weighted, block)
    sizes = _block_sums(counts, block)
    k = max(1, round(n / block))
    starts = rng.integers(0, n, size=(n_boot, k))
    total = sizes[starts].sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, sums[starts].sum(axis=1) / total, np.nan)


def _block_sums(x: np.ndarray, block: int) -> np.ndarray:
    """Return the sum of ``x[s:s+block]`` (circular) for every start ``s``."""
    wrapped = np.concatenate([[0.0], x, x[:block - 1]])
    cumulative = np.cumsum(wrapped)
    return cumulative[block:block + len(x)] - cumulative[:len(x)]


def random_averages(values: np.ndarray, counts: Sequence[int], n_random: int, rng: np.random.Generator,
                    chunk: int = 100) -> np.ndarray:
    """Return, for ``n_random`` seeded draws, the average of ``m`` rows drawn without replacement, per ``m``.

    Each draw is one random permutation; its first ``m`` rows are a uniform ``m``-subset, so one permutation
    serves every count. Shape ``(n_random, len(counts))``; done ``chunk`` draws at a time to bound memory.
    """
    n = len(values)
    if n == 0 or n_random == 0:
        return np.empty((0, len(counts)))
    at = np.clip(np.asarray(counts, dtype=np.int64), 1, n) - 1
    out = np.empty((n_random, len(counts)))
    for first in range(0, n_random, chunk):
        size = min(chunk, n_random - first)
        order = np.argsort(rng.random((size, n)), axis=1)
        out[first:first + size] = np.cumsum(values[order], axis=1)[:, at] / (at + 1)
    return out


def evaluate_signals(p_up: np.ndarray, p_down: np.ndarray, returns: np.ndarray, *, cost: float, horizon: int,
                     thresholds: Sequence[float] = DEFAULT_THRESHOLDS, sides: Sequence[str] = SIDES,
                     n_boot: int = 1000, n_random: int = 1000, seed: int = 0, block: int | None = None
                     ) -> pd.DataFrame:
    """Return the table of ``COLUMNS``: one row per side and threshold, over the rows whose return is known.

    Parameters
    ----------
    p_up, p_down
        The model's probabilities of ``UP`` and ``DOWN`` per row (time order).
    returns
        The forward return of each row (``labels.forward_returns``), NaN where unknown.
    cost
        Round-trip cost as a fraction; ``horizon`` the label horizon.
    block
        Rows per bootstrap block (default ``2 * horizon``).
    """
    from engine.ml.labels import classes

    known = np.isfinite(returns) & np.isfinite(p_up) & np.isfinite(p_down)
    p_up, p_down, returns = p_up[known], p_down[known], returns[known]
    labels = classes(returns, cost)
    rng = np.random.default_rng(seed)
    block = block or 2 * horizon
    rows: list[dict[str, Any]] = []
    for side in sides:
        net = net_returns(returns, cost, side)
        won = hits(labels, side).astype("float64")
        masks = [signal_mask(p_up, p_down, threshold, side) for threshold in thresholds]
        counts = [int(mask.sum()) for mask in masks]
        random_means = random_averages(net, counts, n_random, rng)
        for column, (threshold, mask, m) in enumerate(zip(thresholds, masks, counts, strict=True)):
            row: dict[str, Any] = {"side": side, "threshold": float(threshold), "n_signals": m,
                                   "baseline_precision": float(won.mean()) if len(won) else np.nan,
                                   "baseline_avg_return": float(net.mean()) if len(net) else np.nan}
            if m:
                boot_seed = rng.integers(2**32)
                precision_draws = block_bootstrap(won, mask, block, n_boot, np.random.default_rng(boot_seed))
                return_draws = block_bootstrap(net, mask, block, n_boot, np.random.default_rng(boot_seed))
                average = float(net[mask].mean())
                row.update(precision=float(won[mask].mean()), avg_return=average,
                           median_return=float(np.median(net[mask])),
                           precision_lo=_quantile(precision_draws, 0.025),
                           precision_hi=_quantile(precision_draws, 0.975),
                           avg_return_lo=_quantile(return_draws, 0.025), avg_return_hi=_quantile(return_draws, 0.975))
                if random_means.shape[0]:
                    draws = random_means[:, column]
                    row.update(random_avg_return=float(draws.mean()), random_hi=float(np.quantile(draws, 0.975)),
                               p_value=float((1 + np.sum(draws >= average)) / (1 + len(draws))))
            rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS).astype({"n_signals": "int64"})


def _quantile(draws: np.ndarray, q: float) -> float:
    finite = draws[np.isfinite(draws)]
    return float(np.quantile(finite, q)) if len(finite) else float("nan")


def side_by_side(out_of_sample: pd.DataFrame, in_sample: pd.DataFrame) -> pd.DataFrame:
    """Return the out-of-sample table with the in-sample ``n_signals``, ``precision`` and ``avg_return`` beside it."""
    renamed = in_sample[["side", "threshold", "n_signals", "precision", "avg_return"]].rename(
        columns={"n_signals": "is_n_signals", "precision": "is_precision", "avg_return": "is_avg_return"})
    return out_of_sample.merge(renamed, on=["side", "threshold"], how="left")


def traded_summary(p_up: np.ndarray, p_down: np.ndarray, returns: np.ndarray, thresholds: np.ndarray, *,
                   cost: float, horizon: int, n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Return the figures of the signals as traded: each row at the threshold its own model chose (NaN: none).

    ``thresholds`` holds, per row, the threshold of the model that predicted it.
    """
    known = np.isfinite(returns) & np.isfinite(p_up)
    p_up, p_down, returns, thresholds = p_up[known], p_down[known], returns[known], thresholds[known]
    from engine.ml.labels import classes

    labels = classes(returns, cost)
    out: dict[str, Any] = {"n_rows": int(known.sum())}
    with np.errstate(invalid="ignore"):
        active = np.isfinite(thresholds)
        limit = np.where(active, thresholds, np.inf)
    for side in SIDES:
        mine = p_up if side == "buy" else p_down
        other = p_down if side == "buy" else p_up
        mask = active & (mine >= limit) & (mine > other)
        net = net_returns(returns, cost, side)
        won = hits(labels, side).astype("float64")
        m = int(mask.sum())
        figures: dict[str, Any] = {"n_signals": m, "baseline_avg_return": float(net.mean()) if len(net) else None,
                                   "baseline_precision": float(won.mean()) if len(won) else None}
        if m:
            draws = block_bootstrap(net, mask, 2 * horizon, n_boot, np.random.default_rng(seed))
            figures.update(precision=float(won[mask].mean()), avg_return=float(net[mask].mean()),
                           median_return=float(np.median(net[mask])), avg_return_lo=_quantile(draws, 0.025),
                           avg_return_hi=_quantile(draws, 0.975))
        out[side] = figures
    return out
