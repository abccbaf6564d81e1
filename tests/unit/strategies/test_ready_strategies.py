"""Every ready strategy of strategies/: found by the CLI's resolver, runs on the bundled sample, trades, and
gives the same result twice."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from adapters.sim import SimSettings
from engine.analyze.signal_strategy import SignalStrategy
from engine.analyze.signals import signal_frame
from engine.backtest import BacktestResult, run_backtest
from engine.cli import main
from engine.cli.backtest import list_strategies, resolve_strategy
from engine.datagen.sample import load_sample
from engine.errors import ConfigError

READY = ["bear_bull", "double_dip", "ma_simple", "ma_inverse", "ma_blended", "rsi", "atr_band", "bollinger"]


@pytest.fixture(scope="module")
def sample() -> tuple[pd.DataFrame, str]:
    frame, meta = load_sample()
    return frame, meta.symbol


def run(name: str, sample: tuple[pd.DataFrame, str], **params: object) -> BacktestResult:
    frame, symbol = sample
    return run_backtest(resolve_strategy(name)(**params), frame, venue=SimSettings(), symbol=symbol)


def test_every_ready_strategy_is_listed() -> None:
    assert set(READY) <= set(list_strategies())


@pytest.mark.parametrize("name", READY)
def test_runs_on_the_sample_trades_and_is_deterministic(name: str, sample: tuple[pd.DataFrame, str]) -> None:
    first, second = run(name, sample), run(name, sample)
    assert first.stats["n_trades"] > 5
    assert set(first.fills["side"]) == {"buy", "sell"}
    pd.testing.assert_frame_equal(first.fills, second.fills)
    pd.testing.assert_frame_equal(first.equity, second.equity)


def test_rsi_modes_trade_differently(sample: tuple[pd.DataFrame, str]) -> None:
    reversion, momentum = run("rsi", sample), run("rsi", sample, mode="momentum")
    assert momentum.stats["n_trades"] > 5
    assert reversion.trades["entry_time"].iloc[0] != momentum.trades["entry_time"].iloc[0]


def test_double_dip_stop_loss_exits(sample: tuple[pd.DataFrame, str]) -> None:
    tight = run("double_dip", sample, stop_loss=0.005, take_profit=0.0)
    loose = run("double_dip", sample, stop_loss=0.0, take_profit=0.0)
    assert tight.stats["n_trades"] > loose.stats["n_trades"]  # without exits it waits for a double top


@pytest.mark.parametrize(("name", "params", "message"), [
    ("rsi", {"mode": "contrarian"}, "mode must be one of mean_reversion, momentum"),
    ("ma_simple", {"fast": 50, "slow": 20}, "need 0 < fast < slow"),
    ("bollinger", {"size": 1.5}, r"size must be in \(0, 1\]"),
    ("double_dip", {"stop_loss": 1.5}, "need 0 <= stop_loss < 1"),
    ("atr_band", {"atr_period": 0}, "TA-Lib refuses"),
])
def test_bad_parameters_fail_before_the_run(name: str, params: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve_strategy(name)(**params)


def test_the_cli_runs_a_ready_strategy_with_no_other_flag(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backtest", "--strategy", "rsi", "--param", "mode=momentum", "--quiet", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["config"]["strategies"][0] == {"name": "Rsi", "params": {
        "size": 0.95, "symbol": "", "mode": "momentum", "period": 14, "lower": 30.0, "upper": 70.0}}
    assert result["stats"]["n_trades"] > 5


@pytest.mark.parametrize("name", [n for n in READY if n != "bear_bull"])  # a regime holds: no finite warm-up
def test_after_its_warm_up_a_signal_reads_as_on_the_whole_history(name: str,
                                                                  sample: tuple[pd.DataFrame, str]) -> None:
    frame, symbol = sample
    strategy = resolve_strategy(name)()
    assert isinstance(strategy, SignalStrategy)
    warmup = strategy.warmup_bars()
    assert warmup > 1
    whole = signal_frame(strategy.signal(), frame, symbol)["direction"].iloc[-300:]
    start = len(frame) - 300 - warmup + 1  # the first of the last 300 bars is the warm-up's last
    part = signal_frame(strategy.signal(), frame.iloc[start:], symbol)["direction"]
    assert part.iloc[-300:].tolist() == whole.tolist()
