"""Reading delimited text files (plain or gzip) with every row's file line number kept for error messages."""

from __future__ import annotations

import gzip
import io
import logging
import re
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Literal

import numpy as np
import pandas as pd

from engine.errors import ConfigError, DataError, shorten

log = logging.getLogger(__name__)

# What a loader does with rows against the file's own time direction: refuse the file, or sort them when asked.
OutOfOrderPolicy = Literal["raise", "sort"]
# How a time column is written, when the caller says (--time-unit): epoch numbers in one unit, or ISO 8601 text.
TimeUnit = Literal["s", "ms", "us", "ns", "iso"]
TIME_UNITS: tuple[str, ...] = ("s", "ms", "us", "ns", "iso")
_GZIP_MAGIC = b"\x1f\x8b"
# Longest line a bars file may have, in bytes: a row is under a hundred, a wide file of many assets a few
# thousand. A longer line is no CSV of bars, and refusing it here keeps a broken file from filling the memory.
MAX_LINE = 1 << 20
# Epoch numbers are read as times of 2009 (Bitcoin's first block) to 2100. In s, ms, us and ns these windows lie
# a factor 1000 apart and never overlap, so each plausible number has exactly one unit.
ERA = (pd.Timestamp("2009-01-01", tz="UTC"), pd.Timestamp("2100-01-01", tz="UTC"))
_UNITS: tuple[Literal["s", "ms", "us", "ns"], ...] = ("s", "ms", "us", "ns")


def check_file(path: str | Path) -> Path:
    """Return ``path`` as a Path, raising ``DataError`` when it is missing, not a file, or unreadable."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if not path.is_file():
        raise DataError(f"{path}: not a file")
    try:
        with path.open("rb") as fh:
            fh.read(1)
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    return path


def is_gzip(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(2) == _GZIP_MAGIC


class _TextGuard(io.RawIOBase):
    """Pass a file's bytes through, refusing a NUL byte or a line over ``MAX_LINE`` bytes as they stream by.

    Checked on the bytes as read (after gzip), so a file of gigabytes of zeros, or of one endless line, is
    refused within its first megabyte instead of being read whole into memory.
    """

    def __init__(self, raw: IO[bytes], path: Path) -> None:
        super().__init__()
        self.raw, self.path = raw, path
        self.line = 1  # the line the next byte belongs to
        self.pending = 0  # bytes of that line already passed

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        chunk = self.raw.read(len(buffer))
        self._check(chunk)
        buffer[:len(chunk)] = chunk
        return len(chunk)

    def close(self) -> None:
        self.raw.close()
        super().close()

    def _check(self, chunk: bytes) -> None:
        nul = chunk.find(b"\0")
        if nul >= 0:
            line = self.line + chunk.count(b"\n", 0, nul)
            raise DataError(f"{self.path} line {line}: a NUL byte: binary data (or UTF-16), not UTF-8 CSV text")
        last = chunk.rfind(b"\n")
        if self.pending + len(chunk) > MAX_LINE:  # a line might be too long: measure each (rarely needed)
            start, line = 0, self.line
            for end in (*(m.start() for m in re.finditer(b"\n", chunk)), len(chunk)):
                if (self.pending if start == 0 else 0) + end - start > MAX_LINE:
                    raise DataError(f"{self.path} line {line}: longer than {MAX_LINE:,} bytes: not a CSV of bars")
                start, line = end + 1, line + 1
        self.line += chunk.count(b"\n")
        self.pending = self.pending + len(chunk) if last < 0 else len(chunk) - last - 1


def open_text(path: Path) -> IO[str]:
    """Open ``path`` for reading text, decompressing gzip transparently (by content, not by name).

    Raises ``DataError`` while reading at a NUL byte or an overlong line (see ``_TextGuard``).
    """
    # The caller closes the wrapper, which closes the streams under it.
    raw: IO[bytes] = gzip.open(path, "rb") if is_gzip(path) else path.open("rb")  # type: ignore[assignment]  # noqa: SIM115
    # utf-8-sig drops a byte-order mark that spreadsheet exports put before the header.
    return io.TextIOWrapper(io.BufferedReader(_TextGuard(raw, path)), encoding="utf-8-sig", newline="")


def head_lines(path: Path, n: int = 8) -> list[str]:
    """Return the first ``n`` lines of ``path`` (without line ends); ``DataError`` if it is not text."""
    lines = []
    try:
        with open_text(path) as fh:
            for line in fh:
                lines.append(line.rstrip("\r\n"))
                if len(lines) >= n:
                    break
    except (UnicodeDecodeError, OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"{path}: not a readable text file ({exc})") from exc
    return lines


def split_header(line: str) -> list[str]:
    """Split a CSV header line into stripped field names (headers do not quote commas in practice)."""
    return [field.strip().strip('"').strip() for field in line.split(",")]


def read_table(path: Path, header_line: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Read the CSV whose header is on 1-based line ``header_line``.

    Returns the rows as pandas parsed them and the 1-based file line of each row. Blank lines are dropped
    after numbering, so a blank line never shifts the line numbers of the rows below it. A file with a header
    but no rows is a ``DataError``: there are no bars to load.
    """
    try:
        with open_text(path) as fh:
            table = pd.read_csv(fh, skiprows=header_line - 1, skip_blank_lines=False, low_memory=False)
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{path}: empty file, no header") from exc
    except pd.errors.ParserError as exc:
        raise DataError(f"{path}: malformed CSV ({shorten(str(exc))})") from exc
    except (UnicodeDecodeError, OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"{path}: not a readable text file ({shorten(str(exc))})") from exc
    lines = np.arange(header_line + 1, header_line + 1 + len(table), dtype=np.int64)
    blank = table.isna().all(axis=1).to_numpy()
    if blank.any():
        table = table.loc[~blank]
        lines = lines[~blank]
    if table.empty:
        raise DataError(f"{path}: no rows, only the header on line {header_line}")
    table.columns = [str(c).strip() for c in table.columns]
    return table.reset_index(drop=True), lines


def to_float(column: pd.Series, *, field: str, source: str, lines: np.ndarray) -> np.ndarray:
    """Return ``column`` as float64, raising ``DataError`` at the first cell that is not a number.

    Empty cells become NaN (``validate_ohlcv`` reports them); text such as ``"12,5"`` or ``"n/a"`` is an error
    here, and so is ``True`` or ``False``, which pandas would otherwise count as 1 and 0.
    """
    flags = _booleans(column)
    if flags.any():
        raise _not_a_number(column, int(np.argmax(flags)), field=field, source=source, lines=lines)
    if pd.api.types.is_numeric_dtype(column.dtype):
        return column.to_numpy(dtype=np.float64, na_value=np.nan)
    parsed = pd.to_numeric(column, errors="coerce")
    bad = (parsed.isna() & column.notna()).to_numpy()
    if bad.any():
        raise _not_a_number(column, int(np.argmax(bad)), field=field, source=source, lines=lines)
    return parsed.to_numpy(dtype=np.float64, na_value=np.nan)


def _booleans(column: pd.Series) -> np.ndarray:
    """Return a mask of the cells pandas read as ``True``/``False`` (a whole column, or cells among text)."""
    if pd.api.types.is_bool_dtype(column.dtype):
        return column.notna().to_numpy()
    if column.dtype != object:
        return np.zeros(len(column), dtype=bool)
    return np.fromiter((isinstance(v, bool | np.bool_) for v in column), dtype=bool, count=len(column))


def _not_a_number(column: pd.Series, i: int, *, field: str, source: str, lines: np.ndarray) -> DataError:
    """Return the error for row ``i`` of ``column``, whose cell is not a number."""
    value = column.iloc[i]
    value = value.item() if isinstance(value, np.generic) else value  # True, not numpy's np.True_
    return DataError(f"{source} line {int(lines[i])}: {field} = {shorten(repr(value))} is not a number")


def epoch_unit(values: np.ndarray, *, field: str, source: str, lines: np.ndarray) -> Literal["s", "ms", "us", "ns"]:
    """Return the unit (s, ms, us or ns) of epoch numbers, the one that puts every value within ``ERA``.

    Raises ``DataError`` naming the first row whose value is a time within ``ERA`` in no unit (0, a count, a
    date before 2009 or after 2100), or whose unit differs from the first row's: a column must not mix units.
    """
    unit_of = np.full(len(values), -1, dtype=np.int8)
    for k in range(len(_UNITS)):
        low, high = (stamp.value // 1000 ** (3 - k) for stamp in ERA)  # .value is in ns: 1000**3 ns a second
        unit_of[(values >= low) & (values <= high)] = k
    implausible = unit_of < 0
    if implausible.any():
        i = int(np.argmax(implausible))
        raise DataError(f"{source} line {int(lines[i])}: {field} = {_number(values[i])} is no epoch time in s, ms, "
                        f"us or ns between {ERA[0]:%Y-%m-%d} and {ERA[1]:%Y-%m-%d}")
    mixed = unit_of != unit_of[0]
    if mixed.any():
        i = int(np.argmax(mixed))
        raise DataError(f"{source} line {int(lines[i])}: {field} = {_number(values[i])} is epoch "
                        f"{_UNITS[unit_of[i]]}, but line {int(lines[0])} is epoch {_UNITS[unit_of[0]]}: "
                        f"one unit per column")
    return _UNITS[unit_of[0]]


def _number(value: np.generic) -> str:
    """Show an epoch number as the file wrote it: ``1709251200``, not ``np.int64(1709251200)``."""
    return shorten(repr(value.item()))


def parse_epoch(values: np.ndarray, *, field: str, source: str, lines: np.ndarray) -> pd.DatetimeIndex:
    """Convert epoch numbers (unit from their magnitude, see ``epoch_unit``) to a UTC DatetimeIndex.

    Whole numbers convert exactly.
    """
    values = np.asarray(values)
    if values.dtype.kind == "f":
        bad = ~np.isfinite(values)
        if bad.any():
            i = int(np.argmax(bad))
            raise DataError(f"{source} line {int(lines[i])}: {field} is {'empty' if np.isnan(values[i]) else 'inf'}")
        if (values == np.floor(values)).all() and np.abs(values).max() < 2.0**63:
            values = values.astype(np.int64)  # float64 holds 2**53: going through it would round nanoseconds
    unit = epoch_unit(values, field=field, source=source, lines=lines)
    stamps = pd.to_datetime(pd.Index(values), unit=unit, utc=True)  # in range: within ERA
    return pd.DatetimeIndex(stamps).as_unit("ns")


def ascending_order(stamps: np.ndarray, lines: np.ndarray, *, source: str, field: str, order: OutOfOrderPolicy
                    ) -> tuple[np.ndarray, tuple[str, ...]]:
    """Return the positions that put rows in ascending time, and notes on what was done.

    A file may run oldest-first or newest-first (its first and last rows tell which); that is no error. Rows
    against the file's own direction are an error naming the first such line with ``order="raise"``; only when
    asked, with ``order="sort"``, are they sorted into place, which logs a warning and says so in the notes. Two
    rows with the same time are an error either way.
    """
    if order not in ("raise", "sort"):
        raise ConfigError(f"order must be 'raise' or 'sort', got {shorten(repr(order))}")
    n = len(stamps)
    newest_first = bool(n >= 2 and stamps[0] > stamps[-1])
    file_step = np.diff(stamps)
    against = file_step > 0 if newest_first else file_step < 0
    if against.any() and order == "raise":
        k = int(np.argmax(against))  # the first row, in file order, that goes the wrong way
        direction = "newest-first" if newest_first else "oldest-first"
        raise DataError(
            f"{source} line {int(lines[k + 1])}: {field} = {_stamp(stamps[k + 1])} is out of order: the file runs "
            f"{direction} but this row is {'newer' if newest_first else 'older'} than line {int(lines[k])} "
            f"({_stamp(stamps[k])}) before it ({int(against.sum())} such step(s); --sort, or order='sort' in "
            "Python, sorts them)")
    positions = np.arange(n - 1, -1, -1) if newest_first else np.arange(n)
    notes: tuple[str, ...] = ()
    if against.any():
        positions = positions[np.argsort(stamps[positions], kind="stable")]
        moved = positions != (np.arange(n - 1, -1, -1) if newest_first else np.arange(n))
        span = lines[positions[moved]]
        notes = (f"sorted {int(moved.sum())} row(s) out of order between lines {int(span.min())} and "
                 f"{int(span.max())}",)
        log.warning("%s: %s", source, notes[0])
    ordered = stamps[positions]
    step = np.diff(ordered)
    same = step == 0
    if same.any():
        k = int(np.argmax(same))
        a, b = sorted((int(lines[positions[k]]), int(lines[positions[k + 1]])))
        raise DataError(f"{source} line {b}: {field} = {_stamp(ordered[k])} duplicates line {a} "
                        f"({int(same.sum())} duplicate(s))")
    return positions, notes


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _stamp(ns: int | np.integer) -> str:
    return pd.Timestamp(int(ns), unit="ns", tz="UTC").isoformat()


def parse_times(column: pd.Series, *, field: str, source: str, lines: np.ndarray,
                formats: Iterable[str] = (), unit: TimeUnit | None = None) -> pd.DatetimeIndex:
    """Parse timestamps as UTC: epoch numbers, or strings in the first of ``formats`` that fits, else ISO 8601.

    The format is chosen on the first value and then required of every row, so a row in another format is named
    in a ``DataError`` rather than guessed. Strings without an offset are taken as UTC. ``unit`` (the CLI's
    ``--time-unit``) requires epoch numbers in that unit, or ISO 8601 text with ``"iso"``, instead of choosing.
    """
    if unit is not None and unit not in TIME_UNITS:
        raise ConfigError(f"--time-unit must be one of {', '.join(TIME_UNITS)}, got {shorten(repr(unit))}")
    if unit is not None and unit != "iso":
        return _epoch_in(column, unit, field=field, source=source, lines=lines)
    if unit == "iso":
        formats = ()
    elif pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(column.dtype):
        return parse_epoch(column.to_numpy(), field=field, source=source, lines=lines)
    text = column.astype("string").str.strip()
    empty = text.isna() | (text == "")
    if empty.any():
        i = int(np.argmax(empty.to_numpy()))
        raise DataError(f"{source} line {int(lines[i])}: {field} is empty")
    first = str(text.iloc[0])
    if unit is None and _is_number(first):  # epoch numbers stored as text; a row that is not a number is named below
        numeric = pd.to_numeric(text, errors="coerce")
        bad = numeric.isna().to_numpy()
        if bad.any():
            i = int(np.argmax(bad))
            raise DataError(f"{source} line {int(lines[i])}: {field} = {shorten(repr(text.iloc[i]))} is not an "
                            f"epoch number like line {int(lines[0])}")
        return parse_epoch(numeric.to_numpy(), field=field, source=source, lines=lines)
    chosen = "ISO8601"
    for fmt in formats:
        try:
            pd.to_datetime(first, format=fmt)
        except ValueError:
            continue
        chosen = fmt
        break
    stamps = pd.to_datetime(text, format=chosen, utc=True, errors="coerce")
    bad = stamps.isna().to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        iso = "ISO 8601" + (" (--time-unit iso)" if unit else "")
        expected = iso if chosen == "ISO8601" else f"{chosen!r} like line {int(lines[0])}"
        raise DataError(f"{source} line {int(lines[i])}: {field} = {shorten(repr(text.iloc[i]))} is not a time in "
                        f"{expected}")
    return _in_ns(pd.DatetimeIndex(stamps), text, field=field, source=source, lines=lines)


def _epoch_in(column: pd.Series, unit: Literal["s", "ms", "us", "ns"], *, field: str, source: str,
              lines: np.ndarray) -> pd.DatetimeIndex:
    """Convert epoch numbers in the given ``unit``, naming the first row that is no number or falls outside ``ERA``
    (a time of 1970 or 50000 is a wrong ``--time-unit``, not a bar)."""
    numbers = pd.to_numeric(column.astype("string").str.strip(), errors="coerce").to_numpy(dtype=np.float64,
                                                                                          na_value=np.nan)
    bad = np.isnan(numbers)
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"{source} line {int(lines[i])}: {field} = {_cell(column.iloc[i])} is not an epoch "
                        f"number in {unit} (--time-unit {unit})")
    if column.dtype.kind in "iu":
        numbers = column.to_numpy()  # exact: float64 would round nanoseconds
    elif (numbers == np.floor(numbers)).all() and np.abs(numbers).max() < 2.0**53:
        numbers = numbers.astype(np.int64)
    low, high = (stamp.value // 1000 ** (3 - _UNITS.index(unit)) for stamp in ERA)
    outside = (numbers < low) | (numbers > high)
    if outside.any():
        i = int(np.argmax(outside))
        raise DataError(f"{source} line {int(lines[i])}: {field} = {_cell(column.iloc[i])} is not a time "
                        f"between {ERA[0]:%Y-%m-%d} and {ERA[1]:%Y-%m-%d} in {unit}: is --time-unit {unit} right?")
    return pd.DatetimeIndex(pd.to_datetime(pd.Index(numbers), unit=unit, utc=True)).as_unit("ns")


def _cell(value: object) -> str:
    """Show a cell as the file wrote it: ``1709251200`` or ``'abc'``, not ``np.int64(1709251200)``."""
    return shorten(repr(value.item() if isinstance(value, np.generic) else value))


def _in_ns(stamps: pd.DatetimeIndex, text: pd.Series, *, field: str, source: str, lines: np.ndarray
           ) -> pd.DatetimeIndex:
    """Return ``stamps`` in nanoseconds, raising ``DataError`` at the first row beyond what those can hold.

    pandas parses text at a coarser unit that reaches past the year 2262; int64 nanoseconds do not.
    """
    low, high = pd.Timestamp.min.tz_localize("UTC"), pd.Timestamp.max.tz_localize("UTC")
    beyond = np.asarray((stamps < low) | (stamps > high))
    if beyond.any():
        i = int(np.argmax(beyond))
        raise DataError(f"{source} line {int(lines[i])}: {field} = {shorten(repr(text.iloc[i]))} is a time outside "
                        f"{low:%Y-%m-%d} to {high:%Y-%m-%d}, the range of nanosecond timestamps")
    return stamps.as_unit("ns")
