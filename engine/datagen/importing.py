"""One way to read a bars file with the user's options, shared by ``mlct data import`` and every ``--data``.

``read_file`` is the single place where a file, its layout options (``--format``, ``--columns``,
``--time-unit``) and what the file cannot say by itself (``--symbol``, ``--exchange``, ``--timeframe``) become
validated bars and the catalog query they are stored under, so a file that imports also back-tests, and the
other way round.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from engine.datagen.cryptodatadownload import unified_symbol
from engine.datagen.files import load_bars
from engine.datagen.frames import INDEX_NAME, STANDARD_COLUMNS, BarsMeta, check_spacing
from engine.datagen.query import Query, timeframe_delta, timeframe_of
from engine.datagen.textio import TIME_UNITS, OutOfOrderPolicy, TimeUnit
from engine.errors import ConfigError, shorten

# --columns takes "time" for the open-time column, as people say it; the frame calls it INDEX_NAME ("ts").
COLUMN_NAMES: tuple[str, ...] = ("time", *STANDARD_COLUMNS)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadOptions:
    """How to read a bars file: the command line's file options, one field each.

    ``columns`` maps a file column to a standard name (``{"Date": "ts", "Vol": "volume"}``), as
    ``parse_columns`` reads ``--columns time=Date,volume=Vol``.
    """

    format: str | None = None
    columns: Mapping[str, str] | None = field(default=None, hash=False)
    time_unit: TimeUnit | None = None
    symbol: str | None = None
    exchange: str | None = None
    timeframe: str | None = None
    order: OutOfOrderPolicy = "raise"

    def __post_init__(self) -> None:
        if self.time_unit is not None and self.time_unit not in TIME_UNITS:
            raise ConfigError(f"--time-unit must be one of {', '.join(TIME_UNITS)}, got {self.time_unit!r}")
        if self.timeframe is not None:
            timeframe_delta(self.timeframe)  # a bad timeframe is refused before the file is read

    @property
    def given(self) -> bool:
        """Tell whether any option asks for more than the default reading of a file."""
        return any(v is not None for v in (self.format, self.columns, self.time_unit, self.exchange, self.timeframe)
                   ) or self.order != "raise"


def parse_columns(text: str | None) -> dict[str, str] | None:
    """Read ``--columns time=Date,open=Open,...`` as ``{file column: standard name}`` (``time`` becomes ``ts``)."""
    if text is None:
        return None
    renames: dict[str, str] = {}
    for item in text.split(","):
        ours, eq, theirs = (part.strip() for part in item.partition("="))
        ours = ours.lower()
        if not eq or not ours or not theirs:
            raise ConfigError(f"--columns: {shorten(repr(item.strip()))} is not NAME=COLUMN "
                              f"(e.g. --columns time=Date,open=Open,volume=Vol)")
        if ours not in (*COLUMN_NAMES, INDEX_NAME):
            raise ConfigError(f"--columns: {shorten(repr(ours))} is not one of {', '.join(COLUMN_NAMES)}")
        standard = INDEX_NAME if ours == "time" else ours
        if standard in renames.values():
            raise ConfigError(f"--columns: {ours} is given twice")
        renames[theirs] = standard
    return renames


def read_file(path: str | Path, options: ReadOptions) -> tuple[pd.DataFrame, BarsMeta, Query]:
    """Read the bars of ``path`` as ``options`` say; return them, what the reader learnt, and their catalog query.

    Raises ``ConfigError`` when the symbol is not known as ``BASE/QUOTE`` (the file does not say it and
    ``--symbol`` was not given) and ``DataError`` when the bars are not ``--timeframe`` apart, or when the file
    is bad (naming file, line, column and value).
    """
    frame, meta = load_bars(path, symbol=options.symbol, format=options.format, columns=options.columns,
                            order=options.order, time_unit=options.time_unit, exchange=options.exchange)
    given = unified_symbol(options.symbol) if options.symbol else ""
    symbol = given if "/" in given else meta.symbol  # --symbol ETH picks an asset of a wide file, its quote from it
    if "/" not in symbol:
        raise ConfigError(f"{path}: symbol {symbol or 'unknown'!r}: the file does not say its quote currency: "
                          "pass --symbol BASE/QUOTE")
    timeframe = options.timeframe or timeframe_of(meta.interval)
    check_spacing(frame.index, timeframe_delta(timeframe), str(path))
    query = Query(source="parquet" if meta.format == "parquet" else "csv", exchange=meta.exchange or "",
                  symbol=symbol, timeframe=timeframe)
    return frame, meta, query
