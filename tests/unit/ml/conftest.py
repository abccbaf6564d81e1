"""Fixtures of the ML tests: the real hourly bars and one small walk-forward trained once per session.

The small run (the ``core`` feature set on the first 5,000 hourly bars, one grid point, two inner folds, a
model every 500 bars) takes a few seconds; every test that needs trained models reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from engine.ml.labels import LabelSpec
from engine.ml.model_io import ModelBundle
from engine.ml.pipeline import train
from engine.ml.walkforward import WalkForwardConfig, WalkForwardResult
from engine.testing.data import real_hourly

SYMBOL = "BTC/USD"

SMALL_LABEL = LabelSpec(horizon=12, cost=0.002)
SMALL_CONFIG = WalkForwardConfig(retrain_every=500, min_train=2000, embargo=12, inner_folds=2,
                                 grid=({"max_depth": 2, "eta": 0.1},), max_rounds=40, early_stopping=10,
                                 min_signals=50)


@pytest.fixture(scope="session")
def hourly() -> pd.DataFrame:
    """The real hourly bars of ../shared/data, else the bundled sample (the same file)."""
    return real_hourly()


@pytest.fixture(scope="session")
def head(hourly: pd.DataFrame) -> pd.DataFrame:
    """The first 5,000 hourly bars."""
    return hourly.iloc[:5000]


@dataclass
class SmallRun:
    frame: pd.DataFrame
    bundle: ModelBundle
    result: WalkForwardResult
    directory: Path


@pytest.fixture(scope="session")
def small_run(head: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> SmallRun:
    bundle, result = train(head, SYMBOL, features="core", label=SMALL_LABEL, config=SMALL_CONFIG, n_boot=200,
                           n_random=200)
    directory = bundle.save(tmp_path_factory.mktemp("model"))
    return SmallRun(frame=head, bundle=bundle, result=result, directory=directory)
