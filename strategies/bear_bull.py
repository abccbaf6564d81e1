"""Bear/bull: long in a bull regime, flat in a bear one, the regime read from the runs of a moving average.

The regime turns bull once the moving average of ``period`` bars has risen on ``bars`` consecutive bars, and
bear once it has fallen on ``bars`` consecutive bars (``engine.analyze.rules.Regime``): the strategy buys on
the first bar of a bull regime and sells on the first bar of a bear one.

Parameters
----------
period
    Bars of the moving average (default 100).
matype
    TA-Lib moving-average type: 0 SMA (default), 1 EMA, 2 WMA, 3 DEMA, 4 TEMA, 5 TRIMA, 6 KAMA, 7 MAMA, 8 T3.
bars
    Consecutive rises (falls) of the average that make a bull (bear) regime (default 10).
size, symbol
    See ``engine.analyze.signal_strategy.SignalStrategy``: share of equity held when long (0.95), the one
    symbol to trade (default all).
"""

from __future__ import annotations

from typing import Any

from engine.analyze import rules
from engine.analyze.rule import Rule
from engine.analyze.signal_strategy import SignalStrategy


class BearBull(SignalStrategy):
    """Long while the moving average's runs say bull, flat while they say bear."""

    params = {**SignalStrategy.params, "period": 100, "matype": 0, "bars": 10}

    def signal(self) -> Rule:
        return rules.Regime(period=self.p["period"], matype=self.p["matype"], bars=self.p["bars"])

    def chart_indicators(self) -> dict[str, dict[str, Any]]:
        kind = {0: "sma", 1: "ema"}.get(int(self.p["matype"]))
        return {f"{kind.upper()} {self.p['period']}": {"kind": kind, "window": self.p["period"]}} if kind else {}
