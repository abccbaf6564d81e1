"""The spot component against pandas on the real hourly data, streaming against batch, and its edge cases."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from engine.datagen.bar_feed import BarFeed
from engine.env import Spot, SpotConfig
from engine.env.batch import close_index
from engine.errors import ConfigError
from engine.events import Quote

from .helpers import HOUR, START, assert_same, bar, flat_bars, streamed

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


@pytest.fixture(scope="module")
def batch(hourly: pd.DataFrame) -> pd.DataFrame:
    return Spot.batch(hourly)


@pytest.fixture(scope="module")
def close(hourly: pd.DataFrame) -> pd.Series:
    return pd.Series(hourly["close"].to_numpy(), index=close_index(hourly, HOUR))


def test_batch_is_indexed_by_bar_close_time(hourly: pd.DataFrame, batch: pd.DataFrame) -> None:
    assert len(batch) == len(hourly)
    assert (batch.index == hourly.index + pd.Timedelta(hours=1)).all()
    assert tuple(batch.columns) == SpotConfig().names()


def test_prices_and_ranges_are_exact(hourly: pd.DataFrame, batch: pd.DataFrame) -> None:
    high, low, close, open_ = (hourly[c].to_numpy() for c in ("high", "low", "close", "open"))
    mid = (high + low) / 2
    previous = np.concatenate(([np.nan], close[:-1]))
    np.testing.assert_array_equal(batch["close"], close)
    np.testing.assert_array_equal(batch["mid"], mid)
    np.testing.assert_array_equal(batch["range"], (high - low) / mid)
    np.testing.assert_array_equal(batch["body"], (close - open_) / mid)
    true_range = (np.maximum(high, previous) - np.minimum(low, previous)) / mid
    np.testing.assert_array_equal(batch["true_range"], true_range)
    assert math.isnan(batch["true_range"].iloc[0])


def test_returns_equal_pandas(close: pd.Series, batch: pd.DataFrame) -> None:
    # the return from t-1 to t is stamped at t: the first bar has none
    np.testing.assert_array_equal(batch["ret"], close.pct_change().to_numpy())
    expected = np.log(close / close.shift()).to_numpy()
    # math.log (glibc: under 0.52 units in the last place) and numpy's vectorised log (within 1 of the correctly
    # rounded value, on every CPU path numpy dispatches to, AVX-512 included) may differ by up to 2 between them
    got = batch["log_ret"].to_numpy()
    assert np.isnan(got[0]) and np.isnan(expected[0])
    ulps = np.abs(got[1:] - expected[1:]) / np.spacing(np.abs(expected[1:]))
    assert ulps.max() <= 2


def test_moving_averages_equal_pandas(close: pd.Series, batch: pd.DataFrame) -> None:
    # the EMA is the same recursion, the same floats; pandas' rolling mean keeps running sums: equal to rounding
    np.testing.assert_array_equal(batch["ema"], close.ewm(span=20, adjust=False).mean())
    np.testing.assert_allclose(batch["sma"], close.rolling(20).mean(), rtol=1e-15)


def test_window_statistics_equal_pandas(close: pd.Series, batch: pd.DataFrame) -> None:
    # the log returns are checked above (to the last bit); here pandas describes the same series
    log_ret = batch["log_ret"]
    rolling = log_ret.rolling(168)
    scale = log_ret.abs().mean()
    np.testing.assert_array_equal(batch["log_ret_min"], rolling.min())
    np.testing.assert_array_equal(batch["log_ret_max"], rolling.max())
    # pandas keeps running sums: equal up to the rounding of the summation order
    for name, expected, tolerance in (("mean", rolling.mean(), 1e-12), ("std", rolling.std(), 1e-10)):
        np.testing.assert_allclose(batch[f"log_ret_{name}"], expected, rtol=0, atol=tolerance * scale,
                                   err_msg=name)
    # pandas' online third and fourth moments lose digits on real data; ours are two-pass
    np.testing.assert_allclose(batch["log_ret_skew"], rolling.skew(), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(batch["log_ret_kurt"], rolling.kurt(), rtol=1e-6, atol=1e-8)
    for q in QUANTILES:
        name = f"log_ret_q{round(q * 100)}"
        np.testing.assert_array_equal(batch[name], rolling.quantile(q), err_msg=name)
    per_year = 365 * 24
    np.testing.assert_allclose(batch["log_ret_mean_ann"], rolling.mean() * per_year, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(batch["log_ret_std_ann"], rolling.std() * math.sqrt(per_year), rtol=1e-9)


def test_window_statistics_of_a_known_window_match_scipy_definitions() -> None:
    values = np.array([1.0, 2.0, 4.0, 8.0, 3.0, -5.0])
    prices = 100 * np.exp(np.concatenate(([0.0], np.cumsum(values / 100))))
    config = SpotConfig(stats_window=6, ma_window=3)
    row = Spot.batch(flat_bars(prices), config).iloc[-1]
    r = np.log(prices[1:] / prices[:-1])
    n, mean = 6, r.mean()
    m2, m3, m4 = (((r - mean) ** k).mean() for k in (2, 3, 4))
    assert row["log_ret_mean"] == pytest.approx(mean, rel=1e-14)
    assert row["log_ret_std"] == pytest.approx(r.std(ddof=1), rel=1e-14)
    assert row["log_ret_skew"] == pytest.approx(math.sqrt(n * (n - 1)) / (n - 2) * m3 / m2 ** 1.5, rel=1e-12)
    g2 = (n - 1) / ((n - 2) * (n - 3)) * ((n + 1) * m4 / m2 ** 2 - 3 * (n - 1))
    assert row["log_ret_kurt"] == pytest.approx(g2, rel=1e-12)
    assert row["log_ret_q25"] == pytest.approx(np.quantile(r, 0.25), rel=1e-14)
    assert row["sma"] == pytest.approx(prices[-3:].mean(), rel=1e-15)


def test_streaming_equals_batch_for_every_value(hourly_head: pd.DataFrame) -> None:
    """Every value, bar after bar, float for float, quotes included."""
    quote_times = hourly_head.index[::7] + pd.Timedelta(minutes=30)
    quotes = pd.DataFrame({"bid": hourly_head["low"].to_numpy()[::7], "ask": hourly_head["high"].to_numpy()[::7]},
                          index=quote_times)
    events: list = list(BarFeed(hourly_head, "BTC/USD"))
    events += [Quote(ts=ts, symbol="BTC/USD", bid=b, ask=a)
               for ts, b, a in zip(quote_times.asi8.tolist(), quotes["bid"], quotes["ask"], strict=True)]
    events.sort(key=lambda e: e.ts)
    for config in (SpotConfig(), SpotConfig(stats_on="ret", stats_window=24, quantiles=(0.1, 0.9), ma_window=5)):
        assert_same(streamed(Spot(config), events), Spot.batch(hourly_head, config, quotes=quotes))


def test_quotes_give_mid_and_relative_spread() -> None:
    spot = Spot(SpotConfig(symbol="BTC/USD"))
    spot.on_quote(Quote(ts=1, symbol="BTC/USD", bid=99.0, ask=101.0))
    spot.on_quote(Quote(ts=2, symbol="ETH/USD", bid=1.0, ask=3.0))
    values = spot.values()
    assert values["quote_mid"] == 100.0
    assert values["quote_spread"] == 0.02
    assert math.isnan(values["close"])


def test_damped_average_without_trend_is_the_ema(hourly_head: pd.DataFrame) -> None:
    config = SpotConfig(ema_span=9, dma_alpha=0.2, dma_beta=0.0)  # 2 / (9 + 1) = 0.2
    out = Spot.batch(hourly_head, config)
    np.testing.assert_array_equal(out["dma"], out["ema"])
    assert (out["dma_trend"] == 0).all()


def test_damped_average_follows_the_recursion() -> None:
    config = SpotConfig(dma_alpha=0.5, dma_beta=0.5, dma_phi=0.5)
    out = Spot.batch(flat_bars(np.array([10.0, 20.0, 20.0])), config)
    # l1 = .5*20 + .5*(10 + .5*0) = 15, b1 = .5*(15-10) + .5*.5*0 = 2.5
    # l2 = .5*20 + .5*(15 + .5*2.5) = 18.125, b2 = .5*(18.125-15) + .5*.5*2.5 = 2.1875
    assert out["dma"].tolist() == [10.0, 15.0, 18.125]
    assert out["dma_trend"].tolist() == [0.0, 2.5, 2.1875]


def test_a_rising_market_leaves_the_damped_average_closer_than_the_ema() -> None:
    prices = np.linspace(100.0, 200.0, 200)
    out = Spot.batch(flat_bars(prices), SpotConfig(ema_span=9, dma_alpha=0.2, dma_beta=0.2, dma_phi=0.9))
    assert prices[-1] - out["dma"].iloc[-1] < (prices[-1] - out["ema"].iloc[-1]) / 2


def test_values_are_nan_until_their_window_fills() -> None:
    spot = Spot(SpotConfig(ma_window=3, stats_window=4))
    for i, price in enumerate([100.0, 101.0, 102.0, 103.0]):
        spot.on_bar(bar((i + 1) * HOUR, price))
    values = spot.values()
    assert values["sma"] == 102.0
    assert math.isnan(values["log_ret_std"])  # three returns for a window of four
    spot.on_bar(bar(5 * HOUR, 104.0))
    assert math.isfinite(spot.value("log_ret_std"))


def test_other_symbols_and_intervals_are_ignored() -> None:
    spot = Spot(SpotConfig(symbol="BTC/USD"))
    spot.on_bar(bar(HOUR, 100.0))
    spot.on_bar(bar(2 * HOUR, 500.0, symbol="ETH/USD"))
    spot.on_bar(bar(2 * HOUR, 700.0, interval=60_000_000_000))  # the first bar set the interval: 1h
    spot.on_bar(bar(2 * HOUR, 110.0))
    assert spot.value("ret") == pytest.approx(0.1)
    fixed = Spot(SpotConfig(timeframe="1m"))
    fixed.on_bar(bar(HOUR, 100.0))
    assert math.isnan(fixed.value("close"))


@pytest.mark.parametrize("kwargs", [{"ma_window": 0}, {"stats_window": 3}, {"dma_alpha": 0.0}, {"dma_phi": 1.5},
                                    {"stats_on": "close"}, {"quantiles": (1.5,)}, {"timeframe": "soon"},
                                    {"fee_bps": -1.0}])
def test_bad_settings_are_refused_by_name(kwargs: dict) -> None:
    with pytest.raises(ConfigError, match=next(iter(kwargs)).split("_")[0]):
        SpotConfig(**kwargs)


def test_batch_accepts_only_valid_bars() -> None:
    frame = flat_bars(np.array([1.0, 2.0]))
    frame.iloc[1, frame.columns.get_loc("close")] = -1.0
    with pytest.raises(Exception, match="close"):
        Spot.batch(frame)


def test_bars_are_stamped_at_close_like_the_feed() -> None:
    frame = flat_bars(np.array([1.0, 2.0, 3.0]))
    out = Spot.batch(frame)
    assert out.index[0] == START + pd.Timedelta(hours=1)
