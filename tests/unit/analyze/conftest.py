"""Fixtures of the analyze tests: the real hourly BTC/USD bars (../shared/data, else the bundled sample)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.testing.data import real_hourly

SYMBOL = "BTC/USD"


@pytest.fixture(scope="session")
def hourly() -> pd.DataFrame:
    """The real hourly bars of ../shared/data, else the bundled sample (the same file): the tests never skip."""
    return real_hourly()[["open", "high", "low", "close", "volume"]]


def perturbed_after(frame: pd.DataFrame, t: int, seed: int = 7) -> pd.DataFrame:
    """Return ``frame`` with every bar after position ``t`` changed (prices and volumes), still valid OHLCV."""
    rng = np.random.default_rng(seed)
    out = frame.copy()
    n = len(frame) - t - 1
    price = rng.uniform(0.7, 1.4, n)
    for column in ("open", "high", "low", "close"):
        out.iloc[t + 1:, out.columns.get_loc(column)] *= price
    out.iloc[t + 1:, out.columns.get_loc("volume")] *= rng.uniform(0.1, 5.0, n)
    return out
