"""Historical market data: sources, the local catalog, validation, aggregation, synthetic bars and feeds.

A ``Query`` (``binance:BTC/USDT:1h@2024-01-01..2024-02-01``) names the data; a source (an exchange over REST,
files, the generator) answers it with a standard frame (``frames``, ``schemas``); the ``Catalog`` keeps what was
fetched as Parquet and asks the source only for what it lacks; ``check_bars``/``validate_bars`` report and treat
bad rows; ``resample_bars``/``trade_bars`` aggregate; ``BarFeed``, ``CatalogFeed`` and ``merged_catalog_feed``
replay data as events stamped at their close, and ``merge_feeds`` interleaves several by time.
"""

from engine.datagen.aggregate import resample_bars, trade_bars
from engine.datagen.bar_feed import BarFeed, HistoricalFeed, merge_feeds
from engine.datagen.catalog import Catalog, DatasetInfo, default_data_dir
from engine.datagen.cryptodatadownload import load_cryptodatadownload
from engine.datagen.files import load_bars, save_parquet
from engine.datagen.frames import OHLCV_COLUMNS, BarsMeta, infer_interval, validate_ohlcv
from engine.datagen.query import Query, Source
from engine.datagen.sample import load_sample, sample_path
from engine.datagen.stream import CatalogFeed, MergedCatalogFeed, merged_catalog_feed
from engine.datagen.synthetic import DEFAULT_REGIMES, Regime, regime_path, synthetic_bars
from engine.datagen.validate import InvalidData, ValidationReport, check_bars, validate_bars
from engine.ports import DataFeed

__all__ = [
    "DEFAULT_REGIMES",
    "OHLCV_COLUMNS",
    "BarFeed",
    "BarsMeta",
    "Catalog",
    "CatalogFeed",
    "DataFeed",
    "DatasetInfo",
    "HistoricalFeed",
    "InvalidData",
    "MergedCatalogFeed",
    "Query",
    "Regime",
    "Source",
    "ValidationReport",
    "check_bars",
    "default_data_dir",
    "infer_interval",
    "load_bars",
    "load_cryptodatadownload",
    "load_sample",
    "merge_feeds",
    "merged_catalog_feed",
    "regime_path",
    "resample_bars",
    "sample_path",
    "save_parquet",
    "synthetic_bars",
    "trade_bars",
    "validate_bars",
    "validate_ohlcv",
]
