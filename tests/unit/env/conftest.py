"""Fixtures of the env tests: the real hourly BTC/USD bars, and data the tests build with known answers."""

from __future__ import annotations

import pandas as pd
import pytest

from engine.testing.data import real_hourly


@pytest.fixture(scope="session")
def hourly() -> pd.DataFrame:
    """The real hourly bars of ../shared/data, else the bundled sample (the same file)."""
    return real_hourly()


@pytest.fixture(scope="session")
def hourly_head(hourly: pd.DataFrame) -> pd.DataFrame:
    """The first 3,000 hourly bars: enough for every window, quick to stream."""
    return hourly.iloc[:3000]
