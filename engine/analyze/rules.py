"""The signal library: market views built on TA-Lib indicators, one class per rule.

Every rule reads only indicator values of bars with ``ts <= t`` and its own memory of earlier bars, and speaks
only once its indicators are past their warm-up (``IndicatorSet.ready``). Where a rule compares the bar with a
channel (Donchian, volume average) it uses the channel as it stood at the previous bar, since the current bar
is part of the current channel. ``mode`` chooses between reading a stretch as a reversal (``reversion``: buy
what fell through the band) or as a trend (``breakout``: buy what rose through it).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from engine.analyze.indicators import Indicator
from engine.analyze.rule import Reading, Rule, sign
from engine.errors import ConfigError
from engine.events import Bar

BAND_MODES = ("reversion", "breakout")
CROSS_MODES = ("cross", "state")


def _band(close: float, lower: float, upper: float, scale: float, mode: str,
          contributions: dict[str, float]) -> Reading:
    """Read a close against a band: below ``lower`` or above ``upper``, by ``scale``s beyond it (max 1)."""
    if close < lower:
        direction, excess = 1, lower - close
    elif close > upper:
        direction, excess = -1, close - upper
    else:
        return Reading(0, 0.0, contributions)
    if mode == "breakout":
        direction = -direction
    return Reading(direction, min(1.0, excess / scale) if scale > 0 else 1.0, contributions)


class Regime(Rule):
    """Bull (+1) or bear (-1) regime from consecutive moves of a moving average.

    Rule: the regime turns bull after the MA of ``period`` bars (TA-Lib ``matype``, 0 = SMA) rose on ``bars``
    consecutive bars, bear after it fell on ``bars`` consecutive bars, and holds until the opposite run; 0
    before the first run. Strength: the current run in the regime's direction over ``bars`` (max 1; 0 once
    the MA has turned against it).
    """

    kind = "regime"
    params = {"period": 50, "matype": 0, "bars": 5}

    def check(self) -> None:
        if self.p["bars"] < 1:
            raise ConfigError(f"Regime: bars must be >= 1, got {self.p['bars']}")
        self.ma = Indicator("MA", timeperiod=self.p["period"], matype=self.p["matype"])
        self._state: dict[str, list[float]] = {}  # symbol -> [last MA, signed run, regime]

    def needs(self) -> Sequence[Indicator]:
        return (self.ma,)

    def evaluate(self, bar: Bar) -> Reading | None:
        values = self.read((self.ma.key,), bar.symbol)
        if values is None:
            return None
        ma = values[0]
        state = self._state.get(bar.symbol)
        if state is None:
            self._state[bar.symbol] = [ma, 0, 0]
            return Reading(0, 0.0, {self.ma.key: ma, "run": 0})
        last, run, regime = state
        step = sign(ma - last)
        run = (run + step if run * step > 0 else step) if step else 0
        if run >= self.p["bars"]:
            regime = 1
        elif run <= -self.p["bars"]:
            regime = -1
        state[:] = [ma, run, regime]
        strength = min(1.0, run * regime / self.p["bars"]) if run * regime > 0 else 0.0
        return Reading(int(regime), strength, {self.ma.key: ma, "run": run})


class MaCross(Rule):
    """Fast moving average against a slow one.

    Rule: ``mode="cross"``: +1 on the bar the fast MA crosses above the slow one (it was at or below it the bar
    before), -1 on the bar it crosses below; ``mode="state"``: +1 while fast > slow, -1 while fast < slow. MAs
    of the close over ``fast`` and ``slow`` bars, TA-Lib ``matype`` (0 = SMA, 1 = EMA ...). Strength: the gap
    as a fraction of the slow MA.
    """

    kind = "ma_cross"
    params = {"fast": 10, "slow": 30, "matype": 0, "mode": "cross"}
    choices = {"mode": CROSS_MODES}

    def check(self) -> None:
        if not 0 < self.p["fast"] < self.p["slow"]:
            raise ConfigError(f"MaCross: need 0 < fast < slow, got fast={self.p['fast']}, slow={self.p['slow']}")
        self.fast = Indicator("MA", timeperiod=self.p["fast"], matype=self.p["matype"])
        self.slow = Indicator("MA", timeperiod=self.p["slow"], matype=self.p["matype"])
        self._gap: dict[str, float] = {}

    def needs(self) -> Sequence[Indicator]:
        return (self.fast, self.slow)

    def evaluate(self, bar: Bar) -> Reading | None:
        values = self.read((self.fast.key, self.slow.key), bar.symbol)
        if values is None:
            return None
        fast, slow = values
        gap = fast - slow
        previous = self._gap.get(bar.symbol)
        self._gap[bar.symbol] = gap
        if self.p["mode"] == "state":
            direction = sign(gap)
        elif previous is None:
            direction = 0
        else:
            direction = 1 if previous <= 0.0 < gap else -1 if previous >= 0.0 > gap else 0
        return Reading(direction, abs(gap) / slow if direction else 0.0, {self.fast.key: fast, self.slow.key: slow})


class MaEnvelope(Rule):
    """Close against an envelope of ``width`` (a fraction) around a moving average.

    Rule: ``reversion``: +1 when the close is below ``MA * (1 - width)``, -1 above ``MA * (1 + width)``;
    ``breakout``: the opposite. Strength: the distance beyond the envelope in envelope widths (max 1).
    """

    kind = "ma_envelope"
    params = {"period": 20, "matype": 0, "width": 0.05, "mode": "reversion"}
    choices = {"mode": BAND_MODES}

    def check(self) -> None:
        if not 0 < self.p["width"] < 1:
            raise ConfigError(f"MaEnvelope: width must be in (0, 1), got {self.p['width']}")
        self.ma = Indicator("MA", timeperiod=self.p["period"], matype=self.p["matype"])

    def needs(self) -> Sequence[Indicator]:
        return (self.ma,)

    def evaluate(self, bar: Bar) -> Reading | None:
        values = self.read((self.ma.key,), bar.symbol)
        if values is None:
            return None
        ma, width = values[0], self.p["width"]
        return _band(bar.close, ma * (1 - width), ma * (1 + width), ma * width, self.p["mode"],
                     {self.ma.key: ma, "close": bar.close})


class DoubleDip(Rule):
    """Double bottom (+1) and double top (-1), on the bar the price breaks the pattern's neckline.

    Rule: swing lows and highs are TA-Lib ``FRACTAL`` pivots (``width`` bars each side, so a pivot is known
    ``width`` bars after it), kept alternating (of two lows in a row the lower one stays). A double bottom is
    low, high, low with the two lows within ``tolerance`` (a fraction) of each other, the high (the neckline)
    at least ``depth`` above both, and the first low at most ``max_bars`` back: +1 on the first close above the
    neckline. A double top mirrors it: -1 on the first close below the trough between two equal highs.
    Strength: how equal the two dips (or tops) are, 1 = equal.
    """

    kind = "double_dip"
    params = {"width": 3, "tolerance": 0.02, "depth": 0.03, "max_bars": 200}

    def check(self) -> None:
        if self.p["width"] < 1 or self.p["max_bars"] < 1:
            raise ConfigError(f"DoubleDip: width and max_bars must be >= 1, got {self.p}")
        if not (0 < self.p["tolerance"] < 1 and 0 < self.p["depth"] < 1):
            raise ConfigError(f"DoubleDip: tolerance and depth must be in (0, 1), got {self.p}")
        self.fractal = Indicator("FRACTAL", leftbars=self.p["width"], rightbars=self.p["width"])
        self._recent: dict[str, deque[tuple[float, float]]] = {}
        self._pivots: dict[str, list[tuple[int, float, int]]] = {}  # (+1 high / -1 low, price, bar number)
        self._count: dict[str, int] = {}
        self._fired: dict[str, int] = {}  # bar number of the last pivot a pattern fired on

    def needs(self) -> Sequence[Indicator]:
        return (self.fractal,)

    def evaluate(self, bar: Bar) -> Reading | None:
        symbol, width = bar.symbol, self.p["width"]
        recent = self._recent.setdefault(symbol, deque(maxlen=width + 1))
        recent.append((bar.high, bar.low))
        n = self._count[symbol] = self._count.get(symbol, 0) + 1
        names = self.fractal.names
        values = self.read(names, symbol)
        if values is None:
            return None
        pivots = self._pivots.setdefault(symbol, [])
        high, low = values
        if (high != 0) != (low != 0):  # a bar that is both pivots (an outside bar) says nothing
            kind, price = (1, recent[0][0]) if high else (-1, recent[0][1])
            if pivots and pivots[-1][0] == kind:
                if kind * (price - pivots[-1][1]) > 0:
                    pivots[-1] = (kind, price, n - width)
            else:
                pivots.append((kind, price, n - width))
                del pivots[:-3]
        return self._pattern(bar, pivots, n)

    def _pattern(self, bar: Bar, pivots: list[tuple[int, float, int]], n: int) -> Reading:
        if len(pivots) < 3 or self._fired.get(bar.symbol) == pivots[-1][2]:
            return Reading(0)
        (k1, p1, n1), (_, neck, _), (_, p2, n2) = pivots
        if k1 != pivots[2][0] or n - n1 > self.p["max_bars"]:
            return Reading(0)
        kind = -k1  # lows (-1) make a double bottom: a buy (+1)
        tolerance, depth = self.p["tolerance"], self.p["depth"]
        gap = abs(p2 - p1) / p1
        deep = neck >= max(p1, p2) * (1 + depth) if kind > 0 else neck <= min(p1, p2) * (1 - depth)
        broke = bar.close > neck if kind > 0 else bar.close < neck
        if gap > tolerance or not deep or not broke:
            return Reading(0)
        self._fired[bar.symbol] = n2
        first, second = ("first_low", "second_low") if kind > 0 else ("first_high", "second_high")
        return Reading(kind, 1.0 - gap / tolerance, {first: p1, "neckline": neck, second: p2, "close": bar.close})


class Rsi(Rule):
    """Relative Strength Index against two levels.

    Rule: ``mean_reversion``: +1 while RSI < ``lower`` (oversold), -1 while RSI > ``upper`` (overbought);
    ``momentum``: +1 while RSI > ``upper`` (strength persists), -1 while RSI < ``lower``. Strength: how far
    into the zone, as a fraction of the zone (max 1).
    """

    kind = "rsi"
    params = {"period": 14, "mode": "mean_reversion", "lower": 30.0, "upper": 70.0}
    choices = {"mode": ("mean_reversion", "momentum")}

    def check(self) -> None:
        if not 0 <= self.p["lower"] < self.p["upper"] <= 100:
            raise ConfigError(f"Rsi: need 0 <= lower < upper <= 100, got {self.p['lower']}, {self.p['upper']}")
        self.rsi = Indicator("RSI", timeperiod=self.p["period"])

    def needs(self) -> Sequence[Indicator]:
        return (self.rsi,)

    def evaluate(self, bar: Bar) -> Reading | None:
        values = self.read((self.rsi.key,), bar.symbol)
        if values is None:
            return None
        rsi, lower, upper = values[0], self.p["lower"], self.p["upper"]
        if rsi < lower:
            direction, strength = 1, (lower - rsi) / lower
        elif rsi > upper:
            direction, strength = -1, (rsi - upper) / (100 - upper)
        else:
            return Reading(0, 0.0, {self.rsi.key: rsi})
        if self.p["mode"] == "momentum":
            direction = -direction
        return Reading(direction, min(1.0, strength), {self.rsi.key: rsi})


class Macd(Rule):
    """MACD line against its signal line.

    Rule: ``cross``: +1 on the bar the MACD crosses above its signal line, -1 below; ``state``: the sign of
    the histogram. Strength: the histogram as a fraction of the close.
    """

    kind = "macd"
    params = {"fast": 12, "slow": 26, "signal": 9, "mode": "cross"}
    choices = {"mode": CROSS_MODES}

    def check(self) -> None:
        if not 0 < self.p["fast"] < self.p["slow"]:
            raise ConfigError(f"Macd: need 0 < fast < slow, got fast={self.p['fast']}, slow={self.p['slow']}")
        self.macd = Indicator("MACD", fastperiod=self.p["fast"], slowperiod=self.p["slow"],
                              signalperiod=self.p["signal"])
        self._hist: dict[str, float] = {}

    def needs(self) -> Sequence[Indicator]:
        return (self.macd,)

    def evaluate(self, bar: Bar) -> Reading | None:
        values = self.read(self.macd.names, bar.symbol)
        if values is None:
            return None
        macd, signal, hist = values
        previous = self._hist.get(bar.symbol)
        self._hist[bar.symbol] = hist
        if self.p["mode"] == "state":
            direction = sign(hist)
        elif previous is None:
            direction = 0
        else:
            direction = 1 if previous <= 0.0 < hist else -1 if previous >= 0.0 > hist else 0
        names = self.macd.names
        return Reading(direction, abs(hist) / bar.close if direction else 0.0,
                       {names[0]: macd, names[1]: signal, names[2]: hist})


class Bollinger(Rule):
    """Close against Bollinger bands (``nbdev`` standard deviations around an MA of ``period`` bars).

    Rule: ``reversion``: +1 when the close is below the lower band, -1 above the upper band; ``breakout``: the
    opposite. Strength: the distance beyond the band as a fraction of the band's width (max 1).
    """

    kind = "bollinger"
    params = {"period": 20, "nbdev": 2.0, "matype": 0, "mode": "reversion"}
    choices = {"mode": BAND_MODES}

    def check(self) -> None:
        if self.p["nbdev"] <= 0:
            raise ConfigError(f"Bollinger: nbdev must be positive, got {self.p['nbdev']}")
        self.bands = Indicator("BBANDS", timeperiod=self.p["period"], nbdevup=self.p["nbdev"],
                               nbdevdn=self.p["nbdev"], matype=self.p["matype"])

    def needs(self) -> Sequence[Indicator]:
        return (self.bands,)

    def evaluate(self, bar: Bar) -> Reading | None:
        values = self.read(self.bands.names, bar.symbol)
        if values is None:
            return None
        upper, middle, lower = values
        names = self.bands.names
        return _band(bar.close, lower, upper, upper - lower, self.p["mode"],
                     {names[0]: upper, names[1]: middle, names[2]: lower, "close": bar.close})


class AtrBand(Rule):
    """Close against bands of ``multiplier`` ATRs around a moving average.

    Rule: ``breakout``: +1 when the close is above ``MA + multiplier * ATR``, -1 below ``MA - multiplier *
    ATR``; ``reversion``: the opposite. MA of ``period`` bars (``matype``, 1 = EMA), ATR of ``atr_period``
    bars. Strength: the distance beyond the band in ATRs (max 1).
    """

    kind = "atr_band"
    params = {"period": 20, "atr_period": 14, "multiplier": 2.0, "matype": 1, "mode": "breakout"}
    choices = {"mode": BAND_MODES}

    def check(self) -> None:
        if self.p["multiplier"] <= 0:
            raise ConfigError(f"AtrBand: multiplier must be positive, got {self.p['multiplier']}")
        self.ma = Indicator("MA", timeperiod=self.p["period"], matype=self.p["matype"])
        self.atr = Indicator("ATR", timeperiod=self.p["atr_period"])

    def needs(self) -> Sequence[Indicator]:
        return (self.ma, self.atr)

    def evaluate(self, bar: Bar) -> Reading | None:
        values = self.read((self.ma.key, self.atr.key), bar.symbol)
        if values is None:
            return None
        ma, atr = values
        reach = self.p["multiplier"] * atr
        return _band(bar.close, ma - reach, ma + reach, atr, self.p["mode"],
                     {self.ma.key: ma, self.atr.key: atr, "close": bar.close})


class Donchian(Rule):
    """Breakout of the Donchian channel: the highest high and lowest low of the ``period`` bars before.

    Rule: +1 when the close is above the previous bar's channel top, -1 when it is below its bottom.
    Strength: the distance beyond the channel as a fraction of its width (max 1).
    """

    kind = "donchian"
    params = {"period": 20}

    def check(self) -> None:
        self.channel = Indicator("DONCHIAN", timeperiod=self.p["period"])
        self._previous: dict[str, list[float]] = {}

    def needs(self) -> Sequence[Indicator]:
        return (self.channel,)

    def evaluate(self, bar: Bar) -> Reading | None:
        values = self.read(self.channel.names, bar.symbol)
        if values is None:
            return None
        previous = self._previous.get(bar.symbol)
        self._previous[bar.symbol] = values
        if previous is None:
            return None
        upper, _, lower = previous
        return _band(bar.close, lower, upper, upper - lower, "breakout",
                     {"upper[t-1]": upper, "lower[t-1]": lower, "close": bar.close})


class VolumeSpike(Rule):
    """A bar whose volume is ``factor`` times the average of the ``period`` bars before it.

    Rule: on such a bar, +1 if it closed above its open, -1 if below (0 for a doji). Strength: how far past
    the threshold, ``ratio / factor - 1`` (max 1).
    """

    kind = "volume_spike"
    params = {"period": 20, "factor": 3.0}

    def check(self) -> None:
        if self.p["factor"] <= 1:
            raise ConfigError(f"VolumeSpike: factor must be > 1, got {self.p['factor']}")
        self.average = Indicator("SMA", timeperiod=self.p["period"], price="volume")
        self._previous: dict[str, float] = {}

    def needs(self) -> Sequence[Indicator]:
        return (self.average,)

    def evaluate(self, bar: Bar) -> Reading | None:
        values = self.read((self.average.key,), bar.symbol)
        if values is None:
            return None
        average = self._previous.get(bar.symbol)
        self._previous[bar.symbol] = values[0]
        if average is None:
            return None
        ratio = bar.volume / average if average > 0 else 0.0
        contributions = {f"{self.average.key}[t-1]": average, "volume": bar.volume, "ratio": ratio}
        if ratio < self.p["factor"]:
            return Reading(0, 0.0, contributions)
        return Reading(sign(bar.close - bar.open), min(1.0, ratio / self.p["factor"] - 1), contributions)


RULES: dict[str, type[Rule]] = {cls.kind: cls for cls in (Regime, MaCross, MaEnvelope, DoubleDip, Rsi, Macd,
                                                             Bollinger, AtrBand, Donchian, VolumeSpike)}
