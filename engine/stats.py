"""Performance statistics from the equity curve and the round-trip trades, with buy-and-hold alongside.

Conventions, chosen to match the figures of the well-known tear-sheet libraries (empyrical, quantstats) so a
user can check ours against theirs:

- The curve is the initial equity (before the first bar) followed by the equity at each bar's close; simple
  returns are taken between consecutive values. Once equity reaches zero the later returns are 0 (nothing is
  left to lose), so a total loss does not turn into NaN.
- Annualisation uses the data's bar interval on a 365-day calendar (crypto trades every day):
  ``periods_per_year = 365 days / interval``. Volatility and Sharpe use the sample standard deviation
  (``ddof=1``); Sortino divides by the downside deviation ``sqrt(mean(min(r, 0)^2))`` over all periods;
  the annual return is the compound growth rate over ``n_returns / periods_per_year`` years; Calmar is the
  annual return over the absolute maximum drawdown. No risk-free rate.
- A figure that is undefined on the data is ``None``, never NaN or infinity, so the stats dict always
  serialises to strict JSON: Sharpe/Sortino/volatility with fewer than two returns, Sharpe on a flat curve,
  Sortino without a losing period, Calmar without a drawdown, profit factor without a losing trade, the
  trade averages without trades (or without winners/losers), and an annual return that overflows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from engine.datagen.frames import ns_times

DAY_NS = 24 * 3600 * 10**9
YEAR_NS = 365 * DAY_NS  # crypto trades every day: annualise on a 365-day calendar

Stats = dict[str, Any]
TimeAt = Callable[[np.ndarray], np.ndarray]  # positions in a curve -> their times (int64 ns)


def periods_per_year(interval_ns: int) -> float:
    """Return how many bars of ``interval_ns`` fit in a 365-day year."""
    if interval_ns <= 0:
        raise ValueError(f"interval_ns must be positive, got {interval_ns}")
    return YEAR_NS / interval_ns


# The curves have a value per bar (8 MB a million bars): the functions below work in place with ``out=`` so
# that each allocates the array it returns and little else.

def curve_values(equity: pd.Series, initial_equity: float) -> np.ndarray:
    """Return the curve as an array: ``initial_equity`` followed by the equity at each bar close."""
    values = np.empty(len(equity) + 1)
    values[0] = float(initial_equity)
    values[1:] = equity.to_numpy(dtype="float64")
    return values


def simple_returns(values: np.ndarray) -> np.ndarray:
    """Return ``values[i] / values[i-1] - 1``, and 0 where the previous value is not positive (after a ruin)."""
    previous, current = values[:-1], values[1:]
    out = np.zeros(len(current))
    alive = previous > 0
    np.divide(current, previous, out=out, where=alive)
    np.subtract(out, 1.0, out=out, where=alive)
    return out


def drawdown(values: np.ndarray) -> np.ndarray:
    """Return the fall from the running peak, ``value / peak - 1`` (0 at a new high, -1 at ruin)."""
    out = np.maximum.accumulate(values)  # the running peak, replaced by the drawdown in place
    positive = out > 0
    np.divide(values, out, out=out, where=positive)
    np.subtract(out, 1.0, out=out, where=positive)
    np.copyto(out, 0.0, where=~positive)
    return out


def drawdown_durations(values: np.ndarray, times_ns: np.ndarray) -> tuple[int, int]:
    """Return the durations (ns) of the deepest drawdown and of the longest one.

    A drawdown lasts from the peak it fell from to the first value back at or above that peak, or to the end
    of the data if it never recovered.
    """
    return _drawdown_durations(values, times_ns.__getitem__)


def _drawdown_durations(values: np.ndarray, time_at: TimeAt) -> tuple[int, int]:
    """Return ``drawdown_durations`` with the times looked up by position: only the drawdowns' ends are read."""
    if len(values) < 2:
        return 0, 0
    peak = np.maximum.accumulate(values)
    under = np.zeros(len(values) + 2, dtype=np.int8)  # 1 under water, padded with 0 at both ends
    np.less(values, peak, out=under[1:-1])
    if not under.any():
        return 0, 0
    edges = np.diff(under)
    starts = np.flatnonzero(edges == 1)  # first underwater index of each run
    ends = np.flatnonzero(edges == -1)  # first index back at the peak (== len(values) if never)
    last = len(values) - 1
    durations = time_at(np.minimum(ends, last)) - time_at(starts - 1)
    # the deepest point: lowest value / peak (a peak that is not positive taken as 1), in place of the peak
    np.copyto(peak, 1.0, where=~(peak > 0))
    deepest = int(np.argmin(np.divide(values, peak, out=peak)))
    run = int(np.searchsorted(starts, deepest, side="right")) - 1
    return int(durations[run]), int(durations.max())


def curve_stats(values: np.ndarray, times_ns: np.ndarray, interval_ns: int) -> Stats:
    """Return the statistics of an equity curve (``values[0]`` is the starting equity, at ``times_ns[0]``)."""
    return _curve_stats(values, times_ns.__getitem__, interval_ns)


def _curve_stats(values: np.ndarray, time_at: TimeAt, interval_ns: int) -> Stats:
    """Return ``curve_stats`` with the times looked up by position (``_curve_times``), not held in an array."""
    per_year = periods_per_year(interval_ns)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # absurd curves end as None, not noise
        returns = simple_returns(values)
        n = len(returns)
        growth = float(values[-1] / values[0])
        std = float(returns.std(ddof=1)) if n > 1 else None
        mean = float(returns.mean()) if n else 0.0
        downside = None
        if n > 1:  # the squared losses, computed in place of the returns: their last use
            np.minimum(returns, 0.0, out=returns)
            downside = float(np.sqrt(np.mean(np.square(returns, out=returns))))
        del returns  # before the drawdown's arrays
        max_dd = float(drawdown(values).min())
    annual = _annual_return(growth, n, per_year)
    deepest_ns, longest_ns = _drawdown_durations(values, time_at)
    return {
        "total_return": float(growth - 1.0),
        "annual_return": annual,
        "annual_volatility": None if std is None else std * math.sqrt(per_year),
        "sharpe": mean / std * math.sqrt(per_year) if std else None,
        "sortino": mean / downside * math.sqrt(per_year) if downside else None,
        "calmar": annual / -max_dd if annual is not None and max_dd < 0 else None,
        "max_drawdown": max_dd,
        "max_drawdown_days": deepest_ns / DAY_NS,
        "longest_drawdown_days": longest_ns / DAY_NS,
    }


def _annual_return(growth: float, n_returns: int, per_year: float) -> float | None:
    if n_returns == 0:
        return None
    if growth <= 0:
        return -1.0
    try:
        return float(growth) ** (per_year / n_returns) - 1.0
    except OverflowError:  # a short, strongly growing curve: the compound rate is beyond a float
        return None


def trade_stats(trades: pd.DataFrame) -> Stats:
    """Return the statistics of the round trips (``engine.results.round_trips``).

    ``expectancy`` is the mean profit per trade in the account currency; ``avg_win``, ``avg_loss``,
    ``best_trade`` and ``worst_trade`` are trade returns (profit over entry notional); ``profit_factor`` is
    gross profit over gross loss.
    """
    n = len(trades)
    pnl = trades["pnl"].to_numpy(dtype="float64")
    ret = trades["return"].to_numpy(dtype="float64")
    wins, losses = pnl > 0, pnl < 0
    gross_loss = float(-pnl[losses].sum())
    held = (pd.to_datetime(trades["exit_time"], utc=True) - pd.to_datetime(trades["entry_time"], utc=True))
    return {
        "n_trades": n,
        "win_rate": float(wins.mean()) if n else None,
        "profit_factor": float(pnl[wins].sum()) / gross_loss if gross_loss > 0 else None,
        "expectancy": float(pnl.mean()) if n else None,
        "avg_win": float(ret[wins].mean()) if wins.any() else None,
        "avg_loss": float(ret[losses].mean()) if losses.any() else None,
        "best_trade": float(ret.max()) if n else None,
        "worst_trade": float(ret.min()) if n else None,
        "avg_holding_days": float(held.dt.total_seconds().mean()) / 86400 if n else None,
    }


def buy_and_hold(prices: Mapping[str, pd.DataFrame], index: pd.DatetimeIndex, initial_equity: float) -> pd.Series:
    """Return the equity of buying the traded assets at their first bar's open and holding them, at ``index``.

    The initial equity is split equally between the symbols; no fees. ``prices[symbol]`` has ``open`` and
    ``close`` columns indexed by bar close time; a symbol is valued at its last close at or before each time
    (and as cash before its first bar).
    """
    times = ns_times(index)
    if not prices:
        return pd.Series(np.full(len(times), float(initial_equity)), index=index, name="buy_and_hold", copy=False)
    total = np.zeros(len(times))
    share = float(initial_equity) / len(prices)
    for frame in prices.values():
        total += _holding(frame, times, share)
    return pd.Series(total, index=index, name="buy_and_hold", copy=False)


def _holding(frame: pd.DataFrame, times: np.ndarray, share: float) -> np.ndarray:
    """Return the value at ``times`` of ``share`` put into one symbol at its first open (cash before its first bar)."""
    closes = frame["close"].to_numpy(dtype="float64")
    quantity = share / float(frame["open"].iloc[0])
    at = np.searchsorted(ns_times(frame.index), times, side="right")
    at -= 1  # the last close at or before each time, -1 before the first
    before = at < 0
    np.maximum(at, 0, out=at)
    value = closes[at]
    value *= quantity
    value[before] = share
    return value


def monthly_returns(equity: pd.Series, initial_equity: float) -> pd.DataFrame:
    """Return compounded returns per calendar month as a year x month (1..12) table, NaN where no data.

    ``equity`` is indexed by bar close time; a bar closing exactly at midnight on the 1st belongs to the month
    before, since its value is that month's closing value.
    """
    if equity.empty:
        return pd.DataFrame(columns=range(1, 13), dtype="float64")
    values = curve_values(equity, initial_equity)
    stamps = pd.DatetimeIndex(equity.index) - pd.Timedelta(1, unit="ns")
    returns = pd.Series(simple_returns(values), index=stamps)
    grouped = (1.0 + returns).groupby([stamps.year, stamps.month]).prod() - 1.0
    table = grouped.unstack()
    table.index.name, table.columns.name = "year", "month"
    return table.reindex(columns=range(1, 13))


def compute_stats(equity: pd.Series, trades: pd.DataFrame, *, initial_equity: float, interval_ns: int,
                  fees_paid: float = 0.0, exposure: float = 0.0, traded_notional: float = 0.0,
                  benchmark: pd.Series | None = None) -> Stats:
    """Return the headline figures of a run; see the module docstring for definitions and ``None`` cases.

    Parameters
    ----------
    equity
        Equity at each bar close, indexed by close time (a DatetimeIndex; any other index is taken as one bar
        apart).
    trades
        Round trips with ``pnl``, ``return``, ``entry_time`` and ``exit_time`` columns.
    initial_equity, interval_ns
        The cash before the first bar, and the bar interval used to annualise.
    fees_paid, exposure, traded_notional
        Fees in the account currency, the share of bars with a position, and the notional of every fill;
        ``turnover`` is the traded notional over the average equity.
    benchmark
        Buy-and-hold equity at the same times (``buy_and_hold``); its curve statistics go under
        ``"buy_and_hold"``, None without one.
    """
    values = curve_values(equity, initial_equity)
    time_at = _curve_times(equity, interval_ns)
    average = float(values.mean())
    stats: Stats = {"initial_equity": float(initial_equity), "final_equity": float(values[-1])}
    stats.update(_curve_stats(values, time_at, interval_ns))
    del values  # before the benchmark's curve is built
    stats["n_bars"] = len(equity)
    stats.update(trade_stats(trades))
    stats.update({
        "exposure": float(exposure),
        "turnover": float(traded_notional) / average if average > 0 else None,
        "fees_paid": float(fees_paid),
        "buy_and_hold": None,
    })
    if benchmark is not None:
        bench = curve_values(benchmark, initial_equity)
        stats["buy_and_hold"] = {"final_equity": float(bench[-1]), **_curve_stats(bench, time_at, interval_ns)}
    return _strict(stats)


def _curve_times(equity: pd.Series, interval_ns: int) -> TimeAt:
    """Return the time of the curve values at given positions: the first bar's open, then each bar's close.

    Only the drawdowns' ends are looked up, so the times are read from the index rather than copied into an
    array beside the curve (8 bytes a bar).
    """
    if not isinstance(equity.index, pd.DatetimeIndex):  # bars one interval apart, the first opening at 0
        return lambda positions: positions.astype("int64") * interval_ns
    closes = ns_times(equity.index)
    start = closes[0] - interval_ns if len(closes) else 0

    def time_at(positions: np.ndarray) -> np.ndarray:
        return np.where(positions > 0, closes[np.maximum(positions - 1, 0)], start).astype("int64")

    return time_at


def _strict(value: Any) -> Any:
    """Replace NaN and infinities by None, recursively: the stats must be valid strict JSON."""
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# -- how to show each figure: shared by the CLI's summary table and the HTML report ----------------------------
# (key, label, kind, also shown for buy-and-hold)
SUMMARY_ROWS: list[tuple[str, str, str, bool]] = [
    ("final_equity", "Final equity", "money", True),
    ("total_return", "Total return", "percent", True),
    ("annual_return", "Annual return (CAGR)", "percent", True),
    ("annual_volatility", "Annual volatility", "percent", True),
    ("sharpe", "Sharpe", "ratio", True),
    ("sortino", "Sortino", "ratio", True),
    ("calmar", "Calmar", "ratio", True),
    ("max_drawdown", "Max drawdown", "percent", True),
    ("max_drawdown_days", "Max drawdown duration", "days", True),
    ("longest_drawdown_days", "Longest drawdown", "days", True),
    ("n_trades", "Trades", "count", False),
    ("win_rate", "Win rate", "percent", False),
    ("profit_factor", "Profit factor", "ratio", False),
    ("expectancy", "Expectancy (per trade)", "money", False),
    ("avg_win", "Average win", "percent", False),
    ("avg_loss", "Average loss", "percent", False),
    ("best_trade", "Best trade", "percent", False),
    ("worst_trade", "Worst trade", "percent", False),
    ("avg_holding_days", "Average holding time", "days", False),
    ("exposure", "Exposure", "percent", False),
    ("turnover", "Turnover", "times", False),
    ("fees_paid", "Fees paid", "money", False),
]


def format_stat(value: Any, kind: str) -> str:
    """Return ``value`` as a person reads it: ``12.34%``, ``1,234.56``, ``3d 4h``; ``n/a`` for None."""
    if value is None:
        return "n/a"
    if kind == "percent":
        return f"{value * 100:,.2f}%"
    if kind == "money":
        return f"{value:,.2f}"
    if kind == "ratio":
        return f"{value:,.3f}"
    if kind == "times":
        return f"{value:,.2f}x"
    if kind == "days":
        return format_days(float(value))
    return f"{value:,}"


def format_days(days: float) -> str:
    """Return a duration in days as ``12d 5h``, ``5h 30m`` or ``45m``."""
    minutes = round(days * 24 * 60)
    d, rest = divmod(minutes, 24 * 60)
    h, m = divmod(rest, 60)
    if d:
        return f"{d:,}d {h}h"
    return f"{h}h {m}m" if h else f"{m}m"
