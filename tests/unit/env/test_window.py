"""Windows and window statistics: streaming (one window) and batch (every window) give the same floats."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.env.window import (
    Window,
    log_ratio,
    log_ratios,
    mean_of,
    moments_of,
    order_stats,
    periods_per_year,
    quantile_name,
    rolling,
    std_of,
)
from engine.errors import ConfigError


def test_window_holds_the_last_values_oldest_first() -> None:
    window = Window(3)
    assert not window.full and math.isnan(window.stat(mean_of, 1)[0])
    for value in range(1, 8):
        window.push(float(value))
        expected = [float(v) for v in range(max(1, value - 2), value + 1)]
        assert window.block()[0, -len(expected):].tolist() == expected
    assert window.full and window.count == 7
    assert window.block().flags.c_contiguous


@pytest.mark.parametrize("size", [4, 9, 100, 333])
def test_streaming_and_batch_statistics_are_identical(size: int) -> None:
    rng = np.random.default_rng(size)
    values = rng.standard_t(3, 3000) * 0.01
    values[1234] = np.nan  # a gap propagates the same way on both paths
    stats = [(mean_of, 1), (std_of, 1), (moments_of, 4), (order_stats((0.0, 0.1, 0.5, 0.9, 1.0)), 7)]
    for stat, width in stats:
        batch = rolling(values, size, stat, width)
        window = Window(size)
        streamed = np.empty_like(batch)
        for i, value in enumerate(values):
            window.push(value)
            streamed[i] = window.stat(stat, width)
        np.testing.assert_array_equal(streamed, batch)


def test_order_statistics_match_numpy_and_refuse_nan_windows() -> None:
    rng = np.random.default_rng(0)
    block = rng.normal(size=(50, 17))
    qs = (0.0, 0.05, 0.5, 0.95, 1.0)
    out = order_stats(qs)(block)
    np.testing.assert_array_equal(out[:, 0], block.min(axis=1))
    np.testing.assert_array_equal(out[:, 1], block.max(axis=1))
    np.testing.assert_allclose(out[:, 2:], np.quantile(block, qs, axis=1).T, rtol=1e-15, atol=1e-15)
    block[3, 5] = np.nan
    assert np.isnan(order_stats(qs)(block)[3]).all()


def test_a_constant_window_has_no_skew_or_kurtosis() -> None:
    out = moments_of(np.full((1, 10), 2.5))[0]
    assert out[0] == 2.5 and out[1] == 0.0 and math.isnan(out[2]) and math.isnan(out[3])


def test_rolling_pads_the_first_rows_and_short_series() -> None:
    out = rolling(np.arange(5.0), 3, mean_of, 1)[:, 0]
    assert np.isnan(out[:2]).all() and out[2:].tolist() == [1.0, 2.0, 3.0]
    assert np.isnan(rolling(np.arange(2.0), 3, mean_of, 1)).all()


def test_log_ratio_is_nan_on_bad_prices_and_math_log_otherwise() -> None:
    assert log_ratio(2.0, 1.0) == math.log(2.0)
    for a, b in ((0.0, 1.0), (1.0, 0.0), (-1.0, 1.0), (math.nan, 1.0), (math.inf, 1.0)):
        assert math.isnan(log_ratio(a, b))
    a, b = np.array([2.0, 0.0, 3.0]), np.array([1.0, 1.0, 2.0])
    out = log_ratios(a, b)
    assert out[0] == math.log(2.0) and math.isnan(out[1]) and out[2] == math.log(1.5)


def test_annualisation_is_on_a_365_day_year() -> None:
    assert periods_per_year(3_600_000_000_000) == 8760.0
    assert periods_per_year(86_400_000_000_000) == 365.0
    with pytest.raises(ConfigError, match="interval"):
        periods_per_year(0)


def test_quantile_names() -> None:
    assert [quantile_name(q) for q in (0.05, 0.5, 0.025, 1.0)] == ["q5", "q50", "q2.5", "q100"]
