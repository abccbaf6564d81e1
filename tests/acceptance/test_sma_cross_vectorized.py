"""The engine's SMA-cross back-test on the real hourly data equals an independent vectorized computation.

The reference finds crosses with numpy on whole arrays (sliding-window means, no running sums), fills each
signal at the next bar's open with the fee on notional, and sizes entries from cash exactly as the rule says:
quantity = (cash * size / signal close) rounded down to the 1e-8 size step.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

import numpy as np
import pandas as pd
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from adapters.sim import SimSettings
from engine.backtest import BacktestConfig, run_backtest
from engine.testing.data import real_hourly
from strategies.sma_cross import SmaCross

STEP = Decimal("0.00000001")


def hourly_data() -> tuple[pd.DataFrame, str]:
    """The real Coinbase hourly file from ../shared/data, else the bundled copy of the same file."""
    return real_hourly(), "BTC/USD"


def vectorized_reference(frame: pd.DataFrame, fast: int, slow: int, fee: float, size: float,
                         cash: float) -> tuple[pd.DataFrame, float]:
    close = frame["close"].to_numpy()
    open_ = frame["open"].to_numpy()
    fast_sma = np.full(len(close), np.nan)
    slow_sma = np.full(len(close), np.nan)
    fast_sma[fast - 1:] = sliding_window_view(close, fast).mean(axis=1)
    slow_sma[slow - 1:] = sliding_window_view(close, slow).mean(axis=1)
    gap = fast_sma - slow_sma
    previous = np.roll(gap, 1)
    previous[0] = np.nan
    valid = ~np.isnan(gap) & ~np.isnan(previous)
    golden = valid & (previous <= 0) & (gap > 0)
    death = valid & (previous >= 0) & (gap < 0)
    signal_bars = np.flatnonzero(golden | death)

    rows = []
    quantity = 0.0
    entry = None
    for t in signal_bars:
        if t + 1 >= len(close):
            break  # a signal on the last bar has no next open to fill at
        price = open_[t + 1]
        when = frame.index[t + 1]
        if golden[t] and quantity == 0:
            quantity = float(Decimal(repr(float(cash * size / close[t]))).quantize(STEP, ROUND_DOWN))
            entry_fee = quantity * price * fee
            cash -= quantity * price + entry_fee
            entry = (when, price, entry_fee)
        elif death[t] and quantity > 0:
            assert entry is not None
            exit_fee = quantity * price * fee
            cash += quantity * price - exit_fee
            pnl = quantity * (price - entry[1]) - entry[2] - exit_fee
            rows.append({"entry_time": entry[0], "exit_time": when, "quantity": quantity,
                         "entry_price": entry[1], "exit_price": price, "pnl": pnl, "fees": entry[2] + exit_fee})
            quantity = 0.0
    final_equity = cash + quantity * close[-1]
    return pd.DataFrame(rows), final_equity


@pytest.mark.parametrize(("fast", "slow"), [(10, 30), (24, 96)])
def test_sma_cross_matches_vectorized_numpy(fast: int, slow: int) -> None:
    frame, symbol = hourly_data()
    assert len(frame) == 20_111
    fee, size, cash = 0.001, 0.95, 10_000.0
    result = run_backtest(SmaCross(fast=fast, slow=slow, size=size), frame,
                          BacktestConfig(cash=Decimal("10000")),
                          venue=SimSettings(fee_bps=10, slippage="none"), symbol=symbol)
    expected, expected_equity = vectorized_reference(frame, fast, slow, fee, size, cash)

    trades = result.trades
    assert len(trades) == len(expected) > 50
    # entries and exits at the next bar's open: the fill is stamped at that bar's open time
    assert (trades["entry_time"].to_numpy() == expected["entry_time"].to_numpy()).all()
    assert (trades["exit_time"].to_numpy() == expected["exit_time"].to_numpy()).all()
    np.testing.assert_array_equal(trades["quantity"].to_numpy(), expected["quantity"].to_numpy())
    np.testing.assert_array_equal(trades["entry_price"].to_numpy(), expected["entry_price"].to_numpy())
    np.testing.assert_array_equal(trades["exit_price"].to_numpy(), expected["exit_price"].to_numpy())
    np.testing.assert_allclose(trades["pnl"].to_numpy(), expected["pnl"].to_numpy(), rtol=1e-9, atol=1e-7)
    np.testing.assert_allclose(trades["fees"].to_numpy(), expected["fees"].to_numpy(), rtol=1e-9, atol=1e-7)
    assert result.stats["final_equity"] == pytest.approx(expected_equity, rel=1e-9)
    assert result.equity["equity"].iloc[-1] == pytest.approx(expected_equity, rel=1e-9)
    assert result.stats["n_trades"] == len(expected)


def test_backtest_is_deterministic() -> None:
    frame, symbol = hourly_data()
    frame = frame.iloc[:3000]
    runs = [run_backtest(SmaCross(), frame, venue=SimSettings(), symbol=symbol) for _ in range(2)]
    pd.testing.assert_frame_equal(runs[0].trades, runs[1].trades)
    pd.testing.assert_frame_equal(runs[0].orders, runs[1].orders)
    pd.testing.assert_frame_equal(runs[0].equity, runs[1].equity)
    assert runs[0].stats == runs[1].stats
