"""Warm-up: how much history does each value a strategy publishes need before it no longer depends on it?

freqtrade's recursive-analysis, on the real back-tester. At a few target bars t the strategy runs on the data
cut at t with the whole history before it (the reference: the look-ahead check's run cut at t), and again with
only the last N bars before t, for N on a grid (0, 1, 2, 3, 4, 6, 8, 12 ... each step 1.5 or 2 times the
last, up to ``max_history``, plus the strategy's declared ``warmup_bars()``). What it published on bar t is
compared with the reference:

- each signal: published or not, its direction exactly, its strength and each value that drove it within a
  relative tolerance (of the reference value, or of the median magnitude of that value over the targets, for
  a value near zero such as an oscillator's);
- each value of the run's indicator sets, within the same tolerance.

A value settles after N bars when it agrees at N and at every longer history tried, at every target (a target
with less history than another needed only bounds the need from below). A run whose strategy raises (a history
too short for it) keeps what it published before, and the error is reported. Orders are not compared: what a
strategy orders depends on what it holds, which depends on where trading started, so two histories part ways
by design. The strategy's published signals decide whether its declared warm-up is enough;
the indicators are shown for what they are (a path-dependent one, such as OBV, never settles, whatever uses it).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from engine.backtest import BacktestVenue
from engine.check.record import Run, Step, StrategyFactory, Value, run_recorded
from engine.datagen.bar_feed import BarFeed

DEFAULT_TOLERANCE = 1e-9
DEFAULT_MAX_HISTORY = 4096


@dataclass(frozen=True, slots=True)
class Settling:
    """How much history one published value needs (bars before the bar it is published on)."""

    series: str  # "signal 'rsi' BTC/USD" or "indicator RSI_14 BTC/USD"
    kind: str  # "signal" or "indicator"
    settled_at: int | None  # the shortest history from which every longer one agreed; None: not even the longest
    unsettled_at: int | None  # the longest history that disagreed; None: even the shortest tried agreed
    difference: str  # what differed at ``unsettled_at``, e.g. "strength 0.52 vs 0.61"

    @property
    def needs(self) -> str:
        """Say the history needed as a range of the grid, e.g. ``129-192``, ``> 4096``, ``4`` or ``0``."""
        if self.settled_at is None:
            return f"> {self.unsettled_at}"
        if self.unsettled_at is None or self.unsettled_at + 1 == self.settled_at:
            return str(self.settled_at)
        return f"{self.unsettled_at + 1}-{self.settled_at}"


@dataclass(frozen=True, slots=True)
class WarmupReport:
    """The warm-up check of one strategy: the grid tried, the targets, each value's settling, the verdict."""

    declared: int
    histories: list[int]
    targets: list[int]
    tolerance: float
    series: list[Settling]
    failures: list[tuple[int, int, str]] = field(default_factory=list)  # (target, history, what the strategy raised)

    @property
    def signals(self) -> list[Settling]:
        return [s for s in self.series if s.kind == "signal"]

    @property
    def sufficient(self) -> bool | None:
        """Whether the declared warm-up is enough for every published signal (None: nothing to judge by)."""
        if not self.signals or not any(n >= self.declared for n in self.histories):
            return None
        return all(s.unsettled_at is None or s.unsettled_at < self.declared for s in self.signals)

    @property
    def needed(self) -> Settling | None:
        """Return the signal that needs the longest history (None when no signal was published)."""
        if not self.signals:
            return None
        return max(self.signals, key=lambda s: (s.settled_at is None, s.unsettled_at or -1, s.settled_at or 0))


def history_grid(declared: int, max_history: int) -> list[int]:
    """Return the histories tried: 0, 1, 2, 3, 4, 6, 8, 12, ... (1.5 and 2 times a power of two), up to
    ``max_history``, and ``declared``."""
    grid = {0, 1, declared}
    power = 2
    while power <= max_history:
        grid.update((power, power * 3 // 2))
        power *= 2
    return sorted(n for n in grid if 0 <= n <= max_history or n == declared)


def measure_warmup(make_strategy: StrategyFactory, frame: pd.DataFrame, symbol: str, *,
                   venue: BacktestVenue, references: dict[int, Run], tolerance: float = DEFAULT_TOLERANCE,
                   max_history: int = DEFAULT_MAX_HISTORY, step: Step | None = None) -> WarmupReport:
    """Measure the history every published value needs at the bars of ``references`` (bar -> the run on the
    data cut there, with its indicator values at that bar); ``step`` is called after each run."""
    declared = max(make_strategy(frame).warmup_bars(), 0)
    grid = history_grid(declared, max_history)
    interval = BarFeed(frame, symbol).interval_ns  # a run of one bar cannot infer it
    observed: dict[int, dict[int, dict[str, dict[str, Value]]]] = {}  # target -> history -> series -> fields
    failures: list[tuple[int, int, str]] = []
    if not any(r.indicators.get(t) or any(x.kind == "signal" for x in r.records) for t, r in references.items()):
        references = {}  # it published no signal and holds no indicator: nothing to measure, no run to make
    for target, reference in sorted(references.items()):
        at_target = {target: _published(reference, target)}
        for history in grid:
            if history >= target:
                break
            start = target - history
            run = run_recorded(make_strategy, frame.iloc[start:target + 1], symbol, interval, venue,
                               snapshot_bars=[history], step=step, may_fail=True)
            if run.failure:  # what it published before it raised still counts: likely nothing on the target bar
                failures.append((target, history, run.failure))
            at_target[history] = _published(run, history)
        observed[target] = at_target
    tried = [h for h in grid if any(h < target for target in references)]
    return WarmupReport(declared=declared, histories=tried, targets=sorted(references), tolerance=tolerance,
                        series=_settling(observed, tolerance), failures=failures)


def _published(run: Run, bar: int) -> dict[str, dict[str, Value]]:
    """Return what a run published on ``bar``: each signal's fields and each indicator value, by series."""
    out: dict[str, dict[str, Value]] = {}
    for record in run.records:
        if record.bar == bar and record.kind == "signal":
            fields = {k: v for k, v in record.fields if k not in ("ts", "name", "symbol")}
            contributions = fields.pop("contributions", None) or ()
            fields.update((f"contributions.{k}", v) for k, v in contributions)
            out[_unique(out, record.what)] = fields
    for name, value in run.indicators.get(bar, {}).items():
        out[f"indicator {name}"] = {"value": value}
    return out


def _unique(taken: Mapping[str, object], name: str) -> str:
    if name not in taken:
        return name
    n = 2
    while f"{name} ({n})" in taken:
        n += 1
    return f"{name} ({n})"


def _settling(observed: dict[int, dict[int, dict[str, dict[str, Value]]]], tolerance: float) -> list[Settling]:
    names = list(dict.fromkeys(name for at in observed.values() for seen in at.values() for name in seen))
    out = []
    for name in names:
        scales = _scales(at[target].get(name, {}) for target, at in observed.items())
        settled: list[int | None] = []
        unsettled: list[tuple[int, str]] = []
        for target, at in observed.items():
            reference = at[target].get(name)
            tried = [h for h in at if h != target]
            if not tried:
                continue
            differing = [(h, why) for h in tried
                         if (why := _difference(reference, at[h].get(name), scales, tolerance)) is not None]
            if differing:
                unsettled.append(max(differing))
            longest_bad = max((h for h, _ in differing), default=-1)
            settled.append(None if longest_bad == max(tried) else min(h for h in tried if h > longest_bad))
        if not settled:
            continue
        worst = max(unsettled) if unsettled else None
        # A target short of history may not have reached the settling length another target shows: it only
        # bounds it from below. The value settles at the longest length any target needed, unless a target
        # still differed at that length or beyond.
        known = [s for s in settled if s is not None]
        settled_at = max(known) if known else None
        if worst is not None and settled_at is not None and worst[0] >= settled_at:
            settled_at = None
        out.append(Settling(series=name, kind="indicator" if name.startswith("indicator ") else "signal",
                            settled_at=settled_at, unsettled_at=worst[0] if worst else None,
                            difference=worst[1] if worst else ""))
    return sorted(out, key=lambda s: (s.kind != "signal", s.settled_at is not None, -(s.unsettled_at or -1),
                                      s.series))


def _scales(references: Iterable[dict[str, Value]]) -> dict[str, float]:
    """Return the median magnitude of each numeric field over the targets' references: the floor of the scale a
    relative tolerance applies to."""
    values: dict[str, list[float]] = {}
    for fields in references:
        for key, value in fields.items():
            if isinstance(value, float) and math.isfinite(value):
                values.setdefault(key, []).append(abs(value))
    return {key: float(np.median(found)) for key, found in values.items()}


def _difference(reference: dict[str, Value] | None, got: dict[str, Value] | None, scales: dict[str, float],
                tolerance: float) -> str | None:
    """Return what differs between a value published with the whole history and with less (None: they agree)."""
    if reference is None and got is None:
        return None
    if reference is None or got is None:
        return "published only with the whole history" if got is None else "published only with less history"
    for key in sorted(set(reference) | set(got)):
        a, b = reference.get(key), got.get(key)
        if not _close(a, b, scales.get(key, 0.0), tolerance):
            if isinstance(a, float) and isinstance(b, float) and math.isfinite(a) and math.isfinite(b):
                scale = max(abs(a), scales.get(key, 0.0))
                return f"{key} {a:.10g} vs {b:.10g} (relative {abs(a - b) / scale:.1e})"
            return f"{key} {_number(a)} vs {_number(b)}"
    return None


def _close(a: Value, b: Value, scale: float, tolerance: float) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        if math.isinf(a) or math.isinf(b):
            return a == b
        return abs(a - b) <= tolerance * max(abs(a), scale)
    return bool(type(a) is type(b) and a == b)


def _number(value: Value) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)

