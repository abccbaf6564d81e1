"""The vol component: realized volatility estimators, an implied-vol index, vol of vol, implied minus realized.

Values (keys of ``Vol.values()``, columns of ``Vol.batch``), annualised on a 365-day year with ``P = 365 days /
bar interval``; over the last ``window`` bars, with ``r = ln(C_t / C_{t-1})``, ``u = ln(H / L)``,
``c = ln(C / O)`` of each bar:

================  ===============================================================================================
``rv_cc``         close-to-close: ``sqrt(P) * std(r)`` (sample std, ddof 1: the drift is removed)
``rv_parkinson``  Parkinson (1980): ``sqrt(P * mean(u^2) / (4 ln 2))``, from each bar's range; unbiased for a
                  driftless continuous path, about five times as efficient as close-to-close
``rv_gk``         Garman-Klass (1980): ``sqrt(P * mean(u^2 / 2 - (2 ln 2 - 1) c^2))``, range and body together;
                  ignores overnight jumps (crypto trades round the clock, so a bar opens at the last close)
``rv_vov``        vol of vol: ``sqrt(P) * std`` of the last ``vov_window`` bar-to-bar log changes of ``rv_cc``
                  (consecutive ``rv_cc`` windows overlap, so this measures how fast the estimate moves)
``iv``            the latest ``VolIndex`` print of ``index_symbol`` (an implied-vol index such as Deribit's DVOL,
                  a fraction: 0.55 = 55 %); NaN until one comes
``iv_vov``        vol of the index: std of the log changes over its last ``vov_window + 1`` prints, annualised
                  by their mean spacing ``d``: ``std * sqrt(365 days / d)``
``iv_rv_spread``  ``iv - rv_<spread_of>``: the volatility risk premium (positive: options price more movement
                  than the market has shown lately)
================  ===============================================================================================

Bars of other symbols or intervals, and index prints of other symbols or kinds, are ignored.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.datagen.frames import infer_interval
from engine.env.batch import asof_join, checked_bars, close_index, event_index
from engine.env.window import (
    NAN,
    YEAR_NS,
    BarFilter,
    Window,
    check_window,
    log_ratio,
    log_ratios,
    mean_of,
    periods_per_year,
    rolling,
    std_of,
    timeframe_ns,
)
from engine.errors import ConfigError
from engine.events import Bar, VolIndex

NAMES: tuple[str, ...] = ("rv_cc", "rv_parkinson", "rv_gk", "rv_vov", "iv", "iv_vov", "iv_rv_spread")
ESTIMATORS = ("cc", "parkinson", "gk")
_PARKINSON = 4.0 * math.log(2.0)
_GK = 2.0 * math.log(2.0) - 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class VolConfig:
    """Settings of the vol component (it trades nothing, so it has no fee).

    Parameters
    ----------
    symbol, timeframe
        Bars read (None: every symbol; the first bar's interval).
    window
        Bars of the realized-vol estimators.
    vov_window
        Changes in the vol-of-vol windows (of ``rv_cc`` and of the index).
    index_symbol, index_kind
        ``VolIndex`` prints read: their symbol (None: any) and ``kind`` (None: any).
    index_scale
        Factor from a vol frame's ``volatility`` column to a fraction, in ``Vol.batch`` (0.01: Deribit's
        percent), as ``CatalogFeed``'s ``vol_scale`` does for the events.
    spread_of
        Realized estimator that ``iv_rv_spread`` subtracts: ``cc``, ``parkinson`` or ``gk``.
    """

    symbol: str | None = None
    timeframe: str | None = None
    window: int = 24
    vov_window: int = 24
    index_symbol: str | None = None
    index_kind: str | None = "implied"
    index_scale: float = 0.01
    spread_of: str = "cc"

    def __post_init__(self) -> None:
        check_window("vol: window", self.window, 2)
        check_window("vol: vov_window", self.vov_window, 2)
        if self.spread_of not in ESTIMATORS:
            raise ConfigError(f"vol: spread_of must be one of {', '.join(ESTIMATORS)}, got {self.spread_of!r}")
        if not isinstance(self.index_scale, int | float) or not self.index_scale > 0:
            raise ConfigError(f"vol: index_scale must be positive, got {self.index_scale!r}")
        timeframe_ns("vol", self.timeframe)  # checks the timeframe

    @property
    def interval_ns(self) -> int:
        return timeframe_ns("vol", self.timeframe)


def parkinson_of(block: np.ndarray) -> np.ndarray:
    """Return the per-bar Parkinson variance ``mean(u^2) / (4 ln 2)`` of each window of ``u^2``."""
    return mean_of(block) / _PARKINSON


def _annualised(deviation: np.ndarray, per_year: float) -> np.ndarray:
    """Return per-bar standard deviations annualised: ``sd * sqrt(P)``."""
    return deviation * math.sqrt(per_year)


def _index_vov(deviation: np.ndarray, spans: np.ndarray, changes: int) -> np.ndarray:
    """Return the index's vol of vol: ``std * sqrt(year / (span / changes))``, ``span`` in ns as float."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return deviation * np.sqrt(YEAR_NS / (spans / changes))


class Vol:
    """Stream the vol values from ``Bar`` and ``VolIndex`` events; ``Vol.batch`` computes them from frames."""

    name = "vol"
    names = NAMES

    def __init__(self, config: VolConfig | None = None) -> None:
        self.config = config = config or VolConfig()
        self.ts: int | None = None
        self._bars = BarFilter(config.symbol, config.interval_ns)
        self._returns = Window(config.window)
        self._ranges = Window(config.window)
        self._gk = Window(config.window)
        self._rv_changes = Window(config.vov_window)
        self._iv_changes = Window(config.vov_window)
        self._iv_times: deque[int] = deque(maxlen=config.vov_window + 1)
        self._close = NAN
        self._rv = NAN
        self._has_rv = False
        self._iv = NAN
        self._spread_column = NAMES[ESTIMATORS.index(config.spread_of)]
        self._cache: dict[str, float] | None = None

    def on_bar(self, bar: Bar) -> None:
        """Take in a bar of the configured symbol and timeframe."""
        if not self._bars.accepts(bar.symbol, bar.interval):
            return
        if not math.isnan(self._close):
            self._returns.push(log_ratio(bar.close, self._close))
        u = log_ratio(bar.high, bar.low)
        c = log_ratio(bar.close, bar.open)
        self._ranges.push(u * u)
        self._gk.push(0.5 * u * u - _GK * c * c)
        self._close = bar.close
        if self._returns.full:
            rv = float(_annualised(std_of(self._returns.block()), self._bars.per_year)[0, 0])
            if self._has_rv:
                self._rv_changes.push(log_ratio(rv, self._rv))
            self._rv, self._has_rv = rv, True
        self.ts = bar.ts
        self._cache = None

    def on_vol_index(self, index: VolIndex) -> None:
        """Take in a volatility-index print of the configured symbol and kind."""
        config = self.config
        if (config.index_symbol is not None and index.symbol != config.index_symbol) or (
                config.index_kind is not None and index.kind != config.index_kind):
            return
        if self._iv_times:
            self._iv_changes.push(log_ratio(index.value, self._iv))
        self._iv = index.value
        self._iv_times.append(index.ts)
        self.ts = index.ts
        self._cache = None

    def values(self) -> dict[str, float]:
        """Return every value by name, as of the latest event."""
        if self._cache is None:
            per_year = self._bars.per_year
            row = [self._rv]
            for window, stat in ((self._ranges, parkinson_of), (self._gk, mean_of)):
                variance = window.stat(stat, 1)[0]
                row.append(float(_annualised(np.sqrt(np.array([variance])), per_year)[0]))
            row.append(float(_annualised(np.array(self._rv_changes.stat(std_of, 1)), per_year)[0]))
            iv_vov = NAN
            if self._iv_changes.full:
                span = np.array([self._iv_times[-1] - self._iv_times[0]], dtype=np.float64)
                iv_vov = float(_index_vov(std_of(self._iv_changes.block())[:, 0], span, self.config.vov_window)[0])
            row += [self._iv, iv_vov]
            values = dict(zip(NAMES, [*row, NAN], strict=True))
            values["iv_rv_spread"] = self._iv - values[self._spread_column]
            self._cache = values
        return dict(self._cache)

    def value(self, name: str) -> float:
        """Return one value by name."""
        return self.values()[name]

    @classmethod
    def batch(cls, frame: pd.DataFrame, config: VolConfig | None = None, *, index: pd.DataFrame | None = None
              ) -> pd.DataFrame:
        """Return every value at every event time of ``frame`` (OHLCV bars) and ``index`` (a vol frame).

        ``index`` is a ``vol`` frame (column ``volatility``, scaled by ``config.index_scale``). Each row equals
        ``values()`` of a ``Vol`` fed the same events up to that time, float for float.
        """
        config = config or VolConfig()
        checked_bars(frame, "Vol.batch")
        interval = infer_interval(frame.index, config.timeframe, source="Vol.batch").value
        per_year = periods_per_year(interval)
        n = len(frame)
        high, low, close, open_ = (frame[c].to_numpy(dtype=np.float64) for c in ("high", "low", "close", "open"))
        window, changes = config.window, config.vov_window
        rv = np.full(n, np.nan)
        if n > 1:
            rv[1:] = _annualised(rolling(log_ratios(close[1:], close[:-1]), window, std_of, 1)[:, 0], per_year)
        u = log_ratios(high, low)
        c = log_ratios(close, open_)
        parkinson = _annualised(np.sqrt(rolling(u * u, window, parkinson_of, 1)[:, 0]), per_year)
        gk = _annualised(np.sqrt(rolling(0.5 * u * u - _GK * c * c, window, mean_of, 1)[:, 0]), per_year)
        rv_vov = np.full(n, np.nan)
        first = window  # the first bar with a full window of returns
        if n > first + 1:
            moves = log_ratios(rv[first + 1:], rv[first:-1])
            rv_vov[first + 1:] = _annualised(rolling(moves, changes, std_of, 1)[:, 0], per_year)
        bars = pd.DataFrame({"rv_cc": rv, "rv_parkinson": parkinson, "rv_gk": gk, "rv_vov": rv_vov},
                            index=close_index(frame, interval))
        parts = [bars]
        if index is not None:
            parts.append(_index_columns(index, config))
        else:
            bars["iv"] = bars["iv_vov"] = NAN
        out = asof_join(parts, NAMES[:-1])
        out["iv_rv_spread"] = out["iv"].to_numpy() - out[NAMES[ESTIMATORS.index(config.spread_of)]].to_numpy()
        return out


def _index_columns(index: pd.DataFrame, config: VolConfig) -> pd.DataFrame:
    """Return ``iv`` and ``iv_vov`` at each print of a vol frame: the vectorised twin of ``Vol.on_vol_index``."""
    times = event_index(index, "Vol.batch index")
    values = index["volatility"].to_numpy(dtype=np.float64) * config.index_scale
    changes = config.vov_window
    iv_vov = np.full(len(values), np.nan)
    if len(values) > changes:
        deviation = rolling(log_ratios(values[1:], values[:-1]), changes, std_of, 1)[changes - 1:, 0]
        stamps = times.asi8
        spans = (stamps[changes:] - stamps[:-changes]).astype(np.float64)
        iv_vov[changes:] = _index_vov(deviation, spans, changes)
    return pd.DataFrame({"iv": values, "iv_vov": iv_vov}, index=times)
