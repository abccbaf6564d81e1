"""A back-test that makes no trade says why, in the summary ``mlct backtest`` prints and in ``result.json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from engine.cli import main
from engine.datagen.files import save_parquet
from engine.datagen.synthetic import synthetic_bars
from engine.result import BacktestResult


def backtest(argv: list[str], out: Path, capsys: pytest.CaptureFixture[str]) -> tuple[str, dict[str, Any]]:
    """Run ``mlct backtest ARGV --out OUT`` as a user does; return the summary it printed and its result.json."""
    capsys.readouterr()
    assert main(["backtest", *argv, "--out", str(out)]) == 0  # no trade is a result, not an error
    return capsys.readouterr().out, json.loads((out / "result.json").read_text())


def test_a_warm_up_longer_than_the_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    daily = save_parquet(synthetic_bars(1826, interval="1D", seed=4), tmp_path / "daily.parquet", symbol="BTC/USD")
    summary, result = backtest(["--strategy", "ma_blended", "--data", str(daily)], tmp_path / "out", capsys)
    assert result["stats"]["n_trades"] == 0
    no_trades = result["no_trades"]
    assert no_trades["cause"] == "warmup" and no_trades["orders"] == 0
    assert no_trades["warmup_bars"] == {"MaBlended": 3417} and no_trades["bars"] == {"BTC/USD": 1826}
    assert no_trades["message"].startswith("the warm-up is longer than the data: MaBlended needs 3,417 bars before "
                                           "its first decision, and the data has 1,826 1d bars")
    text = " ".join(summary.split())  # the reason is wrapped under the table
    assert "No trades: the warm-up is longer than the data: MaBlended needs 3,417 bars" in text
    assert summary.index("No trades:") > summary.index("Fees paid")
    assert BacktestResult.load(tmp_path / "out").no_trades == no_trades


def test_every_order_rejected_for_an_account_in_another_currency(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    summary, result = backtest(["--currency", "EUR"], tmp_path, capsys)  # the bundled BTC/USD sample
    no_trades = result["no_trades"]
    n_orders = no_trades["orders"]
    assert no_trades["cause"] == "all_rejected" and n_orders > 100
    assert n_orders == len(pd.read_csv(tmp_path / "orders.csv"))
    [kind] = no_trades["rejected"]
    assert kind["reason"] == "needs <n> USD, only <n> USD free" and kind["count"] == n_orders
    assert kind["first"].startswith("order 'SmaCross-1' (buy ") and kind["first"].endswith("only 0 USD free")
    assert no_trades["message"] == (f"all {n_orders:,} orders were rejected: {n_orders:,} x needs <n> USD, only <n> "
                                    "USD free (the account is in EUR, the orders pay in USD, and nothing converts "
                                    "one into the other)")
    text = " ".join(summary.split())
    assert f"No trades: {no_trades['message']}" in text
    assert f"first of {n_orders:,}: {kind['first']}" in text


def test_no_signal_in_flat_prices(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    index = pd.date_range("2024-01-01", periods=200, freq="1h", tz="UTC", name="ts")
    flat = pd.DataFrame({column: np.full(200, 100.0) for column in ("open", "high", "low", "close")}, index=index)
    data = save_parquet(flat.assign(volume=1.0), tmp_path / "flat.parquet", symbol="BTC/USD")
    summary, result = backtest(["--data", str(data)], tmp_path / "out", capsys)
    assert result["no_trades"]["cause"] == "no_signal"
    assert result["no_trades"]["message"] == "no signal: the strategy made no order in 200 1h bars (31 of them its " \
                                             "warm-up)"
    assert "No trades: no signal: the strategy made no order in 200 1h bars" in summary


def test_a_run_with_trades_says_nothing_of_the_kind(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    summary, result = backtest(["--param", "fast=12", "--param", "slow=48"], tmp_path, capsys)
    assert result["stats"]["n_trades"] > 0 and result["no_trades"] is None
    assert "No trades" not in summary
