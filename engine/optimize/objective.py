"""What a sweep maximises, read from the statistics a back-test already computes (``engine.result.stats``).

``sharpe``, ``sortino``, ``calmar``, ``total_return`` and ``annual_return`` are the result's own figures;
``return_dd:0.2`` is the total return of runs whose deepest drawdown is at most 20%, others scoring nothing.
A figure the statistics leave undefined (a flat curve's Sharpe) scores nothing too: NaN, ranked last.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.errors import ConfigError

STAT_OBJECTIVES = ("sharpe", "sortino", "calmar", "total_return", "annual_return")
CAPPED = "return_dd"


@dataclass(frozen=True, slots=True)
class Objective:
    """A figure of ``BacktestResult.stats`` to maximise, with an optional cap on the drawdown."""

    stat: str
    max_drawdown: float | None = None

    @classmethod
    def parse(cls, spec: str) -> Objective:
        """Return the objective named ``spec``: one of ``STAT_OBJECTIVES`` or ``return_dd:CAP`` (CAP in (0, 1])."""
        name, sep, cap = spec.partition(":")
        if name in STAT_OBJECTIVES and not sep:
            return cls(name)
        if name == CAPPED:
            try:
                value = float(cap)
            except ValueError:
                value = math.nan
            if not 0 < value <= 1:
                raise ConfigError(f"objective {spec!r}: give the drawdown cap as a fraction, e.g. return_dd:0.2")
            return cls("total_return", value)
        raise ConfigError(f"unknown objective {spec!r} (known: {', '.join(STAT_OBJECTIVES)}, {CAPPED}:CAP)")

    @property
    def name(self) -> str:
        return self.stat if self.max_drawdown is None else f"{CAPPED}:{self.max_drawdown:g}"

    def score(self, stats: Mapping[str, Any]) -> float:
        """Return the objective's value for a run's statistics, NaN where undefined or over the cap."""
        value = stats.get(self.stat)
        if value is None:
            return math.nan
        if self.max_drawdown is not None and -float(stats.get("max_drawdown") or 0.0) > self.max_drawdown:
            return math.nan
        return float(value)
