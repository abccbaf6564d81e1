"""The tear-sheet's figures beyond the summary: worst drawdowns, tail risk, rolling Sharpe and volatility,
yearly returns.

Conventions follow ``engine.result.stats`` (the curve is the initial equity, then the equity at each bar close;
no risk-free rate; a 365-day year) and, where the figure is theirs, empyrical's and quantstats' definitions, so
a user can check one against the other:

- Tail risk, rolling figures and the yearly table are taken on **daily** returns (the curve's value at the end
  of each UTC day; a bar closing at midnight belongs to the day before, as in ``monthly_returns``): per-minute
  returns would make the kurtosis and a 5% value-at-risk figures of noise, and daily returns are what the
  tear-sheet libraries use. Data of bars longer than a day keeps one return per bar.
- VaR is the historical 5% quantile of the daily returns (``numpy.percentile``, linear); CVaR the mean of the
  returns at or below the ``int((n - 1) * 0.05)``-th smallest, as empyrical computes them. Skew and kurtosis
  (excess, so a normal law gives 0) are the bias-corrected sample figures pandas and quantstats give.
- A drawdown starts at the peak it falls from, bottoms at its trough and recovers at the first value back at or
  above the peak (no recovery if the data ends first: its length then runs to the last value).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from engine.result.stats import curve_values, drawdown, simple_returns

DAYS_PER_YEAR = 365
VAR_CUTOFF = 0.05
ROLLING_DAYS = 90  # a quarter of a year: quantstats uses six months of stock-market days, crypto moves faster
DRAWDOWN_COLUMNS = ["start", "trough", "recovery", "depth", "days", "recovered"]


def curve_times(equity: pd.Series) -> pd.DatetimeIndex:
    """Return the time of each curve value: one bar before the first close (the start), then each bar's close."""
    closes = pd.DatetimeIndex(equity.index)
    step = closes[1] - closes[0] if len(closes) > 1 else pd.Timedelta(0)
    return closes.insert(0, closes[0] - step) if len(closes) else closes


def worst_drawdowns(equity: pd.Series, initial_equity: float, n: int = 5) -> pd.DataFrame:
    """Return the ``n`` deepest drawdowns of the curve, deepest first.

    Columns: ``start`` (the peak), ``trough``, ``recovery`` (NaT if the data ended under water), ``depth``
    (a negative fraction), ``days`` (start to recovery, or to the last value), ``recovered``.
    """
    if equity.empty:
        return pd.DataFrame(columns=DRAWDOWN_COLUMNS)
    values = curve_values(equity, initial_equity)
    falls = drawdown(values)
    under = falls < 0
    edges = np.diff(under.astype("int8"), prepend=0, append=0)
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)  # [start, end) under water
    if not len(starts):
        return pd.DataFrame(columns=DRAWDOWN_COLUMNS)
    troughs = np.array([s + int(np.argmin(falls[s:e])) for s, e in zip(starts, ends, strict=True)])
    depths = falls[troughs]
    order = np.argsort(depths, kind="stable")[:n]
    times = curve_times(equity)
    last = len(values) - 1
    rows = []
    for i in order:
        peak, end = int(starts[i]) - 1, int(ends[i])
        recovered = end <= last
        finish = times[end] if recovered else times[last]
        rows.append({"start": times[peak], "trough": times[int(troughs[i])],
                     "recovery": times[end] if recovered else pd.NaT, "depth": float(depths[i]),
                     "days": (finish - times[peak]) / pd.Timedelta(days=1), "recovered": recovered})
    return pd.DataFrame(rows, columns=DRAWDOWN_COLUMNS)


def daily_returns(equity: pd.Series, initial_equity: float) -> pd.Series:
    """Return the curve's compounded return per UTC day (per bar when bars are longer than a day).

    Indexed by the day (midnight UTC); days without a bar are left out.
    """
    if equity.empty:
        return pd.Series(dtype="float64")
    closes = pd.DatetimeIndex(equity.index)
    if len(closes) > 1 and closes[1] - closes[0] > pd.Timedelta(days=1):
        values = curve_values(equity, initial_equity)
        return pd.Series(simple_returns(values), index=(closes - pd.Timedelta(1, unit="ns")).floor("D"))
    days = (closes - pd.Timedelta(1, unit="ns")).floor("D")
    last = pd.Series(equity.to_numpy(dtype="float64"), index=days).groupby(level=0).last()
    values = np.concatenate([[float(initial_equity)], last.to_numpy()])
    return pd.Series(simple_returns(values), index=last.index)


def tail_risk(returns: pd.Series) -> dict[str, float | None]:
    """Return ``var``, ``cvar`` (5%, historical), ``skew`` and ``kurtosis`` (excess) of daily ``returns``.

    A figure undefined on too few returns (or on constant ones, for skew and kurtosis) is None.
    """
    r = returns.to_numpy(dtype="float64")
    r = r[np.isfinite(r)]
    out: dict[str, float | None] = {"var": None, "cvar": None, "skew": None, "kurtosis": None}
    if len(r) >= 2:
        out["var"] = float(np.percentile(r, 100 * VAR_CUTOFF))
        cut = int((len(r) - 1) * VAR_CUTOFF)
        out["cvar"] = float(np.mean(np.partition(r, cut)[:cut + 1]))
    n = len(r)
    deviations = r - r.mean() if n else r
    m2 = float(np.mean(deviations**2)) if n else 0.0
    if n >= 3 and m2 > 1e-300:
        m3 = float(np.mean(deviations**3))
        out["skew"] = math.sqrt(n * (n - 1)) / (n - 2) * m3 / m2**1.5
    if n >= 4 and m2 > 1e-300:
        m4 = float(np.mean(deviations**4))
        g2 = m4 / m2**2 - 3.0
        out["kurtosis"] = (n - 1) / ((n - 2) * (n - 3)) * ((n + 1) * g2 + 6.0)
    return out


def rolling_window(n_days: int) -> int:
    """Return the rolling window in days: ``ROLLING_DAYS``, shorter on short data so that the chart has points."""
    return max(2, min(ROLLING_DAYS, n_days // 3))


def rolling_figures(returns: pd.Series, window: int) -> pd.DataFrame:
    """Return the annualised ``sharpe`` and ``volatility`` of the last ``window`` daily returns, by day.

    Sample standard deviation (``ddof=1``), no risk-free rate, ``sqrt(365)`` to annualise; NaN until the window
    is full and where the window is flat (Sharpe).
    """
    rolling = returns.rolling(window, min_periods=window)
    std = rolling.std(ddof=1)
    sharpe = rolling.mean() / std.where(std > 0) * math.sqrt(DAYS_PER_YEAR)
    return pd.DataFrame({"sharpe": sharpe, "volatility": std * math.sqrt(DAYS_PER_YEAR)})


def yearly_returns(equity: pd.DataFrame, initial_equity: float) -> pd.DataFrame:
    """Return each calendar year's compounded return of every column of ``equity`` (``equity``,
    ``buy_and_hold``), indexed by year."""
    columns = {}
    for column in equity.columns:
        daily = daily_returns(equity[column], initial_equity)
        columns[column] = (1.0 + daily).groupby(pd.DatetimeIndex(daily.index).year).prod() - 1.0
    table = pd.DataFrame(columns)
    table.index.name = "year"
    return table

