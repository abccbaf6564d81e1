"""The vol component on bars built with known answers, on a GBM of known sigma, and streaming against batch."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from engine.datagen.bar_feed import BarFeed
from engine.env import Vol, VolConfig
from engine.errors import ConfigError
from engine.events import VolIndex

from .helpers import HOUR, START, assert_same, bar, gbm_intrabar, ohlcv, streamed, vol_frame

PER_YEAR = 365 * 24  # hourly bars
K = 2 * math.log(2) - 1


def zigzag(n: int, c: float, u: float) -> pd.DataFrame:
    """Bars whose log return alternates +c, -c, each opening at the last close, with ln(H/L) = u exactly-ish."""
    closes = 100.0 * np.exp(np.cumsum(np.where(np.arange(n) % 2 == 0, c, -c)))
    opens = np.concatenate(([100.0], closes[:-1]))
    pad = math.exp((u - c) / 2)
    return ohlcv(opens, np.maximum(opens, closes) * pad, np.minimum(opens, closes) / pad, closes)


def test_estimators_on_bars_built_to_known_values() -> None:
    """Each estimator's formula, checked exactly (to rounding) on deterministic bars."""
    c, u, window = 0.004, 0.01, 24
    out = Vol.batch(zigzag(200, c, u), VolConfig(window=window)).iloc[-1]
    # returns +-c with mean 0 over an even window: sample std = c sqrt(W / (W - 1))
    assert out["rv_cc"] == pytest.approx(c * math.sqrt(window / (window - 1)) * math.sqrt(PER_YEAR), rel=1e-12)
    assert out["rv_parkinson"] == pytest.approx(u * math.sqrt(PER_YEAR / (4 * math.log(2))), rel=1e-12)
    assert out["rv_gk"] == pytest.approx(math.sqrt(PER_YEAR * (u * u / 2 - K * c * c)), rel=1e-12)
    assert out["rv_vov"] == pytest.approx(0.0, abs=1e-9)  # the estimate never moves


def test_parkinson_and_garman_klass_hit_a_chosen_sigma() -> None:
    sigma = 0.6
    u = sigma * math.sqrt(4 * math.log(2) / PER_YEAR)  # makes Parkinson exactly sigma
    assert Vol.batch(zigzag(50, 0.0, u)).iloc[-1]["rv_parkinson"] == pytest.approx(sigma, rel=1e-12)
    c = u / 2  # and u' such that u'^2 / 2 - K c^2 = sigma^2 / P makes Garman-Klass exactly sigma
    u_gk = math.sqrt(2 * (sigma ** 2 / PER_YEAR + K * c * c))
    assert Vol.batch(zigzag(50, c, u_gk)).iloc[-1]["rv_gk"] == pytest.approx(sigma, rel=1e-12)


@pytest.mark.parametrize("sigma", [0.3, 0.8])
def test_estimators_recover_the_sigma_of_a_gbm(sigma: float) -> None:
    """Statistically close on a GBM sampled 1,000 times a bar: within 5 % over 4,000 bars.

    Standard errors over 4,000 bars: about 1.1 % for close-to-close, less for the range estimators. Sampling the
    path m = 1,000 times a bar misses the top and bottom of each true range by a little: the range estimators
    read about 0.73 / sqrt(m) = 2.3 % low.
    """
    n = 4000
    out = Vol.batch(gbm_intrabar(n, 1000, sigma, seed=7), VolConfig(window=n - 1)).iloc[-1]
    for name in ("rv_cc", "rv_parkinson", "rv_gk"):
        assert out[name] == pytest.approx(sigma, rel=0.05), name
    assert out["rv_parkinson"] < sigma and out["rv_gk"] < sigma  # the discrete-sampling bias, downwards


def test_short_windows_average_to_the_gbm_sigma() -> None:
    sigma = 0.5
    out = Vol.batch(gbm_intrabar(3000, 1000, sigma, seed=3), VolConfig(window=24))
    # the variance estimates are unbiased (up to the 2.3 % sampling bias of the ranges): so is their mean
    for name, tolerance in (("rv_cc", 0.03), ("rv_parkinson", 0.05), ("rv_gk", 0.05)):
        assert math.sqrt((out[name] ** 2).mean()) == pytest.approx(sigma, rel=tolerance), name


def test_implied_minus_realized_is_exact() -> None:
    bars = zigzag(60, 0.004, 0.01)
    index = vol_frame(np.linspace(50.0, 70.0, 60))  # percent, as Deribit reports
    for spread_of, column in (("cc", "rv_cc"), ("parkinson", "rv_parkinson"), ("gk", "rv_gk")):
        out = Vol.batch(bars, VolConfig(window=24, spread_of=spread_of), index=index)
        # prints at 00:00 ... 59:00, bars close at 01:00 ... 60:00: the last row carries the last print
        np.testing.assert_array_equal(out["iv"].iloc[:60], index["volatility"].to_numpy() * 0.01)
        assert out["iv"].iloc[60] == out["iv"].iloc[59]
        np.testing.assert_array_equal(out["iv_rv_spread"], out["iv"] - out[column])
    vol = Vol(VolConfig(window=2))
    for i, price in enumerate([100.0, 101.0, 100.0]):
        vol.on_bar(bar((i + 1) * HOUR, price))
    vol.on_vol_index(VolIndex(ts=4 * HOUR, symbol="BTC", value=0.55))
    values = vol.values()
    assert values["iv"] == 0.55
    assert values["iv_rv_spread"] == 0.55 - values["rv_cc"]


def test_iv_is_carried_as_of_each_bar() -> None:
    bars = zigzag(10, 0.004, 0.01)
    index = vol_frame([40.0, 60.0], step="3h", start=START + pd.Timedelta(minutes=30))
    out = Vol.batch(bars, VolConfig(window=2), index=index)
    at = START + pd.Timedelta(hours=3)  # bar closes at 01:00, 02:00, 03:00 ...; prints at 00:30 and 03:30
    assert out.loc[at, "iv"] == 0.4
    assert out.loc[at + pd.Timedelta(minutes=30), "iv"] == 0.6
    first = out.iloc[0]  # the print at 00:30 comes before the first bar closes (01:00)
    assert out.index[0] == START + pd.Timedelta(minutes=30)
    assert first["iv"] == 0.4 and math.isnan(first["rv_cc"]) and math.isnan(first["iv_rv_spread"])


def test_vol_of_the_index_is_known() -> None:
    d, changes = 0.02, 24
    values = 50.0 * np.exp(np.where(np.arange(100) % 2 == 0, d, -d))
    out = Vol.batch(zigzag(10, 0.001, 0.01), VolConfig(vov_window=changes), index=vol_frame(values))
    expected = d * 2 * math.sqrt(changes / (changes - 1)) * math.sqrt(PER_YEAR)  # changes alternate +-2d
    assert out["iv_vov"].iloc[-1] == pytest.approx(expected, rel=1e-12)
    assert out["iv_vov"].iloc[:changes].isna().all() and math.isfinite(out["iv_vov"].iloc[changes])


def test_vol_of_realized_vol_follows_its_definition(hourly_head: pd.DataFrame) -> None:
    out = Vol.batch(hourly_head, VolConfig(window=24, vov_window=48))
    rv = out["rv_cc"]
    expected = np.log(rv / rv.shift()).rolling(48).std() * math.sqrt(PER_YEAR)
    np.testing.assert_allclose(out["rv_vov"], expected, rtol=1e-9)
    returns = np.log(hourly_head["close"] / hourly_head["close"].shift())
    np.testing.assert_allclose(rv, returns.rolling(24).std().to_numpy() * math.sqrt(PER_YEAR), rtol=1e-9)


def test_streaming_equals_batch_for_every_value(hourly_head: pd.DataFrame) -> None:
    """Real bars and an index printed every 3 hours, half on bar closes and half between."""
    stamps = hourly_head.index[::3] + pd.Timedelta(hours=1)
    stamps = stamps.where(np.arange(len(stamps)) % 2 == 0, stamps - pd.Timedelta(minutes=20))
    rng = np.random.default_rng(1)
    index = pd.DataFrame({"volatility": 60 * np.exp(np.cumsum(rng.normal(0, 0.02, len(stamps))))}, index=stamps)
    prints = [VolIndex(ts=ts, symbol="BTC-DVOL", value=v * 0.01, kind="implied")
              for ts, v in zip(stamps.asi8.tolist(), index["volatility"].tolist(), strict=True)]
    events = sorted([*BarFeed(hourly_head, "BTC/USD"), *prints], key=lambda e: e.ts)  # stable: bars first
    for config in (VolConfig(), VolConfig(window=10, vov_window=5, spread_of="gk", index_symbol="BTC-DVOL")):
        assert_same(streamed(Vol(config), events), Vol.batch(hourly_head, config, index=index))


def test_prints_of_other_symbols_or_kinds_are_ignored() -> None:
    vol = Vol(VolConfig(index_symbol="BTC-DVOL"))
    vol.on_vol_index(VolIndex(ts=1, symbol="ETH-DVOL", value=0.9))
    vol.on_vol_index(VolIndex(ts=2, symbol="BTC-DVOL", value=0.7, kind="realized"))
    assert math.isnan(vol.value("iv"))
    vol.on_vol_index(VolIndex(ts=3, symbol="BTC-DVOL", value=0.5))
    assert vol.value("iv") == 0.5
    anything = Vol(VolConfig(index_kind=None))
    anything.on_vol_index(VolIndex(ts=2, symbol="X", value=0.7, kind="realized"))
    assert anything.value("iv") == 0.7


def test_a_bad_print_gives_nan_not_an_error() -> None:
    vol = Vol(VolConfig(vov_window=2))
    for ts, value in ((1, 0.5), (2, 0.0), (3, 0.6), (4, 0.6)):
        vol.on_vol_index(VolIndex(ts=ts, symbol="X", value=value))
    assert math.isnan(vol.value("iv_vov"))  # the window holds ln(0.6 / 0) = NaN


@pytest.mark.parametrize("kwargs", [{"window": 1}, {"vov_window": 0}, {"spread_of": "yang"},
                                    {"index_scale": 0}, {"timeframe": "x"}])
def test_bad_settings_are_refused_by_name(kwargs: dict) -> None:
    with pytest.raises(ConfigError, match=next(iter(kwargs))):
        VolConfig(**kwargs)
