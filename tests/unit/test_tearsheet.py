"""The tear-sheet figures against independent computations: empyrical-reloaded, scipy, a plain loop."""

from __future__ import annotations

from typing import Any

import empyrical as ep
import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps  # type: ignore[import-untyped]

from engine.result.tearsheet import (
    daily_returns,
    rolling_figures,
    tail_risk,
    worst_drawdowns,
    yearly_returns,
)


def hourly_curve(n: int = 24 * 400, seed: int = 3) -> pd.Series:
    closes = pd.date_range("2023-01-01 01:00", periods=n, freq="h", tz="UTC")
    steps = np.random.default_rng(seed).normal(0.0002, 0.01, n)
    return pd.Series(1000 * np.exp(np.cumsum(steps)), index=closes, name="equity")


def loop_drawdowns(values: list[float], times: list[pd.Timestamp]) -> list[dict[str, Any]]:
    """Every drawdown, by walking the curve once: peak, trough, recovery, depth."""
    found: list[dict[str, Any]] = []
    peak_at, trough_at, inside = 0, 0, False
    for i, value in enumerate(values):
        if value >= values[peak_at]:
            if inside:
                found.append({"start": times[peak_at], "trough": times[trough_at], "recovery": times[i],
                              "depth": values[trough_at] / values[peak_at] - 1})
                inside = False
            peak_at = trough_at = i
        else:
            inside = True
            if value < values[trough_at]:
                trough_at = i
    if inside:
        found.append({"start": times[peak_at], "trough": times[trough_at], "recovery": pd.NaT,
                      "depth": values[trough_at] / values[peak_at] - 1})
    return sorted(found, key=lambda d: float(d["depth"]))


def test_worst_drawdowns_match_a_plain_walk_of_the_curve() -> None:
    equity = hourly_curve(3_000)
    table = worst_drawdowns(equity, 1000.0, n=5)
    times = [equity.index[0] - pd.Timedelta(hours=1), *equity.index]
    expected = loop_drawdowns([1000.0, *equity.to_list()], times)[:5]
    assert len(table) == 5
    for row, want in zip(table.to_dict("records"), expected, strict=True):
        assert row["start"] == want["start"] and row["trough"] == want["trough"]
        assert (pd.isna(row["recovery"]) and pd.isna(want["recovery"])) or row["recovery"] == want["recovery"]
        assert row["depth"] == pytest.approx(want["depth"], rel=1e-12)
        end = want["recovery"] if not pd.isna(want["recovery"]) else equity.index[-1]
        assert row["days"] == pytest.approx((end - want["start"]) / pd.Timedelta(days=1))
    assert table["depth"].is_monotonic_increasing
    # the deepest is the curve's maximum drawdown, as empyrical measures it
    returns = pd.Series(np.diff(np.r_[1000.0, equity.to_numpy()]) / np.r_[1000.0, equity.to_numpy()[:-1]])
    assert table["depth"].iloc[0] == pytest.approx(ep.max_drawdown(returns), rel=1e-9)


def test_a_drawdown_still_open_at_the_end_has_no_recovery() -> None:
    equity = pd.Series([110.0, 90.0, 95.0, 120.0, 100.0],
                       index=pd.date_range("2024-01-02", periods=5, freq="D", tz="UTC"))
    table = worst_drawdowns(equity, 100.0)
    assert table["depth"].round(6).to_list() == [round(90 / 110 - 1, 6), round(100 / 120 - 1, 6)]
    assert table["recovery"].iloc[0] == pd.Timestamp("2024-01-05", tz="UTC") and table["recovered"].iloc[0]
    assert pd.isna(table["recovery"].iloc[1]) and not table["recovered"].iloc[1]
    assert table["days"].to_list() == [3.0, 1.0]  # peak 01-02 to 01-05; peak 01-05 to the last close 01-06
    assert worst_drawdowns(pd.Series([1.0, 2.0], index=equity.index[:2]), 1.0).empty


def test_daily_returns_compound_the_bars_of_each_day() -> None:
    equity = hourly_curve(24 * 10)
    daily = daily_returns(equity, 1000.0)
    assert len(daily) == 10  # the last bar closes at midnight: the tenth day's close
    ends = np.r_[1000.0, equity.to_numpy()[23::24]]
    assert np.allclose(daily.to_numpy(), ends[1:] / ends[:-1] - 1, rtol=0, atol=1e-13)


def test_tail_risk_matches_empyrical_and_scipy() -> None:
    daily = daily_returns(hourly_curve(), 1000.0)
    figures = tail_risk(daily)
    assert figures["var"] == pytest.approx(ep.value_at_risk(daily, cutoff=0.05), rel=1e-12)
    assert figures["cvar"] == pytest.approx(ep.conditional_value_at_risk(daily, cutoff=0.05), rel=1e-12)
    assert figures["skew"] == pytest.approx(sps.skew(daily, bias=False), rel=1e-9)
    assert figures["kurtosis"] == pytest.approx(sps.kurtosis(daily, bias=False), rel=1e-9)
    assert figures["skew"] == pytest.approx(daily.skew(), rel=1e-9)
    assert tail_risk(pd.Series([0.01, 0.01, 0.01, 0.01]))["skew"] is None
    assert tail_risk(pd.Series([0.01]))["var"] is None


def test_rolling_sharpe_and_volatility_match_empyrical() -> None:
    daily = daily_returns(hourly_curve(), 1000.0)
    figures = rolling_figures(daily, 30)
    sharpe = ep.roll_sharpe_ratio(daily, window=30, period="daily", annualization=365)
    volatility = ep.roll_annual_volatility(daily, window=30, period="daily", annualization=365)
    assert np.allclose(figures["sharpe"].dropna().to_numpy(), np.asarray(sharpe, dtype="float64")[-len(
        figures["sharpe"].dropna()):], rtol=1e-9)
    assert np.allclose(figures["volatility"].dropna().to_numpy(), np.asarray(volatility, dtype="float64")[-len(
        figures["volatility"].dropna()):], rtol=1e-9)
    assert figures["sharpe"].iloc[:29].isna().all()


def test_yearly_returns_match_empyrical_aggregation() -> None:
    equity = hourly_curve(24 * 800)
    frame = pd.DataFrame({"equity": equity, "buy_and_hold": equity * 0.5 + 500})
    table = yearly_returns(frame, 1000.0)
    for column in frame.columns:
        daily = daily_returns(frame[column], 1000.0)
        expected = ep.aggregate_returns(daily, "yearly")
        assert np.allclose(table[column].to_numpy(), expected.to_numpy(), rtol=1e-12)
    total = float(np.prod(1 + table["equity"].to_numpy())) - 1
    assert total == pytest.approx(equity.iloc[-1] / 1000 - 1, rel=1e-12)
    assert list(table.index) == [2023, 2024, 2025] and not np.isnan(table["buy_and_hold"].to_numpy()).any()
