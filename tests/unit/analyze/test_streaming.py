"""Every TA-Lib function, streamed bar by bar, equals TA-Lib's batch value over the same history, bit for bit.

One ``IndicatorSet`` holds every function of ``talib.get_functions()`` at its default parameters, plus
non-default variants and indicators fed by other indicators, and streams all 20,000 hourly bars (about five
seconds). Each output is compared with ``talib.<FUNCTION>`` over the whole history at every bar: equal bits
wherever the batch has a value; NaN for the leading ``lookback`` bars (where TA-Lib's integer outputs say 0).
Recursive functions (EMA, RSI, KAMA, T3, HT_*, SAR ...) and path-dependent ones (OBV, AD ...) included: a
stream handle carries TA-Lib's state forward instead of recomputing a window, so no tolerance is needed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import talib

from engine.analyze.indicators import Indicator, IndicatorSet
from engine.analyze.talib_functions import BAR_FIELDS, functions

from .conftest import SYMBOL

# Non-default parameters and inputs: periods, MA types, float parameters, and inputs from other indicators.
VARIANTS = [
    Indicator("RSI", timeperiod=5), Indicator("RSI", timeperiod=50, price="open"), Indicator("EMA", timeperiod=200),
    Indicator("BBANDS", timeperiod=10, nbdevup=1.5, nbdevdn=2.5, matype=1), Indicator("MACD", fastperiod=5,
    slowperiod=35, signalperiod=5), Indicator("STOCH", slowk_matype=1, slowd_matype=13), Indicator("SAR",
    acceleration=0.01, maximum=0.1), Indicator("KAMA", timeperiod=10), Indicator("T3", timeperiod=10, vfactor=0.5),
    Indicator("MAMA", fastlimit=0.3, slowlimit=0.02), Indicator("MA", timeperiod=20, matype=7),
    Indicator("CDLMORNINGSTAR", penetration=0.5), Indicator("ADX", timeperiod=30), Indicator("ATR", timeperiod=7),
    Indicator("STOCHRSI", timeperiod=21, fastd_matype=1), Indicator("OBV", price="open"),
    Indicator("BETA", timeperiod=10, price0="close", price1="open"), Indicator("SUPERTREND", timeperiod=20,
    multiplier=2), Indicator("SMA", timeperiod=10, price="ATR_14"), Indicator("RSI", timeperiod=14,
    price="BBANDS_20_2_2_0.upperband"), Indicator("MAVP", periods="HT_DCPERIOD", maxperiod=40, matype=1),
]


def every_indicator() -> list[Indicator]:
    defaults = [Indicator(name) for name in functions() if name != "MAVP"]  # MAVP needs a periods source
    return [*defaults, Indicator("MAVP", periods="HT_DCPERIOD"), *VARIANTS]


@pytest.fixture(scope="module")
def streamed(hourly: pd.DataFrame) -> tuple[IndicatorSet, pd.DataFrame]:
    indicators = IndicatorSet(every_indicator())
    return indicators, indicators.run(hourly, SYMBOL)


def reference(indicators: IndicatorSet, frame: pd.DataFrame) -> dict[str, tuple[np.ndarray, bool]]:
    """Return TA-Lib's batch series of every name, and whether TA-Lib gave it as integers."""
    series: dict[str, tuple[np.ndarray, bool]] = {c: (frame[c].to_numpy(dtype=float), False) for c in BAR_FIELDS}
    for indicator in indicators.indicators:
        arrays = [series[source][0] for source in indicator.sources]
        result = getattr(talib, indicator.function)(*arrays, **indicator.params)
        outputs = result if isinstance(result, tuple) else (result,)
        for name, output in zip(indicator.names, outputs, strict=True):
            series[name] = (np.asarray(output, dtype=float), output.dtype.kind == "i")
    return series


def test_every_talib_function_is_exposed(streamed: tuple[IndicatorSet, pd.DataFrame]) -> None:
    indicators, _ = streamed
    exposed = {indicator.function for indicator in indicators.indicators}
    assert exposed == set(talib.get_functions())
    assert len(exposed) >= 158  # TA-Lib 0.6 had 158 functions; 0.8 has 201
    assert sum(name.startswith("CDL") for name in exposed) == 61


@pytest.mark.parametrize("indicator", every_indicator(), ids=lambda i: i.key)
def test_streamed_equals_batch_at_every_bar(indicator: Indicator, streamed: tuple[IndicatorSet, pd.DataFrame],
                                            hourly: pd.DataFrame, batch_series: dict) -> None:
    _, values = streamed
    for name in indicator.names:
        got = values[name].to_numpy()
        want, integer = batch_series[name]
        if integer:  # TA-Lib fills an integer output's leading bars with 0; the stream says "no value yet"
            want = want.copy()
            want[:indicator.lookback] = np.nan
        same = (got == want) | (np.isnan(got) & np.isnan(want))
        if not same.all():
            bar = int(np.argmin(same))
            pytest.fail(f"{name}: {int((~same).sum())} bars differ, first at bar {bar}: streamed {got[bar]!r}, "
                        f"batch {want[bar]!r}")
        if all(source in BAR_FIELDS for source in indicator.sources) and np.isfinite(want).any():
            assert np.isnan(got[:indicator.lookback]).all()  # nothing before TA-Lib's lookback


@pytest.fixture(scope="module")
def batch_series(streamed: tuple[IndicatorSet, pd.DataFrame], hourly: pd.DataFrame) -> dict:
    return reference(streamed[0], hourly)
