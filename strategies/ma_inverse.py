"""Inverse moving-average cross: buy when the fast average crosses below the slow one, sell when it crosses above.

The contrarian reading of ``ma_simple``'s crossings (``engine.analyze.compose.invert`` of
``engine.analyze.rules.MaCross``): a fast average falling through the slow one is read as a dip to buy, and
its rising back through it as the bounce to sell. It suits ranging markets, where trends do not last.

Parameters
----------
fast, slow
    Bars of the fast and slow averages (``fast < slow``; default 10 and 30).
matype
    TA-Lib moving-average type: 0 SMA (default), 1 EMA, 2 WMA, 3 DEMA, 4 TEMA, 5 TRIMA, 6 KAMA, 7 MAMA, 8 T3.
size, symbol
    See ``engine.analyze.signal_strategy.SignalStrategy`` (0.95 of equity when long; all symbols).
"""

from __future__ import annotations

from engine.analyze import rules
from engine.analyze.compose import invert
from engine.analyze.rule import Rule
from engine.analyze.signal_strategy import SignalStrategy
from strategies.ma_simple import MaSimple


class MaInverse(SignalStrategy):
    """Long from a death cross of two moving averages to the next golden cross."""

    params = {**SignalStrategy.params, "fast": 10, "slow": 30, "matype": 0}

    def signal(self) -> Rule:
        return invert(rules.MaCross(fast=self.p["fast"], slow=self.p["slow"], matype=self.p["matype"],
                                    mode="cross"))

    chart_indicators = MaSimple.chart_indicators  # the same two averages, traded the other way
