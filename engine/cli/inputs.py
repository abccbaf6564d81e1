"""The options every command that reads bars shares (--data, --data-dir, --symbol, --sort, --timerange), and the
one loader."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from engine.cli.timerange import HELP as TIMERANGE_HELP
from engine.cli.timerange import apply_timerange

SORT_HELP = ("sort rows that are out of time order instead of refusing the file (the bundled sample and exchange "
             "downloads never need it; a file that does is named with its first such line)")


def add_data_options(parser: argparse.ArgumentParser, *, several: bool = False) -> None:
    """Add ``--data``, ``--data-dir``, ``--symbol``, ``--sort`` and ``--timerange`` to ``parser``; with ``several``,
    ``--data`` and ``--symbol`` may be repeated (lists, one data source per symbol, in order)."""
    action = "append" if several else "store"
    parser.add_argument("--data", action=action, help="CSV (CryptoDataDownload or generic) or Parquet file, or a "
                        "catalog query (binance:BTC/USDT:1h@2024-01-01..2024-06-01); default: the bundled sample"
                        + ("; repeat it with --symbol for several symbols, one --data each" if several else ""))
    parser.add_argument("--data-dir", type=Path, help="catalog directory for a query (default $MLCT_DATA_DIR)")
    parser.add_argument("--symbol", action=action, help="symbol of the data, e.g. BTC/USD (default: from the file)"
                        + ("; repeat it for several symbols, in the order of the --data options" if several else ""))
    parser.add_argument("--sort", action="store_true", help=SORT_HELP)
    parser.add_argument("--timerange", metavar="START-END", help=TIMERANGE_HELP)


def frame_from_args(args: argparse.Namespace) -> tuple[pd.DataFrame, str]:
    """Return the bars and symbol the data options of ``args`` name, cut to its ``--timerange``."""
    return load_frame(args.data, args.symbol, args.data_dir, sort=args.sort, timerange=args.timerange)


def load_frame(data: str | None, symbol: str | None, data_dir: Path | None = None, *,
               sort: bool = False, timerange: str | None = None) -> tuple[pd.DataFrame, str]:
    """Return the bars and their symbol: a file (its rows sorted into time order if ``sort``), a catalog query, or
    the bundled sample; only the bars inside ``timerange`` (``engine.cli.timerange``) when it is given."""
    frame, found = _load(data, symbol, data_dir, sort=sort)
    return apply_timerange(frame, timerange, what=data or "the bundled sample"), found


def _load(data: str | None, symbol: str | None, data_dir: Path | None, *, sort: bool) -> tuple[pd.DataFrame, str]:
    from engine.datagen.catalog import Catalog, looks_like_query, read_bars
    from engine.datagen.files import load_bars
    from engine.datagen.sample import load_sample

    if data is None:
        frame, meta = load_sample()
        return frame, symbol or meta.symbol
    if looks_like_query(data):
        frame, query = read_bars(data, Catalog(data_dir) if data_dir is not None else None)
        return frame, symbol or query.symbol
    frame, meta = load_bars(data, symbol=symbol, order="sort" if sort else "raise")
    return frame, symbol or meta.symbol
