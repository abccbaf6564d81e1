"""Builders of frames and events with known answers for the env tests."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from engine.datagen.frames import INDEX_NAME
from engine.events import Bar, Event
from engine.testing.events import make_bar

HOUR = 3_600_000_000_000
START = pd.Timestamp("2024-01-01", tz="UTC")


def times(n: int, step: str = "1h", start: pd.Timestamp = START) -> pd.DatetimeIndex:
    return pd.date_range(start, periods=n, freq=step, name=INDEX_NAME).as_unit("ns")


def ohlcv(open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, step: str = "1h",
          start: pd.Timestamp = START) -> pd.DataFrame:
    """Return a standard OHLCV frame (index: open times) of the given prices, volume 1."""
    n = len(close)
    return pd.DataFrame({"open": np.asarray(open_, dtype=float), "high": np.asarray(high, dtype=float),
                         "low": np.asarray(low, dtype=float), "close": np.asarray(close, dtype=float),
                         "volume": np.ones(n)}, index=times(n, step, start))


def flat_bars(prices: np.ndarray, step: str = "1h", start: pd.Timestamp = START) -> pd.DataFrame:
    """Bars whose open, high, low and close are all ``prices``."""
    return ohlcv(prices, prices, prices, prices, step, start)


def funding_frame(rates: list[float], step: str = "8h", start: pd.Timestamp = START) -> pd.DataFrame:
    return pd.DataFrame({"funding_rate": np.asarray(rates, dtype=float)}, index=times(len(rates), step, start))


def vol_frame(values: list[float] | np.ndarray, step: str = "1h", start: pd.Timestamp = START) -> pd.DataFrame:
    return pd.DataFrame({"volatility": np.asarray(values, dtype=float)}, index=times(len(values), step, start))


def bar(ts: int, close: float, *, symbol: str = "BTC/USD", interval: int = HOUR, high: float | None = None,
        low: float | None = None, open_: float | None = None) -> Bar:
    return make_bar(ts, close, symbol=symbol, interval=interval, high=close if high is None else high,
                    low=close if low is None else low, open=open_)


def gbm_intrabar(n_bars: int, steps: int, sigma_annual: float, seed: int, step: str = "1h") -> pd.DataFrame:
    """OHLC bars of a driftless GBM sampled ``steps`` times per bar; each bar opens at the previous close."""
    rng = np.random.default_rng(seed)
    per_year = pd.Timedelta(days=365) / pd.Timedelta(step)
    sd = sigma_annual / np.sqrt(per_year * steps)
    # log price path: drift -sd^2/2 makes the price a martingale; ranges and closes are what matter here
    increments = rng.standard_normal((n_bars, steps)) * sd - sd * sd / 2
    path = np.cumsum(increments.ravel()).reshape(n_bars, steps)
    opens = np.concatenate(([0.0], path[:-1, -1]))
    highs = np.maximum(path.max(axis=1), opens)
    lows = np.minimum(path.min(axis=1), opens)
    base = 30_000.0
    return ohlcv(base * np.exp(opens), base * np.exp(highs), base * np.exp(lows), base * np.exp(path[:, -1]), step)


def streamed(component: Any, events: Iterable[Event]) -> pd.DataFrame:
    """Return a component's values after each event time when ``events`` stream through it."""
    from engine.env.batch import replay, snapshots_frame

    stamps, rows = replay(component, events)
    return snapshots_frame(stamps, rows, component.names)


def assert_same(streaming: pd.DataFrame, batch: pd.DataFrame) -> None:
    """Assert two value frames are equal float for float (NaN where the other has NaN)."""
    pd.testing.assert_frame_equal(streaming, batch, check_exact=True, check_freq=False)
