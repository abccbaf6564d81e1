"""Historical market data: loaders for files, validation, synthetic bars and the feeds that replay them.

The standard OHLCV frame (``frames``) is what every source produces; ``BarFeed`` replays one as ``Bar`` events
stamped at their close, and ``merge_feeds`` interleaves several by time.
"""

from engine.datagen.cryptodatadownload import load_cryptodatadownload
from engine.datagen.files import load_bars, save_parquet
from engine.datagen.frames import OHLCV_COLUMNS, BarsMeta, infer_interval, validate_ohlcv
from engine.datagen.replay import BarFeed, DataFeed, HistoricalFeed, merge_feeds
from engine.datagen.sample import load_sample, sample_path
from engine.datagen.synthetic import synthetic_bars

__all__ = [
    "OHLCV_COLUMNS",
    "BarFeed",
    "BarsMeta",
    "DataFeed",
    "HistoricalFeed",
    "infer_interval",
    "load_bars",
    "load_cryptodatadownload",
    "load_sample",
    "merge_feeds",
    "sample_path",
    "save_parquet",
    "synthetic_bars",
    "validate_ohlcv",
]
