"""The signal library: each rule against a vectorised reading of its docstring, no look-ahead, the bus."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
import talib

from engine.analyze.indicators import IndicatorSet
from engine.analyze.signals import (
    RULES,
    AtrBand,
    Bollinger,
    Donchian,
    DoubleDip,
    Macd,
    MaCross,
    MaEnvelope,
    Regime,
    Rsi,
    Rule,
    SignalHandler,
    VolumeSpike,
    all_of,
    invert,
    make_signal,
    signal_events,
    signal_frame,
    vote,
    weighted,
)
from engine.bus import EventBus
from engine.datagen.bar_feed import BarFeed
from engine.errors import ConfigError
from engine.events import Bar, Signal

from .conftest import SYMBOL, perturbed_after

N = 3000  # bars of the real history the rule tests read


def directions(rule: Rule, frame: pd.DataFrame) -> np.ndarray:
    return signal_frame(rule, frame, SYMBOL)["direction"].to_numpy()


def first_ready(rule: Rule) -> int:
    """Return the first bar a rule may speak on: every indicator it reads past its warm-up."""
    indicators = IndicatorSet()
    rule.bind(indicators)
    return max(indicators.warmup(ind.key) or 0 for ind in rule.needs())


def expect(rule: Rule, frame: pd.DataFrame, want: np.ndarray, start: int) -> None:
    want = want.astype(int)
    want[:start] = 0
    got = directions(rule, frame)
    assert (got[:start] == 0).all()
    mismatch = np.flatnonzero(got != want)
    assert not len(mismatch), f"{rule!r}: {len(mismatch)} bars differ, first {mismatch[:5]}"
    assert (got == 1).any() and (got == -1).any()


def prices(frame: pd.DataFrame) -> tuple[np.ndarray, ...]:
    return tuple(frame[c].to_numpy(dtype=float) for c in ("open", "high", "low", "close", "volume"))


@pytest.mark.parametrize("mode", ["cross", "state"])
def test_ma_cross(mode: str, hourly: pd.DataFrame) -> None:
    frame = hourly.iloc[:N]
    close = prices(frame)[3]
    gap = talib.SMA(close, 10) - talib.SMA(close, 30)
    before = np.r_[np.nan, gap[:-1]]
    want = np.sign(np.nan_to_num(gap)) if mode == "state" else \
        np.where((before <= 0) & (gap > 0), 1, np.where((before >= 0) & (gap < 0), -1, 0))
    rule = MaCross(fast=10, slow=30, mode=mode)
    expect(rule, frame, want, first_ready(rule) + (mode == "cross"))


@pytest.mark.parametrize("mode", ["mean_reversion", "momentum"])
def test_rsi(mode: str, hourly: pd.DataFrame) -> None:
    frame = hourly.iloc[:N]
    rsi = talib.RSI(prices(frame)[3], 14)
    want = np.where(rsi < 30, 1, np.where(rsi > 70, -1, 0)) * (1 if mode == "mean_reversion" else -1)
    rule = Rsi(mode=mode)
    expect(rule, frame, want, first_ready(rule))


def test_macd_cross(hourly: pd.DataFrame) -> None:
    frame = hourly.iloc[:N]
    hist = talib.MACD(prices(frame)[3])[2]
    before = np.r_[np.nan, hist[:-1]]
    want = np.where((before <= 0) & (hist > 0), 1, np.where((before >= 0) & (hist < 0), -1, 0))
    rule = Macd()
    expect(rule, frame, want, first_ready(rule) + 1)


@pytest.mark.parametrize("mode", ["reversion", "breakout"])
def test_bollinger(mode: str, hourly: pd.DataFrame) -> None:
    frame = hourly.iloc[:N]
    close = prices(frame)[3]
    upper, _, lower = talib.BBANDS(close, 20, 2, 2)
    want = np.where(close < lower, 1, np.where(close > upper, -1, 0)) * (1 if mode == "reversion" else -1)
    expect(Bollinger(mode=mode), frame, want, 19)


def test_atr_band(hourly: pd.DataFrame) -> None:
    frame = hourly.iloc[:N]
    _, high, low, close, _ = prices(frame)
    ma, atr = talib.EMA(close, 20), talib.ATR(high, low, close, 14)
    want = np.where(close > ma + 2 * atr, 1, np.where(close < ma - 2 * atr, -1, 0))
    rule = AtrBand()
    expect(rule, frame, want, first_ready(rule))


def test_ma_envelope(hourly: pd.DataFrame) -> None:
    frame = hourly.iloc[:N]
    close = prices(frame)[3]
    ma = talib.SMA(close, 20)
    want = np.where(close < ma * 0.97, 1, np.where(close > ma * 1.03, -1, 0))
    expect(MaEnvelope(width=0.03), frame, want, 19)


def test_donchian_uses_the_channel_before_the_bar(hourly: pd.DataFrame) -> None:
    frame = hourly.iloc[:N]
    _, high, low, close, _ = prices(frame)
    upper, lower = np.r_[np.nan, talib.MAX(high, 20)[:-1]], np.r_[np.nan, talib.MIN(low, 20)[:-1]]
    want = np.where(close > upper, 1, np.where(close < lower, -1, 0))
    expect(Donchian(), frame, want, 20)


def test_volume_spike(hourly: pd.DataFrame) -> None:
    frame = hourly.iloc[:N]
    open_, _, _, close, volume = prices(frame)
    average = np.r_[np.nan, talib.SMA(volume, 20)[:-1]]
    want = np.where(volume >= 3 * average, np.sign(close - open_), 0)
    expect(VolumeSpike(), frame, want, 20)


def bars_of(closes: list[float]) -> list[Bar]:
    """Hourly bars that open at their close, 0.1 above and below it: a pivot is where the closes turn."""
    return [Bar(ts=(i + 1) * 3600 * 10**9, symbol=SYMBOL, open=close, high=close + 0.1, low=close - 0.1,
                close=close, volume=1.0, interval=3600 * 10**9) for i, close in enumerate(closes)]


def test_regime_turns_after_consecutive_moves_and_holds() -> None:
    closes = [100.0] * 10 + [101.0 + i for i in range(8)] + [108.0] * 3 + [107.0 - i for i in range(6)]
    found = signal_events(Regime(period=3, bars=4), bars_of(closes), emit="change")
    # SMA(3) rises from bar 11 on: the 4th rise (bar 14) makes it bull; it stays flat, then falls from bar 22
    assert [(s.ts // (3600 * 10**9) - 1, s.direction) for s in found] == [(13, 1), (24, -1)]
    assert found[0].contributions == {"MA_3_0": pytest.approx(103.0), "run": 4}


def test_double_dip_fires_on_the_neckline_break() -> None:
    # down to 90, up to 100 (the neckline), down to 91 (within 2% of 90), then up through 100
    closes = [float(c) for c in [*range(100, 89, -1), *range(91, 101), *range(99, 90, -1), *range(92, 106)]]
    found = signal_events(DoubleDip(width=2, tolerance=0.02, depth=0.05), bars_of(closes))
    assert [s.direction for s in found] == [1]
    bar = found[0].ts // (3600 * 10**9) - 1
    assert closes[bar] > 100.1 >= closes[bar - 1]  # the first close above the neckline (the high between)
    assert found[0].contributions == {"first_low": pytest.approx(89.9), "neckline": pytest.approx(100.1),
                                      "second_low": pytest.approx(90.9), "close": 101.0}


ALL_RULES = [make_signal(kind) for kind in RULES] + [
    MaCross(mode="state"), Rsi(mode="momentum"), Macd(mode="state"), Bollinger(mode="breakout"),
    AtrBand(mode="reversion"), MaEnvelope(mode="breakout"), invert(MaCross()),
    vote(Rsi(), MaCross(mode="state"), Macd(mode="state")),
    all_of(Regime(), MaCross(mode="state")),
    weighted([Donchian(), VolumeSpike(), DoubleDip()], [0.5, 0.3, 0.2], threshold=0.3),
]


@pytest.mark.parametrize("make", [lambda r=r: r for r in ALL_RULES], ids=[r.name for r in ALL_RULES])
def test_no_look_ahead(make: Callable[[], Rule], hourly: pd.DataFrame) -> None:
    """Changing every bar after t leaves the signal at every bar up to t unchanged (direction, strength, why)."""
    import copy

    frame, t = hourly.iloc[:N], 2000
    rule = make()
    original = signal_frame(copy.deepcopy(rule), frame, SYMBOL)
    changed = signal_frame(copy.deepcopy(rule), perturbed_after(frame, t), SYMBOL)
    pd.testing.assert_frame_equal(original.iloc[:t + 1], changed.iloc[:t + 1])
    assert (original["direction"] != 0).any()


def test_emit_modes(hourly: pd.DataFrame) -> None:
    bars = list(BarFeed(hourly.iloc[:N], SYMBOL))
    every = signal_events(MaCross(mode="state"), bars, emit="every")
    nonzero = signal_events(MaCross(mode="state"), bars, emit="nonzero")
    change = signal_events(MaCross(mode="state"), bars, emit="change")
    assert len(every) == N - 29  # every bar once the slow average has a value
    assert nonzero == [s for s in every if s.direction]
    cross = signal_events(MaCross(mode="cross"), bars)
    assert change[0].direction and change[0].ts == every[0].ts  # the first state is a change from nothing
    assert [(s.ts, s.direction) for s in change[1:]] == [(s.ts, s.direction) for s in cross]


def test_the_handler_publishes_signals_after_the_bar(hourly: pd.DataFrame) -> None:
    bus = EventBus()
    handler = SignalHandler([Rsi(), MaCross(name="cross")])
    handler.bind(bus)
    order: list[str] = []
    bus.subscribe(Bar, lambda bar: order.append("bar"))
    bus.subscribe(Signal, lambda signal: order.append(signal.name))
    for bar in BarFeed(hourly.iloc[:N], SYMBOL):
        bus.dispatch_event(bar)
    fired = order.index("cross")
    assert order[fired - 1] == "bar"  # every Bar handler of the bar ran first: breadth-first
    reading = handler.reading("rsi", SYMBOL)
    assert reading is not None and set(reading.contributions) == {"RSI_14"}
    assert handler.indicators.names() == ["RSI_14", "MA_10_0", "MA_30_0"]


def test_rules_share_indicators() -> None:
    handler = SignalHandler([MaCross(fast=10, slow=30), MaEnvelope(period=30, name="env")])
    assert handler.indicators.names() == ["MA_10_0", "MA_30_0"]


def test_parameters_are_checked_and_converted() -> None:
    assert make_signal("rsi", period="21", lower="25").p == {"period": 21, "mode": "mean_reversion",
                                                             "lower": 25.0, "upper": 70.0}
    with pytest.raises(ConfigError, match="unknown signal 'rsx'"):
        make_signal("rsx")
    with pytest.raises(ConfigError, match="mode must be one of mean_reversion, momentum"):
        make_signal("rsi", mode="contrarian")
    with pytest.raises(ConfigError, match="need 0 < fast < slow"):
        MaCross(fast=30, slow=10)
    with pytest.raises(ConfigError, match="'period' must be of type int"):
        Rsi(period="fourteen")
    with pytest.raises(ConfigError, match="rule names must differ"):
        SignalHandler([Rsi(), Rsi(period=7)])
    with pytest.raises(ConfigError, match="emit must be one of"):
        SignalHandler(Rsi(), emit="sometimes")
