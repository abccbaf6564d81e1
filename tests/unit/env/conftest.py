"""Fixtures of the env tests: the real hourly BTC/USD bars, and data the tests build with known answers."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest

from engine.datagen.cryptodatadownload import load_cryptodatadownload
from engine.datagen.sample import load_sample

# <repo>/../shared/data: parents[3] of this file is the repository root.
HOURLY = Path(__file__).parents[3] / "../shared/data/Coinbase_BTCUSD_1h.csv"


@pytest.fixture(scope="session")
def hourly() -> pd.DataFrame:
    """The real hourly bars of ../shared/data, else the bundled sample (the same file)."""
    logger = logging.getLogger("engine.datagen")
    level = logger.level
    logger.setLevel(logging.ERROR)  # the file's known out-of-order rows; other tests assert that warning
    try:
        if HOURLY.exists():
            frame, _ = load_cryptodatadownload(HOURLY)
        else:
            frame, _ = load_sample()
    finally:
        logger.setLevel(level)
    return frame


@pytest.fixture(scope="session")
def hourly_head(hourly: pd.DataFrame) -> pd.DataFrame:
    """The first 3,000 hourly bars: enough for every window, quick to stream."""
    return hourly.iloc[:3000]
