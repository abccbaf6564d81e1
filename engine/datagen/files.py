"""Load bars from a file of any supported format: CryptoDataDownload CSV, generic CSV, Parquet."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from engine.datagen.cryptodatadownload import load_cryptodatadownload, looks_like_cryptodatadownload, unified_symbol
from engine.datagen.frames import INDEX_NAME, STANDARD_COLUMNS, BarsMeta, infer_interval, validate_ohlcv
from engine.datagen.textio import (
    OutOfOrderPolicy,
    TimeUnit,
    ascending_order,
    check_file,
    head_lines,
    parse_times,
    read_table,
    split_header,
    to_float,
)
from engine.errors import ConfigError, DataError, shorten

FORMATS: tuple[str, ...] = ("cryptodatadownload", "csv", "parquet")
_ALIASES = {"cdd": "cryptodatadownload", "pq": "parquet"}
# Header names taken as the open-time column of a generic CSV when no mapping says otherwise.
TIME_NAMES: tuple[str, ...] = ("ts", "timestamp", "time", "date", "datetime", "open_time", "unix")
_META_KEY = b"mlct"


def load_bars(path: str | Path, *, symbol: str | None = None, format: str | None = None,
              columns: Mapping[str, str] | None = None, order: OutOfOrderPolicy = "raise",
              time_unit: TimeUnit | None = None, exchange: str | None = None) -> tuple[pd.DataFrame, BarsMeta]:
    """Load OHLCV bars from ``path`` as a standard frame in ascending time, validated.

    Parameters
    ----------
    path
        A ``.csv`` (optionally ``.gz``) or ``.parquet`` file.
    symbol
        Unified symbol of the bars (``"BTC/USD"``); for a wide CryptoDataDownload file, the asset to take.
    format
        ``"cryptodatadownload"`` (``"cdd"``), ``"csv"`` or ``"parquet"``; by default from the extension, a CSV
        being CryptoDataDownload when its header says so (``looks_like_cryptodatadownload``).
    columns
        For a generic CSV, renames of file columns to standard names, as in ``DataFrame.rename``:
        ``{"time": "ts", "vol": "volume"}``. Giving it implies the generic CSV reader. Unmapped columns whose
        lower-cased name is standard are taken as they are; the time column may be any of ``TIME_NAMES``.
    order
        ``"raise"`` (default) or ``"sort"``: what to do with CSV rows against the file's own time direction
        (see ``load_cryptodatadownload``). Newest-first files are always accepted.
    time_unit
        How the time column is written (``--time-unit``): ``"s"``, ``"ms"``, ``"us"``, ``"ns"`` or ``"iso"``;
        default: epoch unit from the numbers' magnitude, or text in ISO 8601 (or a CryptoDataDownload format).
    exchange
        The venue of the bars, kept in ``meta.exchange`` (``--exchange``); CSV files do not say it.

    Raises
    ------
    DataError
        Missing or unreadable file, unknown format, or data that fails ``validate_ohlcv``; the message names
        the file, and for CSVs the line, the field and the value.
    """
    path = check_file(path)
    kind = _format(path, format, columns)
    if columns is not None and kind != "csv":
        raise ConfigError(f"--columns applies to generic CSV files, not to {kind} ({path}): add --format csv")
    if time_unit is not None and kind == "parquet":
        raise ConfigError(f"--time-unit applies to CSV files, not to parquet ({path})")
    if kind == "cryptodatadownload":
        return load_cryptodatadownload(path, symbol, order=order, time_unit=time_unit, exchange=exchange)
    if kind == "csv":
        frame, meta = load_csv(path, symbol=symbol, columns=columns, order=order, time_unit=time_unit)
    else:
        frame, meta = load_parquet(path, symbol=symbol)
    return frame, replace(meta, exchange=exchange.lower()) if exchange else meta


def _format(path: Path, format: str | None, columns: Mapping[str, str] | None) -> str:
    if format is not None:
        kind = _ALIASES.get(format.lower(), format.lower())
        if kind not in FORMATS:
            raise DataError(f"{path}: unknown --format {shorten(repr(format))} (known: {', '.join(FORMATS)})")
        return kind
    name = path.name.lower().removesuffix(".gz")
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith((".csv", ".txt")):
        if columns is None and looks_like_cryptodatadownload(head_lines(path)):
            return "cryptodatadownload"
        return "csv"
    raise DataError(f"{path}: unknown format (extension {''.join(path.suffixes) or 'none'}): expected .csv, "
                    f".csv.gz or .parquet, or give --format")


def load_csv(path: str | Path, *, symbol: str | None = None, columns: Mapping[str, str] | None = None,
             order: OutOfOrderPolicy = "raise", time_unit: TimeUnit | None = None) -> tuple[pd.DataFrame, BarsMeta]:
    """Load a CSV with a header: timestamps as ISO strings or epoch s/ms/us/ns (naive = UTC).

    The header is line 1, or, when ``columns`` maps file columns, the first of the file's first lines naming
    them all (so a comment or URL line above it, as CryptoDataDownload writes, is skipped).
    """
    path = check_file(path)
    source = str(path)
    renames = dict(columns or {})
    wrong = {theirs: ours for theirs, ours in renames.items() if ours not in (INDEX_NAME, *STANDARD_COLUMNS)}
    if wrong:
        raise ConfigError(f"--columns: {wrong} maps to no standard name ({', '.join((INDEX_NAME, *STANDARD_COLUMNS))})")
    header_line = _header_line(head_lines(path), renames)
    table, lines = read_table(path, header_line=header_line)
    absent = [theirs for theirs in renames if theirs not in table.columns]
    if absent:
        raise DataError(f"{source} line {header_line}: no column(s) {shorten(', '.join(map(repr, absent)))} "
                        f"named in --columns (columns: {shorten(', '.join(table.columns))})")
    fields: dict[str, str] = {ours: theirs for theirs, ours in renames.items()}
    lower = {c.lower(): c for c in table.columns}
    for name in STANDARD_COLUMNS:
        if name not in fields and name in lower:
            fields[name] = lower[name]
    if INDEX_NAME not in fields:
        found = next((lower[n] for n in TIME_NAMES if n in lower), None)
        if found is None:
            raise DataError(f"{source} line {header_line}: no time column (one of {', '.join(TIME_NAMES)}, or "
                            f"name it with --columns time=NAME)")
        fields[INDEX_NAME] = found
    missing = [name for name in STANDARD_COLUMNS[:5] if name not in fields]
    if missing:
        raise DataError(f"{source} line {header_line}: missing column(s) {', '.join(missing)} (columns: "
                        f"{shorten(', '.join(table.columns))}; name them with --columns "
                        f"{','.join(f'{m}=NAME' for m in missing)})")

    time_col = fields.pop(INDEX_NAME)
    stamps = parse_times(table[time_col], field=time_col, source=source, lines=lines, unit=time_unit)
    positions, notes = ascending_order(stamps.asi8, lines, source=source, field=time_col, order=order)
    data = {name: to_float(table[fields[name]], field=fields[name], source=source, lines=lines)[positions]
            for name in STANDARD_COLUMNS if name in fields}
    frame = pd.DataFrame(data, index=pd.DatetimeIndex(stamps[positions], name=INDEX_NAME))
    validate_ohlcv(frame, source, lines=lines[positions])
    if symbol is None and "symbol" in lower:
        names = table[lower["symbol"]].dropna().unique()
        symbol = unified_symbol(str(names[0])) if len(names) == 1 else None
    if symbol is None:
        notes += ("symbol unknown: pass --symbol BASE/QUOTE",)
    interval = infer_interval(frame.index, source=source)
    return frame, BarsMeta(symbol=symbol or "", interval=interval, source=source, format="csv", notes=notes)


def _header_line(head: list[str], renames: Mapping[str, str]) -> int:
    """Return the 1-based line of the header: the first naming every mapped column, else line 1."""
    if renames:
        for number, line in enumerate(head, start=1):
            if set(renames) <= set(split_header(line)):
                return number
    return 1


def save_parquet(frame: pd.DataFrame, path: str | Path, *, symbol: str | None = None) -> Path:
    """Validate ``frame`` and write it to ``path`` as Parquet, with ``symbol`` kept in the file's metadata.

    Returns the path written. ``load_bars`` (or ``load_parquet``) reads it back identical.
    """
    path = Path(path)
    validate_ohlcv(frame, str(path))
    frame = frame.set_axis(pd.DatetimeIndex(frame.index).as_unit("ns"))
    table = pa.Table.from_pandas(frame, preserve_index=True)
    extra = {"symbol": symbol, "interval_ns": infer_interval(frame.index).value if len(frame) >= 2 else None}
    metadata = dict(table.schema.metadata or {})
    metadata[_META_KEY] = json.dumps(extra).encode()
    try:
        pq.write_table(table.replace_schema_metadata(metadata), path)
    except OSError as exc:
        raise DataError(f"{path}: cannot write ({exc})") from exc
    return path


def load_parquet(path: str | Path, *, symbol: str | None = None) -> tuple[pd.DataFrame, BarsMeta]:
    """Read bars written by ``save_parquet`` (or any Parquet file with a ``ts`` index or column)."""
    path = check_file(path)
    source = str(path)
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"{source}: not a readable Parquet file ({shorten(str(exc))})") from exc
    if table.num_rows == 0:
        raise DataError(f"{source}: no rows")
    extra = json.loads((table.schema.metadata or {}).get(_META_KEY, b"{}"))
    frame = table.to_pandas()
    if INDEX_NAME in frame.columns:
        frame = frame.set_index(INDEX_NAME)
    index = frame.index
    if not isinstance(index, pd.DatetimeIndex):
        raise DataError(f"{source}: no {INDEX_NAME!r} timestamps (index is {type(index).__name__})")
    if index.tz is None:
        index = index.tz_localize("UTC")  # naive means UTC, as in CSV files
    frame = frame.set_axis(pd.DatetimeIndex(index.tz_convert("UTC").as_unit("ns"), name=INDEX_NAME))
    for name in STANDARD_COLUMNS:
        if name in frame.columns and frame[name].dtype.kind in "iu":
            frame[name] = frame[name].astype(np.float64)  # exact for counts below 2**53
    validate_ohlcv(frame, source)
    stored = extra.get("interval_ns")
    if stored and len(frame) < 2:
        interval = pd.Timedelta(int(stored), unit="ns")  # too few rows to measure: as saved
    else:
        interval = infer_interval(frame.index, source=source)
    symbol = symbol or extra.get("symbol") or ""
    notes = () if symbol else ("symbol unknown: pass --symbol BASE/QUOTE",)
    return frame, BarsMeta(symbol=symbol, interval=interval, source=source, format="parquet", notes=notes)
