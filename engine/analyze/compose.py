"""Composition: several rules read as one signal (all, any, vote, weighted), and a rule read backwards.

A composite evaluates every child on every bar (children with memory, such as crossings, must see each
bar), then combines their directions. Its contributions name each child's direction (``"rsi": 1.0``) and the
child's own contributions under its name (``"rsi.RSI_14": 27.4``), so a composite signal still says which
indicator values drove it.
"""

from __future__ import annotations

from collections.abc import Sequence

from engine.analyze.indicators import IndicatorSet
from engine.analyze.rule import Reading, Rule
from engine.errors import ConfigError
from engine.events import Bar

MODES = ("all", "any", "vote", "weighted")


class Composite(Rule):
    """Combine the directions of several rules into one.

    Modes (``d_i`` the children's directions, a child still warming up counts as 0 except for ``all``):

    ``all``
        +1 when every child says +1, -1 when every child says -1, else 0. Silent until every child speaks.
    ``any``
        +1 when some child says +1 and none -1, -1 the other way round, 0 when they disagree or all are 0.
    ``vote``
        the sign of the sum of the directions (a plurality), when ``|sum| / n >= threshold`` (default 0: any
        plurality). Strength ``|sum| / n``.
    ``weighted``
        ``score = sum(w_i d_i) / sum(w_i)``: +1 when ``score >= threshold``, -1 when ``score <= -threshold``
        (default 0.5). Strength ``|score|``.
    """

    kind = "composite"

    def __init__(self, rules: Sequence[Rule], *, mode: str = "vote", weights: Sequence[float] | None = None,
                 threshold: float | None = None, name: str = "") -> None:
        if mode not in MODES:
            raise ConfigError(f"Composite: mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.rules = list(rules)
        if not self.rules:
            raise ConfigError("Composite: needs at least one rule")
        names = [r.name for r in self.rules]
        if len(set(names)) != len(names):
            raise ConfigError(f"Composite: child names must differ (give name=...), got {names}")
        if weights is None:
            weights = [1.0] * len(self.rules)
        if mode != "weighted" and any(w != 1.0 for w in weights):
            raise ConfigError(f"Composite: weights apply to mode 'weighted' only, not {mode!r}")
        if len(weights) != len(self.rules) or any(not w >= 0 for w in weights) or not sum(weights) > 0:
            raise ConfigError(f"Composite: need one non-negative weight per rule, not all 0, got {list(weights)}")
        self.mode = mode
        self.weights = [float(w) for w in weights]
        self.threshold = float(threshold if threshold is not None else 0.5 if mode == "weighted" else 0.0)
        if not 0 <= self.threshold <= 1:
            raise ConfigError(f"Composite: threshold must be in [0, 1], got {self.threshold}")
        super().__init__(name=name or f"{mode}({','.join(names)})")

    def bind(self, indicators: IndicatorSet) -> None:
        for rule in self.rules:
            rule.bind(indicators)
        self._indicators = indicators

    def describe(self) -> str:
        children = ", ".join(r.describe() for r in self.rules)
        return f"Composite(mode={self.mode!r}, threshold={self.threshold}, weights={self.weights}, [{children}])"

    def evaluate(self, bar: Bar) -> Reading | None:
        readings = [rule.evaluate(bar) for rule in self.rules]  # every child sees every bar
        if all(r is None for r in readings) or (self.mode == "all" and any(r is None for r in readings)):
            return None
        directions = [0 if r is None else r.direction for r in readings]
        contributions: dict[str, float] = {}
        for rule, reading in zip(self.rules, readings, strict=True):
            contributions[rule.name] = float(0 if reading is None else reading.direction)
            if reading is not None:
                for key, value in reading.contributions.items():
                    contributions[f"{rule.name}.{key}"] = value
        mode = self.mode
        if mode == "all":
            first = directions[0]
            direction = first if first and all(d == first for d in directions) else 0
            return Reading(direction, 1.0 if direction else 0.0, contributions)
        if mode == "any":
            up, down = 1 in directions, -1 in directions
            direction = 1 if up and not down else -1 if down and not up else 0
            return Reading(direction, 1.0 if direction else 0.0, contributions)
        score = sum(w * d for w, d in zip(self.weights, directions, strict=True)) / sum(self.weights)
        contributions["score"] = score
        fires = score != 0 and abs(score) >= self.threshold
        return Reading((score > 0) - (score < 0) if fires else 0, abs(score), contributions)


class Inverted(Rule):
    """Read a rule backwards: its +1 becomes -1 and the other way round (a contrarian view)."""

    kind = "inverted"

    def __init__(self, rule: Rule, *, name: str = "") -> None:
        self.rule = rule
        super().__init__(name=name or f"inverse_{rule.name}")

    def bind(self, indicators: IndicatorSet) -> None:
        self.rule.bind(indicators)
        self._indicators = indicators

    def describe(self) -> str:
        return f"Inverted({self.rule.describe()})"

    def evaluate(self, bar: Bar) -> Reading | None:
        reading = self.rule.evaluate(bar)
        if reading is None:
            return None
        return Reading(-reading.direction, reading.strength, reading.contributions)


def all_of(*rules: Rule, name: str = "") -> Composite:
    """+1 (or -1) only when every rule says so."""
    return Composite(rules, mode="all", name=name)


def any_of(*rules: Rule, name: str = "") -> Composite:
    """+1 (or -1) when some rule says so and none says the opposite."""
    return Composite(rules, mode="any", name=name)


def vote(*rules: Rule, threshold: float = 0.0, name: str = "") -> Composite:
    """The plurality of the rules' directions."""
    return Composite(rules, mode="vote", threshold=threshold, name=name)


def weighted(rules: Sequence[Rule], weights: Sequence[float], *, threshold: float = 0.5,
             name: str = "") -> Composite:
    """The sign of the weighted mean direction, once it reaches ``threshold``."""
    return Composite(rules, mode="weighted", weights=weights, threshold=threshold, name=name)


def invert(rule: Rule, *, name: str = "") -> Inverted:
    """Read ``rule`` backwards."""
    return Inverted(rule, name=name)
