"""The indicator handler's API: keys, parameters, inputs, reading values, symbols, no look-ahead, the bus."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import talib

from adapters.sim import SimSettings
from engine.analyze.indicators import Indicator, IndicatorSet
from engine.backtest import run_backtest
from engine.errors import ConfigError
from engine.events import Bar
from engine.strategy import Strategy

from .conftest import SYMBOL, perturbed_after


def test_keys_name_function_parameters_and_unusual_inputs() -> None:
    assert Indicator("RSI", timeperiod=14).key == "RSI_14"
    assert Indicator("rsi").key == "RSI_14"
    assert Indicator("BBANDS", timeperiod=20, nbdevup=2.5).key == "BBANDS_20_2.5_2_0"
    assert Indicator("BBANDS").names == ("BBANDS_20_2_2_0.upperband", "BBANDS_20_2_2_0.middleband",
                                         "BBANDS_20_2_2_0.lowerband")
    assert Indicator("CDLDOJI").key == "CDLDOJI"
    assert Indicator("RSI", price="volume").key == "RSI_14(volume)"
    assert Indicator("MACD", key="macd").names == ("macd.macd", "macd.macdsignal", "macd.macdhist")
    assert Indicator("RSI", timeperiod="21").params == {"timeperiod": 21}  # text, as from a command line
    assert Indicator("T3", vfactor="0.5").params["vfactor"] == 0.5


@pytest.mark.parametrize(("make", "message"), [
    (lambda: Indicator("RSX"), "unknown TA-Lib function 'RSX' (did you mean RSI"),
    (lambda: Indicator("RSI", period=14), "unknown parameter 'period' (known: timeperiod)"),
    (lambda: Indicator("RSI", timeperiod=14.5), "'timeperiod' must be an integer, got 14.5"),
    (lambda: Indicator("RSI", timeperiod=1), "TA-Lib refuses the parameters timeperiod=1"),
    (lambda: Indicator("MAVP"), "MAVP needs a source for its periods input"),
    (lambda: Indicator("STOCH", prices=["high", "low"]), "input 'prices' takes 3 sources"),
])
def test_bad_requests_name_what_is_wrong(make, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make()


def test_inputs_must_exist_before_they_are_read() -> None:
    with pytest.raises(ConfigError, match="neither a bar field"):
        IndicatorSet([Indicator("SMA", price="ATR_14")])
    with pytest.raises(ConfigError, match=r"name one output: key\.output"):
        IndicatorSet([Indicator("BBANDS"), Indicator("SMA", price="BBANDS_20_2_2_0")])


def test_a_key_is_one_indicator() -> None:
    indicators = IndicatorSet([Indicator("RSI")])
    assert indicators.add(Indicator("RSI", timeperiod=14)) is indicators.indicators[0]  # the same: shared
    with pytest.raises(ConfigError, match="taken by"):
        indicators.add(Indicator("EMA", key="RSI_14"))


def test_values_are_read_by_name(hourly: pd.DataFrame) -> None:
    frame = hourly.iloc[:300]
    indicators = IndicatorSet(["RSI", Indicator("BBANDS", key="bb")])
    assert math.isnan(indicators.value("RSI_14", SYMBOL))  # nothing seen yet
    indicators.run(frame, SYMBOL)
    close = frame["close"].to_numpy(dtype=float)
    assert indicators.value("RSI_14", SYMBOL) == talib.RSI(close)[-1]
    upper, middle, lower = talib.BBANDS(close)
    assert indicators.values("bb", SYMBOL) == {"upperband": upper[-1], "middleband": middle[-1],
                                               "lowerband": lower[-1]}
    assert indicators.snapshot(SYMBOL)["bb.lowerband"] == lower[-1]
    with pytest.raises(ConfigError, match=r"several outputs: read one of bb\.upperband"):
        indicators.value("bb", SYMBOL)
    with pytest.raises(ConfigError, match="no indicator 'EMA_30'"):
        indicators.value("EMA_30", SYMBOL)
    assert indicators.bars_seen(SYMBOL) == 300 and indicators.bars_seen("ETH/USD") == 0


def test_symbols_are_independent(hourly: pd.DataFrame) -> None:
    a, b = hourly.iloc[:400], hourly.iloc[1000:1400]
    together = IndicatorSet(["KAMA", "OBV"])
    for bar_a, bar_b in zip(bars(a, "A/USD"), bars(b, "B/USD"), strict=True):  # interleaved
        together.on_bar(bar_a)
        together.on_bar(bar_b)
    for frame, symbol in ((a, "A/USD"), (b, "B/USD")):
        alone = IndicatorSet(["KAMA", "OBV"])
        alone.run(frame, symbol)
        assert together.snapshot(symbol) == alone.snapshot(symbol)


def test_symbols_filter(hourly: pd.DataFrame) -> None:
    indicators = IndicatorSet(["SMA"], symbols=["A/USD"])
    indicators.run(hourly.iloc[:50], "B/USD")
    assert indicators.bars_seen("B/USD") == 0 and math.isnan(indicators.value("SMA_30", "B/USD"))


def test_no_look_ahead(hourly: pd.DataFrame) -> None:
    """Changing every bar after t leaves every value up to t unchanged, for every kind of function."""
    frame, t = hourly.iloc[:1500], 1000
    names = ["RSI", "MACD", "BBANDS", "KAMA", "HT_SINE", "SAR", "OBV", "CDLENGULFING", "FRACTAL", "MAMA", "ATR"]
    original = IndicatorSet(names).run(frame, SYMBOL)
    changed = IndicatorSet(names).run(perturbed_after(frame, t), SYMBOL)
    pd.testing.assert_frame_equal(original.iloc[:t + 1], changed.iloc[:t + 1])
    assert not original.iloc[t + 1:].equals(changed.iloc[t + 1:])


def test_a_non_finite_input_skips_the_bar() -> None:
    """An indicator fed by another whose value is not finite (DIV by zero) skips that bar, as TA-Lib advises."""
    indicators = IndicatorSet([Indicator("DIV", price0="close", price1="volume", key="div"),
                               Indicator("SMA", timeperiod=2, price="div", key="smooth")])
    volumes = [1.0, 2.0, 0.0, 1.0, 1.0]
    for i, volume in enumerate(volumes):
        indicators.on_bar(Bar(ts=i + 1, symbol="X", open=1, high=1, low=1, close=1, volume=volume, interval=1))
        if i == 2:
            assert indicators.value("div", "X") == math.inf and math.isnan(indicators.value("smooth", "X"))
    assert indicators.value("smooth", "X") == 1.0


class ReadsRsi(Strategy):
    """Records the RSI a handler computed, as a strategy reads it on each bar."""

    def __init__(self, indicators: IndicatorSet) -> None:
        super().__init__()
        self.indicators = indicators
        self.seen: list[float] = []

    def on_bar(self, bar: Bar) -> None:
        self.seen.append(self.indicators.value("RSI_14", bar.symbol))


def test_strategies_read_a_handler_of_the_backtest(hourly: pd.DataFrame) -> None:
    frame = hourly.iloc[:500]
    indicators = IndicatorSet(["RSI"])
    strategy = ReadsRsi(indicators)
    run_backtest(strategy, frame, venue=SimSettings(), symbol=SYMBOL, handlers=[indicators])
    np.testing.assert_array_equal(strategy.seen, talib.RSI(frame["close"].to_numpy(dtype=float)))


def bars(frame: pd.DataFrame, symbol: str) -> list[Bar]:
    from engine.datagen.bar_feed import BarFeed

    return list(BarFeed(frame, symbol))
