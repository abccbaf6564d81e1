"""The options every command that reads bars shares (--data, --data-dir, --symbol, --sort), and the one loader."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

SORT_HELP = ("sort rows that are out of time order instead of refusing the file (the bundled sample and exchange "
             "downloads never need it; a file that does is named with its first such line)")


def add_data_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--data``, ``--data-dir``, ``--symbol`` and ``--sort`` to ``parser``."""
    parser.add_argument("--data", help="CSV (CryptoDataDownload or generic) or Parquet file, or a catalog query "
                                       "(binance:BTC/USDT:1h@2024-01-01..2024-06-01); default: the bundled sample")
    parser.add_argument("--data-dir", type=Path, help="catalog directory for a query (default $MLCT_DATA_DIR)")
    parser.add_argument("--symbol", help="symbol of the data, e.g. BTC/USD (default: from the file)")
    parser.add_argument("--sort", action="store_true", help=SORT_HELP)


def load_frame(data: str | None, symbol: str | None, data_dir: Path | None = None, *,
               sort: bool = False) -> tuple[pd.DataFrame, str]:
    """Return the bars and their symbol: a file (its rows sorted into time order if ``sort``), a catalog query, or
    the bundled sample."""
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
