"""Double dip: buy the breakout of a double bottom; sell on a double top, a stop-loss or a take-profit.

A double bottom is two swing lows within ``tolerance`` of each other with a swing high (the neckline) at least
``depth`` above them; the signal fires on the first close above the neckline (``engine.analyze.rules.DoubleDip``;
swings are TA-Lib FRACTAL pivots with ``width`` bars each side, known ``width`` bars late, never earlier). The
position is sold on the mirror pattern (a double top breaking down), or when the close reaches ``stop_loss``
below or ``take_profit`` above the entry price (0 turns either off).

Parameters
----------
width
    Bars each side of a swing point (default 3).
tolerance
    Largest difference between the two lows, as a fraction (default 0.02).
depth
    Smallest height of the neckline above the lows, as a fraction (default 0.03).
max_bars
    Longest the pattern may take, from the first low to the breakout (default 200).
stop_loss, take_profit
    Exits as fractions of the entry price (default 0.05 and 0.10).
size, symbol
    See ``engine.analyze.signal_strategy.SignalStrategy`` (0.95 of equity when long; all symbols).
"""

from __future__ import annotations

from engine.analyze import rules
from engine.analyze.rule import Rule
from engine.analyze.signal_strategy import SignalStrategy
from engine.errors import ConfigError
from engine.events import Bar, Fill, Side


class DoubleDip(SignalStrategy):
    """Long from a double-bottom breakout to a double-top breakdown, a stop-loss or a take-profit."""

    params = {**SignalStrategy.params, "width": 3, "tolerance": 0.02, "depth": 0.03, "max_bars": 200,
              "stop_loss": 0.05, "take_profit": 0.10}

    def __init__(self, **params: object) -> None:
        super().__init__(**params)
        if not (0 <= self.p["stop_loss"] < 1 and self.p["take_profit"] >= 0):
            raise ConfigError(f"DoubleDip: need 0 <= stop_loss < 1 and take_profit >= 0, got "
                              f"{self.p['stop_loss']}, {self.p['take_profit']}")
        self._entry: dict[str, float] = {}

    def signal(self) -> Rule:
        p = self.p
        return rules.DoubleDip(width=p["width"], tolerance=p["tolerance"], depth=p["depth"], max_bars=p["max_bars"])

    def on_fill(self, fill: Fill) -> None:
        if fill.side is Side.BUY:
            self._entry[fill.symbol] = float(fill.price)

    def on_bar(self, bar: Bar) -> None:
        entry = self._entry.get(bar.symbol)
        if entry is None or self.open_orders(bar.symbol) or self.position(bar.symbol) <= 0:
            return
        stop, take = self.p["stop_loss"], self.p["take_profit"]
        if (stop and bar.close <= entry * (1 - stop)) or (take and bar.close >= entry * (1 + take)):
            self.exit(bar.symbol)
