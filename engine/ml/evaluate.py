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
- ``n_independent``: how many of the signals are independent outcomes (``independent_count``): labels span
  ``h`` bars, so two signals fewer than ``h`` rows apart share most of their outcome. With fewer than
  ``MIN_INDEPENDENT`` of them the intervals are not given (NaN, shown "too few"): a bootstrap of one to three
  outcomes gives a zero-width interval that claims a certainty the data cannot give;
- ``baseline_precision``, ``baseline_avg_return``: the same side taken on every row (for buys: the always-long
  baseline): the share of rows whose label is the side's class, and their average net return;
- ``random_avg_return``, ``random_hi``, ``p_value``: a **circular-shift (block-permutation) test**
  (``shift_test``). The signal mask is shifted circularly by every offset over the evaluated series and the
  mean net return of the shifted rows is taken: ``random_*`` are the mean and 97.5th percentile of those means,
  ``p_value`` the share of shifts (the unshifted mask included) that did at least as well. A shift keeps the
  mask's runs and spacing and the returns' own dependence; it only breaks the timing between the two, which is
  the null hypothesis ("the signals' timing carries no information"). Drawing single rows at random instead
  ignores the clustering and made a mask covering 842 of 845 rows "significant" (p = 0.010) for a 0.05%
  difference; a mask covering every row gives p = 1 here;
- ``p_adjusted``: ``p_value`` adjusted by **Holm's step-down** method over every side and threshold of the table
  (``holm``). Holm controls the family-wise error rate (the chance of any false discovery among the ~30 tests)
  under any dependence between the tests, which matters here: neighbouring thresholds share most of their
  signals, so the tests are strongly correlated and Benjamini-Hochberg's independence (PRDS) condition would be
  an assumption; Holm is conservative with correlated tests, and a table read for "is any row real" should err
  that way.

``in-sample`` columns (``is_*``) give the same figures for the models scored on their own training rows, side by
side with the out-of-sample ones (each row once: ``engine.ml.walkforward``): the gap is what fitting alone
produces.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from engine.ml.labels import DOWN, UP

SIDES = ("buy", "sell")
DEFAULT_THRESHOLDS = tuple(float(t) for t in np.round(np.arange(0.35, 0.701, 0.025), 3))
MIN_INDEPENDENT = 10
"""Fewest independent outcomes for an interval: below it a block bootstrap has next to nothing to resample
(with 10 outcomes one more hit moves the precision by 10 points) and its intervals are too narrow to mean much."""
COLUMNS = ["side", "threshold", "n_signals", "n_independent", "precision", "precision_lo", "precision_hi", "avg_return",
           "avg_return_lo", "avg_return_hi", "median_return", "baseline_precision", "baseline_avg_return",
           "random_avg_return", "random_hi", "p_value", "p_adjusted"]


def signal_mask(p_up: np.ndarray, p_down: np.ndarray, threshold: float | None, side: str) -> np.ndarray:
    """Return where ``side`` signals at ``threshold`` (None: never)."""
    if threshold is None:
        return np.zeros(len(p_up), dtype=bool)
    if side == "buy":
        return (p_up >= threshold) & (p_up > p_down)
    return (p_down >= threshold) & (p_down > p_up)


def directions(p_up: np.ndarray, p_down: np.ndarray, threshold: float | None,
               sell_threshold: float | None) -> np.ndarray:
    """Return +1 (buy), -1 (sell) or 0 for each row: the direction of the ``Signal`` the handler publishes.

    Buys use ``threshold``, sells ``sell_threshold``: each side's own, chosen on the training data.
    """
    return (signal_mask(p_up, p_down, threshold, "buy").astype(int)
            - signal_mask(p_up, p_down, sell_threshold, "sell").astype(int))


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


def independent_count(mask: np.ndarray, horizon: int) -> int:
    """Return how many signals of ``mask`` are independent outcomes: counted greedily in time order, each counted
    signal starting at least ``horizon`` rows after the previous counted one.

    A label spans ``horizon`` bars, so signals closer than that share part of the same price path; the greedy
    count is the largest set of signals whose label windows do not overlap. Rows are positions in the evaluated
    series (consecutive bars).
    """
    count, next_free = 0, -1
    for position in np.flatnonzero(mask):
        if position >= next_free:
            count += 1
            next_free = int(position) + max(1, horizon)
    return count


def shift_means(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Return ``mean(values[roll(mask, k)])`` for every circular shift ``k`` in ``0..n-1`` (NaN without signal).

    All shifts at once by a circular cross-correlation through the FFT: O(n log n).
    """
    n, m = len(values), int(mask.sum())
    if n == 0 or m == 0:
        return np.full(n, np.nan)
    weights = mask.astype("float64")
    # sum_i values[i] * mask[i - k] for each k
    sums = np.fft.irfft(np.fft.rfft(values) * np.conj(np.fft.rfft(weights)), n)
    return sums / m


def shift_test(values: np.ndarray, mask: np.ndarray) -> tuple[float, float, float]:
    """Return ``(mean, 97.5th percentile, p-value)`` of the circular-shift null of ``mean(values[mask])``.

    The p-value is the share of the ``n`` shifts (the identity included, so it is never below ``1 / n``) whose
    mean is at least the observed one, ties counted (to a relative 1e-9, for the FFT's rounding): exact under
    the null that every shift of the mask was as likely as the one observed. One-sided, toward a larger mean.
    """
    means = shift_means(values, mask)
    if not len(means) or not np.isfinite(means).all():
        return float("nan"), float("nan"), float("nan")
    observed = float(values[mask].mean())
    tolerance = 1e-9 * max(1.0, float(np.abs(values).max()))
    p_value = float(np.mean(means >= observed - tolerance))
    return float(means.mean()), float(np.quantile(means, 0.975)), p_value


def holm(p_values: np.ndarray) -> np.ndarray:
    """Return Holm's step-down adjusted p-values (NaN entries stay NaN and are not counted as tests).

    Sorted ascending, the ``j``-th smallest (from 1) of ``m`` tests becomes ``max over i <= j of
    min(1, (m - i + 1) p_(i))``: rejecting where the adjusted value is at most ``alpha`` keeps the family-wise
    error rate at ``alpha`` whatever the dependence between the tests.
    """
    p = np.asarray(p_values, dtype="float64")
    out = np.full(len(p), np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    m = len(finite)
    if not m:
        return out
    order = finite[np.argsort(p[finite], kind="stable")]
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(scaled)
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
    n_boot
        Bootstrap draws per interval (0: no intervals).
    n_random
        0 skips the shift test (``random_*``, ``p_value`` NaN); any other value runs it over every circular
        shift, which is exact and needs no draws.
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
        for threshold in thresholds:
            mask = signal_mask(p_up, p_down, threshold, side)
            m = int(mask.sum())
            independent = independent_count(mask, horizon)
            row: dict[str, Any] = {"side": side, "threshold": float(threshold), "n_signals": m,
                                   "n_independent": independent,
                                   "baseline_precision": float(won.mean()) if len(won) else np.nan,
                                   "baseline_avg_return": float(net.mean()) if len(net) else np.nan}
            if m:
                boot_seed = rng.integers(2**32)  # drawn for every row with signals: seeds do not depend on n_boot
                row.update(precision=float(won[mask].mean()), avg_return=float(net[mask].mean()),
                           median_return=float(np.median(net[mask])))
                if n_boot and independent >= MIN_INDEPENDENT:
                    precision_draws = block_bootstrap(won, mask, block, n_boot, np.random.default_rng(boot_seed))
                    return_draws = block_bootstrap(net, mask, block, n_boot, np.random.default_rng(boot_seed))
                    row.update(precision_lo=_quantile(precision_draws, 0.025),
                               precision_hi=_quantile(precision_draws, 0.975),
                               avg_return_lo=_quantile(return_draws, 0.025),
                               avg_return_hi=_quantile(return_draws, 0.975))
                if n_random:
                    shifted, shifted_hi, p_value = shift_test(net, mask)
                    row.update(random_avg_return=shifted, random_hi=shifted_hi, p_value=p_value)
            rows.append(row)
    table = pd.DataFrame(rows, columns=COLUMNS).astype({"n_signals": "int64", "n_independent": "int64"})
    table["p_adjusted"] = holm(table["p_value"].to_numpy(dtype="float64"))
    return table


def _quantile(draws: np.ndarray, q: float) -> float:
    finite = draws[np.isfinite(draws)]
    return float(np.quantile(finite, q)) if len(finite) else float("nan")


def side_by_side(out_of_sample: pd.DataFrame, in_sample: pd.DataFrame) -> pd.DataFrame:
    """Return the out-of-sample table with the in-sample ``n_signals``, ``precision`` and ``avg_return`` beside it."""
    renamed = in_sample[["side", "threshold", "n_signals", "precision", "avg_return"]].rename(
        columns={"n_signals": "is_n_signals", "precision": "is_precision", "avg_return": "is_avg_return"})
    return out_of_sample.merge(renamed, on=["side", "threshold"], how="left")


def traded_summary(p_up: np.ndarray, p_down: np.ndarray, returns: np.ndarray, thresholds: np.ndarray,
                   sell_thresholds: np.ndarray, *, cost: float, horizon: int, n_boot: int = 1000, seed: int = 0
                   ) -> dict[str, Any]:
    """Return the figures of the signals as traded: each row at the thresholds its own model chose (NaN: none).

    ``thresholds`` and ``sell_thresholds`` hold, per row, the buy and sell thresholds of the model that
    predicted it.
    """
    known = np.isfinite(returns) & np.isfinite(p_up)
    p_up, p_down, returns = p_up[known], p_down[known], returns[known]
    from engine.ml.labels import classes

    labels = classes(returns, cost)
    out: dict[str, Any] = {"n_rows": int(known.sum())}
    for side, limits in zip(SIDES, (thresholds[known], sell_thresholds[known]), strict=True):
        with np.errstate(invalid="ignore"):
            active = np.isfinite(limits)
            limit = np.where(active, limits, np.inf)
        mine = p_up if side == "buy" else p_down
        other = p_down if side == "buy" else p_up
        mask = active & (mine >= limit) & (mine > other)
        net = net_returns(returns, cost, side)
        won = hits(labels, side).astype("float64")
        m = int(mask.sum())
        independent = independent_count(mask, horizon)
        figures: dict[str, Any] = {"n_signals": m, "n_independent": independent,
                                   "baseline_avg_return": float(net.mean()) if len(net) else None,
                                   "baseline_precision": float(won.mean()) if len(won) else None}
        if m:
            figures.update(precision=float(won[mask].mean()), avg_return=float(net[mask].mean()),
                           median_return=float(np.median(net[mask])))
            if independent >= MIN_INDEPENDENT:
                draws = block_bootstrap(net, mask, 2 * horizon, n_boot, np.random.default_rng(seed))
                figures.update(avg_return_lo=_quantile(draws, 0.025), avg_return_hi=_quantile(draws, 0.975))
        out[side] = figures
    return out
