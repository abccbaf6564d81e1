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
- Curves are read ``CHUNK`` values at a time, so that a million bars need no array beside the equity: sums are
  added up piece by piece (the figures of a curve longer than one piece agree with whole-array sums to rounding,
  about 1e-15 relative; a shorter curve gives the same bits). NaN and infinities propagate through the pieces
  as through whole arrays, and end as None.
- A peak that is not positive has no drawdown below it (``drawdown`` is 0 there), so the deepest drawdown of a
  curve that starts at or below zero is measured from its first positive peak.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from engine.datagen.frames import PIECE_BARS, ns_times

DAY_NS = 24 * 3600 * 10**9
YEAR_NS = 365 * DAY_NS  # crypto trades every day: annualise on a 365-day calendar

CHUNK = PIECE_BARS  # a name of this module's own, so that tests can read in smaller pieces

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
    return _returns(values[:-1], values[1:])


def _returns(previous: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Return ``current / previous - 1`` where ``previous`` is positive, else 0 (``simple_returns`` of a piece)."""
    out = np.zeros(len(current))
    alive = previous > 0
    np.divide(current, previous, out=out, where=alive)
    np.subtract(out, 1.0, out=out, where=alive)
    return out


def drawdown(values: np.ndarray) -> np.ndarray:
    """Return the fall from the running peak, ``value / peak - 1`` (0 at a new high, -1 at ruin), for the chart."""
    with np.errstate(invalid="ignore"):  # an infinite value at an infinite peak: NaN, as the statistics have it
        out = _peak_ratio(values, np.maximum.accumulate(values))
    return np.subtract(out, 1.0, out=out)


def _peak_ratio(values: np.ndarray, peak: np.ndarray) -> np.ndarray:
    """Return ``values / peak`` where the running ``peak`` is positive, else 1, in place of ``peak``."""
    positive = peak > 0
    np.divide(values, peak, out=peak, where=positive)
    np.copyto(peak, 1.0, where=~positive)
    return peak


def drawdown_durations(values: np.ndarray, times_ns: np.ndarray) -> tuple[int, int]:
    """Return the durations (ns) of the deepest drawdown and of the longest one.

    A drawdown lasts from the peak it fell from to the first value back at or above that peak, or to the end
    of the data if it never recovered.
    """
    if len(values) == 0:
        return 0, 0
    scan = _DrawdownScan(times_ns.__getitem__)
    with np.errstate(invalid="ignore"):
        scan.add(0, values)
    return scan.durations(len(values) - 1)


@dataclass(frozen=True, slots=True)
class _Curve:
    """An equity curve held without a copy: ``first`` (the equity before the first bar), then ``rest``.

    ``rest`` is a view of the equity at each bar close; the pieces below are views of it too, but for the first,
    which is a new array of ``CHUNK`` values with ``first`` in front.
    """

    first: float
    rest: np.ndarray

    def __len__(self) -> int:
        return len(self.rest) + 1

    @property
    def last(self) -> float:
        return float(self.rest[-1]) if len(self.rest) else self.first

    def values(self) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(position of the first, values)`` a piece at a time, in order."""
        yield 0, _prepend(self.first, self.rest[:CHUNK - 1])
        for start in range(CHUNK - 1, len(self.rest), CHUNK):
            yield start + 1, self.rest[start:start + CHUNK]

    def returns(self) -> Iterator[np.ndarray]:
        """Yield the curve's ``simple_returns`` a piece at a time, in order (each a new array)."""
        rest = self.rest
        for start in range(0, len(rest), CHUNK):
            stop = min(start + CHUNK, len(rest))
            previous = rest[start - 1:stop - 1] if start else _prepend(self.first, rest[:stop - 1])
            yield _returns(previous, rest[start:stop])


def _prepend(first: float, rest: np.ndarray) -> np.ndarray:
    values = np.empty(len(rest) + 1)
    values[0] = first
    values[1:] = rest
    return values


class _Figures(NamedTuple):
    """What a curve's statistics are made of (``std`` and ``downside`` are None with fewer than two returns)."""

    mean: float
    std: float | None
    downside: float | None
    max_drawdown: float
    deepest_ns: int
    longest_ns: int


def _curve_stats(curve: _Curve, time_at: TimeAt, interval_ns: int) -> Stats:
    """Return the statistics of an equity curve, with the times of its values looked up by position
    (``_curve_times``), not held in an array."""
    per_year = periods_per_year(interval_ns)
    n = len(curve) - 1
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # absurd curves end as None, not noise
        growth = float(np.float64(curve.last) / curve.first)
    figures = _figures(curve, time_at)
    mean, std, downside, max_dd = figures.mean, figures.std, figures.downside, figures.max_drawdown
    annual = _annual_return(growth, n, per_year)
    return {
        "total_return": float(growth - 1.0),
        "annual_return": annual,
        "annual_volatility": None if std is None else std * math.sqrt(per_year),
        "sharpe": mean / std * math.sqrt(per_year) if std else None,
        "sortino": mean / downside * math.sqrt(per_year) if downside else None,
        "calmar": annual / -max_dd if annual is not None and max_dd < 0 else None,
        "max_drawdown": max_dd,
        "max_drawdown_days": figures.deepest_ns / DAY_NS,
        "longest_drawdown_days": figures.longest_ns / DAY_NS,
    }


def _figures(curve: _Curve, time_at: TimeAt) -> _Figures:
    """Return the figures reading the curve ``CHUNK`` values at a time, with running sums and a drawdown scan.

    The mean and the deviations from it take two passes over the returns, as ``np.std`` does. NaN and
    infinities propagate through the sums (``_strict`` makes them None), their warnings silenced.
    """
    n = len(curve) - 1
    scan = _DrawdownScan(time_at)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for position, values in curve.values():
            scan.add(position, values)
        total = losses = 0.0
        for returns in curve.returns():
            total += float(returns.sum())
            np.minimum(returns, 0.0, out=returns)
            losses += float(np.square(returns, out=returns).sum())
        mean = total / n if n else 0.0
        squares = 0.0
        for returns in curve.returns() if n > 1 else ():
            returns -= mean
            squares += float(np.square(returns, out=returns).sum())
    std = math.sqrt(squares / (n - 1)) if n > 1 else None
    downside = math.sqrt(losses / n) if n > 1 else None
    deepest_ns, longest_ns = scan.durations(len(curve) - 1)
    return _Figures(mean, std, downside, scan.max_drawdown, deepest_ns, longest_ns)


class _DrawdownScan:
    """The drawdown of a curve read a piece at a time: the deepest fall (``drawdown``'s lowest) and the
    durations of the deepest and the longest drawdown.

    It keeps the running peak, the deepest fall, the run under water still open at the end of the last piece
    and the longest run so far: the runs of one piece exist only while it is read.
    """

    def __init__(self, time_at: TimeAt) -> None:
        self._time_at = time_at
        self._peak = -math.inf
        self.max_drawdown = 0.0
        self._lowest = math.inf  # the lowest value / peak so far
        self._deepest_start = -1  # first position under water of the run holding the deepest point
        self._deepest_ns = 0
        self._open = -1  # first position under water of the run still open, -1 when at a peak
        self._longest_ns = 0

    def add(self, position: int, values: np.ndarray) -> None:
        """Take the next piece of the curve, whose first value is at ``position``."""
        peak = np.maximum.accumulate(values)
        np.maximum(peak, self._peak, out=peak)
        self._peak = float(peak[-1])
        under = values < peak
        ratio = _peak_ratio(values, peak)  # in place of the peak
        starts, ends = self._runs(position, under)
        lowest = int(np.argmin(ratio))  # the first lowest point, or the first NaN (which np.min would return)
        low = float(ratio[lowest])
        if low < self._lowest or (math.isnan(low) and not math.isnan(self._lowest)):
            self._lowest = low
            self.max_drawdown = self._lowest - 1.0  # x - 1 keeps the order of x: the lowest of the drawdowns
            at = np.searchsorted(starts, position + lowest, side="right") - 1
            self._deepest_start = int(starts[at]) if under[lowest] else -1
            self._deepest_ns = 0  # until that run closes (a NaN is in none: no deepest drawdown to time)
        if len(ends):
            self._close(starts[:len(ends)], ends)
        self._open = int(starts[-1]) if len(starts) > len(ends) else -1

    def _runs(self, position: int, under: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the first positions under water of the runs in this piece (the open one first) and the first
        positions back at the peak of those that end in it."""
        flips = np.flatnonzero(under[1:] != under[:-1])
        flips += position + 1
        was_under = self._open >= 0
        if bool(under[0]) != was_under:
            flips = np.concatenate(([position], flips))
        if was_under:
            return np.concatenate(([self._open], flips[1::2])), flips[0::2]
        return flips[0::2], flips[1::2]

    def _close(self, starts: np.ndarray, ends: np.ndarray) -> None:
        """Take the durations of runs from the peak before ``starts`` to the first value back at it, ``ends``."""
        durations = self._time_at(ends) - self._time_at(starts - 1)
        self._longest_ns = max(self._longest_ns, int(durations.max()))
        hit = np.flatnonzero(starts == self._deepest_start)
        if len(hit):
            self._deepest_ns = int(durations[hit[0]])

    def durations(self, last: int) -> tuple[int, int]:
        """Return the durations (ns) of the deepest run and of the longest, the open one ending at ``last``."""
        if self._open >= 0:
            self._close(np.array([self._open]), np.array([last]))
            self._open = -1
        return self._deepest_ns, self._longest_ns


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
    """Return the statistics of the round trips (``engine.result.trades.round_trips``).

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
        _add_holding(total, frame, times, share)
    return pd.Series(total, index=index, name="buy_and_hold", copy=False)


def _add_holding(total: np.ndarray, frame: pd.DataFrame, times: np.ndarray, share: float) -> None:
    """Add to ``total`` the value at ``times`` of ``share`` put into one symbol at its first open (cash before its
    first bar), ``CHUNK`` times at a time: the positions and values of a whole curve would be 16 bytes a bar."""
    closes = frame["close"].to_numpy(dtype="float64")
    close_times = ns_times(frame.index)
    quantity = share / float(frame["open"].iloc[0])
    for start in range(0, len(times), CHUNK):
        at = np.searchsorted(close_times, times[start:start + CHUNK], side="right")
        at -= 1  # the last close at or before each time, -1 before the first
        before = at < 0
        np.maximum(at, 0, out=at)
        value = closes[at]
        value *= quantity
        value[before] = share
        total[start:start + CHUNK] += value


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
    curve = _Curve(float(initial_equity), equity.to_numpy(dtype="float64"))
    time_at = _curve_times(equity, interval_ns)
    average = _mean(curve)
    stats: Stats = {"initial_equity": float(initial_equity), "final_equity": curve.last}
    stats.update(_curve_stats(curve, time_at, interval_ns))
    stats["n_bars"] = len(equity)
    stats.update(trade_stats(trades))
    stats.update({
        "exposure": float(exposure),
        "turnover": float(traded_notional) / average if average > 0 else None,
        "fees_paid": float(fees_paid),
        "buy_and_hold": None,
    })
    if benchmark is not None:
        bench = _Curve(float(initial_equity), benchmark.to_numpy(dtype="float64"))
        stats["buy_and_hold"] = {"final_equity": bench.last, **_curve_stats(bench, time_at, interval_ns)}
    return _strict(stats)


def _mean(curve: _Curve) -> float:
    """Return the mean of the curve's values, summed a piece at a time."""
    return sum(float(values.sum()) for _, values in curve.values()) / len(curve)


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
