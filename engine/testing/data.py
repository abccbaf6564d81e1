"""The real hourly BTC/USD bars for tests: ``../shared/data`` beside the repository, else the bundled sample.

The bundled sample is the same file, so a test that uses it never has to skip. The file's ten known
out-of-order rows are sorted with a warning by the loader; here that warning is silenced while loading (the
datagen tests assert it), and the logger's level is restored afterwards so other tests still see it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from engine.datagen.cryptodatadownload import load_cryptodatadownload
from engine.datagen.sample import load_sample

SHARED_HOURLY = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "Coinbase_BTCUSD_1h.csv"


def real_hourly() -> pd.DataFrame:
    """Return the Coinbase BTC/USD hourly bars (20,111 rows, 2017-07-01 to 2019-10-17) as a standard frame."""
    logger = logging.getLogger("engine.datagen")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        if SHARED_HOURLY.exists():
            return load_cryptodatadownload(SHARED_HOURLY, order="sort")[0]
        return load_sample()[0]
    finally:
        logger.setLevel(level)
