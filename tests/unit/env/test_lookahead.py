"""No look-ahead: changing the data after time t leaves every env value up to t unchanged, in batch and streaming."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.datagen.frames import PRICE_COLUMNS
from engine.env import Env, Spot, SpotConfig

from .scenario import Market, configs, market

# values that never depend on prices: they must not change after t either, and need not change at all
DATA_FREE = {"forward.m1.tau", "spot.quote_mid", "spot.quote_spread"}


def after(frame: pd.DataFrame, cut: pd.Timestamp, interval: str | None) -> np.ndarray:
    """Rows of ``frame`` known only after ``cut``: bars whose close is later, events stamped later."""
    stamps = frame.index + pd.Timedelta(interval) if interval else frame.index
    return np.asarray(stamps > cut)


def perturbed(m: Market, cut: pd.Timestamp, seed: int) -> Market:
    """Change every price, rate and print known only after ``cut``, keeping the bars valid."""
    rng = np.random.default_rng(seed)

    def scale_bars(frame: pd.DataFrame, interval: str) -> pd.DataFrame:
        frame = frame.copy()
        rows = after(frame, cut, interval)
        factors = rng.uniform(0.8, 1.25, rows.sum())
        for column in PRICE_COLUMNS:  # one factor per bar keeps high >= open, close >= low
            frame.loc[rows, column] = frame.loc[rows, column].to_numpy() * factors
        return frame

    funding, index = m.funding.copy(), m.index.copy()
    rows = after(funding, cut, None)
    funding.loc[rows, "funding_rate"] = rng.normal(0.0, 0.001, rows.sum())
    rows = after(index, cut, None)
    index.loc[rows, "volatility"] = index.loc[rows, "volatility"].to_numpy() * rng.uniform(0.5, 2.0, rows.sum())
    return Market(bars=scale_bars(m.bars, "1h"), perpetual=scale_bars(m.perpetual, "1h"), funding=funding,
                  future=scale_bars(m.future, "4h"), index=index)


@pytest.fixture(scope="module")
def base(hourly_head: pd.DataFrame) -> Market:
    return market(hourly_head.iloc[:400], seed=2)


@pytest.mark.parametrize("position", [50, 217, 390])
def test_every_env_value_up_to_t_ignores_later_data(base: Market, position: int) -> None:
    cut = base.bars.index[position] + pd.Timedelta(hours=1)  # the close of bar `position`
    changed = perturbed(base, cut, seed=position)
    before = Env(**configs()).batch(**base.frames())
    later = Env(**configs()).batch(**changed.frames())
    known = before.index <= cut
    pd.testing.assert_frame_equal(before[known], later[known], check_exact=True)
    streamed_before = Env(**configs()).replay(base.events())
    streamed_later = Env(**configs()).replay(changed.events())
    pd.testing.assert_frame_equal(streamed_before[known], streamed_later[known], check_exact=True)
    # and the test has teeth: every value that depends on the data did change after t
    unknown = before[~known].drop(columns=sorted(DATA_FREE))
    moved = [c for c in unknown.columns if not unknown[c].equals(later[~known][c])]
    assert set(moved) == set(unknown.columns)


def test_spot_value_with_other_settings_ignore_later_data(hourly_head: pd.DataFrame) -> None:
    """The other statistic series and long windows, on the real bars alone."""
    frame = hourly_head.iloc[:1000]
    config = SpotConfig(stats_on="ret", stats_window=200, ma_window=100, quantiles=(0.01, 0.5, 0.99))
    cut = 600
    changed = frame.copy()
    changed.iloc[cut:, :4] = changed.iloc[cut:, :4].to_numpy() * 1.5
    before, later = Spot.batch(frame, config), Spot.batch(changed, config)
    pd.testing.assert_frame_equal(before.iloc[:cut], later.iloc[:cut], check_exact=True)
    assert not before.iloc[cut:]["ret_q99"].equals(later.iloc[cut:]["ret_q99"])
