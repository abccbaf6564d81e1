"""Simple moving-average cross: buy when the fast average crosses above the slow one, sell when it crosses below.

The trend-following reading of two averages (``engine.analyze.rules.MaCross``, mode ``cross``); any TA-Lib
average through ``matype``. ``ma_inverse`` trades the same crossings the other way round, ``ma_blended``
combines the two readings on two horizons.

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

from typing import Any

from engine.analyze import rules
from engine.analyze.rule import Rule
from engine.analyze.signal_strategy import SignalStrategy


class MaSimple(SignalStrategy):
    """Long from a golden cross of two moving averages to the next death cross."""

    params = {**SignalStrategy.params, "fast": 10, "slow": 30, "matype": 0}

    def signal(self) -> Rule:
        return rules.MaCross(fast=self.p["fast"], slow=self.p["slow"], matype=self.p["matype"], mode="cross")

    def chart_indicators(self) -> dict[str, dict[str, Any]]:
        kind = {0: "sma", 1: "ema"}.get(int(self.p["matype"]))  # TA-Lib's numbering; other averages: no line
        if kind is None:
            return {}
        return {f"fast {kind.upper()} {self.p['fast']}": {"kind": kind, "window": self.p["fast"]},
                f"slow {kind.upper()} {self.p['slow']}": {"kind": kind, "window": self.p["slow"]}}
