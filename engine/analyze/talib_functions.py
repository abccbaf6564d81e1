"""What TA-Lib offers, by function name: inputs, parameters, outputs, lookback, and the warm-up of each.

Every function of ``talib.get_functions()`` is described from ``talib.abstract.Function(name).info``, so a new
TA-Lib release brings its new functions along with no code here. The one thing TA-Lib does not say is how much
history a *recursive* function needs before its value no longer depends on where the history started; that is
``warmup_margin``, documented in the table of ``engine.analyze.indicators`` and checked on real data by
``tests/unit/analyze/test_warmup.py``.

A function's warm-up is a chain of smoothing *stages* (a MACD is an EMA of the slow period, then an EMA of the
signal period on top of it); each stage needs the number of bars its own error takes to decay below 1e-9 of
the value, and the chain needs their sum. Stages:

``("ema", period, k)``
    ``k`` chained EMAs of ``alpha = 2 / (period + 1)``: ``EMA_BARS * (period + 1)`` bars for the first and
    ``CHAIN_BARS * (period + 1)`` for each further one (the seed error of the later ones is already small).
``("wilder", period, k)``
    Wilder's smoothing, ``alpha = 1 / period``: ``WILDER_BARS * period`` bars, ``CHAIN_BARS * period`` more for
    each further one (ADX smooths the smoothed DX).
``("ma", matype_param, period_param)``
    the moving average the function's ``matype`` parameter picks (SMA, WMA, TRIMA, HMA: none).
``("kama", period)``, ``("mama", slowlimit)``
    adaptive averages, whose slowest speed bounds the decay.
``("fixed", bars)``
    a measured constant: the Hilbert-transform cycle functions, Heikin-Ashi, and the stop-and-reverse
    functions (SAR, SAREXT, SUPERTREND), whose state is the last trend reversal: no bound holds for every
    market, so the constant is two to four times what the hourly BTC/USD history needed.

Path-dependent functions (cumulative sums such as OBV and AD, and MAXINDEX-like indices into the series) have
no warm-up at all: their value depends on the first bar forever, so ``warmup_margin`` returns ``None``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import talib
from talib import abstract

from engine.errors import ConfigError

# talib/abstract.pyi leaves out Function, which the module defines: the one place that says so.
Function: Any = abstract.Function  # type: ignore[attr-defined]

# Bars per unit of period for one stage to decay from the seed's error to below 1e-9 of the value. A seed
# error of 100% needs ln(1e9) / alpha = 20.7 / alpha bars (10.4 (period + 1) for an EMA, 20.7 period for
# Wilder's); these are 1.5 times that, and 1.3 to 3 times what the BTC/USD hourly history needed with the
# default parameters and others (tests/unit/analyze/test_warmup.py checks them).
EMA_BARS = 16.0  # per (period + 1): alpha = 2 / (period + 1)
WILDER_BARS = 32.0  # per period: alpha = 1 / period
CHAIN_BARS = 4.0  # each further chained stage, per (period + 1) or period
KAMA_BARS = 40.0  # per period: the efficiency ratio's window sets how slow KAMA gets on noisy data
MAMA_BARS = 32.0  # per 1 / slowlimit: FAMA's alpha is slowlimit / 2 at its slowest
HILBERT_BARS = 1024  # HT_*: the Hilbert transform's adaptive period; 512 sufficed on the BTC/USD history
HEIKIN_ASHI_BARS = 64  # HA: the open halves its distance to the true average each bar: 2**-64
REVERSAL_BARS = 1024  # SAR, SAREXT, SUPERTREND: 256 sufficed on the BTC/USD history

# TA-Lib's MA_Type codes -> how that average warms up ("none": a finite window).
MA_TYPES: dict[int, tuple[str, int]] = {
    0: ("none", 0),  # SMA
    1: ("ema", 1),  # EMA
    2: ("none", 0),  # WMA
    3: ("ema", 2),  # DEMA
    4: ("ema", 3),  # TEMA
    5: ("none", 0),  # TRIMA
    6: ("kama", 0),  # KAMA
    7: ("mama", 0),  # MAMA
    8: ("ema", 6),  # T3: six chained EMAs
    9: ("none", 0),  # HMA
    10: ("none", 0),  # identity
    11: ("default", 0),  # the function's own default: read from its declared default
    12: ("ema", 1),  # ZLEMA
    13: ("wilder", 1),  # Wilder's smoothing
}

Stage = tuple[Any, ...]

# Functions whose value depends on bars before the window TA-Lib reports as lookback. Every other function
# is a finite window: its value over ``lookback + 1`` bars is final.
STAGES: dict[str, tuple[Stage, ...]] = {
    "EMA": (("ema", "timeperiod", 1),),
    "DEMA": (("ema", "timeperiod", 2),),
    "TEMA": (("ema", "timeperiod", 3),),
    "TRIX": (("ema", "timeperiod", 3),),
    "T3": (("ema", "timeperiod", 6),),
    "ZLEMA": (("ema", "timeperiod", 1),),
    "MACD": (("ema", "slowperiod", 1), ("ema", "signalperiod", 1)),
    "MACDFIX": (("ema", 26, 1), ("ema", "signalperiod", 1)),
    "MACDEXT": (("ma", "fastmatype", "fastperiod"), ("ma", "slowmatype", "slowperiod"),
                ("ma", "signalmatype", "signalperiod")),
    "APO": (("ma", "matype", "slowperiod"),),
    "PPO": (("ma", "matype", "slowperiod"),),
    "PVO": (("ma", "matype", "slowperiod"),),
    "TSI": (("ema", "firstperiod", 1), ("ema", "secondperiod", 1)),
    "SMI": (("ema", "slowperiod", 1), ("ema", "fastperiod", 1), ("ema", "signalperiod", 1)),
    "EFI": (("ema", "timeperiod", 1),),
    "ERI": (("ema", "timeperiod", 1),),
    "CVI": (("ema", "timeperiod", 1),),
    "MASSI": (("ema", "fastperiod", 2),),
    "ADOSC": (("ema", "slowperiod", 1),),
    "KC": (("ema", "timeperiod", 1), ("wilder", "atrperiod", 1)),
    "RSI": (("wilder", "timeperiod", 1),),
    "RMA": (("wilder", "timeperiod", 1),),
    "ATR": (("wilder", "timeperiod", 1),),
    "NATR": (("wilder", "timeperiod", 1),),
    "CMO": (("wilder", "timeperiod", 1),),
    "PLUS_DM": (("wilder", "timeperiod", 1),),
    "MINUS_DM": (("wilder", "timeperiod", 1),),
    "PLUS_DI": (("wilder", "timeperiod", 1),),
    "MINUS_DI": (("wilder", "timeperiod", 1),),
    "DX": (("wilder", "timeperiod", 1),),
    "ADX": (("wilder", "timeperiod", 2),),
    "ADXR": (("wilder", "timeperiod", 2),),
    "RVI": (("wilder", "timeperiod", 1),),
    "STOCHRSI": (("wilder", "timeperiod", 1), ("ma", "fastd_matype", "fastd_period")),
    "STOCH": (("ma", "slowk_matype", "slowk_period"), ("ma", "slowd_matype", "slowd_period")),
    "KDJ": (("ma", "slowk_matype", "slowk_period"), ("ma", "slowd_matype", "slowd_period")),
    "STOCHF": (("ma", "fastd_matype", "fastd_period"),),
    "MA": (("ma", "matype", "timeperiod"),),
    "BBANDS": (("ma", "matype", "timeperiod"),),
    "MAVP": (("ma", "matype", "maxperiod"),),
    "KAMA": (("kama", "timeperiod"),),
    "MAMA": (("fixed", HILBERT_BARS), ("mama", "slowlimit")),
    "HT_DCPERIOD": (("fixed", HILBERT_BARS),),
    "HT_DCPHASE": (("fixed", HILBERT_BARS),),
    "HT_PHASOR": (("fixed", HILBERT_BARS),),
    "HT_SINE": (("fixed", HILBERT_BARS),),
    "HT_TRENDMODE": (("fixed", HILBERT_BARS),),
    "HT_TRENDLINE": (("fixed", HILBERT_BARS),),
    "HA": (("fixed", HEIKIN_ASHI_BARS),),
    "SAR": (("fixed", REVERSAL_BARS),),
    "SAREXT": (("fixed", REVERSAL_BARS),),
    "SUPERTREND": (("wilder", "timeperiod", 1), ("fixed", REVERSAL_BARS)),
}

# Value depends on the first bar of the history forever: running sums, and indices counted from the first bar.
PATH_DEPENDENT = frozenset({"AD", "OBV", "CUMSUM", "NVI", "PVI", "PVT", "WAD", "VWAP",
                            "MAXINDEX", "MININDEX", "MINMAXINDEX"})

BAR_FIELDS = ("open", "high", "low", "close", "volume")


@dataclass(frozen=True, slots=True)
class FunctionInfo:
    """One TA-Lib function as the indicator handler uses it.

    ``inputs`` maps TA-Lib's input names (``price``, ``prices``, ``price0``, ``periods`` ...) to the bar fields
    they read by default; ``sources`` is the same flattened into the order of the function's positional
    arguments.
    """

    name: str
    group: str
    inputs: Mapping[str, str | tuple[str, ...]]
    params: Mapping[str, int | float]
    outputs: tuple[str, ...]
    flags: tuple[str, ...]

    @property
    def sources(self) -> tuple[str, ...]:
        return flatten_inputs(self.inputs)

    @property
    def is_candlestick(self) -> bool:
        return self.group == "Pattern Recognition"


def flatten_inputs(inputs: Mapping[str, str | tuple[str, ...]]) -> tuple[str, ...]:
    out: list[str] = []
    for value in inputs.values():
        out.extend((value,) if isinstance(value, str) else value)
    return tuple(out)


@cache
def describe(name: str) -> FunctionInfo:
    """Return what TA-Lib says about function ``name`` (case-insensitive); ``ConfigError`` if it has none."""
    upper = name.upper()
    if upper not in _names():
        import difflib

        close = difflib.get_close_matches(upper, _names(), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ConfigError(f"unknown TA-Lib function {name!r}{hint}; talib.get_functions() lists all "
                          f"{len(_names())}")
    info = Function(upper).info
    inputs = {k: (tuple(v) if isinstance(v, list | tuple) else str(v)) for k, v in info["input_names"].items()}
    return FunctionInfo(name=upper, group=str(info["group"]), inputs=inputs, params=dict(info["parameters"]),
                        outputs=tuple(info["output_names"]), flags=tuple(info.get("function_flags") or ()))


@cache
def _names() -> frozenset[str]:
    return frozenset(talib.get_functions())


def functions() -> list[str]:
    """Return every TA-Lib function name, sorted."""
    return sorted(_names())


def check_params(name: str, params: Mapping[str, Any]) -> dict[str, int | float]:
    """Return the full parameters of ``name`` with ``params`` applied, converted to the declared types.

    Raises ``ConfigError`` naming an unknown parameter, a value of the wrong type, or a combination TA-Lib
    refuses (its lookback function answers -1).
    """
    info = describe(name)
    full: dict[str, int | float] = dict(info.params)
    for key, value in params.items():
        if key not in full:
            raise ConfigError(f"{info.name}: unknown parameter {key!r} (known: {', '.join(full) or 'none'})")
        full[key] = _convert(info.name, key, value, full[key])
    if lookback(info.name, full) < 0:
        given = ", ".join(f"{k}={v}" for k, v in full.items())
        raise ConfigError(f"{info.name}: TA-Lib refuses the parameters {given}")
    return full


def _convert(function: str, key: str, value: Any, default: int | float) -> int | float:
    try:
        if isinstance(default, int) and not isinstance(default, bool):
            number = float(value)
            if not number.is_integer():
                raise ValueError(value)
            return int(number)
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(value)
        return number
    except (TypeError, ValueError):
        kind = "an integer" if isinstance(default, int) else "a number"
        raise ConfigError(f"{function}: parameter {key!r} must be {kind}, got {value!r}") from None


def lookback(name: str, params: Mapping[str, Any]) -> int:
    """Return TA-Lib's lookback: the number of leading bars without a value (-1: parameters refused)."""
    return int(Function(name, **dict(params)).lookback)


def warmup_margin(name: str, params: Mapping[str, Any]) -> int | None:
    """Return the bars beyond the lookback after which the value is independent of the history's start.

    "Independent" means within 1e-9 relative of the value over any longer history (see the module docstring);
    0 for a finite window, ``None`` for a path-dependent function, which never forgets its first bar.
    """
    upper = name.upper()
    if upper in PATH_DEPENDENT:
        return None
    full = {**describe(upper).params, **params}
    return sum(_stage_bars(upper, stage, full) for stage in STAGES.get(upper, ()))


def _value(ref: Any, params: Mapping[str, Any]) -> float:
    return float(params[ref]) if isinstance(ref, str) else float(ref)


def _stage_bars(name: str, stage: Stage, params: Mapping[str, Any]) -> int:
    family = stage[0]
    if family == "fixed":
        return int(stage[1])
    if family == "ema":
        period, chain = _value(stage[1], params), int(stage[2])
        return math.ceil((EMA_BARS + CHAIN_BARS * (chain - 1)) * (period + 1))
    if family == "wilder":
        period, chain = _value(stage[1], params), int(stage[2])
        return math.ceil((WILDER_BARS + CHAIN_BARS * (chain - 1)) * period)
    if family == "kama":
        return math.ceil(KAMA_BARS * _value(stage[1], params))
    if family == "mama":
        return math.ceil(MAMA_BARS / _value(stage[1], params))
    if family == "ma":
        matype, period = int(params[stage[1]]), _value(stage[2], params)
        kind, chain = MA_TYPES.get(matype, ("wilder", 1))  # an unknown code: assume the slowest common one
        if kind == "default":
            declared = int(describe(name).params[stage[1]])
            kind, chain = MA_TYPES.get(declared, ("wilder", 1)) if declared != 11 else ("wilder", 1)
        if kind == "none":
            return 0
        if kind == "kama":
            return math.ceil(KAMA_BARS * period)
        if kind == "mama":
            return HILBERT_BARS + math.ceil(MAMA_BARS / 0.05)
        return _stage_bars(name, (kind, period, chain), params)
    raise ValueError(f"{name}: unknown warm-up stage {stage!r}")
