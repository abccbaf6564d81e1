"""Evaluation maths on cases with known answers: counts, precision, returns, baselines, interval coverage."""

from __future__ import annotations

import numpy as np
import pytest

from engine.ml.evaluate import (
    MIN_INDEPENDENT,
    block_bootstrap,
    directions,
    evaluate_signals,
    holm,
    independent_count,
    shift_means,
    signal_mask,
    traded_summary,
)


def test_hand_made_table() -> None:
    p_up = np.array([0.7, 0.6, 0.2, 0.55, 0.1, 0.65])
    p_down = np.array([0.1, 0.3, 0.7, 0.4, 0.6, 0.2])
    returns = np.array([0.010, -0.004, -0.020, 0.001, 0.0005, np.nan])  # the last outcome is not known yet
    table = evaluate_signals(p_up, p_down, returns, cost=0.002, horizon=1, thresholds=[0.5, 0.65],
                             n_boot=50, n_random=50)
    buy = table[table["side"] == "buy"].set_index("threshold")
    # at 0.5: rows 0, 1, 3 -> net 0.008, -0.006, -0.001; only row 0 beat the cost
    assert buy.loc[0.5, "n_signals"] == 3
    assert buy.loc[0.5, "precision"] == pytest.approx(1 / 3)
    assert buy.loc[0.5, "avg_return"] == pytest.approx((0.008 - 0.006 - 0.001) / 3)
    assert buy.loc[0.5, "median_return"] == pytest.approx(-0.001)
    assert buy.loc[0.65, "n_signals"] == 1 and buy.loc[0.65, "precision"] == 1.0
    assert buy.loc[0.5, "baseline_avg_return"] == pytest.approx(np.mean([0.01, -0.004, -0.02, 0.001, 0.0005]) - 0.002)
    sell = table[table["side"] == "sell"].set_index("threshold")
    # at 0.5: rows 2, 4 -> short net 0.018, -0.0025; row 2 fell beyond the cost
    assert sell.loc[0.5, "n_signals"] == 2 and sell.loc[0.5, "precision"] == 0.5
    assert sell.loc[0.5, "avg_return"] == pytest.approx((0.018 - 0.0025) / 2)
    assert directions(p_up, p_down, 0.5, 0.5).tolist() == [1, 1, -1, 1, -1, 1]
    assert directions(p_up, p_down, 0.5, 0.65).tolist() == [1, 1, -1, 1, 0, 1]  # each side its own threshold
    assert directions(p_up, p_down, None, 0.5).tolist() == [0, 0, -1, 0, -1, 0]
    assert not signal_mask(p_up, p_down, None, "buy").any()


def test_intervals_bracket_the_estimate_and_no_signal_gives_nan() -> None:
    rng = np.random.default_rng(0)
    p_up = rng.uniform(0.2, 0.8, 2000)
    table = evaluate_signals(p_up, 1 - p_up - 0.1, rng.normal(0.001, 0.01, 2000), cost=0.0, horizon=12,
                             thresholds=[0.5, 0.9], n_boot=300, n_random=300)
    row = table.iloc[0]
    assert row["avg_return_lo"] < row["avg_return"] < row["avg_return_hi"]
    assert row["precision_lo"] < row["precision"] < row["precision_hi"]
    assert row["random_avg_return"] == pytest.approx(row["baseline_avg_return"], abs=5e-4)
    empty = table.iloc[1]
    assert empty["n_signals"] == 0 and np.isnan(empty["precision"]) and np.isnan(empty["avg_return_lo"])


def test_shift_means_are_the_means_of_the_circularly_shifted_masks() -> None:
    rng = np.random.default_rng(1)
    values, mask = rng.normal(size=37), rng.random(37) < 0.3
    expected = [values[np.roll(mask, k)].mean() for k in range(37)]
    assert np.allclose(shift_means(values, mask), expected)


def test_a_perfect_signal_has_the_smallest_p_value_the_shifts_allow() -> None:
    rng = np.random.default_rng(2)
    returns = rng.normal(0, 0.01, 3000)
    p_up = np.where(returns > 0.005, 0.9, 0.3)
    table = evaluate_signals(p_up, np.full(3000, 0.2), returns, cost=0.0, horizon=1, thresholds=[0.5],
                             sides=["buy"], n_boot=100, n_random=500)
    assert table["precision"].iloc[0] == 1.0 and table["p_value"].iloc[0] == pytest.approx(1 / 3000)


def test_the_p_value_of_a_mask_covering_every_row_is_not_small() -> None:
    """The case of issue 16: 842 of 845 rows signal, the three that do not are neighbours in a weak patch.

    Random single rows gave p = 0.010 there: three neighbours' overlapping returns move together, so leaving
    out three of them moves the mean far more often than leaving out three rows drawn singly. The shifts keep
    the three together: p is the share of the 845 runs of three neighbours at least as weak, computed here
    directly."""
    rng = np.random.default_rng(3)
    n, horizon = 845, 24
    returns = overlapping_process(rng, n, horizon, 0.0)
    every = evaluate_signals(np.full(n, 0.9), np.full(n, 0.05), returns, cost=0.002, horizon=horizon,
                             thresholds=[0.5], sides=["buy"], n_boot=50)
    assert every["p_value"].iloc[0] == pytest.approx(1.0)  # every shift of an all-rows mask is the same mask
    runs = (returns + np.roll(returns, -1) + np.roll(returns, -2)) / 3  # the run of three starting at each row
    start = int(np.argsort(runs[: n - 2])[n // 10])  # a run weaker than 90% of the others
    p_up = np.full(n, 0.9)
    p_up[start:start + 3] = 0.3
    nearly = evaluate_signals(p_up, np.full(n, 0.05), returns, cost=0.002, horizon=horizon, thresholds=[0.5],
                              sides=["buy"], n_boot=50)
    expected = np.mean(runs <= runs[start] + 1e-15)  # leaving out a weaker run gives a mean at least as high
    assert nearly["n_signals"].iloc[0] == 842
    assert nearly["p_value"].iloc[0] == pytest.approx(expected, abs=2 / n) and nearly["p_value"].iloc[0] > 0.08
    singly = np.array([np.delete(returns, rng.choice(n, 3, replace=False)).mean() for _ in range(2000)])
    assert np.mean(singly >= np.delete(returns, range(start, start + 3)).mean()) < 0.05  # the old, wrong answer


def test_the_p_value_of_a_planted_edge_with_clustered_signals_is_small() -> None:
    """Signals in runs, as a model's are, on overlapping returns; during signal runs the drift is positive."""
    rng = np.random.default_rng(4)
    n, horizon = 4000, 24
    mask = clustered_signals(rng, n, 3 * horizon) & clustered_signals(rng, n, 3 * horizon)  # a quarter of rows
    steps = rng.normal(0.0, 0.01, n + horizon) + np.concatenate([np.where(mask, 0.003, 0.0), np.zeros(horizon)])
    cumulative = np.concatenate([[0.0], np.cumsum(steps)])
    returns = cumulative[horizon:horizon + n] - cumulative[:n]
    table = evaluate_signals(np.where(mask, 0.9, 0.3), np.full(n, 0.05), returns, cost=0.0, horizon=horizon,
                             thresholds=[0.5], sides=["buy"], n_boot=50)
    assert table["p_value"].iloc[0] < 0.02  # 0.005-0.009 over seeds 0-5 of this process


def test_independent_count_on_a_hand_built_mask() -> None:
    mask = np.zeros(20, dtype=bool)
    mask[[0, 1, 2, 3, 4, 7, 8, 12, 19]] = True
    # horizon 4: count 0, skip 1-3 (< 0 + 4), count 4, skip 7 (< 8), count 8, count 12, count 19
    assert independent_count(mask, 4) == 5
    assert independent_count(mask, 1) == 9  # a one-bar label: every signal its own outcome
    assert independent_count(mask, 24) == 1
    assert independent_count(np.zeros(5, dtype=bool), 3) == 0


def test_too_few_independent_signals_give_no_interval() -> None:
    rng = np.random.default_rng(5)
    n, horizon = 500, 24
    p_up = np.full(n, 0.3)
    p_up[[100, 101, 102]] = 0.9  # three signals, one independent outcome: once "100% [100%, 100%]"
    table = evaluate_signals(p_up, np.full(n, 0.05), rng.normal(0.01, 0.001, n), cost=0.0, horizon=horizon,
                             thresholds=[0.5], sides=["buy"], n_boot=200)
    row = table.iloc[0]
    assert row["n_signals"] == 3 and row["n_independent"] == 1 and row["precision"] == 1.0
    assert all(np.isnan(row[c]) for c in ("precision_lo", "precision_hi", "avg_return_lo", "avg_return_hi"))
    spread = np.zeros(n, dtype=bool)
    spread[:: horizon][:MIN_INDEPENDENT] = True  # exactly the minimum of independent outcomes: intervals given
    table = evaluate_signals(np.where(spread, 0.9, 0.3), np.full(n, 0.05), rng.normal(0.0, 0.01, n), cost=0.0,
                             horizon=horizon, thresholds=[0.5], sides=["buy"], n_boot=200)
    assert table["n_independent"].iloc[0] == MIN_INDEPENDENT and np.isfinite(table["avg_return_lo"].iloc[0])


def test_holm_against_a_hand_computation() -> None:
    p = np.array([0.01, 0.04, np.nan, 0.03, 0.20])
    # m = 4 tests; sorted 0.01, 0.03, 0.04, 0.20 -> 4*0.01=0.04, 3*0.03=0.09, 2*0.04=0.08 -> 0.09 (monotone), 0.20
    assert np.allclose(holm(p), [0.04, 0.09, np.nan, 0.09, 0.20], equal_nan=True)
    assert np.allclose(holm(np.array([0.5, 0.6])), [1.0, 1.0])


def test_the_table_adjusts_every_side_and_threshold_together() -> None:
    rng = np.random.default_rng(6)
    p_up = rng.uniform(0.2, 0.8, 600)
    table = evaluate_signals(p_up, 1 - p_up - 0.1, rng.normal(0, 0.01, 600), cost=0.0, horizon=3,
                             thresholds=[0.4, 0.5, 0.6], n_boot=20)
    p, adjusted = table["p_value"].to_numpy(), table["p_adjusted"].to_numpy()
    m = int(np.isfinite(p).sum())
    order = np.argsort(p)
    expected = np.maximum.accumulate(np.minimum(1, (m - np.arange(m)) * p[order][:m]))
    assert np.allclose(adjusted[order][:m], expected)


def overlapping_process(rng: np.random.Generator, n: int, horizon: int, drift: float) -> np.ndarray:
    """Return forward returns over ``horizon`` steps of a random walk: neighbours share ``horizon - 1`` steps."""
    steps = rng.normal(drift, 0.01, n + horizon)
    cumulative = np.concatenate([[0.0], np.cumsum(steps)])
    return cumulative[horizon:horizon + n] - cumulative[:n]


def clustered_signals(rng: np.random.Generator, n: int, run: int) -> np.ndarray:
    """Return on/off signals in runs of about ``run`` bars, independent of the returns."""
    switch = rng.random(n) < 1 / run
    return (np.cumsum(switch) % 2).astype(bool)


def test_block_bootstrap_covers_the_true_mean_where_an_iid_bootstrap_does_not() -> None:
    """95% intervals on a process whose mean is known: the signals are independent of the returns, so the
    average return after a signal is ``horizon * drift``. Overlapping horizons make neighbours dependent.

    Blocks of ``2 * horizon`` rows, as ``evaluate_signals`` uses (measured 92-93% over seeds)."""
    rng = np.random.default_rng(11)
    horizon, drift, n, trials = 24, 0.0004, 2000, 200
    truth = horizon * drift
    covered = {"block": 0, "iid": 0}
    for _ in range(trials):
        returns = overlapping_process(rng, n, horizon, drift)
        mask = clustered_signals(rng, n, horizon)
        for name, block in (("block", 2 * horizon), ("iid", 1)):
            draws = block_bootstrap(returns, mask, block, 300, rng)
            low, high = np.nanquantile(draws, [0.025, 0.975])
            covered[name] += low <= truth <= high
    block_coverage, iid_coverage = covered["block"] / trials, covered["iid"] / trials
    assert 0.89 <= block_coverage <= 0.99, block_coverage
    assert iid_coverage < 0.6, iid_coverage  # an i.i.d. interval is several times too narrow here


def test_traded_summary_uses_each_rows_own_threshold() -> None:
    p_up = np.array([0.6, 0.6, 0.6, 0.9])
    p_down = np.array([0.1, 0.1, 0.1, 0.05])
    returns = np.array([0.01, -0.01, 0.02, 0.03])
    thresholds = np.array([0.5, 0.7, np.nan, 0.8])  # row 1 below its model's threshold, row 2's model never trades
    summary = traded_summary(p_up, p_down, returns, thresholds, thresholds, cost=0.0, horizon=1, n_boot=20)
    assert summary["buy"]["n_signals"] == 2 and summary["buy"]["avg_return"] == pytest.approx(0.02)
    assert summary["buy"]["n_independent"] == 2 and "avg_return_lo" not in summary["buy"]  # too few
    assert summary["sell"]["n_signals"] == 0
    p_down = np.array([0.3, 0.35, 0.1, 0.05])
    p_up = np.array([0.2, 0.3, 0.6, 0.9])
    sells = traded_summary(p_up, p_down, returns, thresholds, np.array([0.25, 0.4, 0.1, 0.1]), cost=0.0,
                           horizon=1, n_boot=20)
    assert sells["sell"]["n_signals"] == 1 and sells["sell"]["avg_return"] == pytest.approx(-0.01)
