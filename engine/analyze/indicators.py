"""Streaming indicators: every TA-Lib function by name, updated on each bar, equal to TA-Lib's batch values.

Ask for a function with its parameters; read its value by key, per symbol::

    rsi = Indicator("RSI", timeperiod=14)            # key "RSI_14"
    bands = Indicator("BBANDS", timeperiod=20, nbdevup=2.5, key="bb")
    atr_sma = Indicator("SMA", timeperiod=10, price="ATR_14")   # fed by another indicator's output
    indicators = IndicatorSet([rsi, bands, Indicator("ATR"), atr_sma, Indicator("CDLDOJI")])
    run_backtest(strategy, data, venue=venue, handlers=[indicators])   # or bus.subscribe(Bar, indicators.on_bar)
    indicators.value("RSI_14", "BTC/USD"); indicators.value("bb.upperband", "BTC/USD")

How a value is computed. Each (indicator, symbol) holds a TA-Lib stream handle (``talib.stream``, TA-Lib 0.8):
opened on the bars seen so far once there are enough of them (``lookback + 1``), then updated with one bar at
a time, at O(1) cost whatever the window. Its values are bit-identical to ``talib.<FUNCTION>`` called on the
whole history the handler saw, recursive functions included (EMA, RSI, ATR, MACD, KAMA, T3, HT_*, SAR, OBV ...):
nothing is recomputed over a window, so nothing drifts (tests/unit/analyze/test_streaming.py checks every
function, bar by bar, on the hourly BTC/USD history). A value at bar t only ever saw bars with ``ts <= t``.
Inputs are bar fields (``open high low close volume``) or, by key, an output of an indicator added before
(TA-Lib skips its leading NaNs, as the batch function does). ``MAVP`` has no default for its ``periods``
input: give one (``Indicator("MAVP", periods="HT_DCPERIOD")``).

Warm-up. A recursive function's value still depends on where the history started; after ``warmup`` bars
(``lookback + margin``) it no longer does, to 1e-9 relative (of the value, or of the series' median magnitude
for an oscillator near zero). That matters whenever two runs start at different bars: a live session that
back-filled N bars against a back-test over years, or an indicator added mid-run (it opens on the history this
set keeps, the last ``history`` bars per symbol, at least every indicator's warm-up). ``ready(key, symbol)``
says whether the value is past it. The margins, by family (``engine.analyze.talib_functions``, checked on real
data by tests/unit/analyze/test_warmup.py; P is the period parameter named)::

    family                          functions                                           margin (bars)
    finite window                   SMA WMA TRIMA HMA BBANDS* STOCH* MA* (matype 0 2 5  0 (value final once
                                    9 10), MOM ROC WILLR CCI AROON STDDEV LINEARREG*   defined)
                                    DONCHIAN CDL* (all 61 patterns) and the other 100+
    EMA, alpha = 2/(P+1)            EMA ZLEMA EFI ERI CVI ADOSC(slow) APO/PPO/PVO(slow) 16 (P+1) per EMA, +4 (P+1)
                                    MACD(slow, then signal) TSI SMI KC DEMA(2) TEMA(3)  per further chained EMA
                                    TRIX(3) T3(6) MASSI(2), MA types 1 3 4 8 12        (count in brackets)
    Wilder, alpha = 1/P             RSI RMA ATR NATR CMO DX PLUS/MINUS_DI/DM RVI        32 P, +4 P for ADX/ADXR
                                    STOCHRSI ADX(2) ADXR(2) SUPERTREND, MA type 13
    KAMA (MA type 6)                KAMA                                                40 P
    MAMA (MA type 7)                MAMA                                                1024 + 32 / slowlimit
    Hilbert transform               HT_DCPERIOD HT_DCPHASE HT_PHASOR HT_SINE            1024 (512 measured)
                                    HT_TRENDMODE HT_TRENDLINE
    Heikin-Ashi                     HA                                                  64
    stop and reverse                SAR SAREXT (SUPERTREND adds its ATR's)              1024 (256 measured; no
                                                                                        bound holds for all data)
    path-dependent                  AD OBV CUMSUM NVI PVI PVT WAD VWAP MAXINDEX         never: counted from the
                                    MININDEX MINMAXINDEX                                first bar seen

Functions with a ``matype`` add the margin of the average it picks; chained stages add up (MACD's is
16 * 27 + 16 * 10 = 592 bars beyond its lookback of 33).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from operator import itemgetter
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import talib
from talib import stream

from engine.analyze.recent_rows import RecentRows
from engine.analyze.talib_functions import BAR_FIELDS, check_params, describe, flatten_inputs, lookback, warmup_margin
from engine.errors import ConfigError
from engine.events import Bar

NAN = math.nan

if not hasattr(stream, "Stream"):  # before ta-lib 0.8, talib.stream held functions that recompute the window
    raise ImportError(f"engine.analyze needs ta-lib >= 0.8.1 for its stream handles; found ta-lib {talib.__version__}"
                      " (pip install 'ta-lib>=0.8')")


def _format(value: int | float) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class Indicator:
    """One TA-Lib function with its parameters and inputs, e.g. ``Indicator("RSI", timeperiod=14)``.

    Parameters
    ----------
    function
        A name of ``talib.get_functions()`` (case-insensitive): ``"RSI"``, ``"BBANDS"``, ``"CDLDOJI"`` ...
    key
        The name to read the value by; default: the function and every parameter value in TA-Lib's order,
        ``"RSI_14"``, ``"BBANDS_20_2_2_0"``, ``"CDLDOJI"``, with the inputs in brackets when they are not
        TA-Lib's defaults (``"RSI_14(volume)"``).
    **kwargs
        TA-Lib parameters (``timeperiod=14``), converted to the declared type, and input sources under TA-Lib's
        input names (``price="volume"``, ``prices=["high", "low", "close"]``, ``price0=``, ``periods=``): a bar
        field or the key of another indicator's output (``"BBANDS_20_2_2_0.upperband"``).
    """

    __slots__ = ("function", "inputs", "key", "lookback", "margin", "outputs", "params", "sources")

    def __init__(self, function: str, /, *, key: str | None = None, **kwargs: Any) -> None:
        info = describe(function)
        inputs: dict[str, str | tuple[str, ...]] = dict(info.inputs)
        params = {}
        for name, value in kwargs.items():
            if name in inputs:
                inputs[name] = _source(info.name, name, value, inputs[name])
            else:
                params[name] = value
        self.function = info.name
        self.params = check_params(info.name, params)
        self.inputs = inputs
        self.sources = flatten_inputs(inputs)
        self.outputs = info.outputs
        if info.name == "MAVP" and "periods" in self.sources:
            raise ConfigError("MAVP needs a source for its periods input, e.g. Indicator('MAVP', "
                              "periods='HT_DCPERIOD')")
        self.lookback = lookback(info.name, self.params)
        self.margin = warmup_margin(info.name, self.params)
        if key is None:
            key = "_".join([info.name, *(_format(v) for v in self.params.values())])
            if self.sources != info.sources:
                key += f"({','.join(self.sources)})"
        if not key:
            raise ConfigError(f"{info.name}: the indicator key must not be empty")
        self.key = key

    @property
    def names(self) -> tuple[str, ...]:
        """Return the names its values are read by: the key, or ``key.output`` for each of several outputs."""
        if len(self.outputs) == 1:
            return (self.key,)
        return tuple(f"{self.key}.{out}" for out in self.outputs)

    @property
    def path_dependent(self) -> bool:
        """True when the value depends on the first bar of the history forever (OBV, AD, CUMSUM ...)."""
        return self.margin is None

    @property
    def warmup(self) -> int | None:
        """Bars of history after which the value no longer depends on the start (None: never)."""
        return None if self.margin is None else self.lookback + self.margin

    def spec(self) -> tuple[str, tuple[tuple[str, int | float], ...], tuple[str, ...]]:
        return self.function, tuple(self.params.items()), self.sources

    def __repr__(self) -> str:
        given = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"Indicator({self.function!r}{', ' if given else ''}{given}, key={self.key!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Indicator) and (self.key, self.spec()) == (other.key, other.spec())

    def __hash__(self) -> int:
        return hash((self.key, self.spec()))


def _source(function: str, name: str, value: Any, default: str | tuple[str, ...]) -> str | tuple[str, ...]:
    if isinstance(default, tuple):
        values = (value,) if isinstance(value, str) else tuple(value)
        if len(values) != len(default) or not all(isinstance(v, str) and v for v in values):
            raise ConfigError(f"{function}: input {name!r} takes {len(default)} sources "
                              f"({', '.join(default)}), got {value!r}")
        return values
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{function}: input {name!r} takes one source (a bar field or an indicator key), "
                          f"got {value!r}")
    return value


class _Symbol:
    """One symbol's state: its history, a stream handle per indicator, the latest values."""

    __slots__ = ("handles", "history", "starts", "values")

    def __init__(self, history: RecentRows, n_indicators: int, n_values: int) -> None:
        self.history = history
        self.handles: list[Any] = [None] * n_indicators
        self.starts: list[int] = [0] * n_indicators  # history.count when each indicator's history began
        self.values: list[float] = [NAN] * n_values


class _Feed(NamedTuple):
    """How one indicator is fed: its inputs' columns of the row, where its values go, what others read."""

    get: Callable[[list[float]], Any]  # the inputs out of the bar's row: a tuple, or one float
    spread: bool  # several inputs: update(*inputs)
    offset: int
    n_outputs: int
    kept: list[tuple[int, int]]  # (output number, row column) of the outputs other indicators read
    opener: Any  # the talib.stream class
    columns: tuple[int, ...]


class IndicatorSet:
    """Update indicators on every bar, per symbol, and answer their latest values by name.

    Subscribe ``on_bar`` to ``Bar`` (``run_backtest(handlers=[indicators])`` does) before whatever reads the
    values: handlers of one event run in subscription order.

    Parameters
    ----------
    indicators
        ``Indicator`` objects, or function names for their defaults (``"OBV"``).
    symbols
        Update only these symbols (default: every symbol of the bars).
    history
        Bars kept per symbol, to open the indicators added later on (at least the largest warm-up of the
        indicators added so far). An indicator added mid-run is ready at once if ``history`` covers its own
        warm-up: give it room for the indicators you mean to add.
    """

    def __init__(self, indicators: Iterable[Indicator | str] = (), *, symbols: Iterable[str] | None = None,
                 history: int = 0) -> None:
        self.indicators: list[Indicator] = []
        self.symbols = None if symbols is None else frozenset(symbols)
        self._slots: dict[str, tuple[int, int]] = {}  # value name -> (indicator index, value index)
        self._keys: dict[str, int] = {}  # indicator key -> index
        self._feeds: list[_Feed] = []
        self._columns: dict[str, int] = {name: i for i, name in enumerate(BAR_FIELDS)}
        self._capacity = max(history, 2)
        self._states: dict[str, _Symbol] = {}
        self._n_values = 0
        self._pad: list[float] = []  # NaN for the columns after the bar fields, copied into each row
        self._warmups: list[int | None] = []  # per indicator, sources included
        for indicator in indicators:
            self.add(indicator)

    # -- configuration -------------------------------------------------------------------------------------
    def add(self, indicator: Indicator | str) -> Indicator:
        """Add an indicator (or return the equal one added before); mid-run, it opens on the kept history."""
        if isinstance(indicator, str):
            indicator = Indicator(indicator)
        if indicator.key in self._keys:
            known = self.indicators[self._keys[indicator.key]]
            if known.spec() != indicator.spec():
                raise ConfigError(f"indicator key {indicator.key!r} is taken by {known!r}")
            return known
        for source in indicator.sources:
            if source not in BAR_FIELDS and source not in self._slots:
                hint = " (name one output: key.output)" if source in self._keys else ""
                raise ConfigError(f"{indicator!r}: input {source!r} is neither a bar field "
                                  f"({', '.join(BAR_FIELDS)}) nor an output of an indicator added before{hint}")
        index = len(self.indicators)
        self.indicators.append(indicator)
        self._keys[indicator.key] = index
        offset = self._n_values
        for out, name in enumerate(indicator.names):
            self._slots[name] = (index, offset + out)
        self._n_values += len(indicator.outputs)
        for source in indicator.sources:  # an output another indicator reads is kept in the history too
            if source not in self._columns:
                self._columns[source] = len(self._columns)
                self._pad.append(NAN)
                upstream, value_index = self._slots[source]
                feed = self._feeds[upstream]
                feed.kept.append((value_index - feed.offset, self._columns[source]))
        columns = tuple(self._columns[s] for s in indicator.sources)
        self._feeds.append(_Feed(itemgetter(*columns), len(columns) > 1, offset, len(indicator.outputs), [],
                                 getattr(stream, indicator.function), columns))
        self._warmups.append(self.warmup(indicator.key))
        self._capacity = max(self._capacity, self._warmups[index] or 0, indicator.lookback + 2)
        for state in self._states.values():
            self._grow(state)
            state.handles.append(None)
            state.starts.append(state.history.count - state.history.filled)
            state.values.extend([NAN] * len(indicator.outputs))
            self._open(state, index)
        return indicator

    def _grow(self, state: _Symbol) -> None:
        width = len(self._columns)
        if state.history.capacity < self._capacity or state.history.width < width:
            state.history = state.history.resized(self._capacity, width)

    def _index(self, name: str) -> int:
        if name in self._keys:
            return self._keys[name]
        if name in self._slots:
            return self._slots[name][0]
        raise ConfigError(f"no indicator {name!r} in this set (known: {', '.join(self._slots) or 'none'})")

    def warmup(self, name: str) -> int | None:
        """Return the bars of history ``name`` needs to be final, its sources' included (None: never)."""
        indicator = self.indicators[self._index(name)]
        if indicator.warmup is None:
            return None
        total = indicator.warmup
        for source in indicator.sources:
            if source not in BAR_FIELDS:
                upstream = self.warmup(source)
                if upstream is None:
                    return None
                total += upstream
        return total

    # -- the hot path --------------------------------------------------------------------------------------
    def on_bar(self, bar: Bar) -> None:
        """Append the bar to its symbol's history and update every indicator with it."""
        state = self._states.get(bar.symbol)
        if state is None:
            if self.symbols is not None and bar.symbol not in self.symbols:
                return
            state = self._states[bar.symbol] = _Symbol(RecentRows(len(self._columns), self._capacity),
                                                       len(self.indicators), self._n_values)
        row = [bar.open, bar.high, bar.low, bar.close, bar.volume]
        if self._pad:
            row += self._pad  # this bar's outputs that other indicators read, filled in below
        state.history.append(row)
        handles, values = state.handles, state.values
        for index, (get, spread, offset, n_outputs, kept, _, _) in enumerate(self._feeds):
            handle = handles[index]
            if handle is None:
                self._open(state, index)
                continue
            inputs = get(row)
            try:
                result = handle.update(*inputs) if spread else handle.update(inputs)
            except Exception:
                if all(math.isfinite(x) for x in (inputs if spread else (inputs,))):
                    raise
                handle.advance()  # a non-finite input (a gap in a source): skip the bar, as TA-Lib advises
                result = NAN if n_outputs == 1 else (NAN,) * n_outputs
            if n_outputs == 1:
                values[offset] = result
            else:
                values[offset:offset + n_outputs] = result
            for out, column in kept:
                row[column] = values[offset + out]

    def _open(self, state: _Symbol, index: int) -> None:
        """Open indicator ``index``'s handle on the symbol's history, if TA-Lib finds it long enough."""
        feed, indicator = self._feeds[index], self.indicators[index]
        history = state.history
        if not history.filled:
            return
        try:
            handle = feed.opener(*[history.column(c) for c in feed.columns], **indicator.params)
        except talib.InsufficientHistory:
            return
        state.handles[index] = handle
        result = handle.value
        outputs = result if isinstance(result, tuple) else (result,)
        row = history.rows[-1]
        for out, value in enumerate(outputs):
            state.values[feed.offset + out] = float(value)
        for out, column in feed.kept:
            row[column] = state.values[feed.offset + out]

    # -- reading -------------------------------------------------------------------------------------------
    def value(self, name: str, symbol: str) -> float:
        """Return the latest value of ``name`` (a key, or ``key.output``) for ``symbol``; NaN until defined."""
        slot = self._slots.get(name)
        if slot is None:
            index = self._index(name)
            outputs = ", ".join(self.indicators[index].names)
            raise ConfigError(f"indicator {name!r} has several outputs: read one of {outputs}")
        state = self._states.get(symbol)
        return NAN if state is None else float(state.values[slot[1]])

    def values(self, key: str, symbol: str) -> dict[str, float]:
        """Return every output of indicator ``key`` by output name (``upperband``, ``middleband`` ...)."""
        indicator = self.indicators[self._index(key)]
        return {out: self.value(name, symbol) for out, name in zip(indicator.outputs, indicator.names, strict=True)}

    def snapshot(self, symbol: str) -> dict[str, float]:
        """Return every value of ``symbol`` by name, in the order the indicators were added."""
        return {name: self.value(name, symbol) for name in self._slots}

    def ready(self, name: str, symbol: str) -> bool:
        """Return True once ``name`` no longer depends on where its history started (the warm-up table).

        A path-dependent indicator (OBV, AD ...) never stops depending on it: it is ready once defined.
        """
        index = self._index(name)
        state = self._states.get(symbol)
        if state is None or state.handles[index] is None:
            return False
        needed = self._warmups[index]
        return needed is None or state.history.count - state.starts[index] > needed

    def read(self, names: Sequence[str], symbol: str) -> list[float] | None:
        """Return the values of ``names`` for ``symbol`` when every one is ready and finite, else None.

        What signal rules call on each bar: a rule speaks only once its inputs are past their warm-up, so its
        signals are the same whether the history began years or ``warmup`` bars ago.
        """
        state = self._states.get(symbol)
        if state is None:
            return None
        out = []
        count = state.history.count
        for name in names:
            slot = self._slots.get(name)
            if slot is None:
                self.value(name, symbol)  # raises, naming the problem
                return None
            index, at = slot
            needed = self._warmups[index]
            if state.handles[index] is None or (needed is not None and count - state.starts[index] <= needed):
                return None
            value = state.values[at]
            if value != value:  # NaN
                return None
            out.append(value)
        return out

    def bars_seen(self, symbol: str) -> int:
        state = self._states.get(symbol)
        return 0 if state is None else state.history.count

    def names(self) -> list[str]:
        """Return every name a value can be read by, in the order the indicators were added."""
        return list(self._slots)

    # -- research ------------------------------------------------------------------------------------------
    def run(self, frame: pd.DataFrame, symbol: str, interval: str | pd.Timedelta | None = None) -> pd.DataFrame:
        """Stream an OHLCV frame bar by bar and return every value at every bar, indexed like the frame.

        The same code path as a back-test (bars from ``BarFeed``), so each row is what handlers read then.
        ``interval`` is the bar length when the frame's index cannot tell it (a single row).
        """
        from engine.datagen.bar_feed import BarFeed

        names = self.names()
        slots = [self._slots[n][1] for n in names]
        out = np.full((len(frame), len(names)), NAN)
        for i, bar in enumerate(BarFeed(frame, symbol, interval)):
            self.on_bar(bar)
            state = self._states.get(symbol)
            if state is not None:
                values = state.values
                out[i] = [values[s] for s in slots]
        return pd.DataFrame(out, index=frame.index, columns=names)


def batch(indicator: Indicator, frame: pd.DataFrame | Mapping[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    """Return TA-Lib's batch outputs of ``indicator`` over a whole frame (bar-field inputs only): the reference."""
    arrays = [np.asarray(frame[s], dtype=float) for s in indicator.sources]
    result = getattr(talib, indicator.function)(*arrays, **indicator.params)
    outputs = result if isinstance(result, tuple) else (result,)
    return tuple(np.asarray(o, dtype=float) for o in outputs)
