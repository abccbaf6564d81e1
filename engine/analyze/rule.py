"""The base of every signal rule: parameters, the indicators it reads, and its reading of each bar.

A rule turns indicator values into a view of the market for one bar: a direction (-1 sell/bear, 0 nothing,
+1 buy/bull), a strength and the values that drove it. ``SignalHandler`` (``engine.analyze.signals``) runs rules
on the bus and publishes their readings as ``Signal`` events; composites (``engine.analyze.compose``) combine
them. A rule keeps per-symbol memory (the previous gap of a crossing, the pivots of a double dip), so one rule
object serves one handler.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from engine.analyze.indicators import Indicator, IndicatorSet
from engine.errors import ConfigError
from engine.events import Bar


@dataclass(frozen=True, slots=True)
class Reading:
    """What a rule says about one bar: direction -1/0/+1, strength >= 0, the values that drove it."""

    direction: int
    strength: float = 0.0
    contributions: Mapping[str, float] = field(default_factory=dict)


def sign(value: float) -> int:
    return (value > 0) - (value < 0)


class Rule:
    """Subclass, declare ``kind``, ``params`` (name -> default) and ``choices``, and implement ``evaluate``.

    Parameters given as text (command line, config files) are converted to the type of their default;
    unknown ones, or a value outside ``choices``, raise ``ConfigError`` naming them. ``name`` names the
    published ``Signal`` (default: ``kind``).
    """

    kind: ClassVar[str] = ""
    params: ClassVar[Mapping[str, Any]] = {}
    choices: ClassVar[Mapping[str, tuple[str, ...]]] = {}

    def __init__(self, *, name: str = "", **params: Any) -> None:
        owner = type(self).__name__
        self.p: dict[str, Any] = dict(self.params)
        for key, value in params.items():
            if key not in self.params:
                known = ", ".join(self.params) or "none"
                raise ConfigError(f"{owner}: unknown parameter {key!r} (known: {known})")
            self.p[key] = coerce(owner, key, value, self.params[key])
        for key, allowed in self.choices.items():
            if self.p[key] not in allowed:
                raise ConfigError(f"{owner}: {key} must be one of {', '.join(allowed)}, got {self.p[key]!r}")
        self.name = name or self.kind or owner
        self._indicators: IndicatorSet | None = None
        self.check()

    def check(self) -> None:
        """Raise ``ConfigError`` for parameters that make no sense together (override)."""

    def needs(self) -> Sequence[Indicator]:
        """Return the indicators this rule reads (override)."""
        return ()

    def bind(self, indicators: IndicatorSet) -> None:
        """Add the indicators this rule reads to ``indicators`` and read from it from now on."""
        for indicator in self.needs():
            indicators.add(indicator)
        self._indicators = indicators

    @property
    def indicators(self) -> IndicatorSet:
        if self._indicators is None:
            raise RuntimeError(f"rule {self.name!r} is not bound to an IndicatorSet: use SignalHandler")
        return self._indicators

    def read(self, names: Sequence[str], symbol: str) -> list[float] | None:
        """Return the values of ``names`` once all are past their warm-up, else None."""
        return self.indicators.read(names, symbol)

    def evaluate(self, bar: Bar) -> Reading | None:
        """Return the reading of ``bar`` (None while the indicators warm up); called once per bar, in order."""
        raise NotImplementedError

    def describe(self) -> str:
        given = ", ".join(f"{k}={v!r}" for k, v in self.p.items())
        return f"{type(self).__name__}({given})"

    def __repr__(self) -> str:
        return f"<{self.describe()} name={self.name!r}>"


def coerce(owner: str, key: str, value: Any, default: Any) -> Any:
    """Convert ``value`` (often text) to the type of ``default``; ``ConfigError`` naming ``key`` otherwise."""
    if default is None or isinstance(default, str):
        return value if not isinstance(default, str) else str(value)
    try:
        if isinstance(default, bool):
            if isinstance(value, bool):
                return value
            text = str(value).lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if isinstance(default, int):
            number = float(value)
            if not number.is_integer():
                raise ValueError(value)
            return int(number)
        return type(default)(value)
    except (TypeError, ValueError, ArithmeticError):
        kind = type(default).__name__
        raise ConfigError(f"{owner}: parameter {key!r} must be of type {kind}, got {value!r}") from None
