"""How the tables of a result become files: Parquet for the big ones, CSV through Arrow's writer for the rest.

The equity curve and the prices have a row per bar, a million for two years of one-minute bars. As Parquet they
are written in about a tenth of a second and read back exactly (the float64 bits, nanosecond UTC times); as CSV
through ``DataFrame.to_csv`` the equity alone took 7 s, most of a 1M-bar back-test. The orders, fills and trades
have a row per order or round trip: a trader opens them in a spreadsheet, so they stay CSV. Every CSV goes
through ``pyarrow.csv``, several times faster than ``to_csv`` (the figures are in ``benchmarks/README.md``).

CSV text: times as pandas wrote them before, ``2024-01-01 00:00:00+00:00``, in the coarsest unit that loses
nothing (``.123`` when there are milliseconds), so readers of earlier files parse these; numbers in the
shortest text that reads back as the same float (``10000`` for 10000.0); booleans ``true``/``false``; text
quoted; a missing value empty.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

__all__ = ["TableFile", "WriteProgress", "Written", "csv_table", "write_csv", "write_files", "write_parquet"]

_COARSER = ("s", "ms", "us")  # coarsest first: a time column is written in the first it casts to without loss


@dataclass(frozen=True)
class Written:
    """One file written: where, how many rows, its size in bytes and the seconds it took."""

    path: Path
    rows: int
    size: int
    seconds: float


class WriteProgress(Protocol):
    """What is told while the files of a result are written (a line on the terminal, a line a file in a log)."""

    def writing(self, path: Path, index: int, total: int) -> None:
        """File ``index`` (from 1) of ``total`` is about to be written to ``path``."""
        ...

    def written(self, file: Written) -> None:
        """A file is complete."""
        ...


@dataclass(frozen=True)
class TableFile:
    """A table to write: where, its row count, and the call that writes it there."""

    path: Path
    rows: int
    write: Callable[[Path], None]


def write_files(files: Sequence[TableFile], progress: WriteProgress | None = None) -> list[Written]:
    """Write ``files`` in order, telling ``progress`` before and after each; return what was written."""
    done = []
    for index, file in enumerate(files, start=1):
        if progress is not None:
            progress.writing(file.path, index, len(files))
        started = time.perf_counter()
        file.write(file.path)
        written = Written(file.path, file.rows, file.path.stat().st_size, time.perf_counter() - started)
        done.append(written)
        if progress is not None:
            progress.written(written)
    return done


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame``'s columns (not its index) as Parquet: exact values and types, read back by pandas.

    Dictionary encoding is left to the columns that repeat (categoricals, text): on a column of a million
    distinct floats Arrow would try it and give up, a third of the write.
    """
    table = pa.Table.from_pandas(frame, preserve_index=False)
    repeated = [field.name for field in table.schema if not pa.types.is_floating(field.type)
                and not pa.types.is_timestamp(field.type)]
    pq.write_table(table, path, use_dictionary=repeated)


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame``'s columns (not its index) as CSV through Arrow (see the module docstring for the text)."""
    pa_csv.write_csv(csv_table(frame), path)


def csv_table(frame: pd.DataFrame) -> pa.Table:
    """Return ``frame`` as an Arrow table whose time columns are already text, as the CSV shows them.

    Arrow's writer prints a UTC time as ``2024-01-01 00:00:00.000000000Z``, and through a time zone lookup per
    value (1.8 s a million); cast to a plain time in the coarsest exact unit and then to text, it is 0.2 s.
    """
    table = pa.Table.from_pandas(frame, preserve_index=False)
    for index, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type):
            table = table.set_column(index, field.name, _time_text(table.column(index), field.type))
    return table


def _time_text(column: pa.ChunkedArray, kind: pa.TimestampType) -> pa.ChunkedArray:
    plain = column.cast(pa.timestamp("ns"))  # the UTC wall time
    for unit in _COARSER:
        try:
            plain = column.cast(pa.timestamp(unit))  # refuses a cast that would drop digits
            break
        except pa.ArrowInvalid:
            continue
    text = plain.cast(pa.string())
    if kind.tz is None:
        return text
    return pc.binary_join_element_wise(text, "+00:00", "")  # a missing time stays missing
