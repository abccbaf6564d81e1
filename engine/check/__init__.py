"""Checks of a strategy on historical data, through the real back-tester: look-ahead and warm-up.

``check_strategy`` runs both and returns a ``CheckReport`` (text with ``format()``, JSON with ``to_json()``);
``mlct check lookahead`` is its command line::

    from adapters.sim import SimSettings
    from engine.check import check_strategy
    from strategies.rsi import Rsi

    report = check_strategy(lambda data: Rsi(period=14), frame, "BTC/USD", venue=SimSettings())
    print(report.format()); report.lookahead.clean; report.warmup.sufficient

- ``engine.check.lookahead``: what the strategy published up to a cut point must not change when the bars after
  it are perturbed or removed (``find_lookahead``).
- ``engine.check.warmup``: how much history each published value needs before it stops depending on where
  the history started, against the strategy's declared ``warmup_bars()`` (``measure_warmup``).
- ``engine.check.record``: one run, recorded (every event tagged with its bar; indicator values at chosen bars).
"""

from __future__ import annotations

import pandas as pd

from engine.backtest import BacktestVenue
from engine.check.lookahead import VARIANTS, Cut, LookaheadReport, Moved, find_lookahead
from engine.check.record import Step, StrategyFactory
from engine.check.report import CheckReport
from engine.check.warmup import DEFAULT_MAX_HISTORY, DEFAULT_TOLERANCE, Settling, WarmupReport, measure_warmup
from engine.datagen.bar_feed import BarFeed
from engine.datagen.fingerprint import interval_text
from engine.errors import ConfigError

__all__ = ["DEFAULT_MAX_HISTORY", "DEFAULT_TOLERANCE", "VARIANTS", "CheckReport", "Cut", "LookaheadReport", "Moved",
           "Settling", "StrategyFactory", "WarmupReport", "check_strategy", "find_lookahead", "measure_warmup"]


def check_strategy(make_strategy: StrategyFactory, frame: pd.DataFrame, symbol: str, *,
                   venue: BacktestVenue, cuts: int = 6, seed: int = 0, warmup: bool = True,
                   tolerance: float = DEFAULT_TOLERANCE, max_history: int = DEFAULT_MAX_HISTORY,
                   step: Step | None = None) -> CheckReport:
    """Check the strategies ``make_strategy`` makes (a new one each run, from that run's data) on ``frame`` for
    look-ahead and, with ``warmup``, measure the history their published values need at the look-ahead check's
    cut points. ``step`` is called after each back-test (a progress bar's update)."""
    if not tolerance >= 0:
        raise ConfigError(f"the tolerance must be a number >= 0, got {tolerance!r}")
    if max_history < 0:
        raise ConfigError(f"the longest history must be a number of bars >= 0, got {max_history}")
    strategy = make_strategy(frame)
    look = find_lookahead(make_strategy, frame, symbol, venue=venue, cuts=cuts, seed=seed, step=step)
    measured = None
    if warmup:
        measured = measure_warmup(make_strategy, frame, symbol, venue=venue, references=look.references,
                                  tolerance=tolerance, max_history=max_history, step=step)
    return CheckReport(strategy=strategy.name, params=dict(strategy.p), symbol=symbol,
                       interval=interval_text(BarFeed(frame, symbol).interval_ns),
                       times=pd.DatetimeIndex(frame.index), lookahead=look, warmup=measured)
