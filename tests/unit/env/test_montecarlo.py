"""The regime Monte-Carlo simulator: reproducible, well shaped, and faithful to the regimes it fitted."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.datagen.synthetic import DEFAULT_REGIMES, synthetic_bars
from engine.env import MonteCarloConfig, RegimeSimulator, Spot, SpotConfig
from engine.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def fitted(hourly: pd.DataFrame) -> RegimeSimulator:
    return Spot.fit_simulator(hourly)


def test_same_seed_same_paths_other_seed_other_paths(fitted: RegimeSimulator) -> None:
    first = fitted.simulate(50, 100, seed=42)
    pd.testing.assert_frame_equal(first, fitted.simulate(50, 100, seed=42), check_exact=True)
    assert not first.equals(fitted.simulate(50, 100, seed=43))


def test_paths_are_shaped_and_stamped(fitted: RegimeSimulator, hourly: pd.DataFrame) -> None:
    paths = fitted.simulate(7, 24, seed=1)
    assert paths.shape == (25, 7)
    assert list(paths.columns) == list(range(7)) and paths.columns.name == "path"
    last_close = hourly.index[-1] + pd.Timedelta(hours=1)
    assert paths.index[0] == last_close and paths.index[-1] == last_close + pd.Timedelta(hours=24)
    assert (paths.iloc[0] == hourly["close"].iloc[-1]).all()
    assert (paths > 0).all().all()
    assert fitted.simulate(3, 5, seed=1, start_price=1.0).iloc[0].tolist() == [1.0, 1.0, 1.0]


def test_fit_is_sane(fitted: RegimeSimulator) -> None:
    assert fitted.names == ("calm", "normal", "stormy")
    np.testing.assert_allclose(fitted.transition.sum(axis=1), 1.0)
    assert (np.diag(fitted.transition) > 0.9).all()  # trailing-window regimes persist
    assert fitted.std[0] < fitted.std[1] < fitted.std[2]
    summary = fitted.summary()
    np.testing.assert_allclose(summary["share"], 1 / 3, atol=0.01)  # tercile cut points: equal shares
    assert summary.loc["stormy", "vol_ann"] == pytest.approx(fitted.std[2] * np.sqrt(8760))


@pytest.mark.parametrize("distribution", ["bootstrap", "normal"])
def test_simulated_vol_per_regime_is_the_fitted_one(hourly: pd.DataFrame, distribution: str) -> None:
    simulator = Spot.fit_simulator(hourly, SpotConfig(montecarlo=MonteCarloConfig(distribution=distribution)))
    returns, regimes = simulator.sample(400, 500, seed=3)
    for j in range(3):
        drawn = returns[regimes == j]
        assert len(drawn) > 10_000
        assert drawn.std(ddof=1) == pytest.approx(simulator.std[j], rel=0.03), j
        assert drawn.mean() == pytest.approx(simulator.mean[j], abs=3 * simulator.std[j] / np.sqrt(len(drawn)))
    # the chain visits the regimes as the fitted transition matrix says
    stay = (regimes[1:] == regimes[:-1]).mean()
    share = np.bincount(regimes[:-1].ravel(), minlength=3) / regimes[:-1].size
    assert stay == pytest.approx(float(share @ np.diag(simulator.transition)), abs=0.01)


def test_trend_regimes_recover_a_synthetic_bull_and_bear() -> None:
    frame = synthetic_bars(20_000, interval="1h", seed=4, regimes=DEFAULT_REGIMES)
    config = SpotConfig(montecarlo=MonteCarloConfig(by="trend", regimes=3, window=24 * 14))
    simulator = Spot.fit_simulator(frame, config)
    assert simulator.names == ("bear", "range", "bull")
    assert simulator.mean[0] < 0 < simulator.mean[2]
    two = Spot.fit_simulator(frame, SpotConfig(montecarlo=MonteCarloConfig(by="vol", regimes=2)))
    assert two.names == ("calm", "stormy") and two.transition.shape == (2, 2)


def test_a_path_starts_in_the_last_regime(fitted: RegimeSimulator) -> None:
    assert fitted.start_regime == int(fitted.labels.iloc[-1])
    _, regimes = fitted.sample(1000, 1, seed=0, start_regime=2)
    assert (regimes[0] == 2).mean() == pytest.approx(fitted.transition[2, 2], abs=0.03)


def test_bad_requests_are_refused(fitted: RegimeSimulator, hourly: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match="n_paths"):
        fitted.simulate(0, 10)
    with pytest.raises(ConfigError, match="start_regime"):
        fitted.simulate(1, 10, start_regime=5)
    with pytest.raises(ConfigError, match="regimes"):
        MonteCarloConfig(regimes=4)
    with pytest.raises(ConfigError, match="distribution"):
        MonteCarloConfig(distribution="t")
    with pytest.raises(DataError, match="cannot fit"):
        Spot.fit_simulator(hourly.iloc[:100])
