"""RSI: trade the Relative Strength Index against two levels, as a reversal or as momentum.

``mode="mean_reversion"`` (default): buy while the RSI is below ``lower`` (oversold), sell while it is above
``upper`` (overbought). ``mode="momentum"``: buy while it is above ``upper`` (strength tends to persist), sell
while it is below ``lower``. The signal is ``engine.analyze.rules.Rsi``; TA-Lib's RSI is Wilder's, and the
strategy waits for its warm-up (32 x period bars) before its first trade.

Parameters
----------
mode
    ``mean_reversion`` or ``momentum``.
period
    Bars of the RSI (default 14).
lower, upper
    The two levels, ``0 <= lower < upper <= 100`` (default 30 and 70).
size, symbol
    See ``engine.analyze.signal_strategy.SignalStrategy`` (0.95 of equity when long; all symbols).
"""

from __future__ import annotations

from engine.analyze import rules
from engine.analyze.rule import Rule
from engine.analyze.signal_strategy import SignalStrategy


class Rsi(SignalStrategy):
    """Long when the RSI says buy (oversold, or strong in momentum mode), flat when it says sell."""

    params = {**SignalStrategy.params, "mode": "mean_reversion", "period": 14, "lower": 30.0, "upper": 70.0}

    def signal(self) -> Rule:
        return rules.Rsi(mode=self.p["mode"], period=self.p["period"], lower=self.p["lower"], upper=self.p["upper"])
