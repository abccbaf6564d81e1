"""ATR band: trade closes beyond bands of a few average true ranges around a moving average.

``mode="breakout"`` (default): buy when the close rises above ``MA + multiplier * ATR`` (a move larger than
the market's usual range starts a trend), sell when it falls below ``MA - multiplier * ATR``.
``mode="reversion"``: the opposite, buy below the lower band and sell above the upper one. The signal is
``engine.analyze.rules.AtrBand``.

Parameters
----------
period
    Bars of the moving average (default 20).
atr_period
    Bars of the average true range (default 14).
multiplier
    Width of each band in ATRs (default 2.0).
matype
    TA-Lib moving-average type of the middle line: 1 EMA (default), 0 SMA ...
mode
    ``breakout`` or ``reversion``.
size, symbol
    See ``engine.analyze.signal_strategy.SignalStrategy`` (0.95 of equity when long; all symbols).
"""

from __future__ import annotations

from engine.analyze import rules
from engine.analyze.rule import Rule
from engine.analyze.signal_strategy import SignalStrategy


class AtrBand(SignalStrategy):
    """Long from a close beyond the upper ATR band to a close beyond the lower one (breakout mode)."""

    params = {**SignalStrategy.params, "period": 20, "atr_period": 14, "multiplier": 2.0, "matype": 1,
              "mode": "breakout"}

    def signal(self) -> Rule:
        p = self.p
        return rules.AtrBand(period=p["period"], atr_period=p["atr_period"], multiplier=p["multiplier"],
                             matype=p["matype"], mode=p["mode"])
