"""What a long job tells the user while it runs: progress bars on stderr and structured log lines.

Progress bars show only when stderr is a terminal (a pipe, a file or CI gets none) and the user did not ask
for quiet. ``track`` makes counting free on the hot path: it hands the items on through ``itertools`` windows
chained in C and updates the bar once per window, so a back-test pays nothing per bar. (Buffering the items in
tuples instead cost 0.5 s per million bars: the garbage collector kept scanning the buffered bars.)

To a pipe or a file (CI, ``nohup``, ``2> log``) a long step writes ``ProgressLines`` instead of a bar: one line
every few seconds and one at the end, so a log shows that the run is alive and how far it got (a redrawn bar
there is noise, and nothing at all for minutes looks like a hang).

Log lines go through ``tqdm.write`` so that they never tear a bar apart, as ``key=value`` text or as JSON
lines; fields passed with ``extra={...}`` are printed after the message.
"""

from __future__ import annotations

import itertools
import json
import logging
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TextIO, TypeVar

from tqdm import tqdm

T = TypeVar("T")

EVERY = 16_384  # items between two updates: a bar ticks a few times a second at back-test speeds
LOG_FORMATS = ("text", "json")
# Attributes every LogRecord has: anything else on a record came from ``extra=`` and is printed as a field.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def progress_enabled(quiet: bool = False, stream: TextIO | None = None) -> bool:
    """Tell whether to draw progress bars: not quiet, and the stream (default stderr) is a terminal."""
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return not quiet and callable(isatty) and bool(isatty())


def bar(total: int | None, desc: str, *, unit: str = "bar", enabled: bool | None = None,
        scale: bool = True) -> tqdm[Any]:
    """Return a tqdm progress bar on stderr, a silent no-op unless ``enabled`` (default: ``progress_enabled()``).

    Downloads, training and sweeps use it as ``with bar(n, "download") as b: ... b.update(k)``; ``scale=False``
    counts in whole units (a sweep's 7/40 jobs, not 7.00/40.0).
    """
    if enabled is None:
        enabled = progress_enabled()
    return tqdm(total=total, desc=desc, unit=unit, unit_scale=scale, disable=not enabled, file=sys.stderr,
                dynamic_ncols=True, mininterval=0.25, leave=False)


def progress_display(total: int | None, desc: str, *, unit: str = "step", quiet: bool = False,
                     stream: TextIO | None = None) -> tqdm[Any] | ProgressLines | None:
    """Return what shows a step's progress: a bar on a terminal, ``ProgressLines`` elsewhere, None when quiet."""
    stream = sys.stderr if stream is None else stream
    if quiet:
        return None
    if progress_enabled(stream=stream):
        return bar(total, desc, unit=unit, enabled=True, scale=False)
    return ProgressLines(total, desc, unit=unit, stream=stream)


class ProgressLines:
    """``walk-forward: 40/120 fits (33%), 12 s``, at most one line every ``every_s`` seconds, and one at the end."""

    def __init__(self, total: int | None, desc: str, *, unit: str = "step", stream: TextIO | None = None,
                 every_s: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.total, self.desc, self.unit = total, desc, unit
        self.stream = sys.stderr if stream is None else stream
        self.every_s, self.clock = every_s, clock
        self.started = self.last = clock()
        self.done = 0

    def update(self, n: int = 1) -> None:
        self.done += n
        now = self.clock()
        if now - self.last >= self.every_s:
            self.last = now
            self._line(now)

    def close(self) -> None:
        self._line(self.clock(), end=" done")

    def _line(self, now: float, end: str = "") -> None:
        count = f"{self.done:,}" if self.total is None else f"{self.done:,}/{self.total:,}"
        share = f" ({self.done / self.total:.0%})" if self.total else ""
        print(f"{self.desc}: {count} {self.unit}s{share}, {now - self.started:.0f} s{end}", file=self.stream,
              flush=True)


def track(items: Iterable[T], update: Callable[[int], object], total: int | None = None,
          every: int = EVERY) -> Iterator[T]:
    """Yield every item of ``items`` and call ``update(n)`` after each ``every`` items (and the remainder).

    With ``total`` (the number of items, as a back-test knows it) the items pass through lazy ``islice``
    windows chained in C: nothing is buffered and nothing runs per item. Without it, a generator counts them.
    The update for a window runs once its items have been handled.
    """
    if every <= 0:
        raise ValueError(f"every must be positive, got {every}")
    if total is None:
        return _counted(items, update, every)
    return itertools.chain.from_iterable(_windows(iter(items), update, total, every))


def _windows(items: Iterator[T], update: Callable[[int], object], total: int,
             every: int) -> Iterator[Iterator[T]]:
    remaining = total
    while remaining > 0:
        size = min(every, remaining)
        yield itertools.islice(items, size)
        update(size)
        remaining -= size
    yield items  # anything beyond ``total`` still goes through, uncounted


def _counted(items: Iterable[T], update: Callable[[int], object], every: int) -> Iterator[T]:
    n = 0
    for item in items:
        yield item
        n += 1
        if n == every:
            update(n)
            n = 0
    if n:
        update(n)


class TextFormatter(logging.Formatter):
    """``2024-05-01T12:00:00Z INFO engine.backtest: message key=value ...``."""

    converter = staticmethod(time.gmtime)  # log times in UTC, like every timestamp of the engine

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%Y-%m-%dT%H:%M:%SZ")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = _fields(record)
        if fields:
            text += " " + " ".join(f"{k}={_text(v)}" for k, v in fields.items())
        return text


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ``ts``, ``level``, ``logger``, ``message``, the extra fields, and ``exc``."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {"ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%SZ"), "level": record.levelname,
                                "logger": record.name, "message": record.getMessage(), **_fields(record)}
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)

    converter = staticmethod(time.gmtime)


class TqdmHandler(logging.Handler):
    """Write log lines with ``tqdm.write`` so that a running progress bar is redrawn below them.

    Without a stream it writes to whatever ``sys.stderr`` is at the time of each line (it may be replaced).
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__()
        self.stream = stream

    def emit(self, record: logging.LogRecord) -> None:
        try:
            tqdm.write(self.format(record), file=self.stream or sys.stderr)
        except Exception:
            self.handleError(record)


def setup_logging(level: str = "WARNING", fmt: str = "text", stream: TextIO | None = None) -> None:
    """Send log lines at ``level`` and above to stderr (or ``stream``) as "text" (key=value) or "json".

    Replaces the handler a previous call installed and leaves other handlers of the root logger alone.
    """
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r} (DEBUG, INFO, WARNING, ERROR, CRITICAL)")
    if fmt not in LOG_FORMATS:
        raise ValueError(f"unknown log format {fmt!r} ({', '.join(LOG_FORMATS)})")
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, TqdmHandler)]:
        root.removeHandler(old)
    handler = TqdmHandler(stream)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(numeric)


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _RECORD_FIELDS and not k.startswith("_")}


def _text(value: object) -> str:
    text = f"{value:.6g}" if isinstance(value, float) else str(value)
    return json.dumps(text) if any(c in text for c in ' ="') or not text else text
