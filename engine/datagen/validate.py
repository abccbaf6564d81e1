"""Validation of OHLCV bars with a report of every problem and an explicit policy per problem.

``validate_ohlcv`` (in ``frames``) is the gate every loader passes: it stops at the first bad row. This module
answers the next question, what exactly is wrong and what to do about it::

    report = check_bars(frame, "btc.csv")                       # every problem, nothing changed
    clean, report = validate_bars(frame, "btc.csv", gap="ffill", duplicate="drop")

Each rule has one policy, named in the call; the default is ``"raise"`` for all of them, so nothing is altered
unless the caller said so, and whatever a policy did is written in ``report.actions``. The rules (``RULES``):

==========  =====================================================  =========================
rule        problem                                                policies
==========  =====================================================  =========================
nan         a NaN or infinite value (field: the column)            raise, drop, keep
price       open, high, low or close <= 0                          raise, drop, keep
volume      volume, quote_volume or trades < 0                     raise, drop, keep
high        high < max(open, close)                                raise, drop, keep
low         low > min(open, close)                                 raise, drop, keep
duplicate   a timestamp seen on an earlier row (the later goes)    raise, drop, keep
order       a timestamp earlier than one on a row before it        raise, drop, sort, keep
gap         bars missing between two rows (more than ``interval``) raise, keep, ffill
==========  =====================================================  =========================

``keep`` reports and keeps the row as it is. ``ffill`` inserts the missing bars as an exchange shows a period
without trades: open = high = low = close = the previous close, volume (and quote volume, trades) 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from engine.datagen.frames import (
    INDEX_NAME,
    OHLCV_COLUMNS,
    STANDARD_COLUMNS,
    infer_interval,
    rule_checks,
    validate_ohlcv,
)
from engine.errors import ConfigError, DataError

Policy = Literal["raise", "drop", "keep", "sort", "ffill"]
RULES: tuple[str, ...] = ("nan", "price", "volume", "high", "low", "duplicate", "order", "gap")
ALLOWED: dict[str, tuple[str, ...]] = {
    **{rule: ("raise", "drop", "keep") for rule in RULES[:6]},
    "order": ("raise", "drop", "sort", "keep"),
    "gap": ("raise", "keep", "ffill"),
}


@dataclass(frozen=True, slots=True)
class Problem:
    """One broken rule on one row: ``row`` is its position in the frame checked, ``where`` names file and row."""

    rule: str
    row: int
    ts: pd.Timestamp
    field: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass(frozen=True, slots=True)
class ValidationReport:
    """Every problem found in a frame, and what the policies did about them."""

    source: str
    rows: int
    problems: tuple[Problem, ...] = ()
    actions: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.problems

    def count(self, rule: str | None = None) -> int:
        """Return how many problems break ``rule`` (all rules when None)."""
        return len(self.problems) if rule is None else sum(p.rule == rule for p in self.problems)

    def of(self, rule: str) -> list[Problem]:
        return [p for p in self.problems if p.rule == rule]

    def summary(self) -> str:
        """Say in one line how many problems of each rule were found and what was done."""
        if self.ok:
            return f"{self.source}: {self.rows} rows, no problems"
        counts = ", ".join(f"{self.count(rule)} {rule}" for rule in RULES if self.count(rule))
        done = f"; {'; '.join(self.actions)}" if self.actions else ""
        return f"{self.source}: {self.rows} rows, {len(self.problems)} problem(s): {counts}{done}"

    def __str__(self) -> str:
        return "\n".join([self.summary(), *(f"  {p}" for p in self.problems)])


class InvalidData(DataError):
    """Bars broke a rule whose policy is ``raise``; ``report`` lists every problem found."""

    def __init__(self, report: ValidationReport, raising: Sequence[Problem]) -> None:
        first = raising[0]
        more = ""
        if len(raising) > 1:
            rules = dict.fromkeys(p.rule for p in raising)
            more = f" ({len(raising) - 1} more problem(s) of rule(s) {', '.join(rules)}; see .report)"
        super().__init__(f"{first}{more}")
        self.report = report


class _Locator:
    """Name row ``i`` as ``validate_ohlcv`` does: the file line when known, else the file and the timestamp."""

    def __init__(self, source: str, index: pd.DatetimeIndex, lines: Sequence[int] | np.ndarray | None,
                 files: Sequence[tuple[int, str]] | None) -> None:
        self.source, self.index, self.lines = source, index, lines
        self.starts = np.array([start for start, _ in files or ()], dtype=np.int64)
        self.names = [name for _, name in files or ()]

    def __call__(self, i: int) -> str:
        if self.lines is not None:
            return f"{self.source} line {int(self.lines[i])}"
        source = self.source
        if self.names:
            source = self.names[max(0, int(np.searchsorted(self.starts, i, side="right")) - 1)]
        return f"{source} row at {self.index[i].isoformat()}"


def check_bars(frame: pd.DataFrame, source: str = "frame", *, interval: str | pd.Timedelta | None = None,
               lines: Sequence[int] | np.ndarray | None = None,
               files: Sequence[tuple[int, str]] | None = None) -> ValidationReport:
    """Return a report of every problem of ``frame`` under every rule, changing nothing.

    Parameters
    ----------
    frame
        OHLCV bars, index = open times; its structure (columns, dtypes, a UTC index named ``ts``) must be right,
        else ``DataError`` is raised at once, as by ``validate_ohlcv``.
    source
        The file (or data set) the bars came from, named in every problem.
    interval
        Bar length for the gap rule; inferred from the most common step when None. Fewer than two rows and no
        interval: no gap check.
    lines
        File line of each row, when the frame was read from a text file.
    files
        For a frame read from several files (catalog partitions): ``(first row position, file name)`` of each,
        in row order, so each problem names its own file.
    """
    validate_ohlcv(frame.iloc[:0], source)  # structure only: columns, dtypes, index
    index = pd.DatetimeIndex(frame.index).as_unit("ns")
    locate = _Locator(source, index, lines, files)
    problems: list[Problem] = []
    values = {name: frame[name].to_numpy() for name in STANDARD_COLUMNS if name in frame.columns}
    for rule, name, bad, describe in rule_checks(values, index):
        problems.extend(Problem(rule, i, index[i], name, locate(i), describe(i)) for i in np.flatnonzero(bad).tolist())
    step = _interval(frame, interval, source)
    if step is not None:
        for i, message in _gaps(index.asi8, step):
            problems.append(Problem("gap", i, index[i], INDEX_NAME, locate(i), message))
    problems.sort(key=lambda p: (p.row, RULES.index(p.rule)))
    return ValidationReport(source, len(frame), tuple(problems))


def validate_bars(frame: pd.DataFrame, source: str = "frame", *, interval: str | pd.Timedelta | None = None,
                  lines: Sequence[int] | np.ndarray | None = None, files: Sequence[tuple[int, str]] | None = None,
                  nan: Policy = "raise", price: Policy = "raise", volume: Policy = "raise", high: Policy = "raise",
                  low: Policy = "raise", duplicate: Policy = "raise", order: Policy = "raise",
                  gap: Policy = "raise") -> tuple[pd.DataFrame, ValidationReport]:
    """Check ``frame`` against every rule and apply the policy of each: return the bars and the report.

    The report lists the problems of the frame as given (row positions refer to it) and, in ``actions``,
    what each policy changed. Raises ``InvalidData`` (a ``DataError`` whose message names the file, row and
    field of the first problem, and whose ``report`` lists all) when a rule whose policy is ``raise`` is broken.
    The frame is returned unchanged (the same object) when no policy had anything to do.
    """
    policies = {"nan": nan, "price": price, "volume": volume, "high": high, "low": low, "duplicate": duplicate,
                "order": order, "gap": gap}
    for rule, policy in policies.items():
        if policy not in ALLOWED[rule]:
            raise ConfigError(f"validation policy {rule}={policy!r}: allowed {', '.join(ALLOWED[rule])}")
    report = check_bars(frame, source, interval=interval, lines=lines, files=files)
    raising = [p for p in report.problems if policies[p.rule] == "raise"]
    if raising:
        raise InvalidData(report, raising)
    actions: list[str] = []
    dropped = sorted({p.row for p in report.problems if policies[p.rule] == "drop"})
    out = frame
    if dropped:
        keep = np.ones(len(out), dtype=bool)
        keep[dropped] = False
        out = out.iloc[np.flatnonzero(keep)]  # by position: a duplicate's label would take its twin along
        rules = dict.fromkeys(p.rule for p in report.problems if policies[p.rule] == "drop")
        actions.append(f"dropped {len(dropped)} row(s) ({', '.join(rules)})")
    if order == "sort" and report.count("order"):
        out = out.sort_index(kind="stable")
        actions.append(f"sorted {report.count('order')} row(s) into time order")
    if gap == "ffill" and report.count("gap"):
        if order == "keep" and report.count("order"):
            raise ConfigError("gap='ffill' needs rows in time order: pass order='sort' or order='drop'")
        step = _interval(frame, interval, source)
        assert step is not None  # gaps were found, so there is an interval
        out, inserted = forward_fill(out, step)
        actions.append(f"inserted {inserted} bar(s) in {report.count('gap')} gap(s) (ffill)")
    return out, ValidationReport(report.source, report.rows, report.problems, tuple(actions))


def forward_fill(frame: pd.DataFrame, interval: pd.Timedelta) -> tuple[pd.DataFrame, int]:
    """Insert the bars missing between rows as bars without trades; return the frame and how many were added.

    A missing bar opens on the grid of the row before the gap; open, high, low and close are that row's close
    (the last price), volume, quote volume and trade count are 0.
    """
    stamps = pd.DatetimeIndex(frame.index).as_unit("ns").asi8
    step = int(interval.value)
    if len(stamps) < 2:
        return frame, 0
    new: list[np.ndarray] = []
    source_rows: list[np.ndarray] = []
    for i in np.flatnonzero(np.diff(stamps) > step):
        fill = np.arange(stamps[i] + step, stamps[i + 1], step, dtype=np.int64)
        new.append(fill)
        source_rows.append(np.full(len(fill), i))
    if not new:
        return frame, 0
    times, rows = np.concatenate(new), np.concatenate(source_rows)
    last = frame["close"].to_numpy()[rows]
    data = {name: (last if name in OHLCV_COLUMNS[:4] else np.zeros(len(times))) for name in frame.columns}
    index = pd.DatetimeIndex(pd.to_datetime(times, unit="ns", utc=True), name=INDEX_NAME)
    filled = pd.concat([frame, pd.DataFrame(data, index=index)[list(frame.columns)]]).sort_index(kind="stable")
    return filled, len(times)


def _interval(frame: pd.DataFrame, interval: str | pd.Timedelta | None, source: str) -> pd.Timedelta | None:
    if interval is None and len(frame) < 2:
        return None
    # Inferred from the distinct times in order: repeated or swapped rows must not skew the common step.
    stamps = np.unique(pd.DatetimeIndex(frame.index).as_unit("ns").asi8)
    distinct = pd.DatetimeIndex(stamps, dtype="datetime64[ns, UTC]")
    try:
        return infer_interval(distinct, interval, source=source)
    except DataError:
        return None  # no two distinct times: nothing can be missing between them


def _gaps(stamps: np.ndarray, interval: pd.Timedelta) -> list[tuple[int, str]]:
    """Return (row after the gap, message) for each step longer than ``interval`` between the distinct times.

    The times are taken in order, so a row merely out of order fills its place rather than opening a gap.
    """
    ordered, first_row = np.unique(stamps, return_index=True)
    step = int(interval.value)
    out = []
    for k in np.flatnonzero(np.diff(ordered) > step):
        before, after = int(ordered[k]), int(ordered[k + 1])
        missing = (after - before) // step - (0 if (after - before) % step else 1)
        first = pd.Timestamp(before + step, unit="ns", tz="UTC").isoformat()
        aligned = "" if (after - before) % step == 0 else f", not on the {interval} grid"
        out.append((int(first_row[k + 1]), f"ts = {pd.Timestamp(after, unit='ns', tz='UTC').isoformat()}: "
                    f"{missing} bar(s) missing from {first} (interval {interval}{aligned})"))
    return out
