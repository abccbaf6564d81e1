"""Run a strategy once through the real back-tester and record what it published, bar by bar.

The checks of ``engine.check`` compare runs of the same strategy on different data; this module makes one run
and keeps what can be compared:

- every event the bus handles that is not market data (signals with the values that drove them, orders,
  cancels, order updates, fills, timers, a handler's failure, any event of the user's), each tagged with its
  bar. The venue's reports (fills, order updates) belong to the bar being handled: the last bar whose close is
  at or before the simulated clock, so a fill at bar t+1's open belongs to bar t+1 (the replay moves the clock
  to its close before the venue sees it) although it is stamped at bar t's close. Anything else belongs to that
  bar or to the bar of its own ``ts``, whichever is earlier: a signal stamped at bar t but published while bar
  t+1 was handled speaks about bar t. What the strategies do once the data has ended (``on_stop``) is kept
  apart: a run cut at t stops there, the full one does not.
- at the bars asked for, every value of every ``IndicatorSet`` the strategy and the run's handlers hold, read
  after every handler of that bar ran.

Values are kept as they were: floats as floats, ``Decimal`` as exact text, mappings as sorted pairs, so that two
records are equal only when every field is.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from engine.analyze.indicators import IndicatorSet
from engine.backtest import BacktestVenue, run_backtest
from engine.bus import EventBus
from engine.datagen.bar_feed import BarFeed
from engine.errors import StrategyError
from engine.events import Bar, Event, Fill, MarketData, OrderUpdate
from engine.ledger import Ledger
from engine.orders import OrderManager
from engine.strategy import LedgerView, Strategy, StrategyContext

# A field's value as recorded: comparable with ==, floats kept for the warm-up check's tolerance.
Value = Any


@dataclasses.dataclass(frozen=True, slots=True)
class Record:
    """One event a run handled: its bar (row of the run's frame), its kind, what it is about, and its fields."""

    bar: int
    kind: str  # the event's class name in snake case: signal, order, order_update, fill ...
    what: str  # what the event is about, e.g. "signal 'rsi' BTC/USD", "order 'Rsi-1'"
    fields: tuple[tuple[str, Value], ...]


@dataclasses.dataclass(slots=True)
class Run:
    """What one run left: its events in handling order, those after the data ended, indicator values by bar."""

    records: list[Record]
    at_end: list[Record]
    indicators: dict[int, dict[str, float]]  # bar -> {"RSI_14 BTC/USD": value}
    failure: str = ""  # what user code raised, when the run was allowed to fail and did
    failed_at: int | None = None  # the bar being handled then


# Makes the strategy of one run from that run's data: a strategy that computes anything from the data beforehand
# gets the data as the run changed it.
StrategyFactory = Callable[[pd.DataFrame], Strategy]


# Called after each run: progress.
Step = Callable[[], object]


def run_recorded(make_strategy: StrategyFactory, frame: pd.DataFrame, symbol: str, interval_ns: int,
                 venue: BacktestVenue, *, snapshot_bars: Collection[int] = (), step: Step | None = None,
                 may_fail: bool = False) -> Run:
    """Back-test a new strategy from ``make_strategy(frame)`` on ``frame`` and return what it published.

    ``snapshot_bars`` are rows of ``frame`` at whose close the indicator values are read; ``step`` is called
    once the run is over. With ``may_fail``, a strategy or handler that raises (``StrategyError``) ends the run
    early instead of raising: the run keeps what was published until then, the error and its bar.
    """
    strategy = make_strategy(frame)
    feed = BarFeed(frame, symbol, interval_ns)  # given: a run of one bar cannot infer it
    close_ts = feed_close_times(feed)
    recorder = _Recorder(close_ts, {int(close_ts[b]): b for b in snapshot_bars})
    probe = _Probe(recorder, strategy)
    # The probe comes first: its on_stop marks the end before the strategy's on_stop may act; its on_start
    # subscribes the indicator reader after every Bar handler, the strategy's own included.
    failure, failed_at = "", None
    try:
        run_backtest([probe, strategy], feed, venue=venue, handlers=[recorder])
    except StrategyError as exc:
        if not may_fail:
            raise
        failure, failed_at = " ".join(str(exc).split()), recorder.bar_now()
    if step is not None:
        step()
    return Run(recorder.records, recorder.at_end, recorder.indicators, failure, failed_at)


def feed_close_times(feed: BarFeed) -> np.ndarray:
    """Return the close time (ns) of each bar of ``feed``, in row order: the ``ts`` of its ``Bar`` events."""
    return np.fromiter((bar.ts for bar in feed), dtype=np.int64, count=len(feed))


class _Recorder:
    """A handler of the run (``attach`` gives it the kernel): records every event that is not market data."""

    def __init__(self, close_ts: np.ndarray, snapshot_at: Mapping[int, int]) -> None:
        self.close_ts = close_ts
        self.snapshot_at = dict(snapshot_at)
        self.records: list[Record] = []
        self.at_end: list[Record] = []
        self.indicators: dict[int, dict[str, float]] = {}
        self.ended = False
        self.sets: list[tuple[str, IndicatorSet]] = []
        self._now: Callable[[], int] = lambda: 0
        self._bus: EventBus | None = None
        self._last_ts, self._last_bar = -1, -1

    def attach(self, kernel: Any) -> None:
        self._now = kernel.clock.now
        self._bus = kernel.bus
        kernel.bus.subscribe(Event, self.on_event)

    def on_event(self, event: Event) -> None:
        if isinstance(event, MarketData):
            return
        bar = self._bar(self._now())
        if not isinstance(event, Fill | OrderUpdate):
            bar = min(bar, self._bar(event.ts))
        record = Record(bar, _layout(type(event))[0], describe(event), _fields(event))
        (self.at_end if self.ended else self.records).append(record)

    def bar_now(self) -> int:
        """Return the row of the bar being handled (-1: before the first)."""
        return self._bar(self._now())

    def _bar(self, ts: int) -> int:
        """Return the row of the last bar that closed at or before ``ts`` (-1: before the first)."""
        if ts != self._last_ts:
            self._last_ts, self._last_bar = ts, int(np.searchsorted(self.close_ts, ts, side="right")) - 1
        return self._last_bar

    def start(self, roots: Sequence[object]) -> None:
        """Find the indicator sets of the run and read them after every other handler of each bar."""
        assert self._bus is not None
        found = _indicator_sets([*roots, *(getattr(h, "__self__", None) for h in self._bus.handlers_for(Bar))])
        self.sets = [(f" #{i + 1}" if len(found) > 1 else "", s) for i, s in enumerate(found)]
        if self.snapshot_at:
            self._bus.subscribe(Bar, self.on_bar)

    def on_bar(self, bar: Bar) -> None:
        row = self.snapshot_at.get(bar.ts)
        if row is None:
            return
        values = self.indicators.setdefault(row, {})
        for suffix, indicators in self.sets:
            for name in indicators.names():
                values[f"{name}{suffix} {bar.symbol}"] = indicators.value(name, bar.symbol)


class _Probe(Strategy):
    """A strategy that trades nothing: it starts the recorder's indicator reads and marks the end of the data."""

    def __init__(self, recorder: _Recorder, strategy: Strategy) -> None:
        super().__init__()
        self.name = "lookahead-probe"
        self._recorder = recorder
        self._strategy = strategy

    def on_start(self) -> None:
        self._recorder.start([self._strategy])

    def on_stop(self) -> None:
        self._recorder.ended = True


def describe(event: Event) -> str:
    """Name what an event is about: its kind and identity, e.g. ``signal 'rsi' BTC/USD``, ``fill 'Rsi-3' trade 7``."""
    kind, _, identity = _layout(type(event))
    parts = [kind.replace("_", " ")]
    for name in identity:
        value = getattr(event, name, None)
        if isinstance(value, str) and value:
            parts.append(value if name == "symbol" else f"trade {value}" if name == "trade_id" else repr(value))
    return " ".join(parts)


_IDENTITY = ("name", "client_order_id", "handler", "trade_id", "symbol")
_layouts: dict[type, tuple[str, tuple[str, ...], tuple[str, ...]]] = {}


def _layout(event_type: type) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """Return an event class's kind, its fields (None: not a dataclass) and the fields naming what it is about."""
    found = _layouts.get(event_type)
    if found is None:
        names = tuple(f.name for f in dataclasses.fields(event_type)) if dataclasses.is_dataclass(event_type) else ()
        found = _layouts[event_type] = (_snake(event_type.__name__), names, _IDENTITY)
    return found


def _fields(event: Event) -> tuple[tuple[str, Value], ...]:
    names = _layout(type(event))[1]
    if names:
        return tuple((name, _plain(getattr(event, name))) for name in names)
    # a user's event class that is not a dataclass: its public attributes
    return tuple((k, _plain(v)) for k, v in sorted(vars(event).items()) if not k.startswith("_"))


_SCALARS = frozenset((bool, int, str, float, type(None)))


def _plain(value: Any) -> Value:
    """Return ``value`` as plain comparable data: exact text for Decimals, sorted pairs for mappings."""
    if type(value) in _SCALARS:
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bool | int | str | float):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), _plain(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_plain(v) for v in value)
    return repr(value)


def same(a: Value, b: Value) -> bool:
    """Tell whether two recorded values are identical (floats equal as numbers, NaN equal to NaN)."""
    if a == b:
        return True
    if isinstance(a, float) and isinstance(b, float):
        return math.isnan(a) and math.isnan(b)
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return False


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() and i else c.lower() for i, c in enumerate(name))


# Objects a search for indicator sets never enters: the run's machinery (reached through a strategy's context or
# the bus's handlers), data, scalars. Containers longer than _WIDEST are skipped: no indicator set hides in a journal.
_OPAQUE = (EventBus, StrategyContext, LedgerView, Ledger, OrderManager, _Recorder, pd.DataFrame, pd.Series,
           pd.Index, np.ndarray, type, str, bytes, int, float, Decimal)
_WIDEST = 256


def _indicator_sets(roots: Sequence[object], depth: int = 3) -> list[IndicatorSet]:
    """Return the ``IndicatorSet``s reachable from ``roots`` through attributes, lists and dicts (in order)."""
    found: list[IndicatorSet] = []
    seen: set[int] = set()

    def visit(obj: object, left: int) -> None:
        if obj is None or id(obj) in seen or isinstance(obj, _OPAQUE):
            return
        seen.add(id(obj))
        if isinstance(obj, IndicatorSet):
            found.append(obj)
            return
        if left == 0 or callable(obj):
            return
        for child in _children(obj):
            visit(child, left - 1)

    for root in roots:
        visit(root, depth)
    return found


def _children(obj: object) -> Iterator[object]:
    if isinstance(obj, Mapping | list | tuple) and len(obj) > _WIDEST:
        return
    if isinstance(obj, Mapping):
        yield from obj.values()
    elif isinstance(obj, list | tuple):
        yield from obj
    else:
        yield from getattr(obj, "__dict__", {}).values()
        for name in getattr(type(obj), "__slots__", ()):
            yield getattr(obj, name, None)
