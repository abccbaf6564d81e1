"""The live handler reproduces the walk-forward: same features, same model per bar, same probabilities."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from adapters.sim import SimSettings
from engine.backtest import run_backtest
from engine.errors import ConfigError
from engine.events import Signal
from engine.ml.handler import MLSignal
from engine.strategy import Strategy

from .conftest import SYMBOL, SmallRun

HOUR = pd.Timedelta(hours=1)


class Listen(Strategy):
    """Keep every signal; trade nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.signals: list[Signal] = []

    def on_signal(self, signal: Signal) -> None:
        self.signals.append(signal)


def test_a_back_test_replays_the_walk_forward_predictions_exactly(small_run: SmallRun) -> None:
    handler, listener = MLSignal(small_run.directory), Listen()
    result = run_backtest(listener, small_run.frame, venue=SimSettings(), symbol=SYMBOL, handlers=[handler])
    seen = handler.frame()
    expected = small_run.result.predictions
    replayed = seen.loc[expected.index + HOUR]  # the handler stamps bars at their close
    assert np.array_equal(replayed[["p_down", "p_flat", "p_up"]].to_numpy(),
                          expected[["p_down", "p_flat", "p_up"]].to_numpy())
    before = seen.loc[: expected.index[0]]
    assert before["p_up"].isna().all()  # no model existed before the first out-of-sample bar
    directions = [s.direction for s in listener.signals]
    assert directions == expected["direction"].tolist()  # one signal per predicted bar, the walk-forward's
    assert all(s.contributions for s in listener.signals if s.direction)
    assert all(s.contributions is None for s in listener.signals if not s.direction)
    table = result.extras["ml"]["thresholds"]
    assert {"threshold", "n_signals", "precision", "avg_return", "is_precision"} <= set(table.columns)


def test_warm_up_then_the_tail_equals_the_whole_run(small_run: SmallRun) -> None:
    frame = small_run.frame
    whole = MLSignal(small_run.bundle)
    run_backtest(Listen(), frame, venue=SimSettings(), symbol=SYMBOL, handlers=[whole])
    warmed = MLSignal(small_run.bundle)
    assert warmed.warm_up(frame.iloc[:3500], SYMBOL) == 3500
    run_backtest(Listen(), frame.iloc[3500:], venue=SimSettings(), symbol=SYMBOL, handlers=[warmed])
    tail = whole.frame().iloc[3500:]
    assert tail.equals(warmed.frame())


def test_nonzero_emission_and_threshold_override(small_run: SmallRun) -> None:
    listener = Listen()
    handler = MLSignal(small_run.bundle, emit="nonzero", threshold=0.5)
    run_backtest(listener, small_run.frame.iloc[-1500:], venue=SimSettings(), symbol=SYMBOL, handlers=[handler])
    assert listener.signals and all(s.direction != 0 for s in listener.signals)
    assert all(s.strength >= 0.5 for s in listener.signals)
    with pytest.raises(ConfigError):
        MLSignal(small_run.bundle, emit="sometimes")
    with pytest.raises(ConfigError):
        MLSignal(small_run.bundle, threshold=1.5)
