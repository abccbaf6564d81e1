"""The options every command that reads bars shares (--data, --data-dir, --symbol, --timerange, and the file
options of mlct data import: --format, --columns, --time-unit, --exchange, --timeframe, --sort), and the one
loader."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from engine.cli.timerange import HELP as TIMERANGE_HELP
from engine.cli.timerange import apply_timerange
from engine.datagen.textio import TIME_UNITS
from engine.errors import ConfigError

if TYPE_CHECKING:
    from engine.datagen.importing import ReadOptions

SORT_HELP = ("sort rows that are out of time order instead of refusing the file (the bundled sample and exchange "
             "downloads never need it; a file that does is named with its first such line)")
FORMATS = ("cryptodatadownload", "csv", "parquet")
COLUMNS_HELP = ("generic CSV: which file column holds each field, e.g. time=Date,open=Open,high=High,low=Low,"
                "close=Close,volume=Vol (fields: time, open, high, low, close, volume, quote_volume, trades; "
                "default: columns named so, any case)")
TIME_UNIT_HELP = ("how the file writes times: epoch s, ms, us or ns, or iso (ISO 8601 text); default: the epoch unit "
                  "from the numbers' size, or the text's format")


def add_file_options(parser: argparse.ArgumentParser, *, exchange_help: str) -> None:
    """Add the options that say how to read a bars file (``--format``, ``--columns``, ``--time-unit``,
    ``--exchange``, ``--timeframe``, ``--sort``): the same on ``mlct data import`` and every ``--data``."""
    parser.add_argument("--format", choices=FORMATS,
                        help="file layout (default: .parquet by extension; a CSV is cryptodatadownload when its "
                             "header is theirs, else csv)")
    parser.add_argument("--columns", metavar="FIELD=COLUMN,...", help=COLUMNS_HELP)
    parser.add_argument("--time-unit", choices=TIME_UNITS, help=TIME_UNIT_HELP)
    parser.add_argument("--exchange", help=exchange_help)
    parser.add_argument("--timeframe", help="bar length of a file's bars, e.g. 1h or 1d, checked against them "
                                            "(default: the most common step between bars)")
    parser.add_argument("--sort", action="store_true", help=SORT_HELP)


def add_data_options(parser: argparse.ArgumentParser, *, several: bool = False) -> None:
    """Add ``--data``, ``--data-dir``, ``--symbol``, ``--timerange`` and the file options of ``add_file_options``
    to ``parser``; with ``several``, ``--data`` and ``--symbol`` may be repeated (lists, one data source per
    symbol, in order). ``--data`` takes what ``mlct data import`` takes: a file with the same options, or a
    catalog query as ``mlct data list`` prints it."""
    action = "append" if several else "store"
    parser.add_argument("--data", action=action, metavar="FILE|QUERY",
                        help="a bars file (CryptoDataDownload or generic CSV, or Parquet: what mlct data import "
                             "reads, with the same options) or a catalog query as mlct data list prints it "
                             "(csv:coinbase:BTC/USD:1h:ohlcv, binance:BTC/USDT:1h@2024-01-01..2024-06-01); "
                             "default: the bundled sample"
                        + ("; repeat it with --symbol for several symbols, one --data each" if several else ""))
    parser.add_argument("--data-dir", type=Path, help="catalog directory for a query (default $MLCT_DATA_DIR)")
    parser.add_argument("--symbol", action=action, help="symbol of the data, e.g. BTC/USD (default: from the file)"
                        + ("; repeat it for several symbols, in the order of the --data options" if several else ""))
    add_file_options(parser, exchange_help="venue of a file's bars, as for mlct data import (a file never names "
                                           "it; the back-test does not depend on it)")
    parser.add_argument("--timerange", metavar="START-END", help=TIMERANGE_HELP)


def read_options(args: argparse.Namespace, symbol: str | None = None) -> ReadOptions:
    """Return the file options of ``args`` (``add_file_options``) for a file of ``symbol``."""
    from engine.datagen.importing import ReadOptions, parse_columns

    return ReadOptions(format=getattr(args, "format", None), columns=parse_columns(getattr(args, "columns", None)),
                       time_unit=getattr(args, "time_unit", None), symbol=symbol,
                       exchange=getattr(args, "exchange", None), timeframe=getattr(args, "timeframe", None),
                       order="sort" if getattr(args, "sort", False) else "raise")


def frame_from_args(args: argparse.Namespace) -> tuple[pd.DataFrame, str]:
    """Return the bars and symbol the data options of ``args`` name, cut to its ``--timerange``."""
    return load_frame(args.data, args.symbol, args.data_dir, options=read_options(args, args.symbol),
                      timerange=args.timerange)


def load_frame(data: str | None, symbol: str | None, data_dir: Path | None = None, *,
               sort: bool = False, timerange: str | None = None, options: ReadOptions | None = None
               ) -> tuple[pd.DataFrame, str]:
    """Return the bars and their symbol: a file read with ``options`` (its rows sorted into time order if
    ``sort``), a catalog query, or the bundled sample; only the bars inside ``timerange``
    (``engine.cli.timerange``) when it is given."""
    from engine.datagen.importing import ReadOptions

    options = options or ReadOptions()
    if sort or symbol != options.symbol:
        options = replace(options, order="sort" if sort else options.order, symbol=symbol)
    frame, found = _load(data, data_dir, options)
    return apply_timerange(frame, timerange, what=data or "the bundled sample"), found


def _load(data: str | None, data_dir: Path | None, options: ReadOptions) -> tuple[pd.DataFrame, str]:
    from engine.datagen.catalog import Catalog, looks_like_query, read_bars
    from engine.datagen.importing import read_file
    from engine.datagen.sample import load_sample

    if data is None:
        frame, meta = load_sample()
        return frame, options.symbol or meta.symbol
    if looks_like_query(data):
        asked = [flag for flag, value in (("--format", options.format), ("--columns", options.columns),
                                          ("--time-unit", options.time_unit), ("--exchange", options.exchange),
                                          ("--timeframe", options.timeframe)) if value is not None]
        if asked:
            raise ConfigError(f"{', '.join(asked)} describe(s) a file, but --data {data} is a catalog query (no such "
                              "file): the query names its exchange and timeframe itself")
        frame, query = read_bars(data, Catalog(data_dir) if data_dir is not None else None)
        return frame, options.symbol or query.symbol
    frame, _, query = read_file(data, options)
    return frame, query.symbol
