"""Round trips from fills, exposure, and the headline statistics on hand-computed cases."""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from engine.events import Fill, Liquidity, Side
from engine.results import EquityRecorder, position_exposure, round_trips
from engine.stats import YEAR_NS, compute_stats

HOUR = 3600 * 10**9


def fill(ts: int, side: Side, qty: str, price: str, fee: str = "0", symbol: str = "BTC/USD") -> Fill:
    return Fill(ts=ts, client_order_id=f"o{ts}", trade_id=f"t{ts}", symbol=symbol, side=side, price=Decimal(price),
                quantity=Decimal(qty), fee=Decimal(fee), fee_currency="USD", liquidity=Liquidity.TAKER)


def test_round_trip_with_scaling_in_and_partial_exits() -> None:
    fills = [fill(1, Side.BUY, "1", "100", "0.1"), fill(2, Side.BUY, "1", "110", "0.11"),
             fill(3, Side.SELL, "0.5", "120", "0.06"), fill(4, Side.SELL, "1.5", "90", "0.135")]
    trades = round_trips(fills)
    assert len(trades) == 1
    t = trades.iloc[0]
    assert t["side"] == "long" and t["quantity"] == 2.0
    assert t["entry_price"] == 105.0
    assert t["exit_price"] == pytest.approx((0.5 * 120 + 1.5 * 90) / 2)
    fees = 0.1 + 0.11 + 0.06 + 0.135
    assert t["fees"] == pytest.approx(fees)
    assert t["pnl"] == pytest.approx(0.5 * 15 + 1.5 * -15 - fees)
    assert t["entry_time"] == pd.Timestamp(1, unit="ns", tz="UTC")
    assert t["exit_time"] == pd.Timestamp(4, unit="ns", tz="UTC")


def test_reversal_closes_one_trip_and_opens_the_next_splitting_the_fee() -> None:
    fills = [fill(1, Side.BUY, "1", "100", "1"), fill(2, Side.SELL, "3", "110", "3"),
             fill(3, Side.BUY, "2", "100", "2")]
    trades = round_trips(fills)
    assert list(trades["side"]) == ["long", "short"]
    assert list(trades["quantity"]) == [1.0, 2.0]
    assert trades["pnl"].tolist() == pytest.approx([10 - 1 - 1, 2 * 10 - 2 - 2])


def test_open_trip_is_not_a_trade_and_symbols_are_separate() -> None:
    fills = [fill(1, Side.BUY, "1", "100"), fill(2, Side.BUY, "1", "10", symbol="ETH/USD"),
             fill(3, Side.SELL, "1", "12", symbol="ETH/USD")]
    trades = round_trips(fills)
    assert trades["symbol"].tolist() == ["ETH/USD"]
    assert round_trips([]).empty


def test_exposure_counts_bars_closing_after_an_entry_fill() -> None:
    # bars close at 1h..6h; buy fills at the open of the 2nd bar (ts 1h), sell at the open of the 5th (ts 4h)
    bar_ts = np.arange(1, 7) * HOUR
    fills = [fill(1 * HOUR, Side.BUY, "1", "100"), fill(4 * HOUR, Side.SELL, "1", "100")]
    assert position_exposure(fills, bar_ts) == pytest.approx(3 / 6)
    assert position_exposure([], bar_ts) == 0.0


def test_stats_on_a_hand_computed_curve() -> None:
    equity = pd.Series([110.0, 99.0, 121.0])
    trades = pd.DataFrame({"pnl": [5.0, -2.0, 1.0]})
    stats = compute_stats(equity, trades, initial_equity=100.0, interval_ns=HOUR, fees_paid=1.5, exposure=0.5)
    returns = np.array([0.1, -0.1, 121 / 99 - 1])
    assert stats["total_return"] == pytest.approx(0.21)
    assert stats["max_drawdown"] == pytest.approx(99 / 110 - 1)
    assert stats["sharpe"] == pytest.approx(returns.mean() / returns.std(ddof=1) * math.sqrt(YEAR_NS / HOUR))
    assert stats["win_rate"] == pytest.approx(2 / 3)
    assert stats["n_trades"] == 3 and stats["fees_paid"] == 1.5 and stats["exposure"] == 0.5


def test_stats_edge_cases_flat_curve_and_no_trades() -> None:
    stats = compute_stats(pd.Series([100.0, 100.0]), pd.DataFrame({"pnl": []}), initial_equity=100.0,
                          interval_ns=HOUR, fees_paid=0.0, exposure=0.0)
    assert stats["total_return"] == 0.0 and stats["max_drawdown"] == 0.0
    assert stats["sharpe"] is None and stats["win_rate"] is None and stats["n_trades"] == 0


def test_equity_recorder_keeps_the_last_value_per_timestamp() -> None:
    values = iter([1.0, 2.0, 3.0])
    recorder = EquityRecorder(lambda: next(values))

    class B:
        def __init__(self, ts: int) -> None:
            self.ts = ts

    for ts in (10, 10, 20):
        recorder.on_bar(B(ts))  # type: ignore[arg-type]
    frame = recorder.frame()
    assert frame["equity"].tolist() == [2.0, 3.0]
    assert EquityRecorder(lambda: 0.0).frame().empty
