"""Blended moving averages: buy the dips of an uptrend, a weighted blend of the simple and the inverse readings.

Two views, weighted (``engine.analyze.compose.weighted``):

- ``trend``: the simple reading of a slow pair of averages, +1 while ``trend_fast`` is above ``trend_slow``,
  -1 while below (``MaCross`` mode ``state``);
- ``dip``: the inverse reading of a fast pair, +1 while ``dip_fast`` is *below* ``dip_slow`` (a pull-back),
  -1 while above (``invert`` of ``MaCross`` mode ``state``).

The score ``(trend_weight * trend + dip_weight * dip) / (trend_weight + dip_weight)`` buys at ``score >=
threshold`` and sells at ``score <= -threshold``. With the defaults (0.6, 0.4, threshold 0.5) that is: buy a
pull-back in an uptrend (score 1), sell a rally in a downtrend (score -1), hold otherwise (score +-0.2).

Parameters
----------
trend_fast, trend_slow
    Bars of the trend pair (default 50 and 200).
dip_fast, dip_slow
    Bars of the pull-back pair (default 5 and 20).
trend_weight, dip_weight
    Weights of the two views (default 0.6 and 0.4).
threshold
    Score needed to trade, in (0, 1] (default 0.5).
matype
    TA-Lib moving-average type of all four averages: 1 EMA (default), 0 SMA, 2 WMA ...
size, symbol
    See ``engine.analyze.signal_strategy.SignalStrategy`` (0.95 of equity when long; all symbols).
"""

from __future__ import annotations

from engine.analyze import rules
from engine.analyze.compose import invert, weighted
from engine.analyze.rule import Rule
from engine.analyze.signal_strategy import SignalStrategy


class MaBlended(SignalStrategy):
    """Long on a pull-back within an uptrend, flat on a rally within a downtrend."""

    params = {**SignalStrategy.params, "trend_fast": 50, "trend_slow": 200, "dip_fast": 5, "dip_slow": 20,
              "trend_weight": 0.6, "dip_weight": 0.4, "threshold": 0.5, "matype": 1}

    def signal(self) -> Rule:
        p = self.p
        trend = rules.MaCross(fast=p["trend_fast"], slow=p["trend_slow"], matype=p["matype"], mode="state",
                              name="trend")
        dip = invert(rules.MaCross(fast=p["dip_fast"], slow=p["dip_slow"], matype=p["matype"], mode="state"),
                     name="dip")
        return weighted([trend, dip], [p["trend_weight"], p["dip_weight"]], threshold=p["threshold"])
