"""Low-level pieces of the catalog: atomic files, whole directories swapped in, time partitions, time ranges,
a per-data-set lock.

Kept apart from ``catalog`` so that each can be read (and tested) on its own; nothing here knows about queries.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from engine.datagen.frames import INDEX_NAME
from engine.errors import DataError

try:  # POSIX; elsewhere the catalog runs without a lock (one writer at a time is then the user's care)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

TMP_SUFFIX = ".tmp"
# Hidden directories beside a data set's own: the next state being built, the state being replaced, a deleted one.
STAGING, OLD, DELETED = ".staging-", ".old-", ".deleted-"
Range = tuple[int, int]  # [start, end) in integer nanoseconds UTC
_UNITS = {"day": "D", "month": "M", "year": "Y"}


# --- atomic files -------------------------------------------------------------------------------------------------

def _temp_path(path: Path) -> Path:
    # A dot file beside the target: same file system, so os.replace is atomic; hidden from listings.
    return path.with_name(f".{path.name}.{os.getpid()}{TMP_SUFFIX}")


# Float prices rarely repeat enough for a dictionary: trying one first made writes five times slower. Times step
# regularly, which delta encoding stores in a few bits per row.
PARQUET_OPTIONS: dict[str, Any] = {"compression": "snappy", "use_dictionary": False,
                                   "column_encoding": {INDEX_NAME: "DELTA_BINARY_PACKED"}}


def atomic_write_table(table: pa.Table, path: Path) -> None:
    """Write ``table`` to ``path`` so that a reader (or a crash) sees the old file or the new one, never half.

    The bytes go to a temporary file in the same directory, are flushed to disk (fsync), and the temporary
    file then replaces ``path`` in one ``os.replace``. On any error the temporary file is removed.
    """
    tmp = _temp_path(path)
    try:
        with tmp.open("wb") as fh:
            pq.write_table(table, fh, **PARQUET_OPTIONS)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_json(data: Any, path: Path) -> None:
    """Write ``data`` as JSON to ``path`` atomically (see ``atomic_write_table``), then sync the directory."""
    tmp = _temp_path(path)
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    sync_dir(path.parent)


def sync_dir(directory: Path) -> None:
    """Flush a directory's entries to disk, so that renames into it survive a power loss (POSIX only)."""
    if os.name != "posix":  # pragma: no cover
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_stale_temps(directory: Path) -> int:
    """Remove temporary files left by writers that died; call it only while holding the directory's lock."""
    count = 0
    for tmp in directory.glob(f".*{TMP_SUFFIX}"):
        tmp.unlink(missing_ok=True)
        count += 1
    return count


def beside(directory: Path, prefix: str) -> Path:
    """Return the hidden sibling ``prefix + name`` of ``directory``: same file system, so renames are atomic."""
    return directory.with_name(prefix + directory.name)


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``directory`` (a ``.<name>.lock`` file beside it): one writer at a time.

    The lock file lives beside the directory, not in it, so that it stays put while a new state of the directory
    is swapped in. A second writer, in this process or another, waits for the first; the lock goes with the
    process, so a writer killed mid-way never leaves the data set locked.
    """
    directory.parent.mkdir(parents=True, exist_ok=True)
    if fcntl is None:  # pragma: no cover
        yield
        return
    with directory.with_name(f".{directory.name}.lock").open("a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


# --- whole directories -------------------------------------------------------------------------------------------

def stage(directory: Path, *, keep: bool) -> Path:
    """Return a new, empty staging directory beside ``directory``; with ``keep``, holding its files already.

    Kept files are hard links (a copy where the file system has none): files are only ever replaced, never
    written in place, so rewriting one in the staging directory leaves the one in ``directory`` as it was.
    Call it holding the lock, after ``recover``.
    """
    staging = beside(directory, STAGING)
    staging.mkdir()
    if keep and directory.is_dir():
        for path in directory.iterdir():
            if path.is_file() and not path.name.startswith("."):
                _link(path, staging / path.name)
    return staging


def _link(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
        with target.open("rb+") as fh:
            os.fsync(fh.fileno())


def swap_in(staging: Path, directory: Path) -> None:
    """Put ``staging`` in the place of ``directory``, whose old state is removed only once the new one stands.

    Two renames: ``directory`` to its ``.old-`` sibling, then ``staging`` to ``directory``. A crash between them
    leaves no ``directory`` but a whole ``.old-`` one, which ``recover`` (or a reader through ``settle``) puts
    back; before them the old state stands, after them the new.
    """
    sync_dir(staging)
    old = beside(directory, OLD)
    if directory.exists():
        os.replace(directory, old)
    os.replace(staging, directory)
    sync_dir(directory.parent)
    shutil.rmtree(old, ignore_errors=True)


def remove_directory(directory: Path) -> None:
    """Remove ``directory`` in one step for readers: renamed away first, then deleted; call it holding the lock."""
    doomed = beside(directory, DELETED)
    os.replace(directory, doomed)
    sync_dir(directory.parent)
    shutil.rmtree(doomed)


def recover(directory: Path) -> None:
    """Undo what a writer killed mid-way left; call it holding the lock, before writing.

    Killed between the two renames of ``swap_in``, it left the old state beside: that is put back. Then the
    staging, old and deleted siblings and the temporary files in ``directory`` are removed.
    """
    old = beside(directory, OLD)
    if old.exists() and not directory.exists():
        os.replace(old, directory)
        sync_dir(directory.parent)
    for prefix in (STAGING, OLD, DELETED):
        shutil.rmtree(beside(directory, prefix), ignore_errors=True)
    if directory.is_dir():
        remove_stale_temps(directory)


def settle(directory: Path) -> None:
    """Before reading ``directory``: put back its old state if a writer was killed in the middle of a swap.

    Costs two ``stat`` calls when there is nothing to do; takes the lock only when ``directory`` is missing and
    an old state lies beside it (a live writer finishes its swap first, holding the lock).
    """
    if directory.exists() or not beside(directory, OLD).exists():
        return
    with locked(directory):
        recover(directory)


# --- frames <-> Parquet ------------------------------------------------------------------------------------------

def frame_to_table(frame: pd.DataFrame) -> pa.Table:
    """Return a standard frame as an Arrow table: a ``ts`` timestamp column (ns, UTC) then the float columns."""
    stamps = pd.DatetimeIndex(frame.index).as_unit("ns").asi8
    arrays = [pa.array(stamps, type=pa.timestamp("ns", tz="UTC"))]
    arrays += [pa.array(frame[name].to_numpy(dtype=np.float64)) for name in frame.columns]
    return pa.Table.from_arrays(arrays, names=[INDEX_NAME, *map(str, frame.columns)])


def with_ns_index(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with its DatetimeIndex in nanoseconds (pandas may parse times to seconds or micro-)."""
    index = frame.index
    if isinstance(index, pd.DatetimeIndex) and index.unit != "ns":
        return frame.set_axis(index.as_unit("ns"))
    return frame


def table_to_frame(table: pa.Table) -> pd.DataFrame:
    """Return the frame of a table written by ``frame_to_table`` (index ``ts``, UTC, nanoseconds)."""
    stamps = table.column(INDEX_NAME).cast(pa.int64()).to_numpy()
    data = {name: table.column(name).to_numpy() for name in table.column_names if name != INDEX_NAME}
    return pd.DataFrame(data, index=utc_index(stamps), copy=False)


def utc_index(stamps: np.ndarray) -> pd.DatetimeIndex:
    """Return int64 nanoseconds as a UTC ``DatetimeIndex`` named ``ts`` (without tz_localize's slow pass)."""
    return pd.DatetimeIndex(stamps, dtype="datetime64[ns, UTC]", name=INDEX_NAME)


@contextlib.contextmanager
def reading(path: Path) -> Iterator[None]:
    """Turn a failure to read partition ``path`` (truncated, empty, not Parquet) into a ``DataError`` naming it."""
    try:
        yield
    except (OSError, ValueError, KeyError, pa.ArrowException) as exc:
        raise DataError(f"{path}: unreadable catalog partition ({exc})") from exc


def read_table(path: Path, columns: list[str] | None = None) -> pa.Table:
    """Return the table of one partition file; a damaged file is a ``DataError`` naming it."""
    with reading(path):
        return pq.read_table(path, columns=columns)


def read_metadata(path: Path) -> pq.FileMetaData:
    """Return the footer of one partition file; a damaged file is a ``DataError`` naming it."""
    with reading(path):
        return pq.read_metadata(path)


def read_files(paths: list[Path]) -> pd.DataFrame:
    """Read partition files into one frame, with a single copy of each value.

    The row count comes from the files' footers, one float64 block is allocated for all rows, and each file is
    read and copied into its place then released, so the peak is the result plus one file. Files whose columns
    differ (a column added later) go through Arrow's concatenation instead, absent values being NaN.
    """
    # Footers only: a ParquetFile kept open holds on to the buffers it read, about one file's size each.
    metas = [read_metadata(path) for path in paths]
    names = [m.schema.to_arrow_schema().names for m in metas]
    if any(n != names[0] for n in names) or names[0][:1] != [INDEX_NAME]:
        table = pa.concat_tables([read_table(path) for path in paths], promote_options="default")
        return table_to_frame(table)
    columns = names[0][1:]
    rows = sum(m.num_rows for m in metas)
    stamps = np.empty(rows, dtype=np.int64)
    block = np.empty((len(columns), rows), dtype=np.float64)
    at = 0
    for path, meta in zip(paths, metas, strict=True):
        n = meta.num_rows
        with reading(path):  # the footer may read and the pages not: a file cut or overwritten inside
            table = pq.read_table(path)
            stamps[at:at + n] = table.column(0).cast(pa.int64()).to_numpy()
            for j in range(len(columns)):
                block[j, at:at + n] = table.column(j + 1).to_numpy()
        at += n
        del table
    # The frame adopts the block (rows x columns view of it) without copying, as synthetic_bars does.
    return pd.DataFrame(block.T, index=utc_index(stamps), columns=columns, copy=False)


def check_frame(frame: pd.DataFrame, where: str, *, unique: bool) -> None:
    """Refuse a frame that could not be stored faithfully: wrong index, rows out of order, non-float columns.

    ``unique``: no two rows may share a time (everything but trades).
    """
    index = frame.index
    if not isinstance(index, pd.DatetimeIndex) or str(index.tz) != "UTC" or index.name != INDEX_NAME:
        raise DataError(f"{where}: the index must be a UTC DatetimeIndex named {INDEX_NAME!r}, got "
                        f"{type(index).__name__} {getattr(index, 'name', None)!r} (tz={getattr(index, 'tz', None)})")
    steps = np.diff(index.as_unit("ns").asi8)
    bad = (steps <= 0) if unique else (steps < 0)
    if bad.any():
        i = int(np.argmax(bad)) + 1
        raise DataError(f"{where}: row at {index[i].isoformat()} is {'not after' if unique else 'before'} the row "
                        f"before it ({index[i - 1].isoformat()}): rows must be in ascending time")
    for name in frame.columns:
        if frame[name].dtype != np.float64:
            raise DataError(f"{where}: column {name} must be float64, got {frame[name].dtype}")


def file_stats(files: list[Path]) -> tuple[int, int | None, int | None]:
    """Return rows, first and last time (ns) of partition files, from their footers' statistics of ``ts``."""
    rows, first, last = 0, None, None
    for path in files:
        meta = read_metadata(path)
        rows += meta.num_rows
        for g in range(meta.num_row_groups):
            stats = meta.row_group(g).column(0).statistics
            if stats is None or not stats.has_min_max:
                stamps = read_stamps(path)
                lo, hi = int(stamps.min()), int(stamps.max())
            else:
                lo, hi = int(stats.min_raw), int(stats.max_raw)  # int64 ns: .min would round to microseconds
            first = lo if first is None else min(first, lo)
            last = hi if last is None else max(last, hi)
    return rows, first, last


def readable_rows(files: list[Path]) -> int:
    """Return the rows of the partition files whose footers read (a damaged file counts none)."""
    rows = 0
    for path in files:
        with contextlib.suppress(DataError):
            rows += read_metadata(path).num_rows
    return rows


def read_stamps(path: Path) -> np.ndarray:
    """Return the ``ts`` column of a partition file as int64 nanoseconds, reading no other column."""
    table = read_table(path, columns=[INDEX_NAME])
    with reading(path):
        return table.column(INDEX_NAME).cast(pa.int64()).to_numpy()


# --- time partitions ---------------------------------------------------------------------------------------------

def partition_unit(bar_seconds: float | None) -> str:
    """Choose the partition length for a data set: a file holds tens of thousands of rows at most.

    Bars of a day or more go by year, bars of a minute or more by month, anything finer (seconds, trades and
    other events, ``bar_seconds`` None) by day.
    """
    if bar_seconds is None or bar_seconds < 60:
        return "day"
    return "month" if bar_seconds < 86400 else "year"


def partition_labels(stamps: np.ndarray, unit: str) -> np.ndarray:
    """Return the partition of each time (int64 ns) as numpy datetimes of the unit (``2024-01`` for a month)."""
    return stamps.view("datetime64[ns]").astype(f"datetime64[{_UNITS[unit]}]")


def label_text(label: np.datetime64) -> str:
    """Name a partition: ``2024``, ``2024-01`` or ``2024-01-15``; it is the stem of its file."""
    return str(np.datetime_as_string(label))


def label_range(text: str, unit: str) -> Range:
    """Return the ``[start, end)`` nanoseconds of the partition named ``text``."""
    start = np.array([text], dtype=f"datetime64[{_UNITS[unit]}]")
    bounds = np.concatenate([start, start + 1]).astype("datetime64[ns]").astype(np.int64)
    return int(bounds[0]), int(bounds[1])


def split_by_partition(stamps: np.ndarray, unit: str) -> Iterator[tuple[str, int, int]]:
    """Yield ``(label, first, stop)`` row positions of each partition in sorted ``stamps``."""
    if len(stamps) == 0:
        return
    labels = partition_labels(stamps, unit)
    cuts = np.flatnonzero(labels[1:] != labels[:-1]) + 1
    bounds = [0, *cuts.tolist(), len(stamps)]
    for first, stop in itertools.pairwise(bounds):
        yield label_text(labels[first]), first, stop


# --- time ranges -------------------------------------------------------------------------------------------------

def merge_ranges(ranges: list[Range]) -> list[Range]:
    """Return ``ranges`` sorted, with overlapping or touching ranges joined, empty ones dropped."""
    out: list[Range] = []
    for start, end in sorted(r for r in ranges if r[1] > r[0]):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def subtract_ranges(span: Range, ranges: list[Range]) -> list[Range]:
    """Return the parts of ``span`` that no range of (merged, sorted) ``ranges`` covers."""
    start, end = span
    out: list[Range] = []
    for a, b in ranges:
        if b <= start or a >= end:
            continue
        if a > start:
            out.append((start, a))
        start = max(start, b)
        if start >= end:
            break
    if start < end:
        out.append((start, end))
    return out


def stamp(ns: int) -> pd.Timestamp:
    return pd.Timestamp(ns, unit="ns", tz="UTC")
