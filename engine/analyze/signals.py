"""Signals on the bus: run rules on every bar and publish their readings as ``Signal`` events.

Ask for a signal by rule, or by name with parameters (as ``mlct signals`` does)::

    from engine.analyze.signals import MaCross, Rsi, SignalHandler, make_signal, vote

    handler = SignalHandler([Rsi(period=14, mode="mean_reversion"),
                             vote(MaCross(fast=10, slow=30, mode="state"), make_signal("macd", mode="state"),
                                  name="trend")])
    run_backtest(strategy, data, venue=venue, handlers=[handler])   # the strategy's on_signal sees "rsi" and "trend"

The handler owns an ``IndicatorSet`` holding every indicator its rules read (or shares one it is given, which
its owner then subscribes first), subscribes it and then itself to ``Bar``, and publishes on each bar, per
``emit``: ``"nonzero"`` (default) a ``Signal`` whenever a rule fires (direction +1 or -1); ``"change"`` when a
rule's direction differs from its previous bar's (to 0 included); ``"every"`` on every bar once the rule's
indicators are warm. Signals are published while the bar is handled, so they reach ``on_signal`` after every
``on_bar`` of that bar and before the next bar: the bus is breadth-first.

The rules (``engine.analyze.rules``): ``regime``, ``ma_cross``, ``ma_envelope``, ``double_dip``, ``rsi``,
``macd``, ``bollinger``, ``atr_band``, ``donchian``, ``volume_spike``; the compositions
(``engine.analyze.compose``): ``all_of``, ``any_of``, ``vote``, ``weighted``, ``invert``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pandas as pd

from engine.analyze.compose import Composite, Inverted, all_of, any_of, invert, vote, weighted
from engine.analyze.indicators import IndicatorSet
from engine.analyze.rule import Reading, Rule
from engine.analyze.rules import (
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
    VolumeSpike,
)
from engine.bus import EventBus
from engine.errors import ConfigError
from engine.events import Bar, Event, Signal

__all__ = ["EMIT", "RULES", "AtrBand", "Bollinger", "Composite", "Donchian", "DoubleDip", "Inverted", "MaCross",
           "MaEnvelope", "Macd", "Reading", "Regime", "Rsi", "Rule", "SignalHandler", "VolumeSpike", "all_of",
           "any_of", "counts", "invert", "make_signal", "signal_events", "signal_frame", "vote", "weighted"]

EMIT = ("nonzero", "change", "every")


def make_signal(kind: str, name: str = "", **params: Any) -> Rule:
    """Build the rule registered as ``kind`` (``"rsi"``, ``"ma_cross"`` ...) with ``params`` (text is converted)."""
    rule_class = RULES.get(kind)
    if rule_class is None:
        raise ConfigError(f"unknown signal {kind!r} (known: {', '.join(RULES)})")
    return rule_class(name=name, **params)


class SignalHandler:
    """Evaluate rules on every bar and publish their readings as ``Signal`` events.

    Parameters
    ----------
    rules
        One rule or several; their names (the ``Signal.name``) must differ.
    indicators
        An ``IndicatorSet`` to share with other readers; whoever passes it subscribes it to ``Bar`` before
        this handler. Default: the handler's own, subscribed by ``bind``.
    emit
        ``"nonzero"``, ``"change"`` or ``"every"`` (see the module docstring).
    symbols
        Evaluate only these symbols' bars (default: all); applies to the handler's own ``IndicatorSet``.
    """

    def __init__(self, rules: Rule | Iterable[Rule], *, indicators: IndicatorSet | None = None,
                 emit: str = "nonzero", symbols: Iterable[str] | None = None) -> None:
        self.rules = [rules] if isinstance(rules, Rule) else list(rules)
        names = [rule.name for rule in self.rules]
        if len(set(names)) != len(names):
            raise ConfigError(f"SignalHandler: rule names must differ (give name=...), got {names}")
        if emit not in EMIT:
            raise ConfigError(f"SignalHandler: emit must be one of {', '.join(EMIT)}, got {emit!r}")
        self.emit = emit
        self._owns_indicators = indicators is None
        self.indicators = IndicatorSet(symbols=symbols) if indicators is None else indicators
        for rule in self.rules:
            rule.bind(self.indicators)
        self._publish: Callable[[Event], None] | None = None
        self._last: dict[tuple[str, str], Reading] = {}

    def attach(self, kernel: Any) -> None:
        """Wire into a run (``run_backtest(handlers=[handler])`` calls this with the kernel)."""
        self.bind(kernel.bus)

    def bind(self, bus: EventBus) -> None:
        """Subscribe the indicators (when owned), then this handler, to ``Bar``; publish on ``bus``."""
        if self._owns_indicators:
            bus.subscribe(Bar, self.indicators.on_bar)
        bus.subscribe(Bar, self.on_bar)
        self._publish = bus.publish

    def on_bar(self, bar: Bar) -> None:
        publish = self._publish
        if publish is None:
            raise RuntimeError("SignalHandler.on_bar before bind(bus): nowhere to publish")
        emit = self.emit
        for rule in self.rules:
            reading = rule.evaluate(bar)
            if reading is None:
                continue
            key = (rule.name, bar.symbol)
            previous = self._last.get(key)
            self._last[key] = reading
            direction = reading.direction
            if emit == "nonzero":
                fire = direction != 0
            elif emit == "change":
                fire = direction != (0 if previous is None else previous.direction)
            else:
                fire = True
            if fire:
                publish(Signal(ts=bar.ts, name=rule.name, symbol=bar.symbol, direction=direction,
                               strength=reading.strength, contributions=reading.contributions))

    def reading(self, name: str, symbol: str) -> Reading | None:
        """Return the latest reading of rule ``name`` for ``symbol`` (None before its first)."""
        return self._last.get((name, symbol))


def signal_events(rules: Rule | Iterable[Rule], bars: Iterable[Bar], *, emit: str = "nonzero") -> list[Signal]:
    """Replay ``bars`` through a ``SignalHandler`` on a bus of its own and return the signals it published."""
    bus = EventBus()
    handler = SignalHandler(rules, emit=emit)
    handler.bind(bus)
    found: list[Signal] = []
    bus.subscribe(Signal, found.append)
    for bar in bars:
        bus.dispatch_event(bar)
    return found


def signal_frame(rule: Rule, frame: pd.DataFrame, symbol: str) -> pd.DataFrame:
    """Return one row per bar of an OHLCV frame: the rule's direction and strength at that bar's close.

    Bars before the rule's indicators are warm read 0. Computed on the bus like a back-test (``emit="every"``),
    so the series is what a strategy would have seen, bar by bar.
    """
    from engine.datagen.bar_feed import BarFeed

    feed = BarFeed(frame, symbol)
    signals = signal_events(rule, feed, emit="every")
    out = pd.DataFrame({"direction": 0, "strength": 0.0}, index=pd.DatetimeIndex(frame.index))
    close_ts = pd.DatetimeIndex(frame.index).as_unit("ns").asi8 + feed.interval_ns
    position = {int(ts): i for i, ts in enumerate(close_ts)}
    rows = [position[s.ts] for s in signals]
    out.iloc[rows, 0] = [s.direction for s in signals]
    out.iloc[rows, 1] = [s.strength for s in signals]
    out["contributions"] = None
    out.iloc[rows, 2] = pd.Series([dict(s.contributions or {}) for s in signals], dtype=object).to_numpy()
    return out


def counts(directions: Iterable[int]) -> Mapping[str, Any]:
    """Return how often a series of directions fired: counts by direction and the share of bars."""
    values = list(directions)
    n = len(values)
    up, down = values.count(1), values.count(-1)
    return {"bars": n, "buy": up, "sell": down, "share_buy": up / n if n else 0.0,
            "share_sell": down / n if n else 0.0, "share_fired": (up + down) / n if n else 0.0}
