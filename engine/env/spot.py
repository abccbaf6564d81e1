"""The spot component: prices, ranges, returns, moving averages and return statistics of one market.

Values (the keys of ``Spot.values()`` and the columns of ``Spot.batch``), each as of the latest bar ``t`` (bars
count at their close) of the configured symbol and timeframe; ``C, O, H, L`` are that bar's close, open, high,
low and ``C'`` the previous bar's close:

=====================  ==========================================================================================
``close``              ``C``
``mid``                ``(H + L) / 2``
``range``              ``(H - L) / mid``
``true_range``         ``(max(H, C') - min(L, C')) / mid`` (NaN on the first bar)
``body``               ``(C - O) / mid``
``ret``                ``C / C' - 1``: the simple return from t-1 to t, stamped at t (NaN on the first bar)
``log_ret``            ``ln(C / C')``
``sma``                mean of the last ``ma_window`` closes
``ema``                ``e_t = a C + (1 - a) e_{t-1}``, ``a = 2 / (ema_span + 1)``, ``e`` = the first close at first
                       (pandas' ``ewm(span, adjust=False)``)
``dma``, ``dma_trend`` the damped moving average: the level ``l`` and trend ``b`` of Holt's damped-trend
                       exponential smoothing (Gardner and McKenzie, 1985), starting at ``l = C, b = 0``:
                       ``l_t = a C_t + (1 - a)(l_{t-1} + phi b_{t-1})``,
                       ``b_t = beta (l_t - l_{t-1}) + (1 - beta) phi b_{t-1}``. The trend term lets it follow a
                       steady move with less lag than the EMA, and ``phi < 1`` damps that trend so it does not
                       overshoot when the move stops; with ``beta = 0`` it is exactly the EMA of factor ``a``.
``<s>_mean`` ...       over the last ``stats_window`` values of ``s`` (``stats_on``: ``log_ret`` or ``ret``):
                       ``mean``, ``std`` (ddof 1), ``skew`` (G1), ``kurt`` (excess, G2), ``min``, ``max`` and a
                       ``q<percent>`` per quantile (linear interpolation); see ``engine.env.window``
``<s>_mean_ann``       ``mean * P`` and ``<s>_std_ann`` = ``std * sqrt(P)``, ``P = 365 days / bar interval``
``quote_mid``          ``(bid + ask) / 2`` of the latest ``Quote``
``quote_spread``       ``(ask - bid) / quote_mid``
=====================  ==========================================================================================

Values that need more history than there is are NaN. Bars of other symbols or intervals are ignored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from engine.datagen.frames import infer_interval
from engine.env.batch import asof_join, checked_bars, close_index, event_index
from engine.env.montecarlo import MonteCarloConfig, RegimeSimulator
from engine.env.window import (
    MOMENT_NAMES,
    NAN,
    BarFilter,
    Window,
    check_window,
    log_ratio,
    log_ratios,
    mean_of,
    moments_of,
    order_stats,
    periods_per_year,
    quantile_name,
    rolling,
    timeframe_ns,
)
from engine.errors import ConfigError
from engine.events import Bar, Quote

STATS_SERIES = ("log_ret", "ret")


@dataclass(frozen=True, slots=True, kw_only=True)
class SpotConfig:
    """Settings of the spot component.

    Parameters
    ----------
    symbol
        Market whose bars and quotes are read; None reads every symbol (single-market sessions).
    timeframe
        Bar interval read (``"1h"``); None takes the first bar's interval. Annualisation uses it.
    fee_bps
        Taker fee of the spot market, basis points; the forward component charges it on the spot leg of carry.
    ma_window, ema_span
        Bars of the simple moving average; span of the exponential one.
    dma_alpha, dma_beta, dma_phi
        Level and trend smoothing factors, and trend damping, of the damped moving average (all in (0, 1]).
    stats_window, stats_on, quantiles
        Window of the descriptive statistics, the series they describe, and the quantiles reported.
    montecarlo
        Regime settings of the price simulator (``Spot.fit_simulator``).
    """

    symbol: str | None = None
    timeframe: str | None = None
    fee_bps: float = 10.0
    ma_window: int = 20
    ema_span: int = 20
    dma_alpha: float = 0.2
    dma_beta: float = 0.1
    dma_phi: float = 0.9
    stats_window: int = 168
    stats_on: str = "log_ret"
    quantiles: tuple[float, ...] = (0.05, 0.25, 0.5, 0.75, 0.95)
    montecarlo: MonteCarloConfig = field(default_factory=MonteCarloConfig)

    def __post_init__(self) -> None:
        check_window("spot: ma_window", self.ma_window, 1)
        check_window("spot: ema_span", self.ema_span, 1)
        check_window("spot: stats_window", self.stats_window, 4)  # kurtosis needs four values
        for name in ("dma_alpha", "dma_beta", "dma_phi"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not (0.0 < value <= 1.0 or (name == "dma_beta" and value == 0)):
                raise ConfigError(f"spot: {name} must be in (0, 1], got {value!r}")
        if not isinstance(self.fee_bps, int | float) or not self.fee_bps >= 0:
            raise ConfigError(f"spot: fee_bps must be a non-negative number, got {self.fee_bps!r}")
        if self.stats_on not in STATS_SERIES:
            raise ConfigError(f"spot: stats_on must be one of {', '.join(STATS_SERIES)}, got {self.stats_on!r}")
        order_stats(self.quantiles)  # checks the quantiles
        timeframe_ns("spot", self.timeframe)  # checks the timeframe

    @property
    def interval_ns(self) -> int:
        """The configured bar interval in ns, 0 when it is taken from the data."""
        return timeframe_ns("spot", self.timeframe)

    def names(self) -> tuple[str, ...]:
        """Return the names of the values, in the order ``Spot.values`` and ``Spot.batch`` give them."""
        s = self.stats_on
        stats = [f"{s}_{m}" for m in (*MOMENT_NAMES, "min", "max")]
        stats += [f"{s}_{quantile_name(q)}" for q in self.quantiles]
        return ("close", "mid", "range", "true_range", "body", "ret", "log_ret", "sma", "ema", "dma", "dma_trend",
                *stats, f"{s}_mean_ann", f"{s}_std_ann", "quote_mid", "quote_spread")


# -- the recursions, one code for both paths ----------------------------------------------------------------
def ema_step(previous: float, value: float, alpha: float, keep: float) -> float:
    """Return the next EMA: ``alpha * value + keep * previous`` (``keep = 1 - alpha``)."""
    return alpha * value + keep * previous


def dma_step(level: float, trend: float, value: float, config: SpotConfig) -> tuple[float, float]:
    """Return the next (level, trend) of Holt's damped-trend smoothing (see the module's table)."""
    a, beta, phi = config.dma_alpha, config.dma_beta, config.dma_phi
    damped = phi * trend
    new_level = a * value + (1.0 - a) * (level + damped)
    return new_level, beta * (new_level - level) + (1.0 - beta) * damped


class Spot:
    """Stream the spot values from ``Bar`` and ``Quote`` events; ``Spot.batch`` computes them from frames."""

    name = "spot"

    def __init__(self, config: SpotConfig | None = None) -> None:
        self.config = config = config or SpotConfig()
        self.names = config.names()
        self.ts: int | None = None
        self._bars = BarFilter(config.symbol, config.interval_ns)
        self._alpha = 2.0 / (config.ema_span + 1)
        self._keep = 1.0 - self._alpha
        self._closes = Window(config.ma_window)
        self._series = Window(config.stats_window)
        self._moments = moments_of
        self._order = order_stats(config.quantiles)
        self._use_log = config.stats_on == "log_ret"
        self._close = NAN
        self._bar = [NAN] * 7  # close mid range true_range body ret log_ret
        self._ema = self._level = self._trend = NAN
        self._quote = [NAN, NAN]
        self._cache: dict[str, float] | None = None

    def on_bar(self, bar: Bar) -> None:
        """Take in a bar of the configured symbol and timeframe."""
        if not self._bars.accepts(bar.symbol, bar.interval):
            return
        high, low, close, previous = bar.high, bar.low, bar.close, self._close
        mid = (high + low) / 2.0
        first = math.isnan(previous)
        true_range = NAN if first else (max(high, previous) - min(low, previous)) / mid
        ret = close / previous - 1.0
        log_ret = log_ratio(close, previous)
        self._bar = [close, mid, (high - low) / mid, true_range, (close - bar.open) / mid, ret, log_ret]
        if first:
            self._ema = self._level = close
            self._trend = 0.0
        else:
            self._ema = ema_step(self._ema, close, self._alpha, self._keep)
            self._level, self._trend = dma_step(self._level, self._trend, close, self.config)
            self._series.push(log_ret if self._use_log else ret)
        self._closes.push(close)
        self._close = close
        self.ts = bar.ts
        self._cache = None

    def on_quote(self, quote: Quote) -> None:
        """Take in the best bid and ask of the configured symbol."""
        symbol = self.config.symbol
        if symbol is not None and quote.symbol != symbol:
            return
        mid = (quote.bid + quote.ask) / 2.0
        self._quote = [mid, (quote.ask - quote.bid) / mid]
        self.ts = quote.ts
        self._cache = None

    def values(self) -> dict[str, float]:
        """Return every value by name, as of the latest event (the window statistics are computed here)."""
        if self._cache is None:
            window = self._series
            moments = window.stat(self._moments, 4)
            order = window.stat(self._order, 2 + len(self.config.quantiles))
            annual = _annualised(np.array([moments[:2]]), self._bars.per_year)[0].tolist()
            row = [*self._bar, self._closes.stat(mean_of, 1)[0], self._ema, self._level, self._trend,
                   *moments, *order, *annual, *self._quote]
            self._cache = dict(zip(self.names, row, strict=True))
        return dict(self._cache)

    def value(self, name: str) -> float:
        """Return one value by name."""
        return self.values()[name]

    @classmethod
    def batch(cls, frame: pd.DataFrame, config: SpotConfig | None = None, *, quotes: pd.DataFrame | None = None
              ) -> pd.DataFrame:
        """Return every value at every event time of ``frame`` (OHLCV bars) and ``quotes`` (``bid``/``ask``).

        Rows are indexed by event time (a bar at its close); each row equals ``values()`` of a ``Spot`` fed the
        same events up to that time, float for float.
        """
        config = config or SpotConfig()
        checked_bars(frame, "Spot.batch")
        interval = infer_interval(frame.index, config.timeframe, source="Spot.batch").value
        names = config.names()
        bars = _bar_columns(frame, config, interval)
        parts = [bars]
        if quotes is not None:
            bid = quotes["bid"].to_numpy(dtype=np.float64)
            ask = quotes["ask"].to_numpy(dtype=np.float64)
            mid = (bid + ask) / 2.0
            parts.append(pd.DataFrame({"quote_mid": mid, "quote_spread": (ask - bid) / mid},
                                      index=event_index(quotes, "Spot.batch quotes")))
        else:
            bars["quote_mid"] = NAN
            bars["quote_spread"] = NAN
        return asof_join(parts, names)

    @classmethod
    def fit_simulator(cls, frame: pd.DataFrame, config: SpotConfig | None = None) -> RegimeSimulator:
        """Fit the regime Monte-Carlo simulator on the closes of ``frame`` (settings: ``config.montecarlo``)."""
        config = config or SpotConfig()
        checked_bars(frame, "Spot.fit_simulator")
        interval = infer_interval(frame.index, config.timeframe, source="Spot.fit_simulator").value
        close = pd.Series(frame["close"].to_numpy(), index=close_index(frame, interval))
        return RegimeSimulator.fit(close, interval=interval, config=config.montecarlo)


def _annualised(mean_std: np.ndarray, per_year: float) -> np.ndarray:
    """Return ``[mean * P, std * sqrt(P)]`` rows from ``[mean, std]`` rows."""
    return mean_std * np.array([per_year, math.sqrt(per_year)])


def _bar_columns(frame: pd.DataFrame, config: SpotConfig, interval: int) -> pd.DataFrame:
    """Compute the bar values of ``Spot`` over a whole frame: the vectorised twin of ``Spot.on_bar``."""
    high, low, close, open_ = (frame[c].to_numpy(dtype=np.float64) for c in ("high", "low", "close", "open"))
    n = len(close)
    previous = np.concatenate(([NAN], close[:-1]))
    mid = (high + low) / 2.0
    true_range = (np.maximum(high, previous) - np.minimum(low, previous)) / mid
    ret = close / previous - 1.0
    log_ret = log_ratios(close, previous)
    ema, level, trend = np.empty(n), np.empty(n), np.empty(n)
    alpha = 2.0 / (config.ema_span + 1)
    keep = 1.0 - alpha
    e = lv = NAN
    tr = 0.0
    for i, c in enumerate(close.tolist()):
        if i == 0:
            e = lv = c
        else:
            e = ema_step(e, c, alpha, keep)
            lv, tr = dma_step(lv, tr, c, config)
        ema[i], level[i], trend[i] = e, lv, tr
    series = log_ret if config.stats_on == "log_ret" else ret
    stats = np.full((n, 6 + len(config.quantiles)), np.nan)
    if n > 1:
        stats[1:, :4] = rolling(series[1:], config.stats_window, moments_of, 4)
        order = order_stats(config.quantiles)
        stats[1:, 4:] = rolling(series[1:], config.stats_window, order, 2 + len(config.quantiles))
    annual = _annualised(stats[:, :2], periods_per_year(interval))
    sma = rolling(close, config.ma_window, mean_of, 1)[:, 0]
    columns = np.column_stack([close, mid, (high - low) / mid, true_range, (close - open_) / mid, ret, log_ret,
                               sma, ema, level, trend, stats, annual])
    names = config.names()[:-2]
    return pd.DataFrame(columns, index=close_index(frame, interval), columns=list(names))
