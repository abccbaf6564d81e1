"""Round trips from fills, exposure, the data fingerprint, and a result saved and loaded back."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from engine.backtest import BacktestConfig, run_backtest
from engine.datagen.replay import BarFeed
from engine.datagen.synthetic import synthetic_bars
from engine.errors import DataError
from engine.events import Fill, Liquidity, Side
from engine.results import (
    BacktestResult,
    EquityRecorder,
    data_fingerprint,
    feed_prices,
    interval_text,
    position_exposure,
    round_trips,
)
from strategies.sma_cross import SmaCross

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
    assert frame.index.asi8.tolist() == [10, 20] and str(frame.index.tz) == "UTC"
    assert EquityRecorder(lambda: 0.0).frame().empty


def test_equity_recorder_keeps_the_last_value_of_repeated_out_of_order_timestamps() -> None:
    values = iter([1.0, 2.0, 3.0, 4.0])
    recorder = EquityRecorder(lambda: next(values))
    for ts in (20, 10, 20, 30):
        recorder.on_bar(SimpleNamespace(ts=ts))  # type: ignore[arg-type]
    frame = recorder.frame()
    assert frame.index.asi8.tolist() == [10, 20, 30] and frame["equity"].tolist() == [2.0, 3.0, 4.0]


def test_equity_frame_wraps_the_recorded_arrays_without_a_copy() -> None:
    values = iter([1.0, 2.0, 3.0])
    recorder = EquityRecorder(lambda: next(values))
    for ts in (10, 20, 30):
        recorder.on_bar(SimpleNamespace(ts=ts))  # type: ignore[arg-type]
    frame = recorder.frame()
    assert frame["equity"].tolist() == [1.0, 2.0, 3.0] and frame.index.asi8.tolist() == [10, 20, 30]
    assert np.shares_memory(frame["equity"].to_numpy(), np.frombuffer(recorder.values))
    assert np.shares_memory(frame.index.asi8, np.frombuffer(recorder.ts, dtype="int64"))
    with pytest.raises(BufferError):  # the arrays cannot grow under the frame
        recorder.on_bar(SimpleNamespace(ts=40))  # type: ignore[arg-type]


def test_equity_recorder_takes_stamps_before_1970_and_the_whole_int64_range() -> None:
    """Stamps are stored unsigned while they can be (a cheaper append); a negative one switches to signed."""
    stamps = [10, 2**63 - 1, -(2**63), -20, 30]
    values = iter([1.0, 2.0, 3.0, 4.0, 5.0])
    recorder = EquityRecorder(lambda: next(values))
    for ts in stamps:
        recorder.on_bar(SimpleNamespace(ts=ts))  # type: ignore[arg-type]
    assert list(recorder.ts) == stamps
    assert np.frombuffer(recorder.ts, dtype="int64").tolist() == stamps
    assert recorder.values.tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]


def small_run(**kwargs: object) -> BacktestResult:
    frame = synthetic_bars(600, interval="1h", seed=3)
    return run_backtest(SmaCross(fast=5, slow=20), frame, BacktestConfig(), symbol="SYN/USD", **kwargs)  # type: ignore[arg-type]


def test_fingerprint_depends_on_the_bars_only() -> None:
    frame = synthetic_bars(50, interval="1h", seed=1)
    first = data_fingerprint([BarFeed(frame, "SYN/USD")])
    assert first == data_fingerprint([BarFeed(frame.copy(), "SYN/USD")])
    assert first["n_bars"] == 50 and first["interval"] == "1h" and first["symbols"] == ["SYN/USD"]
    assert first["start"] == frame.index[0].isoformat()
    changed = frame.copy()
    changed.iloc[10, changed.columns.get_loc("volume")] += 1.0
    assert data_fingerprint([BarFeed(changed, "SYN/USD")])["sha256"] != first["sha256"]
    assert data_fingerprint([BarFeed(frame, "OTHER/USD")])["sha256"] != first["sha256"]
    assert data_fingerprint([object()])["sha256"] is None


def test_feed_prices_are_views_of_the_feed_and_share_an_index_with_the_same_close_times() -> None:
    frame = synthetic_bars(5, interval="1h", seed=1)
    feed = BarFeed(frame, "SYN/USD")
    prices = feed_prices([feed])["SYN/USD"]
    assert prices.index.asi8.tolist() == (frame.index.asi8 + HOUR).tolist() and prices.index.name == "ts"
    assert str(prices.index.tz) == "UTC" and feed.close_times().tolist() == prices.index.asi8.tolist()
    assert np.shares_memory(prices["close"].to_numpy(), frame["close"].to_numpy())
    assert feed_prices([feed], prices.index)["SYN/USD"].index is prices.index
    for other in (prices.index[:-1], prices.index + pd.Timedelta(1, "ns"), prices.index.rename("close_ts")):
        assert feed_prices([feed], other)["SYN/USD"].index.equals(prices.index)


def test_interval_text() -> None:
    assert [interval_text(n * 10**9) for n in (60, 900, 3600, 14400, 86400, 90)] == ["1m", "15m", "1h", "4h", "1d",
                                                                                     "90s"]


def test_result_carries_prices_buy_and_hold_fingerprint_and_assumptions() -> None:
    from adapters.sim import ASSUMPTIONS

    result = small_run()
    prices = result.prices["SYN/USD"]
    assert len(prices) == 600 and list(prices.columns) == ["open", "close"]
    assert prices.index is result.equity.index  # the same close times: one index, not two
    bench = result.equity["buy_and_hold"]
    assert bench.iloc[-1] == pytest.approx(10_000 * prices["close"].iloc[-1] / prices["open"].iloc[0])
    assert result.stats["buy_and_hold"]["final_equity"] == pytest.approx(bench.iloc[-1])
    assert result.data["n_bars"] == 600 and len(result.data["sha256"]) == 64
    assert result.assumptions["venue"] == list(ASSUMPTIONS) and result.assumptions["engine"]


def test_handlers_and_strategies_contribute_extras() -> None:
    thresholds = pd.DataFrame({"threshold": [0.5, 0.6], "n_signals": [10, 4], "precision": [0.5, 0.75],
                               "avg_return": [0.001, 0.004]})

    class MlStub:
        def result_extras(self) -> dict[str, object]:
            return {"ml": {"thresholds": thresholds}}

    result = small_run(handlers=[MlStub()])
    assert result.extras["ml"]["thresholds"] is thresholds


def test_save_and_load_give_back_the_same_result(tmp_path: Path) -> None:
    result = small_run()
    contributions = pd.DataFrame({"entry_time": result.trades["entry_time"], "rsi": 0.1, "trend": -0.2})
    result.extras["ml"] = {"contributions": contributions}
    result.save(tmp_path)
    loaded = BacktestResult.load(tmp_path)
    assert loaded.stats == json.loads(json.dumps(result.stats))
    assert loaded.config == json.loads(json.dumps(result.config, default=str))
    assert loaded.data == result.data and loaded.assumptions == result.assumptions
    pd.testing.assert_frame_equal(loaded.equity, result.equity, check_freq=False)
    pd.testing.assert_frame_equal(loaded.trades, result.trades[loaded.trades.columns], check_dtype=False)
    pd.testing.assert_frame_equal(loaded.prices["SYN/USD"], result.prices["SYN/USD"], check_freq=False)
    pd.testing.assert_frame_equal(loaded.extras["ml"]["contributions"], contributions, check_dtype=False)
    assert len(loaded.fills) == len(result.fills) and len(loaded.orders) == len(result.orders)
    assert loaded.fills["ts"].dt.unit == "ns"


def test_a_run_without_trades_saves_and_loads(tmp_path: Path) -> None:
    frame = synthetic_bars(300, interval="1h", seed=3)
    result = run_backtest(SmaCross(fast=5, slow=500), frame, BacktestConfig(), symbol="SYN/USD")
    assert result.stats["n_trades"] == 0 and result.stats["sharpe"] is None
    loaded = BacktestResult.load(result.save(tmp_path))
    assert loaded.trades.empty and loaded.trades["pnl"].dtype == "float64"
    assert loaded.stats == json.loads(json.dumps(result.stats))


def test_load_refuses_a_directory_without_results(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"no result\.json"):
        BacktestResult.load(tmp_path)
    (tmp_path / "result.json").write_text("{}")
    with pytest.raises(DataError, match="cannot read the saved result"):
        BacktestResult.load(tmp_path)
