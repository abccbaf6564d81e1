"""Look-ahead: does anything a strategy published up to bar t change when the bars after t change?

freqtrade's lookahead-analysis, made exact. The strategy runs once on the data through the real back-tester
(``run_backtest``); then, for a few cut points t, again with every bar after t perturbed (its prices scaled up
by 20-50%, then, separately, down by 20-50%, its volume likewise) and again with those bars removed. Every
event of the runs (signals with the values that drove them, orders, order updates, fills, timers) handled on
bars up to t, and every value of the run's indicator sets at t, must be identical to the full run's, bit for
bit: nothing known at t can depend on what came after it. Prices moved both ways flip any comparison with a
later bar (``next close > close``) on one of the two runs; the removal catches a strategy that reads how much
data there is (a normalisation by the series' maximum, a count of the bars left).

The cut points are deterministic: evenly spread over the bars, after the declared warm-up, on which the full run
decided something (an order, a signal with a direction), so each cut tests a real decision; the perturbations
come from a generator seeded by the seed and the cut. The full run is made twice: a strategy whose runs differ on
the same data cannot be checked, and is reported as such.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import zip_longest
from typing import Any

import numpy as np
import pandas as pd

from engine.backtest import BacktestVenue
from engine.check.record import Record, Run, Step, StrategyFactory, Value, run_recorded, same
from engine.datagen.bar_feed import BarFeed
from engine.errors import ConfigError

# The runs made at each cut point, by name: how the bars after the cut are changed.
VARIANTS = ("perturbed up", "perturbed down", "removed")
PRICES = ("open", "high", "low", "close")
# Per bar after the cut: prices times a factor in this range (the same for the four, so the bar stays a bar),
# volume times one in the second range.
FACTORS = {"perturbed up": ((1.2, 1.5), (2.0, 3.0)), "perturbed down": ((0.5, 0.8), (0.2, 0.5))}


@dataclass(frozen=True, slots=True)
class Moved:
    """The first thing published up to a cut that differed from the full run: on which bar, what, and how."""

    bar: int  # row of the data
    time: pd.Timestamp  # the bar's open time, as the data lists it
    what: str  # "signal 'rsi' BTC/USD", "order 'Rsi-3'", "indicator RSI_14 BTC/USD", ...
    field: str  # the field that changed; "" when the whole event appeared or disappeared
    expected: Value  # in the full run (None: it had no such event)
    got: Value  # in the changed run (None: it had no such event)
    instead: str = ""  # what the changed run published in its place, when it published something else
    raised: str = ""  # what the strategy raised on that bar in the changed run (it ran through it before)

    def describe(self) -> str:
        """Say what moved in one line, e.g. ``signal 'peek' BTC/USD: direction 1 -> -1``."""
        if self.raised:
            return f"{self.what} raised when the later bars changed: {self.raised}"
        if self.field:
            return f"{self.what}: {self.field} {_show(self.expected)} -> {_show(self.got)}"
        if self.instead:
            return f"{self.what} ({_show(self.expected)}) became {self.instead} ({_show(self.got)})"
        if self.expected is None:
            return f"{self.what}: published only when the later bars changed ({_show(self.got)})"
        return f"{self.what}: no longer published when the later bars changed (was {_show(self.expected)})"


@dataclass(frozen=True, slots=True)
class Cut:
    """One cut point: the bar, how many things up to it were compared, and the first that moved per variant."""

    bar: int
    time: pd.Timestamp
    compared: int  # events up to the cut plus indicator values at it
    moved: dict[str, Moved | None]  # by variant


@dataclass(frozen=True, slots=True)
class LookaheadReport:
    """The look-ahead check of one strategy on one data set."""

    cuts: list[Cut]
    nondeterministic: Moved | None = None  # the first difference between two runs on the same data
    references: dict[int, Run] = field(default_factory=dict, repr=False)  # the run cut at each cut point

    @property
    def clean(self) -> bool:
        """True when nothing moved at any cut and the strategy is deterministic."""
        return self.nondeterministic is None and self.first is None

    @property
    def first(self) -> tuple[Cut, str, Moved] | None:
        """Return the earliest bar that moved, with its cut and variant (None when clean)."""
        found = [(moved.bar, cut.bar, VARIANTS.index(variant), cut, variant, moved)
                 for cut in self.cuts for variant, moved in cut.moved.items() if moved is not None]
        if not found:
            return None
        *_, cut, variant, moved = min(found, key=lambda item: item[:3])
        return cut, variant, moved


def find_lookahead(make_strategy: StrategyFactory, frame: pd.DataFrame, symbol: str, *,
                   venue: BacktestVenue, cuts: int = 6, seed: int = 0, step: Step | None = None) -> LookaheadReport:
    """Run the look-ahead check of the strategies ``make_strategy`` makes on ``frame`` (see the module docstring).

    Each run gets a new strategy, made from that run's data (``make_strategy(data)``): a strategy that
    computes something from the whole frame beforehand gets the frame as the run changed it. ``cuts`` is the
    number of cut points (fewer when the data has fewer bars to cut at); ``step`` is called after each run.
    """
    if cuts < 1:
        raise ConfigError(f"the number of cut points must be at least 1, got {cuts}")
    if len(frame) < 3:
        raise ConfigError(f"the look-ahead check needs at least 3 bars of data, got {len(frame)}")
    interval = BarFeed(frame, symbol).interval_ns
    first = run_recorded(make_strategy, frame, symbol, interval, venue, step=step)
    chosen = choose_cuts(first.records, len(frame), make_strategy(frame).warmup_bars(), cuts)
    base = run_recorded(make_strategy, frame, symbol, interval, venue, snapshot_bars=chosen, step=step)
    times = frame.index
    drift = first_moved(first.records, base.records, {}, {}, times)
    results, references = [], {}
    for cut in chosen:
        moved: dict[str, Moved | None] = {}
        for variant in VARIANTS:
            changed = frame.iloc[:cut + 1] if variant == "removed" else perturbed(frame, cut, variant, seed)
            run = run_recorded(make_strategy, changed, symbol, interval, venue, snapshot_bars=[cut], step=step,
                               may_fail=True)
            if variant == "removed" and run.failed_at is None:
                references[cut] = run
            if run.failed_at is not None and run.failed_at <= cut:  # it failed on a bar it had handled before
                moved[variant] = Moved(bar=run.failed_at, time=_time(times, run.failed_at), what="the strategy",
                                       field="", expected=None, got=None, raised=run.failure)
                continue
            expected = [r for r in base.records if r.bar <= cut]
            got = [r for r in run.records if r.bar <= cut]
            moved[variant] = first_moved(expected, got, base.indicators.get(cut, {}), run.indicators.get(cut, {}),
                                         times, at=cut)
        compared = sum(1 for r in base.records if r.bar <= cut) + len(base.indicators.get(cut, {}))
        results.append(Cut(bar=cut, time=pd.Timestamp(times[cut]), compared=compared, moved=moved))
    return LookaheadReport(cuts=results, nondeterministic=drift, references=references)


def choose_cuts(records: Sequence[Record], n_bars: int, warmup: int, count: int) -> list[int]:
    """Return up to ``count`` cut bars, evenly spread over the bars after ``warmup`` where the run decided something.

    A decision is an order or a signal with a direction; without any, a bar with any event; without events,
    any bar. The last bar is never a cut: there must be a bar after it to change.
    """
    last = n_bars - 2
    start = min(max(warmup, 0), last)
    decided = sorted({r.bar for r in records if start <= r.bar <= last and _decides(r)})
    candidates = decided or sorted({r.bar for r in records if start <= r.bar <= last}) or list(range(start, last + 1))
    if len(candidates) <= count:
        return candidates
    picks = np.linspace(0, len(candidates) - 1, count).round().astype(int)
    return sorted({candidates[i] for i in picks})


def _decides(record: Record) -> bool:
    if record.kind == "order":
        return True
    return record.kind == "signal" and dict(record.fields).get("direction") not in (0, None)


def perturbed(frame: pd.DataFrame, cut: int, variant: str, seed: int) -> pd.DataFrame:
    """Return a copy of ``frame`` whose bars after row ``cut`` are scaled by seeded factors (see ``FACTORS``)."""
    (price_low, price_high), (volume_low, volume_high) = FACTORS[variant]
    rng = np.random.default_rng([seed, cut, VARIANTS.index(variant)])
    n = len(frame) - cut - 1
    price = rng.uniform(price_low, price_high, n)
    volume = rng.uniform(volume_low, volume_high, n)
    out = frame.copy()
    for column, factor in (*((c, price) for c in PRICES), ("volume", volume)):
        values = out[column].to_numpy(dtype=np.float64, copy=True)
        values[cut + 1:] *= factor
        out[column] = values
    return out


def first_moved(expected: Sequence[Record], got: Sequence[Record], expected_values: dict[str, float],
                got_values: dict[str, float], times: pd.Index, at: int = -1) -> Moved | None:
    """Return the first difference between two runs' events (in handling order), then their indicator values at
    bar ``at``; None when they are identical."""
    for a, b in zip_longest(expected, got):
        if a is not None and b is not None and a.what == b.what and a.kind == b.kind and same(a.fields, b.fields):
            continue
        if a is None or b is None or a.what != b.what or a.kind != b.kind:
            # the first bar where the two differ: an event of one run on a bar before the other's next event
            bar = min(r.bar for r in (a, b) if r is not None)
            a = a if a is not None and a.bar == bar else None
            b = b if b is not None and b.bar == bar else None
            which = a or b
            assert which is not None
            instead = b.what if a is not None and b is not None else ""
            return Moved(bar=bar, time=_time(times, bar), what=which.what, field="", expected=_event(a),
                         got=_event(b), instead=instead)
        for (name, x), (_, y) in zip(a.fields, b.fields, strict=True):
            if not same(x, y):
                bar = min(a.bar, b.bar)
                return Moved(bar=bar, time=_time(times, bar), what=a.what, field=name, expected=x, got=y)
    for name in sorted(set(expected_values) | set(got_values)):
        x, y = expected_values.get(name), got_values.get(name)
        if not same(x, y):
            return Moved(bar=at, time=_time(times, at), what=f"indicator {name}", field="value", expected=x, got=y)
    return None


def _event(record: Record | None) -> Value:
    return None if record is None else dict(record.fields)


def _time(times: pd.Index, bar: int) -> pd.Timestamp:
    return pd.Timestamp(times[max(bar, 0)])


_NAMED = frozenset({"ts", "name", "client_order_id", "trade_id", "symbol", "handler"})


def _show(value: Any) -> str:
    if isinstance(value, dict):  # an event: its fields, less its time and identity (named already) and blanks
        shown = {k: v for k, v in value.items()
                 if k not in _NAMED and v not in (None, False, (), "") and not (k == "tags" and v == ())}
        return ", ".join(f"{k}={_show(v)}" for k, v in shown.items())
    if isinstance(value, tuple) and all(isinstance(v, tuple) and len(v) == 2 for v in value):
        return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in value) + "}"
    if isinstance(value, float):
        return repr(value)
    return "(none)" if value is None else str(value)
