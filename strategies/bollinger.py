"""Bollinger bands: buy a close below the lower band, sell a close above the upper one.

``mode="reversion"`` (default) reads a close outside the bands as stretched, due to come back; ``mode=
"breakout"`` reads it as the start of a move (buy above the upper band, sell below the lower one). The bands
are TA-Lib's BBANDS, ``nbdev`` standard deviations around a moving average of ``period`` bars; the signal is
``engine.analyze.rules.Bollinger``.

Parameters
----------
period
    Bars of the average and of the standard deviation (default 20).
nbdev
    Standard deviations from the average to each band (default 2.0).
matype
    TA-Lib moving-average type of the middle band: 0 SMA (default), 1 EMA ...
mode
    ``reversion`` or ``breakout``.
size, symbol
    See ``engine.analyze.signal_strategy.SignalStrategy`` (0.95 of equity when long; all symbols).
"""

from __future__ import annotations

from typing import Any

from engine.analyze import rules
from engine.analyze.rule import Rule
from engine.analyze.signal_strategy import SignalStrategy


class Bollinger(SignalStrategy):
    """Long from a close below the lower band to a close above the upper band (reversion mode)."""

    params = {**SignalStrategy.params, "period": 20, "nbdev": 2.0, "matype": 0, "mode": "reversion"}

    def signal(self) -> Rule:
        p = self.p
        return rules.Bollinger(period=p["period"], nbdev=p["nbdev"], matype=p["matype"], mode=p["mode"])

    def chart_indicators(self) -> dict[str, dict[str, Any]]:
        if int(self.p["matype"]) != 0:  # bands around another average than the simple one: not drawn
            return {}
        return {f"Bollinger {self.p['period']}, {self.p['nbdev']:g}σ": {"kind": "bollinger", "window": self.p["period"],
                                                                       "nbdev": self.p["nbdev"]}}
