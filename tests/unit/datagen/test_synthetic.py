"""synthetic_bars: valid OHLCV, reproducible by seed, volatility that clusters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.datagen.frames import OHLCV_COLUMNS, validate_ohlcv
from engine.datagen.synthetic import DEFAULT_REGIMES, Regime, _ar1, regime_path, synthetic_bars


def test_bars_are_valid_and_continuous() -> None:
    bars = synthetic_bars(50_000, seed=11)
    assert validate_ohlcv(bars, "synthetic") is bars
    assert list(bars.columns) == list(OHLCV_COLUMNS) and (bars.dtypes == np.float64).all()
    assert str(bars.index.dtype) == "datetime64[ns, UTC]" and bars.index.name == "ts"
    assert (bars["volume"] > 0).all()
    assert bars["open"].iloc[0] == 100.0
    assert (bars["open"].to_numpy()[1:] == bars["close"].to_numpy()[:-1]).all()  # each bar opens at the last close


def test_same_seed_same_bars_other_seed_other_bars() -> None:
    pd.testing.assert_frame_equal(synthetic_bars(1000, seed=3), synthetic_bars(1000, seed=3))
    assert not synthetic_bars(1000, seed=3).equals(synthetic_bars(1000, seed=4))
    # a longer run starts with the same bars
    pd.testing.assert_frame_equal(synthetic_bars(10, seed=3), synthetic_bars(1000, seed=3).iloc[:10],
                                  check_freq=False, check_exact=True)


def test_interval_start_and_price() -> None:
    bars = synthetic_bars(24, interval="1h", start="2021-06-01 12:00", price=30_000.0)
    assert bars.index[0] == pd.Timestamp("2021-06-01 12:00", tz="UTC")
    assert (np.diff(bars.index.asi8) == 3_600_000_000_000).all()
    assert bars["open"].iloc[0] == 30_000.0
    berlin = synthetic_bars(2, start=pd.Timestamp("2021-06-01 14:00", tz="Europe/Berlin"))
    assert berlin.index[0] == pd.Timestamp("2021-06-01 12:00", tz="UTC")
    assert synthetic_bars(0).empty


def test_volatility_matches_and_clusters() -> None:
    bars = synthetic_bars(200_000, seed=0, volatility=0.8)
    returns = np.diff(np.log(bars["close"].to_numpy()))
    annual = returns.std() * np.sqrt(365 * 24 * 60)
    assert 0.7 < annual < 0.9
    size = np.abs(returns)
    lag1 = np.corrcoef(size[:-1], size[1:])[0, 1]
    assert lag1 > 0.05  # big moves follow big moves; iid returns would give ~0
    kurtosis = ((returns - returns.mean()) ** 4).mean() / returns.var() ** 2
    assert kurtosis > 3.3  # fatter tails than a normal distribution


def test_ar1_matches_the_recursion() -> None:
    shocks = np.random.default_rng(1).standard_normal(5000)
    expected = np.empty_like(shocks)
    x = 0.3
    for i, e in enumerate(shocks):
        x = 0.98 * x + e
        expected[i] = x
    np.testing.assert_allclose(_ar1(shocks, 0.98, 0.3), expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize(("kwargs", "message"), [({"n": -1}, "n must be"), ({"n": 5, "price": 0.0}, "price"),
                                                 ({"n": 5, "interval": "0s"}, "positive")])
def test_bad_arguments(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        synthetic_bars(**kwargs)  # type: ignore[arg-type]


def test_the_default_walk_is_unchanged_by_regimes() -> None:
    # The back-test benchmark replays synthetic_bars(n, interval="1min", seed=7): its bars must not move.
    bars = synthetic_bars(5, interval="1min", seed=7)
    assert bars["close"].round(10).tolist() == pytest.approx(EXPECTED_SEED7_CLOSES, rel=0, abs=1e-9)


EXPECTED_SEED7_CLOSES = [99.9065155887, 100.1231339614, 100.0577284378, 100.3688834691, 100.5107252767]


def test_regimes_switch_drift_and_volatility_deterministically() -> None:
    n = 24 * 365 * 20
    kwargs = {"interval": "1h", "seed": 5, "regimes": DEFAULT_REGIMES, "volatility": 0.3}
    bars = synthetic_bars(n, **kwargs)  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(bars, synthetic_bars(n, **kwargs))  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(synthetic_bars(500, **kwargs), bars.iloc[:500],  # type: ignore[arg-type]
                                  check_freq=False)
    assert validate_ohlcv(bars, "synthetic") is bars
    path = regime_path(n, interval="1h", seed=5)
    assert set(np.unique(path)) == {0, 1, 2}
    switches = np.flatnonzero(np.diff(path))
    assert 50 < len(switches) < 300  # about one every 30 to 60 days over 20 years
    assert (path[switches] != path[switches + 1]).all()
    returns = np.diff(np.log(bars["close"].to_numpy()))
    label = path[1:]
    year = 24 * 365
    drift = {r.name: returns[label == k].mean() * year for k, r in enumerate(DEFAULT_REGIMES)}
    vol = {r.name: returns[label == k].std() * np.sqrt(year) for k, r in enumerate(DEFAULT_REGIMES)}
    assert drift["bull"] > 0.5 and drift["bear"] < -0.8 and abs(drift["range"]) < 0.3
    assert vol["bear"] > vol["bull"] > vol["range"]
    size = np.abs(returns)
    assert np.corrcoef(size[:-1], size[1:])[0, 1] > 0.05  # volatility still clusters


def test_regime_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="vol and days must be positive"):
        Regime(name="x", vol=0.0)
    with pytest.raises(ValueError, match="at least one regime"):
        regime_path(10, regimes=())
    single = regime_path(1000, regimes=(Regime(name="only"),))
    assert (single == 0).all()
