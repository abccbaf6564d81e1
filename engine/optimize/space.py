"""The parameters a sweep tries: axes parsed from ``fast=5:50:5`` or ``fast=5,10,20``, walked as a grid or sampled.

Points are listed in one fixed order (the axes in the order given, the last varying fastest), so a job's index
names the same parameters on every machine and every executor; random search draws grid positions with a seeded
generator, without repeats, and keeps them in the order drawn.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.errors import ConfigError

Params = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Axis:
    """One parameter and the values it takes, in order."""

    name: str
    values: tuple[Any, ...]


def parse_value(text: str) -> Any:
    """Return ``text`` as an int, else a float, else the stripped text (``true``/``false`` as booleans)."""
    text = text.strip()
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_axis(spec: str) -> Axis:
    """Parse ``name=start:stop:step`` (``stop`` included when the steps land on it), ``name=a,b,c`` or ``name=v``."""
    name, sep, values = spec.partition("=")
    name = name.strip()
    if not sep or not name or not values.strip():
        raise ConfigError(f"--grid must look like NAME=START:STOP:STEP or NAME=A,B,C, got {spec!r}")
    if ":" in values:
        parts = [parse_value(p) for p in values.split(":")]
        if len(parts) != 3 or not all(isinstance(p, int | float) and not isinstance(p, bool) for p in parts):
            raise ConfigError(f"--grid {spec!r}: a range is START:STOP:STEP, three numbers")
        start, stop, step = parts
        if step <= 0 or stop < start:
            raise ConfigError(f"--grid {spec!r}: need START <= STOP and STEP > 0")
        count = int(np.floor((stop - start) / step + 1e-9)) + 1
        numbers = [start + i * step for i in range(count)]
        if all(isinstance(p, int) for p in parts):
            return Axis(name, tuple(int(v) for v in numbers))
        return Axis(name, tuple(round(float(v), 12) for v in numbers))
    items = tuple(parse_value(v) for v in values.split(","))
    if any(v == "" for v in items):
        raise ConfigError(f"--grid {spec!r}: an empty value in the list")
    return Axis(name, tuple(dict.fromkeys(items)))


@dataclass(frozen=True, slots=True)
class ParamSpace:
    """The cartesian product of some axes."""

    axes: tuple[Axis, ...]

    def __post_init__(self) -> None:
        names = [a.name for a in self.axes]
        if len(set(names)) != len(names):
            raise ConfigError(f"a parameter is given twice in the grid: {', '.join(names)}")

    @classmethod
    def parse(cls, specs: Sequence[str]) -> ParamSpace:
        return cls(tuple(parse_axis(s) for s in specs))

    @property
    def names(self) -> list[str]:
        return [a.name for a in self.axes]

    def __len__(self) -> int:
        return int(np.prod([len(a.values) for a in self.axes], dtype=object)) if self.axes else 1

    def point(self, position: int) -> Params:
        """Return the grid point at ``position`` of ``grid()``'s order (mixed radix, last axis fastest)."""
        params: Params = {}
        for axis in reversed(self.axes):
            position, digit = divmod(position, len(axis.values))
            params[axis.name] = axis.values[digit]
        return {a.name: params[a.name] for a in self.axes}

    def grid(self) -> list[Params]:
        """Return every point, the last axis varying fastest."""
        products = itertools.product(*(a.values for a in self.axes))
        return [dict(zip(self.names, values, strict=True)) for values in products]

    def sample(self, n: int, seed: int) -> list[Params]:
        """Return ``n`` distinct points drawn with ``numpy.random.default_rng(seed)`` (every point if fewer)."""
        if n <= 0:
            raise ConfigError(f"--random must be positive, got {n}")
        total = len(self)
        rng = np.random.default_rng(seed)
        if total <= 2**62:
            positions = rng.choice(total, size=min(n, total), replace=False).tolist()
        else:  # too many points for choice(): draw and drop repeats
            positions = list(dict.fromkeys(int(rng.integers(total)) for _ in range(2 * n)))[:n]
        return [self.point(int(p)) for p in positions]
