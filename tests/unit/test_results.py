"""Round trips from fills, exposure, the data fingerprint, and a result saved and loaded back."""

from __future__ import annotations

import csv
import hashlib
import json
import struct
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.sim import SimSettings
from engine.backtest import run_backtest
from engine.bus import EventBus
from engine.clock import SimulatedClock
from engine.datagen import fingerprint
from engine.datagen.bar_feed import BarFeed
from engine.datagen.files import load_bars
from engine.datagen.fingerprint import data_fingerprint, feed_prices, interval_text
from engine.datagen.synthetic import synthetic_bars
from engine.errors import DataError
from engine.events import Fill, Liquidity, Order, OrderStatus, OrderType, OrderUpdate, Side
from engine.ledger import Ledger
from engine.markets import Market, Markets
from engine.orders import OrderManager
from engine.result import BacktestResult
from engine.result import trades as trips
from engine.result.recorder import EquityRecorder
from engine.result.tables import (
    CATEGORY_COLUMNS,
    ORDER_COLUMNS,
    as_categories,
    category_column,
    fill_log,
    fills_frame,
    orders_frame,
)
from engine.result.trades import fees_paid, position_exposure, round_trips, traded_notional
from engine.store import FillLog
from engine.testing.events import make_fill
from strategies.sma_cross import SmaCross

HOUR = 3600 * 10**9


def fill(ts: int, side: Side, qty: str, price: str, fee: str = "0", symbol: str = "BTC/USD") -> Fill:
    return make_fill(f"o{ts}", side, qty, price, fee=fee, symbol=symbol, ts=ts, trade_id=f"t{ts}")


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


def test_exposure_lasts_while_any_symbol_is_held() -> None:
    # bars close at 1h..10h; BTC held from 1h to 5h, ETH from 3h to 8h (a partial sell at 6h keeps it held)
    bar_ts = np.arange(1, 11) * HOUR
    fills = [fill(1 * HOUR, Side.BUY, "1", "100"), fill(3 * HOUR, Side.BUY, "2", "10", symbol="ETH/USD"),
             fill(5 * HOUR, Side.SELL, "1", "100"), fill(6 * HOUR, Side.SELL, "1", "10", symbol="ETH/USD"),
             fill(8 * HOUR, Side.SELL, "1", "10", symbol="ETH/USD")]
    assert position_exposure(fills, bar_ts) == pytest.approx(7 / 10)  # the bars closing at 2h..8h


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
    return run_backtest(SmaCross(fast=5, slow=20), frame, venue=SimSettings(), symbol="SYN/USD", **kwargs)  # type: ignore[arg-type]


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
    assert len(prices) == 600 and list(prices.columns) == ["open", "high", "low", "close", "volume"]
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
    assert result.ledger is not None and "USD" in result.balances
    assert {asset: Decimal(amount) for asset, amount in loaded.balances.items()} == result.ledger.balances()
    assert json.loads((tmp_path / "result.json").read_text())["balances"] == result.balances


def test_a_run_without_trades_saves_and_loads(tmp_path: Path) -> None:
    frame = synthetic_bars(300, interval="1h", seed=3)
    result = run_backtest(SmaCross(fast=5, slow=500), frame, venue=SimSettings(), symbol="SYN/USD")
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


# -- results read in pieces give what whole columns gave ---------------------------------------------------------
FIXTURES = Path(__file__).parent / "fixtures"
# Bars committed to the repo, every value a multiple of 1/8 so that any CSV parser reads the same float64 bits.
FIXTURE_FEEDS = (("bars_1h.csv", "SYN/USD", 3600), ("bars_1m.csv", "B/USD", 60))
# The fingerprint of those bars: results saved before and after any change must agree, so the layout must not move.
FIXTURE_SHA256 = "6a6e9ab1b1fd54ab5bd5cf7a6ad0c613175d90990c8b999908336310180a3cec"


def documented_bytes(path: Path, symbol: str, interval_s: int) -> bytes:
    """Lay out a CSV's bars as ``data_fingerprint`` documents, straight from its text (no numpy, no pandas)."""
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    laid = [f"{symbol}|{interval_s * 10**9}|".encode()]
    laid += [struct.pack("<q", (int(row[0]) + interval_s) * 10**9) for row in rows]  # close = open + interval
    laid += [struct.pack("<d", float(row[field])) for field in range(1, 6) for row in rows]  # o, h, l, c, v
    return b"".join(laid)


def test_fingerprint_hashes_the_documented_bytes_whatever_the_piece_size(monkeypatch: pytest.MonkeyPatch) -> None:
    feeds = [BarFeed(load_bars(FIXTURES / name)[0], symbol) for name, symbol, _ in FIXTURE_FEEDS]
    expected = hashlib.sha256(b"".join(documented_bytes(FIXTURES / name, symbol, interval_s)
                                       for name, symbol, interval_s in FIXTURE_FEEDS)).hexdigest()
    assert expected == FIXTURE_SHA256
    for chunk in (1, 4, 65_536):
        monkeypatch.setattr(fingerprint, "CHUNK", chunk)
        got = data_fingerprint(feeds)
        assert got["sha256"] == expected
        assert got["start"] == "2020-01-01T00:00:00+00:00" and got["end"] == "2020-01-01T06:34:00+00:00"
        assert got["n_bars"] == 10 and got["interval"] == "1m" and got["symbols"] == ["SYN/USD", "B/USD"]


def test_feed_prices_compare_close_times_in_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fingerprint, "CHUNK", 2)
    feed = BarFeed(synthetic_bars(5, interval="1h", seed=1), "SYN/USD")
    index = pd.DatetimeIndex(feed.close_times(), tz="UTC", name="ts")
    assert feed_prices([feed], index)["SYN/USD"].index is index
    last_differs = index[:-1].append(index[-1:] + pd.Timedelta(1, "ns"))
    assert feed_prices([feed], last_differs)["SYN/USD"].index.equals(index)
    in_us = index.as_unit("us")  # another unit, the same times: shared, as Index.equals says
    assert feed_prices([feed], in_us)["SYN/USD"].index is in_us


def many_fills() -> list[Fill]:
    """4,100 fills (more than a packed block) on two symbols: entries, additions, partial exits and reversals."""
    fills = []
    for i in range(4100):
        side = (Side.BUY, Side.BUY, Side.SELL, Side.SELL, Side.SELL, Side.BUY)[i % 6]
        qty = ("0.5", "1.25", "0.75", "2", "0.001", "1.001")[i % 6]
        fills.append(fill(i * HOUR, side, qty, f"{100 + i % 97}.{i % 100:02d}", f"0.{i % 7}1",
                          symbol="ETH/USD" if i % 5 == 0 else "BTC/USD"))
    return fills


def packed(fills: list[Fill]) -> FillLog:
    log = FillLog()
    for f in fills:
        log.append(f)
    return log


def test_a_fill_log_read_in_blocks_gives_what_the_fills_give() -> None:
    fills = many_fills()
    shuffled = fills[4000:] + fills[:4000]  # booked out of time order: read sorted
    bar_ts = np.arange(0, 4200 * HOUR, HOUR // 2)
    for booked in (fills, shuffled):
        log = packed(booked)
        trades = round_trips(log)
        assert len(trades) > 100
        pd.testing.assert_frame_equal(trades, round_trips(booked), check_exact=True)
        assert position_exposure(log, bar_ts) == position_exposure(booked, bar_ts)
        assert fees_paid(log) == fees_paid(booked) and traded_notional(log) == traded_notional(booked)
        pd.testing.assert_frame_equal(fills_frame(log), fills_frame(booked), check_exact=True)
    assert isinstance(trades["symbol"].dtype, pd.CategoricalDtype)
    assert trades["entry_time"].dtype == "datetime64[ns, UTC]"
    assert fills_frame(packed(fills))["client_order_id"].tolist() == [f.client_order_id for f in fills]
    for empty in (FillLog(), []):
        pd.testing.assert_frame_equal(fills_frame(empty), fills_frame([]), check_exact=True)
        assert round_trips(empty).empty and fees_paid(empty) == 0.0


def test_exposure_counted_in_pieces_of_bars(monkeypatch: pytest.MonkeyPatch) -> None:
    fills = many_fills()
    bar_ts = np.arange(0, 4200 * HOUR, HOUR // 3)
    whole = position_exposure(fills, bar_ts)
    monkeypatch.setattr(trips, "CHUNK", 7)
    assert position_exposure(packed(fills), bar_ts) == whole
    # bars out of time order are looked up among the changes one by one: the same share
    assert position_exposure(fills, np.random.default_rng(3).permutation(bar_ts)) == whole


def exposure_bar_by_bar(fills: list[Fill], bar_ts: np.ndarray) -> float:
    """The share of bars after whose last earlier fill any symbol had a position, bar by bar."""
    ordered = sorted(fills, key=lambda f: f.ts)
    held_bars = 0
    for ts in bar_ts.tolist():
        positions: dict[str, Decimal] = {}
        for f in ordered:
            if f.ts < ts:
                positions[f.symbol] = positions.get(f.symbol, Decimal(0)) + f.side.sign * f.quantity
        held_bars += any(positions.values())
    return held_bars / len(bar_ts)


def test_exposure_is_the_share_of_bars_held_with_repeated_stamps_and_two_symbols() -> None:
    fills = [fill(2, Side.BUY, "1", "10"), fill(2, Side.SELL, "1", "10"), fill(4, Side.BUY, "1", "10", symbol="E"),
             fill(5, Side.BUY, "2", "10"), fill(7, Side.SELL, "1", "10", symbol="E"), fill(7, Side.SELL, "2", "10"),
             fill(9, Side.SELL, "1", "10")]
    for bar_ts in (np.arange(0, 12), np.array([1, 2, 2, 3, 5, 5, 6, 7, 8, 10, 10]), np.array([8, 3, 5, 1, 10])):
        assert position_exposure(fills, bar_ts) == exposure_bar_by_bar(fills, bar_ts)


def test_the_result_code_reads_one_representation_of_fills_a_session_log_as_it_is_a_list_packed_once() -> None:
    fills = many_fills()
    log = packed(fills)
    assert fill_log(log) is log  # the order manager's log is read where it lies, never copied
    shuffled = fills[4000:] + fills[:4000]
    made = fill_log(iter(shuffled))  # any iterable, read once
    assert isinstance(made, FillLog) and list(made) == shuffled  # the fills as given, in their order
    assert not made.is_time_ordered() and [r.ts for r in made.in_time_order()] == sorted(f.ts for f in fills)
    assert fill_log([]) == [] and isinstance(fill_log([]), FillLog)


def test_one_read_of_the_fills_gives_what_the_separate_readers_give() -> None:
    fills = many_fills()
    shuffled = fills[4000:] + fills[:4000]  # booked out of time order: summed in booking order
    bar_ts = np.arange(0, 4200 * HOUR, HOUR // 2)
    for booked in (fills, shuffled):
        for source in (booked, packed(booked)):
            summary = trips.summarize_fills(source, bar_ts)
            pd.testing.assert_frame_equal(summary.trades, round_trips(booked), check_exact=True)
            assert summary.exposure == position_exposure(booked, bar_ts) > 0
            assert summary.fees_paid == fees_paid(source) and summary.traded_notional == traded_notional(source)
    for empty in (FillLog(), []):
        summary = trips.summarize_fills(empty, bar_ts)
        assert summary.trades.empty and summary[1:] == (0.0, 0.0, 0.0)


def orders_frame_from_rows(orders: OrderManager) -> pd.DataFrame:
    """The orders frame as it was built before it was read a column at a time: from lists of the rows' values."""
    rows = list(orders.rows())
    data: dict[str, object] = {}
    for name in ORDER_COLUMNS:
        if name == "average_price":
            data[name] = [float(r.filled_notional / r.filled_quantity) if r.filled_quantity else None for r in rows]
            continue
        values = [getattr(r, name) for r in rows]
        if name in ("quantity", "filled_quantity", "fees"):
            data[name] = np.array([float(v) for v in values], dtype="float64")
        elif name in ("price", "stop_price"):
            data[name] = [None if v is None else float(v) for v in values]
        elif name in ("side", "type", "time_in_force", "status"):
            data[name] = [v.value for v in values]
        else:
            data[name] = values
    frame = pd.DataFrame(data, columns=ORDER_COLUMNS)
    for column in ("ts", "updated_ts"):
        frame[column] = pd.to_datetime(frame[column].astype("int64"), utc=True)
    return as_categories(frame)


def order_manager() -> tuple[OrderManager, EventBus]:
    bus = EventBus()
    markets = Markets([Market.from_symbol("BTC/USD", min_size=Decimal("0.001"))])
    clock = SimulatedClock(bus)
    ledger = Ledger(markets, "USD", {"USD": Decimal("10000000")}, clock=clock)
    orders = OrderManager(bus, clock, ledger, markets)
    for handler in (ledger.on_order_update, orders.on_order_update):
        bus.subscribe(OrderUpdate, handler)
    for handler in (ledger.on_fill, orders.on_fill):
        bus.subscribe(Fill, handler)
    return orders, bus


@pytest.mark.parametrize("limits", [True, False])
def test_orders_frame_read_a_column_at_a_time_is_the_frame_of_the_rows(limits: bool) -> None:
    orders, bus = order_manager()
    pd.testing.assert_frame_equal(orders_frame(orders), orders_frame_from_rows(orders), check_exact=True)
    for i in range(20):
        cid = f"o{i}"
        quantity = ("1", "0.333", "2.50", "0.0001", "7")[i % 5]  # 0.0001: below the minimum size, rejected
        price = Decimal(f"{100 + i}.{i:02d}") if limits else None
        order = Order(ts=i, client_order_id=cid, symbol="BTC/USD", side=Side.BUY,
                      type=OrderType.LIMIT if limits else OrderType.MARKET, quantity=Decimal(quantity), price=price)
        orders.submit(order, reference_price=Decimal("100"))
        if i % 4 != 3:  # some orders never fill
            part = Decimal(quantity) / 3 if i % 2 else Decimal(quantity)
            bus.publish(Fill(ts=i, client_order_id=cid, trade_id=f"t{i}", symbol="BTC/USD", side=Side.BUY,
                             price=Decimal(f"{99 + i}.7"), quantity=part, fee=Decimal("0.01"), fee_currency="USD",
                             liquidity=Liquidity.TAKER))
        if i < 15:  # the last ones stay open: read from their records, not packed rows
            bus.publish(OrderUpdate(ts=i + 1, client_order_id=cid, symbol="BTC/USD", status=OrderStatus.CANCELLED))
        bus.dispatch()
    frame = orders_frame(orders)
    assert frame["average_price"].notna().any() and frame["average_price"].isna().any()
    assert (frame["price"].dtype == "float64") is limits  # all None: a column of None, as before
    pd.testing.assert_frame_equal(frame, orders_frame_from_rows(orders), check_exact=True)


@given(st.lists(st.sampled_from(["buy", "sell", "", "BTC/USD", None, "cancelled by request"]), min_size=1),
       st.integers(min_value=1, max_value=5))
def test_category_columns_are_what_astype_category_makes_of_the_strings(values: list[str | None], block: int) -> None:
    blocks = [values[i:i + block] for i in range(0, len(values), block)]
    made = pd.Series(category_column(blocks, len(values)))
    pd.testing.assert_series_equal(made, pd.Series(values).astype("category"))


def test_text_columns_with_few_values_are_categoricals_fresh_and_loaded(tmp_path: Path) -> None:
    result = small_run()
    loaded = BacktestResult.load(result.save(tmp_path))
    for name in ("orders", "fills", "trades"):
        fresh, again = getattr(result, name), getattr(loaded, name)
        categorical = [c for c in fresh.columns if isinstance(fresh[c].dtype, pd.CategoricalDtype)]
        assert categorical == [c for c in fresh.columns if c in CATEGORY_COLUMNS] and categorical
        for column in categorical:
            # CSV writes an empty text as nothing, which reads back as missing
            assert fresh[column].tolist() == ["" if pd.isna(v) else v for v in again[column]]
            assert isinstance(again[column].dtype, pd.CategoricalDtype)
    assert set(result.orders["status"]) <= {"filled", "rejected", "cancelled", "accepted"}
    assert (result.fills["side"] == "buy").any() and (result.trades["side"] == "long").all()
