"""The documented warm-up holds: after ``warmup`` bars, a value no longer depends on where the history started.

For every recursive function (``STAGES`` of ``engine.analyze.talib_functions``) at its default parameters and at
others, the value TA-Lib computes from only the last ``warmup + 1`` bars is compared, at 40 bars spread over the
real hourly history, with its value over the whole history: they agree within 1e-9 relative (of the value, or
of the series' median magnitude for an oscillator crossing zero). A stream handle opened on a history gives
TA-Lib's batch value over that history (test_streaming.py), so this is what a live session that back-filled
``warmup`` bars, or an indicator added mid-run, sees. Every other function but the path-dependent ones must
be a finite window: its value over ``lookback + 1`` bars agrees at once (to 1e-9: TA-Lib's running sums differ
in the last bits between a short and a long history).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import talib

from engine.analyze.indicators import Indicator, IndicatorSet
from engine.analyze.talib_functions import PATH_DEPENDENT, STAGES, functions

from .conftest import SYMBOL

RTOL = 1e-9
POINTS = 40

OTHER_PARAMS = [
    ("EMA", {"timeperiod": 10}), ("EMA", {"timeperiod": 100}), ("RSI", {"timeperiod": 5}),
    ("RSI", {"timeperiod": 50}), ("ATR", {"timeperiod": 50}), ("ADX", {"timeperiod": 30}),
    ("MACD", {"fastperiod": 5, "slowperiod": 50, "signalperiod": 20}), ("KAMA", {"timeperiod": 10}),
    ("KAMA", {"timeperiod": 60}), ("MAMA", {"slowlimit": 0.02}), ("T3", {"timeperiod": 20}),
    ("TEMA", {"timeperiod": 10}), ("MA", {"matype": 1, "timeperiod": 50}), ("MA", {"matype": 3}),
    ("MA", {"matype": 6}), ("MA", {"matype": 7}), ("MA", {"matype": 8}), ("MA", {"matype": 12}),
    ("MA", {"matype": 13}), ("BBANDS", {"matype": 1}), ("STOCH", {"slowk_matype": 1, "slowd_matype": 13}),
    ("SUPERTREND", {"timeperiod": 30, "multiplier": 2}), ("SAR", {"acceleration": 0.01, "maximum": 0.1}),
    ("KC", {"timeperiod": 50, "atrperiod": 30}), ("TRIX", {"timeperiod": 10}), ("STOCHRSI", {"timeperiod": 30}),
    ("APO", {"matype": 13}), ("ADOSC", {"slowperiod": 30}), ("TSI", {"firstperiod": 40, "secondperiod": 20}),
    ("MACDEXT", {"fastmatype": 1, "slowmatype": 1, "signalmatype": 1}), ("SMI", {"slowperiod": 40}),
    ("KDJ", {"slowk_matype": 1}), ("HT_SINE", {}), ("HA", {}),
]
# Functions with stages whose default matype is a finite average (MA, BBANDS, STOCH ...) are finite at defaults.
RECURSIVE = [(name, {}) for name in STAGES if name != "MAVP" and Indicator(name).margin] + OTHER_PARAMS
FINITE = [name for name in functions()
          if name not in PATH_DEPENDENT and name != "MAVP" and Indicator(name).margin == 0]
# With a tenth of their margin, these still remember where their history started: the test is not vacuous.
SLOW_TO_FORGET = ("EMA", "RSI", "ATR", "ADX", "MACD", "KAMA", "TRIX", "HT_DCPERIOD", "SAR")


def worst_error(indicator: Indicator, frame: pd.DataFrame, history: int) -> float:
    """Return the largest scaled difference between TA-Lib over ``history + 1`` bars and over everything."""
    arrays = [frame[s].to_numpy(dtype=float) for s in indicator.sources]
    function = getattr(talib, indicator.function)

    def outputs(*inputs: np.ndarray) -> list[np.ndarray]:
        result = function(*inputs, **indicator.params)
        return [np.asarray(o, dtype=float) for o in (result if isinstance(result, tuple) else (result,))]

    full = outputs(*arrays)
    scales = [float(np.nanmedian(np.abs(o[np.isfinite(o)]))) if np.isfinite(o).any() else 1.0 for o in full]
    worst = 0.0
    for t in np.linspace(len(frame) // 2, len(frame) - 1, POINTS).astype(int):
        short = outputs(*(a[t - history:t + 1] for a in arrays))
        for mine, theirs, scale in zip(short, full, scales, strict=True):
            a, b = mine[-1], theirs[t]
            if a == b or (np.isnan(a) and np.isnan(b)):
                continue
            worst = max(worst, abs(a - b) / max(abs(b), scale) if np.isfinite(a - b) else np.inf)
    return worst


@pytest.mark.parametrize(("name", "params"), RECURSIVE, ids=lambda v: v if isinstance(v, str) else str(v))
def test_recursive_value_is_final_after_the_documented_warmup(name: str, params: dict,
                                                              hourly: pd.DataFrame) -> None:
    indicator = Indicator(name, **params)
    assert indicator.warmup is not None and indicator.margin
    assert worst_error(indicator, hourly, indicator.warmup) <= RTOL
    if name in SLOW_TO_FORGET and not params:
        assert worst_error(indicator, hourly, indicator.lookback + indicator.margin // 10) > RTOL


@pytest.mark.parametrize("name", FINITE)
def test_finite_window_value_is_final_at_once(name: str, hourly: pd.DataFrame) -> None:
    indicator = Indicator(name)
    assert indicator.margin == 0 and indicator.warmup == indicator.lookback
    assert worst_error(indicator, hourly, indicator.lookback) <= RTOL


@pytest.mark.parametrize("name", sorted(PATH_DEPENDENT))
def test_path_dependent_functions_have_no_warmup(name: str) -> None:
    indicator = Indicator(name)
    assert indicator.path_dependent and indicator.warmup is None


def test_indicator_added_mid_run_is_ready_at_once_and_final(hourly: pd.DataFrame) -> None:
    frame = hourly.iloc[:6000]
    indicators = IndicatorSet([Indicator("SMA", timeperiod=5)], history=14 + 32 * 14 + 1)  # RSI_14's warm-up
    indicators.run(frame.iloc[:5000], SYMBOL)
    late = indicators.add(Indicator("RSI", timeperiod=14))  # opens on the history the set keeps
    assert indicators.ready(late.key, SYMBOL)
    streamed = indicators.run(frame.iloc[5000:], SYMBOL)[late.key].to_numpy()
    full = talib.RSI(frame["close"].to_numpy(dtype=float), timeperiod=14)[5000:]
    np.testing.assert_allclose(streamed, full, rtol=RTOL)


def test_ready_waits_for_the_warmup(hourly: pd.DataFrame) -> None:
    indicators = IndicatorSet(["RSI", "SMA", "OBV"])
    rsi_warmup = indicators.warmup("RSI_14")
    assert rsi_warmup == 14 + 32 * 14
    ready = {"RSI_14": [], "SMA_30": [], "OBV": []}
    for i in range(rsi_warmup + 2):
        indicators.run(hourly.iloc[i:i + 1], SYMBOL, "1h")
        for name, seen in ready.items():
            seen.append(indicators.ready(name, SYMBOL))
    assert ready["RSI_14"].index(True) == rsi_warmup  # the (warmup + 1)-th bar: warmup bars behind it
    assert ready["SMA_30"].index(True) == 29  # a finite window: ready once defined
    assert ready["OBV"].index(True) == 0  # path-dependent: ready once defined (its start never fades)
