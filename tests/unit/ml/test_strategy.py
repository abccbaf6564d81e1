"""The ml_signal strategy: trades only out-of-sample bars, holds for the horizon, explains every entry."""

from __future__ import annotations

import pandas as pd
import pytest

from adapters.sim import SimSettings
from engine.backtest import run_backtest
from engine.errors import ConfigError
from engine.report import render_report
from strategies.ml_signal import MlSignal

from .conftest import SYMBOL, SmallRun


def test_it_trades_only_after_the_first_model_and_explains_each_trade(small_run: SmallRun) -> None:
    strategy = MlSignal(model=str(small_run.directory), threshold=0.45)  # the small run's own thresholds trade little
    result = run_backtest(strategy, small_run.frame, venue=SimSettings(fee_bps=10), symbol=SYMBOL)
    trades = result.trades
    assert len(trades) > 5
    first_model = pd.Timestamp(small_run.bundle.folds[0].valid_from, tz="UTC")
    assert (trades["entry_time"] >= first_model).all()
    held = (trades["exit_time"] - trades["entry_time"]) / pd.Timedelta(hours=1)
    assert held.min() >= 1 and held.median() >= small_run.bundle.label.horizon * 0.5
    contributions = result.extras["ml"]["contributions"]
    assert len(contributions) >= len(trades)  # one row per entry (the last may still be open)
    assert contributions["entry_time"].iloc[0] == trades["entry_time"].iloc[0]
    assert {"RSI", "SMA", "returns"} <= set(contributions.columns)
    page = render_report(result)
    assert "ML signal" in page and "Feature contributions to each trade" in page


def test_a_trend_confirmation_enters_only_in_an_up_trend(small_run: SmallRun) -> None:
    frame = small_run.frame
    fast, slow = frame["close"].rolling(20).mean(), frame["close"].rolling(100).mean()

    def entries_in_up_trend(confirm: str) -> tuple[int, int]:
        strategy = MlSignal(model=str(small_run.directory), threshold=0.45, confirm=confirm, confirm_fast=20,
                            confirm_slow=100)
        trades = run_backtest(strategy, frame, venue=SimSettings(), symbol=SYMBOL).trades
        signal_bars = trades["entry_time"] - pd.Timedelta(hours=1)  # filled at the open after the signal bar
        return int((fast.loc[signal_bars] > slow.loc[signal_bars]).sum()), len(trades)

    up, total = entries_in_up_trend("")
    assert 0 < up < total  # unconfirmed, some entries go against the trend
    up, total = entries_in_up_trend("trend")
    assert 0 < up == total


def test_bad_parameters_are_named() -> None:
    with pytest.raises(ConfigError, match="model directory"):
        MlSignal()
    with pytest.raises(ConfigError, match=r"no metadata\.json"):
        MlSignal(model="/nonexistent")
