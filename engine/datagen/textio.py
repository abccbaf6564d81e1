"""Reading delimited text files (plain or gzip) with every row's file line number kept for error messages."""

from __future__ import annotations

import gzip
import io
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Literal

import numpy as np
import pandas as pd

from engine.errors import DataError

log = logging.getLogger(__name__)

# What a loader does with rows against the file's own time direction: sort them (saying so) or refuse the file.
Order = Literal["sort", "strict"]
_GZIP_MAGIC = b"\x1f\x8b"


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


def open_text(path: Path) -> IO[str]:
    """Open ``path`` for reading text, decompressing gzip transparently (by content, not by name)."""
    # The caller closes the wrapper, which closes the byte stream under it.
    raw: IO[bytes] = gzip.open(path, "rb") if is_gzip(path) else path.open("rb")  # type: ignore[assignment]  # noqa: SIM115
    # utf-8-sig drops a byte-order mark that spreadsheet exports put before the header.
    return io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")


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
    after numbering, so a blank line never shifts the line numbers of the rows below it.
    """
    try:
        with open_text(path) as fh:
            table = pd.read_csv(fh, skiprows=header_line - 1, skip_blank_lines=False, low_memory=False)
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{path}: empty file, no header") from exc
    except pd.errors.ParserError as exc:
        raise DataError(f"{path}: malformed CSV ({exc})") from exc
    except (UnicodeDecodeError, OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"{path}: not a readable text file ({exc})") from exc
    lines = np.arange(header_line + 1, header_line + 1 + len(table), dtype=np.int64)
    blank = table.isna().all(axis=1).to_numpy()
    if blank.any():
        table = table.loc[~blank]
        lines = lines[~blank]
    table.columns = [str(c).strip() for c in table.columns]
    return table.reset_index(drop=True), lines


def to_float(column: pd.Series, *, field: str, source: str, lines: np.ndarray) -> np.ndarray:
    """Return ``column`` as float64, raising ``DataError`` at the first cell that is not a number.

    Empty cells become NaN (``validate_ohlcv`` reports them); text such as ``"12,5"`` or ``"n/a"`` is an error here.
    """
    if pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(column.dtype):
        return column.to_numpy(dtype=np.float64, na_value=np.nan)
    parsed = pd.to_numeric(column, errors="coerce")
    bad = (parsed.isna() & column.notna()).to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"{source} line {int(lines[i])}: {field} = {column.iloc[i]!r} is not a number")
    return parsed.to_numpy(dtype=np.float64, na_value=np.nan)


def epoch_unit(values: np.ndarray) -> Literal["s", "ms", "us", "ns"]:
    """Guess the unit of epoch timestamps from their magnitude: s, ms, us or ns (any date after 1973)."""
    finite = values[np.isfinite(values)] if values.dtype.kind == "f" else values
    biggest = float(np.abs(finite).max()) if finite.size else 0.0
    if biggest < 1e11:
        return "s"
    if biggest < 1e14:
        return "ms"
    if biggest < 1e17:
        return "us"
    return "ns"


def parse_epoch(values: np.ndarray, *, field: str, source: str, lines: np.ndarray) -> pd.DatetimeIndex:
    """Convert epoch numbers (unit from their magnitude) to a UTC DatetimeIndex, exactly for whole numbers."""
    values = np.asarray(values)
    if values.dtype.kind == "f":
        bad = ~np.isfinite(values)
        if bad.any():
            i = int(np.argmax(bad))
            raise DataError(f"{source} line {int(lines[i])}: {field} is empty")
        if (values == np.floor(values)).all():
            values = values.astype(np.int64)  # float64 holds 2**53: going through it would round nanoseconds
    unit = epoch_unit(values)
    try:
        stamps = pd.to_datetime(pd.Index(values), unit=unit, utc=True)
    except (ValueError, OverflowError, pd.errors.OutOfBoundsDatetime) as exc:
        raise DataError(f"{source}: {field} holds epoch values out of range ({exc})") from exc
    return pd.DatetimeIndex(stamps).as_unit("ns")


def ascending_order(stamps: np.ndarray, lines: np.ndarray, *, source: str, field: str, order: Order
                    ) -> tuple[np.ndarray, tuple[str, ...]]:
    """Return the positions that put rows in ascending time, and notes on what was done.

    A file may run oldest-first or newest-first (its first and last rows tell which); that is no error. Rows
    against the file's own direction are sorted into place with ``order="sort"``, which logs a warning and says
    so in the notes; with ``order="strict"`` they are an error naming the first such line. Two rows with the same
    time are an error either way.
    """
    if order not in ("strict", "sort"):
        raise ValueError(f"order must be 'strict' or 'sort', got {order!r}")
    n = len(stamps)
    newest_first = bool(n >= 2 and stamps[0] > stamps[-1])
    file_step = np.diff(stamps)
    against = file_step > 0 if newest_first else file_step < 0
    if against.any() and order == "strict":
        k = int(np.argmax(against))  # the first row, in file order, that goes the wrong way
        direction = "newest-first" if newest_first else "oldest-first"
        raise DataError(
            f"{source} line {int(lines[k + 1])}: {field} = {_stamp(stamps[k + 1])} is out of order: the file runs "
            f"{direction} but this row is {'newer' if newest_first else 'older'} than line {int(lines[k])} "
            f"({_stamp(stamps[k])}) before it ({int(against.sum())} such step(s); order='sort' sorts them)")
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
                formats: Iterable[str] = ()) -> pd.DatetimeIndex:
    """Parse timestamps as UTC: epoch numbers, or strings in the first of ``formats`` that fits, else ISO 8601.

    The format is chosen on the first value and then required of every row, so a row in another format is named
    in a ``DataError`` rather than guessed. Strings without an offset are taken as UTC.
    """
    if pd.api.types.is_numeric_dtype(column.dtype):
        return parse_epoch(column.to_numpy(), field=field, source=source, lines=lines)
    text = column.astype("string").str.strip()
    empty = text.isna() | (text == "")
    if empty.any():
        i = int(np.argmax(empty.to_numpy()))
        raise DataError(f"{source} line {int(lines[i])}: {field} is empty")
    first = str(text.iloc[0])
    if _is_number(first):  # epoch numbers stored as text; a row that is not a number is named below
        numeric = pd.to_numeric(text, errors="coerce")
        bad = numeric.isna().to_numpy()
        if bad.any():
            i = int(np.argmax(bad))
            raise DataError(f"{source} line {int(lines[i])}: {field} = {text.iloc[i]!r} is not an epoch number "
                            f"like line {int(lines[0])}")
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
        expected = "ISO 8601" if chosen == "ISO8601" else f"{chosen!r} like line {int(lines[0])}"
        raise DataError(f"{source} line {int(lines[i])}: {field} = {text.iloc[i]!r} is not a time in {expected}")
    return pd.DatetimeIndex(stamps).as_unit("ns")
